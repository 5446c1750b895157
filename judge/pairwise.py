"""Pairwise judging: which of two responses is better, always asked in both orders.

Judges favour a position. Each pair is asked as "is Response 1 better than Response 2?"
with A first and with B first. Two rules decide (``decision``):

- ``both_orders`` (default): the preference stands only when both orders agree; a verdict
  that flips with the order is a tie.
- ``averaged``: the order-averaged P(A better), ``p_a`` = the mean of P(first better) with A
  first and 1 - P(first better) with B first, decides: A above 0.5 + ``margin``, B below
  0.5 - ``margin``, a tie in between. A judge that says Yes in both orders (a small model's
  bias) makes every pair a tie under the first rule; its probabilities may still lean the
  right way, which this rule reads without a threshold per order.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel

import prompts
from judge.backends.base import Backend, Message, YesNoQuestion, YesNoScore, model_label
from judge.aio import ask, chunked, run_sync, stream
from judge.hardening import Reasoning, check_options, guard_reader, screen

Preference = Literal["A", "B", "tie"]
Decision = Literal["both_orders", "averaged"]


@dataclass
class PairItem:
    id: str
    prompt: str | list[Message]
    response_a: str
    response_b: str
    criteria: tuple[str, ...] = ()


class PairwiseVerdict(BaseModel):
    item_id: str
    model: str
    status: Literal["scored", "unscored"]
    preferred: Preference | None = None
    p_a: float | None = None  # P(A better), averaged over both orders
    p_first_ab: float | None = None  # P(yes: Response 1 better) with A shown first
    p_first_ba: float | None = None  # the same with B shown first
    position_consistent: bool | None = None
    reason: str | None = None
    template_version: str | None = None


def decide_pair(p_first_ab: float, p_first_ba: float, threshold: float = 0.5) -> tuple[Preference, bool]:
    """(preference, whether both orders agree). A flip between orders is a tie."""
    a_first_says = "A" if p_first_ab >= threshold else "B"
    b_first_says = "B" if p_first_ba >= threshold else "A"
    return (a_first_says, True) if a_first_says == b_first_says else ("tie", False)


def decide_averaged(p_a: float, margin: float = 0.0) -> Preference:
    """The order-averaged rule: A above 0.5 + margin, B below 0.5 - margin, else a tie."""
    return "A" if p_a > 0.5 + margin else "B" if p_a < 0.5 - margin else "tie"


class PairwiseJudge:
    def __init__(
        self,
        backend: Backend,
        *,
        threshold: float = 0.5,
        template: str = "pairwise",
        guard: bool | Literal["semantic"] = True,
        batch_size: int = 32,
        concurrency: int = 4,
        decision: Decision = "both_orders",
        margin: float = 0.0,
        reasoning: Reasoning = "exclude",
    ):
        if decision not in ("both_orders", "averaged"):
            raise ValueError(f"decision must be 'both_orders' or 'averaged', got {decision!r}")
        if not 0.0 <= margin < 0.5:
            raise ValueError(f"margin must be within [0, 0.5), got {margin}")
        self.decision, self.margin = decision, margin
        self.backend = backend
        self.threshold = threshold
        self.template = template
        self.template_version = prompts.template_version(template)
        check_options(guard, reasoning)
        self.guard = guard
        self.reasoning = reasoning
        self.batch_size = max(2, batch_size)
        self.concurrency = max(1, concurrency)

    def settings(self) -> dict[str, object]:
        """Everything besides the pair that shapes a verdict: what a resumed run must share."""
        return {
            "model": self.model_label,
            "backend": self.backend.identity(),
            "template_version": self.template_version,
            "decision": self.decision,
            "margin": self.margin,
            "guard": self.guard,
            "reasoning": self.reasoning,
        }

    @property
    def model_label(self) -> str:
        return model_label(self.backend)

    def compare(
        self,
        prompt: str | list[Message],
        response_a: str,
        response_b: str,
        *,
        item_id: str = "pair",
        criteria: Sequence[str] = (),
    ) -> PairwiseVerdict:
        return run_sync(self.acompare(prompt, response_a, response_b, item_id=item_id, criteria=criteria))

    async def acompare(
        self,
        prompt: str | list[Message],
        response_a: str,
        response_b: str,
        *,
        item_id: str = "pair",
        criteria: Sequence[str] = (),
    ) -> PairwiseVerdict:
        (verdict,) = await self._judge_chunk([PairItem(item_id, prompt, response_a, response_b, tuple(criteria))])
        return verdict

    async def acompare_many(self, items: Iterable[PairItem]) -> AsyncIterator[PairwiseVerdict]:
        async for verdict in stream(chunked(items, self.batch_size, lambda _: 2), self._judge_chunk, self.concurrency):
            yield verdict

    def _question(self, item: PairItem, first: str, second: str) -> YesNoQuestion:
        messages = prompts.render_messages(
            self.template, prompt=item.prompt, first=first, second=second, criteria=list(item.criteria)
        )
        return YesNoQuestion(tuple(messages), self.template_version)

    def _verdict(self, item: PairItem, **fields: object) -> PairwiseVerdict:
        return PairwiseVerdict(
            item_id=item.id, model=self.model_label, template_version=self.template_version, **fields
        )  # type: ignore[arg-type]

    def _guarded(self, item: PairItem, empty_a: str | None, empty_b: str | None) -> PairwiseVerdict | None:
        """A content-free response loses without asking the judge; two of them tie."""
        if empty_a and empty_b:
            return self._verdict(
                item,
                status="scored",
                preferred="tie",
                reason=f"decided without the judge: both responses are {empty_a}",
            )
        if empty_a or empty_b:
            winner, loser, reason = ("B", "A", empty_a) if empty_a else ("A", "B", empty_b)
            return self._verdict(
                item,
                status="scored",
                preferred=winner,
                p_a=float(winner == "A"),
                reason=f"decided without the judge: response {loser} is {reason}",
            )
        return None

    async def _judge_chunk(self, items: Sequence[PairItem]) -> list[PairwiseVerdict]:
        decided: dict[str, PairwiseVerdict | None] = {}
        asked = []
        for item in items:
            reader = guard_reader(self.guard)
            (a, empty_a), (b, empty_b) = (
                screen(item.response_a, self.reasoning, reader),
                screen(item.response_b, self.reasoning, reader),
            )
            decided[item.id] = self._guarded(item, empty_a, empty_b) if self.guard else None
            if decided[item.id] is None:
                asked.append(replace(item, response_a=a.text, response_b=b.text))
        questions = [
            q
            for item in asked
            for q in (
                self._question(item, item.response_a, item.response_b),
                self._question(item, item.response_b, item.response_a),
            )
        ]
        scores = await ask(self.backend, questions)
        for index, item in enumerate(asked):
            decided[item.id] = self._from_scores(item, scores[2 * index], scores[2 * index + 1])
        return [decided[item.id] for item in items]  # type: ignore[misc]

    def _from_scores(self, item: PairItem, ab: YesNoScore, ba: YesNoScore) -> PairwiseVerdict:
        for score in (ab, ba):
            if score.p_yes is None or not math.isfinite(score.p_yes) or not 0.0 <= score.p_yes <= 1.0:
                return self._verdict(item, status="unscored", reason=score.reason or f"invalid P(yes) {score.p_yes!r}")
        preferred, consistent = decide_pair(ab.p_yes, ba.p_yes, self.threshold)  # type: ignore[arg-type]
        p_a = (ab.p_yes + (1.0 - ba.p_yes)) / 2  # type: ignore[operator]
        reason = None if consistent else "the verdict flips with the order of the responses: a tie"
        if self.decision == "averaged":
            preferred = decide_averaged(p_a, self.margin)
            reason = (
                None
                if preferred != "tie"
                else f"the order-averaged P(A better) {p_a:.3f} is within {self.margin:g} of 0.5: a tie"
            )
        return self._verdict(
            item,
            status="scored",
            preferred=preferred,
            position_consistent=consistent,
            p_first_ab=ab.p_yes,
            p_first_ba=ba.p_yes,
            p_a=p_a,
            reason=reason,
        )
