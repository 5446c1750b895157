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
from judge.rl.scorer import Reward, RewardRequest, RewardScorer, RubricValue, build_scorer
from judge.rl.shaping import Shaping
from rubrics.records import completion_text

__all__ = ["RubricReward", "async_rubric_reward", "completion_text", "rubric_reward"]


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

    def _requests(
        self, prompts: Sequence[Any], completions: Sequence[Any], columns: dict[str, Any]
    ) -> list[RewardRequest]:
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts for {len(completions)} completions")
        rubrics = columns.get(self.rubric_column) if self.rubric_column else None
        references = columns.get(self.reference_column) if self.reference_column else None
        return [
            RewardRequest(
                prompt=prompt if isinstance(prompt, (str, list)) else str(prompt),
                response=completion_text(completion),
                rubric=rubrics[i] if rubrics is not None else None,
                reference=references[i] if references is not None else None,
            )
            for i, (prompt, completion) in enumerate(zip(prompts, completions))
        ]

    def _finish(self, rewards: list[Reward], columns: dict[str, Any], started: float) -> list[float | None]:
        self.last_rewards = rewards
        unscored = [r.reason or "unscored" for r in rewards if r.value is None]
        if callable(log_metric := columns.get("log_metric")) and rewards:
            log_metric(f"{self.__name__}/unscored_fraction", len(unscored) / len(rewards))
            log_metric(f"{self.__name__}/seconds", time.perf_counter() - started)  # the reward's share of a step
        if callable(log_extra := columns.get("log_extra")):
            log_extra(f"{self.__name__}_unscored_reason", [r.reason if r.value is None else "" for r in rewards])
        return [r.value for r in rewards]


class RubricReward(_RubricRewardBase):
    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        started = time.perf_counter()
        return self._finish(self.scorer.score(self._requests(prompts, completions, columns)), columns, started)


def async_rubric_reward(core: _RubricRewardBase) -> Callable[..., Awaitable[list[float | None]]]:
    """The async form: an ``async def`` function (what every TRL version detects as async)."""

    async def reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        started = time.perf_counter()
        values = core._finish(await core.scorer.ascore(core._requests(prompts, completions, columns)), columns, started)
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
    or a list of principles. reference_column: a column with reference answers.
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
