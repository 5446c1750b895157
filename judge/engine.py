"""The judge engine: responses x rubric criteria -> P(yes) per criterion -> verdict.

One async core (``aevaluate``, ``aevaluate_many``) with thin sync wrappers. Nothing a
backend does can crash a run: failures become ``unscored`` results with a reason.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import prompts
from judge import nuggets
from judge.item import JudgeItem, Prepared
from judge.shapes import SHAPES
from judge.aio import chunked, run_sync, stream
from judge.backends.base import Backend, Message, YesNoScore, model_label
from judge.models import calls_in_flight
from judge.options import JudgeOptions
from judge.calibration import Calibration
from judge.hardening import check_options, guard_reader, screen
from judge.hardening.surface import on_surface, warn_once
from judge.hardening.view import describe, keep_worse, normalised_view, prompt_text
from judge.scoring import decide, weighted_score
from judge.checks import CHECKS, CheckCall, check_problem, shared_pool
from judge.verdict import CriterionResult, Verdict
from rubrics.model import Criterion, Rubric

LONG_RESPONSE = 20_000  # characters from which the guard and the planning read a response in a thread
GUARD_DECIDED = "decided without the judge"  # how a result the guard decided begins its reason
TRUNCATION_MARK = "\n[... {removed} characters removed here to fit the model context ...]\n"


def truncate_middle(text: str, keep: int) -> str:
    """Keep the head and tail of text (keep characters in all), marking the cut."""
    if keep >= len(text):
        return text
    head = keep // 2
    tail = keep - head
    return text[:head] + TRUNCATION_MARK.format(removed=len(text) - keep) + (text[-tail:] if tail else "")


class Evaluates:
    """Judge's and Jury's evaluate API on their ``_judge_chunk``: ``batch_size`` questions a chunk, ``concurrency`` in flight."""

    batch_size: int
    concurrency: int
    _judge_chunk: Callable[[Sequence[JudgeItem]], Awaitable[list[Verdict]]]

    async def aevaluate(
        self,
        prompt: str | list[Message],
        response: str,
        rubric: Rubric,
        *,
        item_id: str = "item",
        reference: str | None = None,
    ) -> Verdict:
        """The verdict on one response (``reference``: the answer that checks compare with)."""
        (verdict,) = await self._judge_chunk([JudgeItem(item_id, prompt, response, rubric, reference)])
        return verdict

    def evaluate(
        self,
        prompt: str | list[Message],
        response: str,
        rubric: Rubric,
        *,
        item_id: str = "item",
        reference: str | None = None,
    ) -> Verdict:
        """``aevaluate`` for synchronous code (a notebook's running loop included)."""
        return run_sync(self.aevaluate(prompt, response, rubric, item_id=item_id, reference=reference))

    async def aevaluate_many(self, items: Iterable[JudgeItem]) -> AsyncIterator[Verdict]:
        """Verdicts in completion order, as soon as each batch is judged."""
        async for verdict in stream(
            chunked(items, self.batch_size, lambda i: len(i.rubric.criteria)), self._judge_chunk, self.concurrency
        ):
            yield verdict

    def evaluate_many(self, items: Iterable[JudgeItem]) -> list[Verdict]:
        """Every item's verdict, in completion order, for synchronous code."""

        async def collect() -> list[Verdict]:
            return [v async for v in self.aevaluate_many(items)]

        return run_sync(collect())


class Judge(Evaluates):
    """Judges responses against rubrics with a backend, as ``options`` say (judge/options.py:
    ``JudgeOptions``, the same type every door speaks; keywords override its fields, so
    ``Judge(backend, threshold=0.7)`` works too).

    threshold: P(yes) at or above which a criterion counts as met (default: the calibration's, else 0.5).
    calibration: maps the judge's P(yes) to calibrated values (judge/calibration.py), after the
    cache; results keep the raw P(yes) beside it. It must have been fitted for this backend.
    gate: a failed hard rule caps the score at gate_cap.
    only_tags (or ``include``, a filter of one's own): criteria left out are recorded as skipped.
    guard: decide content-free responses without the judge (judge/hardening/); "semantic"
    adds the reader of sentence meaning (judge/hardening/semantic.py: catches more, rejects
    more genuine short answers; needs sentence-transformers).
    reasoning: "exclude" judges a reasoning model's answer without its <think> part (an
    answer that is empty without it is content-free); "include" judges the whole text.
    view: also judge a normalised view of the response (judge/hardening/view.py: formatting
    stripped, the clauses that talk about the answer, its grading or the grader removed) and
    keep the reading less favourable to the response (a criterion's lower P(yes), a
    pitfall's higher); one more question per criterion, and only for responses whose view
    differs and criteria not about the response's surface (quotes, case, counts).
    checks: decide criteria with a known machine-checkable spec in code (judge/checks/).
    batch_size: questions sent to the backend per call; concurrency: calls in flight (by
    default worked out for the backend: judge.models.calls_in_flight).
    request_shape: "per_criterion" (one yes/no question per criterion, P(yes) read from the
    answer), "generated" (a generated verdict per criterion: reasoning, then the decision)
    or "batched" (one generated request per response, a label per criterion).

    The steps of one verdict are public, for those that drive them (a jury, provider batch
    jobs): ``prepare(item)`` decides what code and the guard can and lists the questions left
    for the model; ``decide(items)`` prepares a chunk and asks the model; ``verdict(prepared)``
    scores what was decided.
    """

    def __init__(
        self,
        backend: Backend,
        options: JudgeOptions | None = None,
        *,
        include: Callable[[Criterion], bool] | None = None,
        **overrides: Any,
    ):
        options = replace(options or JudgeOptions(), **overrides)
        calibration = Calibration.of(options.calibration)
        if calibration is not None:
            calibration.check_judge(model_label(backend), options.request_shape)
        threshold = options.threshold
        if threshold is None:
            threshold = calibration.threshold if calibration is not None else 0.5
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {threshold}")
        check_options(options.guard, options.reasoning)
        self.options = options
        self.backend = backend
        self.shape = SHAPES[options.request_shape]
        self.template = self.shape.template or options.template
        self.template_version = prompts.template_version(self.template)
        self.threshold = threshold  # the options' own, or the calibration's
        self.calibration = calibration
        self.calibration_id = calibration.id if calibration is not None else None  # hashed once, in every verdict
        tags = options.only_tags
        self.include = include or ((lambda c: bool(tags & set(c.tags))) if tags else None)
        self.batch_size = max(1, options.batch_size)
        self.concurrency = max(1, calls_in_flight(backend, self.batch_size, options.concurrency))

    @property
    def model_label(self) -> str:
        return model_label(self.backend)

    @property
    def request_shape(self) -> str:
        return self.options.request_shape

    @property
    def judges(self) -> list[Judge]:
        """The judges whose verdicts this one gives: itself (a jury: its members)."""
        return [self]

    @property
    def backends(self) -> list[Backend]:
        return [self.backend]

    def settings(self) -> dict[str, Any]:
        """Everything besides the item that shapes a verdict: what a resumed run must share."""
        return {
            "model": self.model_label,
            "backend": self.backend.identity(),
            **self.options.recorded(),
            "threshold": self.threshold,
            "template_version": self.template_version,
            "nugget_template_version": nuggets.template_version(),
            "calibration": self.calibration_id,
        }

    # -- internals --------------------------------------------------------------------------
    async def _judge_chunk(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        return [self.verdict(p) for p in await self.decide(items)]

    async def decide(self, items: Sequence[JudgeItem]) -> list[Prepared]:
        """Every criterion of every item decided: by code, or by the model (``p.judged``)."""
        chunk = object()  # the chunk's checks take their turns at the check workers together
        prepared = list(await asyncio.gather(*(self.prepare(item, item.client or chunk) for item in items)))
        await self.shape.answer(self, prepared + [p.view for p in prepared if p.view is not None])
        for p in prepared:
            if p.view is not None:
                for criterion_id, result in p.view.results.items():
                    p.results[criterion_id] = keep_worse(p.results[criterion_id], result)
        return prepared

    async def prepare(self, item: JudgeItem, caller: object = None) -> Prepared:
        """What code, the criteria filter and the guard decide, and the requests left for the
        model in this judge's request shape (``caller``: whose turn the item's checks take)."""
        p = Prepared(item)
        warn_once(item.rubric)  # a rubric that pays for the surface alone is said once, whichever door
        to_ask = []
        for criterion in item.rubric.criteria:
            if self.include is not None and not self.include(criterion):
                p.results[criterion.id] = self.base_result(
                    criterion, "skipped", reason="excluded by the criteria filter"
                )
            else:
                to_ask.append(criterion)
        if not to_ask:
            return p
        screening = partial(screen, item.response, self.options.reasoning, guard_reader(self.options.guard))
        # the guard's cost grows with the text: a long one is read off the event loop, which goes on serving
        answer, empty = await asyncio.to_thread(screening) if len(item.response) > LONG_RESPONSE else screening()
        if answer.reasoning_removed:
            item = replace(item, response=answer.text)
            p.notes.append("judged the answer without its reasoning (<think>…</think> removed)")
        if not self.options.guard:
            empty = None
        if empty is not None:
            for criterion in to_ask:
                p.results[criterion.id] = self.base_result(
                    criterion, "scored", p_yes=0.0, met=False, reason=f"{GUARD_DECIDED}: {empty}"
                )
            return p
        if self.options.checks:
            to_ask = await self._check_in_code(item, to_ask, p, caller)
            if not to_ask:
                return p
        planning = partial(self._plan, item, to_ask, p)
        # fitting, rendering and the view grow with the text: a long one is planned off the event loop
        await asyncio.to_thread(planning) if len(item.response) > LONG_RESPONSE else planning()
        return p

    def _plan(self, item: JudgeItem, to_ask: list[Criterion], p: Prepared) -> None:
        """The requests for the criteria left to the model: the response fitted to the model's
        context, and its normalised view."""
        response, fit_note = self._fit_response(item, self.shape.render(self, item, to_ask, p))
        if response is None:
            for criterion in to_ask:
                p.results[criterion.id] = self.base_result(criterion, "unscored", reason=fit_note)
            return
        if fit_note:
            p.notes.append(fit_note)
        self.shape.plan(self, item, response, to_ask, p)
        if self.options.view:
            self._plan_view(item, response, to_ask, p)

    def _plan_view(self, item: JudgeItem, response: str, criteria: list[Criterion], p: Prepared) -> None:
        """Ask the same criteria about the normalised view too, when it differs. A view with
        nothing left is not asked: what has no content at all is the guard's to decide. Nor is
        a criterion about the response's surface: the view strips what it asks about."""
        criteria = [c for c in criteria if not on_surface(c)]
        if not criteria:
            return
        view = normalised_view(response, prompt_text(item.prompt), item.reference)
        if not view.changed or not view.text.strip():
            return
        p.view = Prepared(replace(item, response=view.text), nuggets=set(p.nuggets))
        self.shape.plan(self, p.view.item, view.text, criteria, p.view)
        p.notes.append(describe(view))

    async def _check_in_code(
        self, item: JudgeItem, criteria: list[Criterion], p: Prepared, caller: object
    ) -> list[Criterion]:
        """Decide the criteria that code can check (in the check workers); return the ones left for the judge."""
        calls: dict[str, CheckCall] = {}
        for criterion in criteria:
            spec = criterion.check
            if spec is None and criterion.kind == "nugget":
                spec = {"type": "nugget_match"}  # nuggets are matched in code first (judge/checks/nuggets.py)
            if spec is None:
                continue
            if spec["type"] not in CHECKS:  # never left to the model: the rubric meant code to decide it
                p.results[criterion.id] = self.base_result(criterion, "unscored", reason=check_problem(spec))
                continue
            if spec["type"] == "nugget_match":
                spec = {"nugget": criterion.text, **spec}
            calls[criterion.id] = CheckCall(spec["type"], item.response, item.reference, spec)
        outcomes = dict(zip(calls, await shared_pool().arun(list(calls.values()), caller)))
        left = []
        for criterion in criteria:
            if criterion.id in p.results:
                continue
            outcome = outcomes.get(criterion.id)
            if outcome is None:
                left.append(criterion)
                continue
            nugget = calls[criterion.id].type == "nugget_match"
            if outcome.defer:  # code cannot tell: the judge decides, and its result says why it was asked
                p.deferred[criterion.id] = outcome.reason
                if nugget and self.shape.nugget_labels:  # the generated and batched shapes ask one question
                    p.nuggets.add(criterion.id)
                left.append(criterion)
            elif outcome.met is None:
                p.results[criterion.id] = self.base_result(criterion, "unscored", reason=outcome.reason)
            else:
                label = nuggets.code_label(outcome.met) if nugget else None
                p.results[criterion.id] = self.base_result(
                    criterion, "scored", p_yes=float(outcome.met), met=outcome.met, reason=outcome.reason, label=label
                )
        return left

    def render(self, item: JudgeItem, response: str, *, template: str | None = None, **criteria: Any) -> list[Message]:
        """The messages of one request about ``item`` (the judge's template unless another is named)."""
        return prompts.render_messages(
            template or self.template, prompt=item.prompt, response=response, reference=item.reference, **criteria
        )

    def _fit_response(self, item: JudgeItem, render: Callable[[str], list[Message]]) -> tuple[str | None, str | None]:
        """The response, cut from the middle if the largest request would not fit the context."""
        window = self.backend.context_window
        if not window:
            return item.response, None
        budget = window - self.shape.output_tokens(len(item.rubric.criteria))
        count = self.backend.count_tokens(render(item.response))
        if count is None or count <= budget:
            return item.response, None
        base = self.backend.count_tokens(render("")) or 0
        if base >= budget:
            return (
                None,
                f"the prompt and instructions alone take {base} tokens, more than the model context of {window}",
            )
        response, keep = item.response, len(item.response)
        while count is not None and count > budget and keep > 0:
            response_tokens = max(1, count - base)
            keep = int(keep * max(0.0, (budget - base) / response_tokens) * 0.95)
            response = truncate_middle(item.response, keep)
            count = self.backend.count_tokens(render(response))
        return response, (
            f"response truncated from the middle to fit the model context of {window} tokens: "
            f"kept {keep} of {len(item.response)} characters"
        )

    def base_result(self, criterion: Criterion, status: str, **fields: Any) -> CriterionResult:
        """A criterion's result with what the rubric says of it (id, kind, weight)."""
        return CriterionResult(
            criterion_id=criterion.id, kind=criterion.kind, weight=criterion.weight, status=status, **fields
        )  # type: ignore[arg-type]

    def result(self, criterion: Criterion, score: YesNoScore) -> CriterionResult:
        """A criterion's result from the model's score: calibrated, thresholded, or unscored with the reason."""
        p = score.p_yes
        if p is None:
            return self.base_result(
                criterion,
                "unscored",
                reason=score.reason or "the backend gave no score",
                notes=list(score.notes),
                explanation=score.explanation,
                transient=score.transient or None,
            )
        if not (math.isfinite(p) and 0.0 <= p <= 1.0):
            return self.base_result(criterion, "unscored", reason=f"backend gave an invalid P(yes) {p!r}")
        raw = None
        if self.calibration is not None:
            raw, p = p, self.calibration.apply(criterion.id, p)
        return self.base_result(
            criterion,
            "scored",
            p_yes=p,
            p_yes_raw=raw,
            met=decide(p, self.threshold),
            yes_no_mass=score.yes_no_mass,
            notes=list(score.notes),
            explanation=score.explanation,
        )

    def verdict(self, p: Prepared) -> Verdict:
        """The verdict of a decided item: its results in rubric order, scored (judge.scoring)."""
        item = p.item
        results = [p.results[c.id] for c in item.rubric.criteria]
        for result in results:
            if result.criterion_id in p.deferred:
                result.notes.insert(0, p.deferred[result.criterion_id])
        soft = weighted_score(results, soft=True, gate=self.options.gate, gate_cap=self.options.gate_cap)
        hard = weighted_score(results, soft=False, gate=self.options.gate, gate_cap=self.options.gate_cap)
        return Verdict(
            item_id=item.id,
            rubric_id=item.rubric.id,
            model=self.model_label,
            threshold=self.threshold,
            status="scored" if soft.value is not None else "unscored",
            score=soft.value,
            hard_score=hard.value,
            gate=soft.gate,
            n_scored=soft.n_scored,
            n_unscored=soft.n_unscored,
            n_skipped=soft.n_skipped,
            reason=soft.reason,
            results=results,
            notes=p.notes,
            template_version=self.template_version,
            request_shape=self.options.request_shape,
            calibration=self.calibration_id,
        )
