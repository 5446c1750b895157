"""What the rubric generators share: structured calls with bounded re-asks, the
preference-label consistency check, a resumable per-pair log, and the run loop.

A generator is an async function ``pair -> ItemOutcome``. ``run_generation`` runs it over
the pairs a few at a time, appends each outcome to the log as it arrives (so an interrupted
run resumes where it stopped), and shows progress on a terminal.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

import prompts
from judge.backends.base import Backend, BackendFatalError, GenerationError, Message, capability
from judge.pairwise import PairItem, PairwiseJudge
from rubrics.model import Rubric
from rubrics.pairs import PreferencePair

logger = logging.getLogger("rubric.generate")
T = TypeVar("T", bound=BaseModel)
Status = Literal["kept", "rejected", "failed"]


def clean_criteria(texts: Iterable[Any], limit: int) -> list[str]:
    """Non-empty, de-duplicated (case-insensitively) criterion texts, at most limit."""
    seen, kept = set(), []
    for text in texts:
        if not isinstance(text, str) or not (stripped := " ".join(text.split())):
            continue
        if stripped.lower() not in seen:
            seen.add(stripped.lower())
            kept.append(stripped)
    return kept[:limit]


async def generate_structured(
    backend: Backend,
    messages: Sequence[Message],
    schema: type[T],
    *,
    reasks: int = 2,
    temperature: float = 0.0,
    max_tokens: int = 1024,
    check: Callable[[T], str | None] = lambda _: None,
) -> T:
    """A schema instance from the backend. Invalid output (unparseable, or refused by
    ``check``, which returns what is wrong) is shown back to the model with the problem, up
    to ``reasks`` times; then GenerationError names the last problem. A backend whose
    structured output is final (``final_structured_output``: the API backends re-ask through
    instructor already; a local model decodes under the schema's grammar, so what fails is
    a token budget, which asking again does not fix) is not re-asked for invalid output:
    only ``check``'s problems come back here."""
    asked = list(messages)
    problem = "no attempt"
    for _ in range(reasks + 1):
        text: str | None = None
        try:
            result = await backend.generate(asked, schema=schema, max_tokens=max_tokens, temperature=temperature)
            if not isinstance(result, schema):
                raise GenerationError(f"expected {schema.__name__}, got {type(result).__name__}")
            problem = check(result) or ""
            if not problem:
                return result
            text = result.model_dump_json()
        except BackendFatalError:
            raise
        except (GenerationError, ValidationError, ValueError) as e:
            problem, text = str(e).splitlines()[0], getattr(e, "text", None)
            if capability(backend, "final_structured_output"):
                raise GenerationError(
                    f"no usable {schema.__name__} (the backend re-asked already): {problem}", text
                ) from None
        asked = [
            *messages,
            {"role": "assistant", "content": text or "(unreadable output)"},
            {
                "role": "user",
                "content": f"That answer is not usable: {problem}. Answer again with only the JSON object asked for.",
            },
        ]
    raise GenerationError(f"no usable {schema.__name__} after {reasks + 1} attempts: {problem}")


@dataclass(frozen=True)
class Consistency:
    """How well a rubric makes a judge reproduce a preference label."""

    accuracy: float  # share of induced pairs (better, worse) the judge gets right
    explained_correct: bool  # the pair being explained (best vs worst) is right
    pairs: int
    ties: int

    def passes(self, tau: float) -> bool:
        return self.accuracy >= tau and self.explained_correct

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "explained_correct": self.explained_correct,
            "pairs": self.pairs,
            "ties": self.ties,
        }


async def consistency(judge: PairwiseJudge, pair: PreferencePair, criteria: Sequence[str]) -> Consistency:
    """Judge every induced pair of the ranking with the criteria in context (both orders,
    so position bias cancels); a tie or an unscored pair counts as wrong."""
    last = len(pair.responses) - 1
    items = [
        PairItem(f"{i}>{j}", pair.prompt, pair.responses[i], pair.responses[j], tuple(criteria))
        for i in range(len(pair.responses))
        for j in range(i + 1, len(pair.responses))
    ]
    verdicts = {v.item_id: v async for v in judge.acompare_many(items)}
    correct = {key: v.status == "scored" and v.preferred == "A" for key, v in verdicts.items()}
    ties = sum(v.preferred == "tie" for v in verdicts.values())
    return Consistency(sum(correct.values()) / len(items), correct[f"0>{last}"], len(items), ties)


