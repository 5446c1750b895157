"""Rubric rewards as TRL reward functions (GRPOTrainer's ``reward_funcs``).

TRL calls a reward function with keyword arguments: ``prompts``, ``completions``,
``completion_ids``, every other dataset column as a list (one value per completion), and
``trainer_state``, ``log_extra``, ``log_metric``. It expects one float per completion, or
None where the function does not apply, which TRL turns into NaN and leaves out of the
advantage. Async reward functions run on TRL's own event loop, concurrently with other
async reward functions. TRL up to 1.13 recognises them with
``inspect.iscoroutinefunction(func)`` (an object with ``async def __call__`` fails that
test and would be called synchronously), so the async form is a real ``async def``
function carrying ``__name__``, ``scorer`` and ``last_rewards`` as attributes.

The whole batch is judged in one engine call; GRPO's group of completions for a prompt
sits together, so a local model reuses the shared instructions-and-prompt prefix.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from judge.rl.client import ServedScorer, is_server_url
from judge.rl.monitors import HackMonitor, batch_signs
from judge.rl.scorer import Reward, RewardRequest, RewardScorer, RubricValue, build_scorer
from judge.rl.shaping import Shaping
from rubrics.checks import reads_reference
from rubrics.records import completion_text

__all__ = ["RubricReward", "async_rubric_reward", "completion_text", "rubric_reward"]


REFERENCE_COLUMNS = ("reference", "answer", "solution")  # the natural names, looked for in this order


class _RubricRewardBase:
    """Shared by the sync and async forms: rows -> requests, rewards -> floats and logs."""

    def __init__(
        self,
        scorer: RewardScorer | ServedScorer,
        *,
        name: str = "rubric_reward",
        rubric_column: str | None = "rubric",
        reference_column: str | None = None,
    ):
        self.scorer = scorer
        self.__name__ = name  # TRL logs the reward under this name
        self.rubric_column = rubric_column
        self.reference_column = reference_column
        self.last_rewards: list[Reward] = []  # the latest batch, with verdicts, for inspection
        self.monitor = HackMonitor()  # the batches' hack signs, and a warning when reward and task part ways

    def _requests(
        self, prompts: Sequence[Any], completions: Sequence[Any], columns: dict[str, Any]
    ) -> list[RewardRequest]:
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts for {len(completions)} completions")
        rubrics = columns.get(self.rubric_column) if self.rubric_column else None
        references = self._references(columns)
        if references is None:
            self._refuse_missing_reference(rubrics)
        return [
            RewardRequest.of(
                prompt if isinstance(prompt, (str, list)) else str(prompt),
                completion,
                rubrics[i] if rubrics is not None else None,
                _text(references[i]) if references is not None else None,
            )
            for i, (prompt, completion) in enumerate(zip(prompts, completions))
        ]

    def _references(self, columns: dict[str, Any]) -> Sequence[Any] | None:
        """The batch's reference answers: the named column, else the first natural name present."""
        if self.reference_column is not None:
            if self.reference_column not in columns:
                raise ValueError(
                    f"{self.__name__}: reference_column={self.reference_column!r} is not a column of the batch "
                    f"(columns: {', '.join(sorted(_data_columns(columns))) or 'none'})"
                )
            return columns[self.reference_column]
        return next((columns[name] for name in REFERENCE_COLUMNS if name in columns), None)

    def _refuse_missing_reference(self, rubrics: Sequence[Any] | None) -> None:
        """Refuse a batch whose rubric checks against a reference that no column holds: every
        completion would get the same reward, whatever it answered."""
        resolve = getattr(self.scorer, "resolve", None)
        if resolve is None:  # a served scorer resolves rubrics on the server
            return
        for value in {_key(v): v for v in (rubrics if rubrics is not None else [None])}.values():
            try:
                rubric = resolve(value)
            except Exception:  # noqa: BLE001 - the row's own reward says why its rubric is unusable
                continue
            if needs := reads_reference(rubric.criteria):
                raise ValueError(
                    f"{self.__name__}: rubric {rubric.id!r} checks {needs[0]!r} against a reference answer, but the "
                    f"batch has no column {' or '.join(map(repr, REFERENCE_COLUMNS))}; name yours with reference_column="
                )

    def _finish(
        self, requests: list[RewardRequest], rewards: list[Reward], columns: dict[str, Any], started: float
    ) -> list[float | None]:
        self.last_rewards = rewards
        figures = reward_figures(rewards)
        signs = batch_signs([(q.prompt, q.response, r.rubric, r) for q, r in zip(requests, rewards)])
        warning = self.monitor.observe(signs)
        figures.update({f"monitor/{name}": value for name, value in signs.items() if value is not None})
        figures["monitor/warning"] = float(warning is not None)
        figures["seconds"] = time.perf_counter() - started  # the reward's share of a step
        if callable(log_metric := columns.get("log_metric")) and rewards:
            for name, value in figures.items():
                log_metric(f"{self.__name__}/{name}", value)
        if callable(log_extra := columns.get("log_extra")):
            log_extra(f"{self.__name__}_unscored_reason", [_why(r) for r in rewards])
        return [r.value for r in rewards]


