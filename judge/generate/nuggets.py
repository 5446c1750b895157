"""Nugget-as-rubric (Search-Gen-V): build a question's nuggets from retrieved passages.

Construction: question -> search queries (LLM; the question itself if that fails) ->
passages from a PassageSource, de-duplicated -> candidate nuggets (LLM; atomic,
self-contained, each citing its passage, vital or okay) -> near-duplicates merged by
embedding similarity -> a rubric of ``kind: nugget`` criteria. A question with no passage
gets no rubric: its outcome says "no evidence" (nothing is invented).

Judging a response against the rubric is the engine's job, as for any rubric: each
``kind: nugget`` criterion is matched in code first (judge/checks/nuggets.py) and only the
unsure ones are asked of the judge, in three labels (judge/nuggets.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from judge.backends.base import Backend, GenerationError
from judge.backends.structured import Statement, at_most, with_bounds
from judge.generate.retrieval import Embedder, Passage, PassageSource, deduplicate
from judge.generate.run import ItemOutcome, clean_criteria, generate_structured, render
from rubrics.model import Criterion, Provenance, Rubric
from rubrics.records import LoadReport, load_records, text_record

WEIGHTS = {"vital": 1.0, "okay": 0.5}  # TREC RAG's convention: an okay nugget counts half


@dataclass(frozen=True)
class Question:
    id: str
    text: str


def _question(record: Any, default_id: str) -> Question:
    question_id, text = text_record(
        record, default_id, ("question", "query", "prompt", "text"), ("id", "qid"), "question"
    )
    return Question(question_id, text.strip())


def load_questions(path: Any, report: LoadReport | None = None) -> list[Question]:
    if report is not None:
        report.unit = "questions"
    return list(load_records(path, report, _question))


class Queries(BaseModel):
    queries: list[Statement] = at_most(6)


class ExtractedNugget(BaseModel):
    text: str = Field(min_length=1, json_schema_extra={"maxLength": 300})
    passage: int
    importance: Literal["vital", "okay"] = "okay"


class ExtractedNuggets(BaseModel):
    short_form: bool = False
    nuggets: list[ExtractedNugget] = at_most(20)


@dataclass
class NuggetSettings:
    max_queries: int = 3
    passages_per_query: int = 4
    max_passages: int = 8
    max_nuggets: int = 12
    merge_threshold: float = 0.85  # cosine above which two nuggets are the same fact
    weighted: bool = True  # vital 1, okay 0.5; False: every nugget 1
    reasks: int = 2


def merge_near_duplicates(
    nuggets: list[ExtractedNugget], passages: list[Passage], embed: Embedder | None, threshold: float
) -> list[tuple[ExtractedNugget, list[str]]]:
    """Nuggets with their cited passage ids; a nugget too similar to an earlier one folds
    into it (its passage is added; vital wins over okay)."""
    kept: list[tuple[ExtractedNugget, list[str]]] = []
    vectors = embed([n.text for n in nuggets]) if embed is not None and nuggets else None
    kept_rows: list[int] = []
    for row, nugget in enumerate(nuggets):
        source = passages[nugget.passage - 1].id
        same = None
        for slot, earlier in enumerate(kept_rows):
            exact = " ".join(nugget.text.lower().split()) == " ".join(nuggets[earlier].text.lower().split())
            if exact or (vectors is not None and float(vectors[row] @ vectors[earlier]) >= threshold):
                same = slot
                break
        if same is None:
            kept.append((nugget, [source]))
            kept_rows.append(row)
            continue
        first, sources = kept[same]
        if nugget.importance == "vital" and first.importance != "vital":
            first = first.model_copy(update={"importance": "vital"})
        kept[same] = (first, sources + [source] if source not in sources else sources)
    return kept


@dataclass
class NuggetGenerator:
    """``await generator(question) -> ItemOutcome`` for the shared generation log."""

    backend: Backend
    source: PassageSource
    embed: Embedder | None = None
    settings: NuggetSettings = field(default_factory=NuggetSettings)
    model_label: str = ""

    async def queries(self, question: Question) -> tuple[list[str], str | None]:
        messages = render("nugget_queries", question=question.text, max_queries=self.settings.max_queries)
        try:
            result = await generate_structured(
                self.backend,
                messages,
                with_bounds(Queries, queries=self.settings.max_queries),
                reasks=self.settings.reasks,
                check=lambda q: None if clean_criteria(q.queries, 1) else "no query",
            )
        except GenerationError as e:
            return [question.text], f"query rewrite failed, searched the question itself: {e}"
        return [question.text] + clean_criteria(result.queries, self.settings.max_queries), None

    async def retrieve(self, queries: list[str]) -> list[Passage]:
        found = await asyncio.gather(*(self.source.search(q, self.settings.passages_per_query) for q in queries))
        interleaved = [hits[i] for i in range(max(map(len, found), default=0)) for hits in found if i < len(hits)]
        return deduplicate(interleaved)[: self.settings.max_passages]

    async def __call__(self, question: Question) -> ItemOutcome:
        queries, query_note = await self.queries(question)
        passages = await self.retrieve(queries)
        params: dict[str, Any] = {"queries": queries, "passages": [p.id for p in passages], "query_note": query_note}
        if not passages:
            return ItemOutcome(
                question.id, "rejected", reason="no evidence: no passage was retrieved for any query", attempts=[params]
            )
        messages = render(
            "nugget_extract", question=question.text, passages=passages, max_nuggets=self.settings.max_nuggets
        )

        def cited_passages_exist(result: ExtractedNuggets) -> str | None:
            bad = [n.passage for n in result.nuggets if not 1 <= n.passage <= len(passages)]
            return f"nuggets cite passages that do not exist: {bad}" if bad else None

        extracted = await generate_structured(
            self.backend,
            messages,
            with_bounds(ExtractedNuggets, nuggets=self.settings.max_nuggets),
            reasks=self.settings.reasks,
            max_tokens=1536,
            check=cited_passages_exist,
        )
        nuggets = [n for n in extracted.nuggets if n.text.strip()][: self.settings.max_nuggets]
        if extracted.short_form and nuggets:
            nuggets = sorted(nuggets, key=lambda n: n.importance != "vital")[:1]
        if not nuggets:
            return ItemOutcome(
                question.id,
                "rejected",
                reason="no evidence: the passages hold no nugget for this question",
                attempts=[params],
            )
        merged = merge_near_duplicates(nuggets, passages, self.embed, self.settings.merge_threshold)
        criteria = [
            Criterion(
                id=f"n{number}",
                text=nugget.text,
                kind="nugget",
                tags=[nugget.importance],
                sources=sources,
                weight=WEIGHTS[nugget.importance] if self.settings.weighted else 1.0,
            )
            for number, (nugget, sources) in enumerate(merged, 1)
        ]
        params.update(candidates=len(nuggets), merged=len(nuggets) - len(merged), short_form=extracted.short_form)
        rubric = Rubric(
            id=f"nuggets-{question.id}",
            task=question.text,
            criteria=criteria,
            provenance=Provenance(
                method="search-gen-v-nuggets", model=self.model_label, sources=[p.id for p in passages], params=params
            ),
        )
        return ItemOutcome(question.id, "kept", rubric, attempts=[params])
