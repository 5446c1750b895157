"""Contrastive Rubric Generation (OpenRubrics, arXiv 2510.07743).

One structured call writes hard rules and principles from a prompt and its responses
ranked best to worst. The preference-label consistency filter then judges every induced
pair of the ranking with the new rubric in context, in both orders: the rubric is kept when
the judge's accuracy is at least ``tau`` and the pair being explained (best vs worst) comes
out right; otherwise a new rubric is sampled, up to ``max_tries`` in all, and the rejection
is recorded with every attempt's result.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from judge.backends.base import Backend, GenerationError, model_label
from judge.backends.structured import Statement, at_most, with_bounds
from judge.pairwise import PairwiseJudge
from judge.generate.run import ItemOutcome, clean_criteria, consistency, generate_structured, render
from rubrics.model import Criterion, Provenance, Rubric, id_safe
from rubrics.pairs import PreferencePair


class GeneratedRubric(BaseModel):
    hard_rules: list[Statement] = at_most(8)  # the prompt asks for fewer; the reader keeps the settings' count
    principles: list[Statement] = at_most(10)


@dataclass(frozen=True)
class ContrastiveSettings:
    tau: float = 0.5
    max_tries: int = 3
    reasks: int = 2
    resample_temperature: float = 0.8
    max_hard_rules: int = 4
    max_principles: int = 6
    max_tokens: int = 600  # ten criteria of ~25 tokens fit with room to spare

    def params(self) -> dict[str, float | int]:
        return {"tau": self.tau, "max_tries": self.max_tries, "resample_temperature": self.resample_temperature}


def to_rubric(
    pair_id: str, prompt: str, generated: GeneratedRubric, settings: ContrastiveSettings, model: str
) -> Rubric:
    rules = clean_criteria(generated.hard_rules, settings.max_hard_rules)
    principles = [
        p
        for p in clean_criteria(generated.principles, settings.max_principles)
        if p.lower() not in {r.lower() for r in rules}
    ]
    criteria = [Criterion(id=f"rule-{i}", text=t, kind="hard_rule") for i, t in enumerate(rules, 1)]
    criteria += [Criterion(id=f"principle-{i}", text=t) for i, t in enumerate(principles, 1)]
    return Rubric(
        id=f"crg-{id_safe(pair_id)}",
        task=prompt,
        criteria=criteria,
        provenance=Provenance(method="contrastive", model=model, params=settings.params(), sources=[pair_id]),
    )


def _usable(settings: ContrastiveSettings):  # type: ignore[no-untyped-def]
    def check(generated: GeneratedRubric) -> str | None:
        if not clean_criteria(generated.hard_rules, settings.max_hard_rules) + clean_criteria(
            generated.principles, settings.max_principles
        ):
            return "it has no criteria"
        return None

    return check


class ContrastiveGenerator:
    """``await generator(pair)`` -> ItemOutcome; also usable without a label (``draft``)."""

    def __init__(
        self, backend: Backend, judge: PairwiseJudge | None = None, settings: ContrastiveSettings | None = None
    ):
        self.backend = backend
        self.judge = judge or PairwiseJudge(backend)
        self.settings = settings or ContrastiveSettings()
        self.model = model_label(backend)

    async def draft(
        self, pair_id: str, prompt: str, responses: list[str], *, ranked: bool, temperature: float = 0.0
    ) -> Rubric:
        s = self.settings
        messages = render(
            "contrastive_rubric",
            prompt=prompt,
            responses=responses,
            ranked=ranked,
            max_hard_rules=s.max_hard_rules,
            max_principles=s.max_principles,
        )
        generated = await generate_structured(
            self.backend,
            messages,
            with_bounds(GeneratedRubric, hard_rules=s.max_hard_rules, principles=s.max_principles),
            reasks=s.reasks,
            temperature=temperature,
            max_tokens=s.max_tokens,
            check=_usable(s),
        )
        return to_rubric(pair_id, prompt, generated, s, self.model)

    async def __call__(self, pair: PreferencePair) -> ItemOutcome:
        s = self.settings
        attempts: list[dict[str, object]] = []
        rubric = None
        for attempt in range(s.max_tries):
            temperature = 0.0 if attempt == 0 else s.resample_temperature
            try:
                rubric = await self.draft(
                    pair.id, pair.prompt, list(pair.responses), ranked=True, temperature=temperature
                )
            except GenerationError as e:  # re-asked already: the model cannot write one for this pair
                attempts.append({"error": str(e)})
                return ItemOutcome(pair.id, "failed", None, attempts, reason=str(e))
            if s.tau <= 0:  # no consistency filter asked for: the first rubric is kept unjudged
                rubric.provenance.params = {
                    **rubric.provenance.params,
                    "consistency": "not checked (tau 0)",
                    "attempts": 1,
                }
                return ItemOutcome(pair.id, "kept", rubric, attempts)
            result = await consistency(self.judge, pair, [c.text for c in rubric.criteria])
            attempts.append(result.as_dict())
            if result.passes(s.tau):
                rubric.provenance.params = {
                    **rubric.provenance.params,
                    "consistency": result.as_dict(),
                    "attempts": attempt + 1,
                }
                return ItemOutcome(pair.id, "kept", rubric, attempts)
        return ItemOutcome(
            pair.id,
            "rejected",
            rubric,
            attempts,
            reason=f"no rubric reproduced the label in {s.max_tries} tries (tau {s.tau})",
        )