@dataclass
class ItemOutcome:
    """What a generator made of one input item (a preference pair, an instruction, a question)."""

    item_id: str
    status: Status
    rubric: Rubric | None = None  # kept: the rubric; rejected: the last candidate
    attempts: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "status": self.status,
            "reason": self.reason,
            "attempts": self.attempts,
            "rubric": self.rubric.model_dump(mode="json", exclude_defaults=True) if self.rubric else None,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ItemOutcome:
        rubric = Rubric.model_validate(record["rubric"]) if record.get("rubric") else None
        item_id = record["item_id"] if "item_id" in record else record["pair_id"]  # logs before the rename said pair_id
        return cls(item_id, record["status"], rubric, record.get("attempts", []), record.get("reason"))


class Generator(Protocol):
    """A rubric generator: called once per input item, returns what it made of it. ``settings``
    go into the run log, so a rerun with other settings does not resume this one's outcomes."""

    settings: Any

    async def __call__(self, item: Any) -> ItemOutcome: ...


class OutcomeLog:
    """Item outcomes in an append-only JSONL file (judge.runs.log: locked, a partial last
    line from an interrupted write is dropped): what a rerun skips. With ``run`` (the
    generation's settings) and ``items`` (id -> the item), a rerun keeps only outcomes that
    this same run made for this same item and stops on any other (judge/runs/resume.py);
    without ``items`` every earlier outcome is kept."""

    def __init__(
        self,
        path: str | Path,
        *,
        run: dict[str, Any] | None = None,
        items: dict[str, Any] | None = None,
        overwrite: bool = False,
    ):
        from judge.runs.log import VerdictLog, open_resumed
        from judge.runs.resume import digest

        self._stamp: Callable[[dict[str, Any]], dict[str, Any]]
        if items is None:
            self._log, previous, self._stamp = VerdictLog(path, overwrite=overwrite), None, lambda record: record
        else:
            hashes = {key: digest(item) for key, item in items.items()}
            resumed = open_resumed(path, logger.warning, run or {}, hashes, overwrite=overwrite, what="outcome")
            self._log, previous, self._stamp = resumed.log, list(resumed.kept.values()), resumed.stamp
        self.path = self._log.path
        self.outcomes: dict[str, ItemOutcome] = {}
        for record in self._log.previous if previous is None else previous:
            try:
                outcome = ItemOutcome.from_record(record)
            except (ValueError, KeyError, ValidationError):
                continue
            self.outcomes[outcome.item_id] = outcome

    def write(self, outcome: ItemOutcome) -> None:
        self.outcomes[outcome.item_id] = outcome
        self._log.write(self._stamp(outcome.record()))

    def close(self) -> None:
        self._log.close()


def log_path_for(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".log.jsonl")


async def run_generation(
    items: Sequence[Any],
    generate: Generator,
    log: OutcomeLog,
    *,
    concurrency: int = 4,
    progress: bool | None = None,
    unit: str = "pair",
) -> Counter[str]:
    """Run the generator over the items not yet in the log; count outcomes by status."""
    import sys

    from tqdm import tqdm

    todo = [item for item in items if item.id not in log.outcomes]
    gate = asyncio.Semaphore(max(1, concurrency))
    bar = tqdm(
        total=len(todo), unit=unit, file=sys.stderr, disable=None if progress is None else not progress
    )  # None: a TTY only

    async def one(item: Any) -> None:
        async with gate:
            try:
                outcome = await generate(item)
            except BackendFatalError:
                raise
            except Exception as e:  # noqa: BLE001 - an item that breaks is recorded, the run goes on
                outcome = ItemOutcome(item.id, "failed", reason=f"{type(e).__name__}: {e}")
        log.write(outcome)
        bar.update()

    try:
        await asyncio.gather(*(one(item) for item in todo))
    finally:
        bar.close()
    return Counter(log.outcomes[item.id].status for item in items if item.id in log.outcomes)


@dataclass
class GenerationResult:
    outcomes: list[ItemOutcome]  # one per item, in input order
    counts: Counter[str]  # kept / rejected / failed
    log_path: Path

    @property
    def rubrics(self) -> list[Rubric]:
        return [o.rubric for o in self.outcomes if o.status == "kept" and o.rubric is not None]


def generate_all(
    items: Sequence[Any],
    generator: Generator,
    output: str | Path,
    run: dict[str, Any],
    *,
    concurrency: int = 4,
    progress: bool | None = None,
    overwrite: bool = False,
    unit: str = "pair",
) -> GenerationResult:
    """The one run of every generator: each item (a pair, an instruction, a question) not
    yet done by this same run, outcomes logged to OUTPUT.log.jsonl as they come."""
    from judge.aio import run_sync

    log = OutcomeLog(log_path_for(output), run=run, items={item.id: item for item in items}, overwrite=overwrite)
    try:
        counts = run_sync(run_generation(items, generator, log, concurrency=concurrency, progress=progress, unit=unit))
    finally:
        log.close()
    return GenerationResult([log.outcomes[item.id] for item in items], counts, log.path)


def render(template: str, **variables: Any) -> list[Message]:
    return prompts.render_messages(template, **variables)
