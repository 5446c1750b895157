"""Rubric rewards for verl: ``custom_reward_function.path=<this file>``.

verl's reward managers call, per sample (naive manager; reward loop, awaited if async)::

    compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=..., **more)

and, with ``reward_model.reward_manager=batch``, once per batch::

    compute_score_batch(data_sources=[...], solution_strs=[...], ground_truths=[...], extra_infos=[...])

Each returns a dict whose ``score`` is the reward; its other keys land in verl's
``reward_extra_info`` (the same keys for every row, as verl requires): ``rubric_scored``
(1.0 or 0.0), ``rubric_reason`` (why a row is unscored, else ""), ``rubric_criteria``
(per-criterion results as JSON text). verl needs a number for every row, so an unscored
row's ``score`` is ``unscored_reward`` (default 0.0) -- flagged, never silent: plot the mean
of ``rubric_scored``.

The prompt comes from ``extra_info["prompt"]`` (or ``"question"``); the rubric from
``extra_info["rubric"]`` or ``["rubric_id"]``, else from ``ground_truth`` when it holds a
rubric (an object, a list of principles, or their JSON text), else the configured default
rubric with ``ground_truth`` as the reference answer.

Configuration: ``extra_info["rubric_judge"]`` (a dict) over the environment variables
RUBRIC_JUDGE_MODEL (a model spec; default: the embedded demo model), RUBRIC_JUDGE_RUBRIC
(default rubric: a library name or file), RUBRIC_JUDGE_SERVER (the URL of a running
``rubric serve``: judge there instead of loading a model in every reward worker),
RUBRIC_JUDGE_UNSCORED_REWARD, RUBRIC_JUDGE_CACHE (a cache directory), RUBRIC_JUDGE_TIMEOUT,
RUBRIC_JUDGE_CALIBRATION (a calibration file of `rubric calibrate`, applied in process; a
server applies its own ``--calibration``), RUBRIC_JUDGE_OPTIONS (the judging options of
`rubric judge` as a JSON object of judge.build.JudgeOptions' keywords, e.g.
``{"threshold": 0.6, "gate": false}``, applied in process; a server applies its own flags).

When verl runs the reward model servers itself (``reward_model.enable_resource_pool``), its
reward loop passes ``reward_router_address`` (host:port of an OpenAI-compatible router) to
the reward function; with no model and no server configured, the judge is the model behind
that router (P(yes) from logprobs, as for any vLLM or SGLang server), so it runs on verl's
reward resource pool. Its model name is the first of the router's ``/v1/models``, or
RUBRIC_JUDGE_ROUTER_MODEL.
"""

# No `from __future__ import annotations` here: verl loads this file by path (exec_module
# without registering it in sys.modules), and dataclasses then cannot resolve string
# annotations. Annotations stay real objects, so the file loads either way.
import asyncio
import json
import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from judge.aio import run_sync
from judge.rl.client import ServedScorer
from judge.rl.microbatch import MicroBatcher
from judge.rl.scorer import RewardRequest, build_scorer

SETTINGS = {  # key in extra_info["rubric_judge"]: environment variable
    "model": "RUBRIC_JUDGE_MODEL",
    "rubric": "RUBRIC_JUDGE_RUBRIC",
    "server": "RUBRIC_JUDGE_SERVER",
    "unscored_reward": "RUBRIC_JUDGE_UNSCORED_REWARD",
    "cache": "RUBRIC_JUDGE_CACHE",
    "timeout": "RUBRIC_JUDGE_TIMEOUT",
    "calibration": "RUBRIC_JUDGE_CALIBRATION",
    "router_model": "RUBRIC_JUDGE_ROUTER_MODEL",
    "options": "RUBRIC_JUDGE_OPTIONS",
}


@dataclass(frozen=True)
class Settings:
    model: str | None = None
    rubric: str | None = None
    server: str | None = None
    unscored_reward: float = 0.0
    cache: str | None = None
    timeout: float = 600.0
    calibration: str | None = None
    router: str | None = None  # verl's reward_router_address (host:port), when verl runs the reward model servers
    router_model: str | None = None  # the model name those servers serve (default: the first of its /v1/models)
    options: str | None = None  # judge.build.JudgeOptions' keywords as JSON text (hashable, as a group's key must be)

    @classmethod
    def of(cls, extra_info: Any, router: str | None = None) -> "Settings":
        given = extra_info.get("rubric_judge") if isinstance(extra_info, dict) else None
        given = given if isinstance(given, dict) else {}
        unknown = sorted(set(given) - set(SETTINGS))
        if unknown:
            raise ValueError(f"extra_info['rubric_judge'] has unknown keys {unknown}; known: {sorted(SETTINGS)}")
        values = {key: given.get(key, os.environ.get(env) or None) for key, env in SETTINGS.items()}
        values = {k: v for k, v in values.items() if v is not None}
        for key in ("unscored_reward", "timeout"):
            if key in values:
                values[key] = float(values[key])
        if "options" in values:
            values["options"] = _options_text(values["options"])
        if router and not values.get("model") and not values.get("server"):  # judge on verl's reward resource pool
            values["router"] = router
        return cls(**values)