def reward_figures(rewards: Sequence[Reward]) -> dict[str, float]:
    """How much of a batch could be decided: undecided criteria over those asked, completions
    with no reward, completions with an undecided criterion counted against them."""
    if not rewards:
        return {}
    undecided = [r.undecided for r in rewards]
    return {
        "unscored_fraction": sum(u for u, _ in undecided) / sum(n for _, n in undecided),
        "no_reward_fraction": sum(r.value is None for r in rewards) / len(rewards),
        "counted_against_fraction": sum(bool(r.counted_against) for r in rewards) / len(rewards),
    }


def _why(reward: Reward) -> str:
    """What a completion's logs say: why it has no reward, or which rules counted as failed."""
    if reward.value is None:
        return reward.reason or "unscored"
    if reward.counted_against:
        return f"could not be scored, counted against the response: {', '.join(reward.counted_against)}"
    return ""


def _text(value: Any) -> str | None:
    """A reference cell as text (a dataset's answer column may hold numbers)."""
    return None if value is None else value if isinstance(value, str) else str(value)


def _key(value: Any) -> str:
    """A rubric cell as a key, so that each distinct rubric of a batch is resolved once."""
    return value if isinstance(value, str) else repr(value)


def _data_columns(columns: dict[str, Any]) -> list[str]:
    return [name for name in columns if name not in ("trainer_state", "log_extra", "log_metric", "completion_ids")]


class RubricReward(_RubricRewardBase):
    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        started = time.perf_counter()
        requests = self._requests(prompts, completions, columns)
        return self._finish(requests, self.scorer.score(requests), columns, started)


def async_rubric_reward(core: _RubricRewardBase) -> Callable[..., Awaitable[list[float | None]]]:
    """The async form: an ``async def`` function (what every TRL version detects as async)."""

    async def reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        started = time.perf_counter()
        requests = core._requests(prompts, completions, columns)
        values = core._finish(requests, await core.scorer.ascore(requests), columns, started)
        reward.last_rewards = core.last_rewards  # type: ignore[attr-defined]
        return values

    reward.__name__ = reward.__qualname__ = core.__name__
    reward.scorer = core.scorer  # type: ignore[attr-defined]
    reward.last_rewards = core.last_rewards  # type: ignore[attr-defined]
    return reward


def rubric_reward(
    model: Any = None,
    *,
    rubric: RubricValue = None,
    rubric_column: str | None = "rubric",
    reference_column: str | None = None,
    name: str = "rubric_reward",
    shaping: Shaping | dict[str, Any] | None = None,
    asynchronous: bool = False,
    **scorer_options: Any,
) -> RubricReward | Callable[..., Awaitable[list[float | None]]]:
    """A GRPOTrainer reward function judging each completion against a rubric.

    model: a model spec, backend or Judge (see ``build_scorer``), or the URL of a running
    ``rubric serve`` ("http://host:8000"), which then judges each batch with its own flags.
    rubric: the fixed rubric (a Rubric, a library name, a rubric file, a list of principles), used for rows whose
    ``rubric_column`` is missing or empty; the column holds inline rubric JSON, a rubric id
    or a list of principles. reference_column: the column with reference answers; by default
    the first of ``reference``, ``answer``, ``solution`` that the dataset has. A rubric that
    checks against a reference with no such column is refused at the first batch.
    asynchronous: an ``async def`` function, which TRL runs on its event loop.
    """
    if is_server_url(model):
        if shaping is not None or scorer_options:
            given = sorted(scorer_options) + (["shaping"] if shaping is not None else [])
            raise ValueError(f"rubric_reward({model!r}): the server's own flags decide how it judges; drop {given}")
        scorer: Any = ServedScorer(model, rubric=rubric)
    else:
        scorer = build_scorer(model, rubric=rubric, shaping=shaping, **scorer_options)
    core = RubricReward(scorer, name=name, rubric_column=rubric_column, reference_column=reference_column)
    return async_rubric_reward(core) if asynchronous else core
