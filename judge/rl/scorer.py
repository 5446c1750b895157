"""Rewards for a batch of (prompt, response, rubric) rows, through one engine call.

Every trainer integration (TRL, verl, the reward server) is a thin adapter over
``RewardScorer``: it turns its rows into ``RewardRequest``s and reads back ``Reward``s.
A row that cannot be scored gets ``value=None`` and the reason, never a made-up number.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from dataclasses import dataclass, field, replace
from typing import Any


from judge.backends.base import Message
from judge.aio import run_sync
from judge.build import JudgeOptions, build_judge
from judge.calibration import Calibration
from judge.engine import Evaluates, Judge, JudgeItem
from judge.jury import Jury, JuryMethod
from judge.rl.shaping import Shaping
from judge.verdict import Verdict
from rubrics.model import Rubric
from rubrics.records import completion_text
from judge.rubric_lookup import RubricError, RubricSource

RubricValue = Rubric | dict[str, Any] | list[Any] | str | None


@dataclass(frozen=True)
class RewardRequest:
    prompt: str | list[Message]
    response: str
    rubric: RubricValue = None  # inline, JSON text, a rubric id, principles; None: the default
    reference: str | None = None
    problem: str | None = None  # why the response could not be read (a malformed message list): no reward
    client: object = None  # whose turns its code checks take (judge.item.JudgeItem.client)

    @classmethod
    def of(
        cls, prompt: str | list[Message], completion: Any, rubric: RubricValue = None, reference: str | None = None
    ) -> RewardRequest:
        """A request for a completion as a trainer hands it: text, or chat messages (their assistant text)."""
        try:
            return cls(prompt, completion_text(completion), rubric, reference)
        except ValueError as e:
            return cls(prompt, "", rubric, reference, problem=f"response: {e}")


@dataclass(frozen=True)
class Reward:
    value: float | None
    reason: str | None = None
    verdict: Verdict | None = None
    counted_against: tuple[str, ...] = ()  # criteria that could not be scored, counted against the response
    rubric: Rubric | None = field(default=None, repr=False, compare=False)  # what it was judged against (monitors)

    @property
    def undecided(self) -> tuple[int, int]:
        """(criteria that could not be decided, criteria asked); a row with no verdict is one of one."""
        if self.verdict is None:
            return 1, 1
        asked = [r for r in self.verdict.results if r.status != "skipped"]
        return sum(r.status == "unscored" for r in asked), len(asked)

    def details(self) -> dict[str, Any]:
        """The reward with its per-criterion evidence, as plain JSON values."""
        v = self.verdict
        return {
            "reward": self.value,
            "status": "scored" if self.value is not None else "unscored",
            "reason": self.reason,
            "rubric_id": v.rubric_id if v else None,
            "score": v.score if v else None,
            "hard_score": v.hard_score if v else None,
            "gate": v.gate if v else None,
            "counted_against": list(self.counted_against),
            "criteria": [
                {
                    "id": r.criterion_id,
                    "status": r.status,
                    "p_yes": r.p_yes,
                    "met": r.met,
                    "weight": r.weight,
                    "reason": r.reason,
                }
                for r in (v.results if v else [])
            ],
        }


class RewardScorer:
    """Scores reward requests with a judge; the rubric per row, or the default one."""

    def __init__(self, judge: Judge, *, rubric: RubricValue = None, shaping: Shaping | None = None):
        self.judge = judge
        self.rubrics = RubricSource.from_option(rubric)
        self.resolve = self.rubrics.resolve
        self.shaping = shaping or Shaping()

    async def ascore(self, requests: Sequence[RewardRequest]) -> list[Reward]:
        rewards: list[Reward | None] = [None] * len(requests)
        items: list[JudgeItem] = []
        positions: dict[int, int] = {}  # request -> its item
        for index, request in enumerate(requests):
            if request.problem is not None:
                rewards[index] = Reward(None, request.problem)
                continue
            if not isinstance(request.response, str):
                rewards[index] = Reward(None, f"the response is a {type(request.response).__name__}, not text")
                continue
            try:
                rubric = self.resolve(request.rubric)
            except RubricError as e:
                rewards[index] = Reward(None, f"rubric: {e}")
                continue
            try:
                items.append(
                    JudgeItem(
                        str(index), request.prompt, request.response, rubric, request.reference, client=request.client
                    )
                )
                positions[index] = len(items) - 1
            except TypeError as e:  # a row of the wrong shape fails alone
                rewards[index] = Reward(None, str(e))
        async for verdict in self.judge.aevaluate_many(items):
            index = int(verdict.item_id)
            shaped = self.shaping.reward(verdict.results, requests[index].response)
            rubric = items[positions[index]].rubric
            rewards[index] = Reward(shaped.value, shaped.reason, verdict, shaped.counted_against, rubric)
        return rewards  # type: ignore[return-value]

    def score(self, requests: Sequence[RewardRequest]) -> list[Reward]:
        return run_sync(self.ascore(requests))


def build_scorer(
    model: str | Judge | Jury | Any | None = None,
    *,
    rubric: RubricValue = None,
    shaping: Shaping | dict[str, Any] | None = None,
    cache: bool | str = False,
    judge_options: JudgeOptions | dict[str, Any] | None = None,
    calibration: str | Path | Calibration | None = None,
    jury: JuryMethod | None = None,
    **backend_options: Any,
) -> RewardScorer:
    """A scorer from a model spec ("fake:yes", "local:PATH", "openai/gpt-4o-mini"...), a
    backend, a ready Judge or Jury, or a list of specs or backends: a jury aggregating each
    criterion by ``jury`` (mean, median, majority, min). None is the embedded default model: it
    runs anywhere, but a 135M model is a weak judge; use it to wire things up, not to train on.
    ``judge_options`` (judge.build.JudgeOptions, or its keywords) are those of `rubric judge`
    and `rubric serve`; ``calibration`` (a file of `rubric calibrate`, or a Calibration) maps one
    judge's P(yes) before rewards."""
    if isinstance(shaping, dict):
        shaping = Shaping(**shaping)
    if isinstance(model, Evaluates):  # a ready Judge or Jury
        return RewardScorer(model, rubric=rubric, shaping=shaping)
    options = judge_options if isinstance(judge_options, JudgeOptions) else JudgeOptions(**(judge_options or {}))
    if calibration is not None:
        options = replace(options, calibration=calibration)
    if jury is not None:
        options = replace(options, jury=jury)
    backends = [_backend(m, cache, backend_options) for m in (model if isinstance(model, (list, tuple)) else [model])]
    return RewardScorer(build_judge(options, backends), rubric=rubric, shaping=shaping)


def _backend(model: Any, cache: bool | str, options: dict[str, Any]) -> Any:
    """A model spec opened (cached if asked), or a backend wrapped in the cache if asked."""
    from judge.cache import CachedBackend
    from judge.models import open_backend

    cache_dir = None if cache is True or not cache else cache
    if model is None or isinstance(model, str):
        return open_backend(model, cache=bool(cache), cache_dir=cache_dir, **options)
    return CachedBackend(model, cache_dir) if cache else model