def _options_text(value: Any) -> str:
    """JudgeOptions' keywords (a dict, or its JSON text) as canonical JSON text; ValueError naming a bad key."""
    from judge.build import JudgeOptions

    given = json.loads(value) if isinstance(value, str) else value
    if not isinstance(given, dict):
        raise ValueError(f"rubric_judge options must be a JSON object of rubric judge options, got {value!r}")
    JudgeOptions(**given)  # unknown keys and bad values fail here, once
    return json.dumps(given, sort_keys=True)


def _looks_like_rubric(value: Any) -> bool:
    if isinstance(value, (dict, list)) or hasattr(value, "tolist"):
        return True
    return isinstance(value, str) and value.strip()[:1] in ("{", "[")


def to_request(solution_str: str, ground_truth: Any, extra_info: Any) -> RewardRequest:
    info = extra_info if isinstance(extra_info, dict) else {}
    prompt = info.get("prompt", info.get("question", ""))
    rubric = info.get("rubric", info.get("rubric_id"))
    reference = None
    if rubric is None and _looks_like_rubric(ground_truth):
        rubric = ground_truth
    elif ground_truth is not None:
        reference = str(ground_truth)
    return RewardRequest(prompt=prompt, response=solution_str, rubric=rubric, reference=reference)


def to_verl(detail: dict[str, Any], settings: Settings) -> dict[str, Any]:
    reward = detail.get("reward")
    return {
        "score": float(reward) if reward is not None else settings.unscored_reward,
        "rubric_scored": 1.0 if reward is not None else 0.0,
        "rubric_reason": (detail.get("reason") or "unscored") if reward is None else "",
        "rubric_criteria": json.dumps(detail.get("criteria", []), ensure_ascii=False),
    }


def router_spec(settings: Settings) -> str:
    """The model spec of the servers behind verl's reward router (OpenAI-compatible, logprobs)."""
    base = f"http://{settings.router}/v1"
    name = settings.router_model
    if name is None:
        import httpx

        try:
            name = httpx.get(f"{base}/models", timeout=30).raise_for_status().json()["data"][0]["id"]
        except Exception as e:  # noqa: BLE001 - say what to set instead
            raise ValueError(
                f"verl's reward router {settings.router} does not list its model at /v1/models ({type(e).__name__}: {e}); "
                "set RUBRIC_JUDGE_ROUTER_MODEL to the served model name"
            ) from None
    return f"openai/{name}?base_url={base}"


class _Local:
    """Judges in this process (through verl's reward router when it gave one and no model is set)."""

    def __init__(self, settings: Settings):
        model = router_spec(settings) if settings.router else settings.model
        self.scorer = build_scorer(
            model,
            rubric=settings.rubric,
            cache=settings.cache or False,
            calibration=settings.calibration,
            judge_options=json.loads(settings.options) if settings.options else None,
        )

    async def details(self, requests: Sequence[RewardRequest]) -> list[dict[str, Any]]:
        return [reward.details() for reward in await self.scorer.ascore(requests)]


@lru_cache(maxsize=8)
def _judge_for(settings: Settings) -> _Local | ServedScorer:
    if settings.server:  # judge on a `rubric serve` (POST /score with {"items": [...]})
        return ServedScorer(settings.server, timeout=settings.timeout)
    return _Local(settings)


def _grouped(extra_infos: Sequence[Any], router: str | None = None) -> dict[Settings, list[int]]:
    """Row indices by their configuration (usually one group: the whole batch)."""
    groups: dict[Settings, list[int]] = {}
    for index, info in enumerate(extra_infos):
        groups.setdefault(Settings.of(info, router), []).append(index)
    return groups


async def acompute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Any] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    extra_infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    results: list[dict[str, Any] | None] = [None] * len(solution_strs)
    for settings, indices in _grouped(extra_infos, kwargs.get("reward_router_address")).items():
        requests = [to_request(solution_strs[i], ground_truths[i], extra_infos[i]) for i in indices]
        for index, detail in zip(indices, await _judge_for(settings).details(requests)):
            results[index] = to_verl(detail, settings)
    return results  # type: ignore[return-value]


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Any] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """For ``reward_model.reward_manager=batch``: the whole batch in one engine call."""
    return run_sync(acompute_score_batch(data_sources, solution_strs, ground_truths, extra_infos, **kwargs))


def compute_score(
    data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any
) -> dict[str, Any]:
    """For the naive manager: one sample per call (prefer the batch manager for a model judge)."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], **kwargs)[0]


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Settings, MicroBatcher[Any, Any]]] = (
    weakref.WeakKeyDictionary()
)


async def acompute_score(
    data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any
) -> dict[str, Any]:
    """For verl's reward loop, which awaits one call per sample concurrently: the calls are
    micro-batched into engine calls (or server requests)."""
    settings = Settings.of(extra_info, kwargs.get("reward_router_address"))
    per_loop = _batchers.setdefault(asyncio.get_running_loop(), {})
    if settings not in per_loop:
        judge = _judge_for(settings)
        per_loop[settings] = MicroBatcher(judge.details, max_batch=64, max_wait=0.01, slots=4)
    detail = await per_loop[settings].submit(to_request(solution_str, ground_truth, extra_info))
    return to_verl(detail, settings)
