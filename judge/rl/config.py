"""What `rubric serve` is configured with, and the command-line flags that set it.

``ServerConfig`` (limits, batching, OpenRLHF options) and ``Shaping`` (judge/rl/shaping.py)
are the server's settings; ``ServeOptions`` declares the flags for them (judge/flags.py) with
their defaults taken from the models, so each default and its meaning live here once, and
builds the two back. The judging flags are judge.build.JudgeOptions, as for `rubric judge`.
Kept apart from server.py so that `rubric --help` does not import the web stack.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from judge.rl.openrlhf import SPECIAL_TOKENS
from judge.rl.shaping import Shaping
from judge.flags import host, integer, number, option

SERVE_HELP = """\
our format (POST /score), one item or {"items": [...]}:
  {"id": "r1", "prompt": "...", "response": "...", "rubric": {...} | [principles] | "library-name",
   "reference": "..."}  ->  {"id", "reward", "status", "reason", "score", "criteria": [...]}
  "reward" is null, with "reason", when the item could not be scored.
OpenRLHF (POST /get_reward, pass --remote_rm_url http://HOST:PORT/get_reward):
  {"query": [prompt+response], "prompts": [prompt], "labels": [rubric]}
  ->  {"rewards": [...], "scores": [...], "extra_logs": {"rubric_unscored": [0|1, ...]}}
  the response is the query after its prompt (matched even when OpenRLHF truncated the
  prompt or decoding changed it), without trailing end-of-turn/padding tokens.
Security: --api-key (or RUBRIC_JUDGE_API_KEY) makes every request but GET /health carry
  "Authorization: Bearer KEY"; without it, keep --host on loopback (the default).
Stop with Ctrl-C or SIGTERM: in-flight requests are finished first; a client that leaves
  early has its work cancelled.
"""


API_KEY_ENV = "RUBRIC_JUDGE_API_KEY"


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_batch: int = Field(32, ge=1, description="Items per engine call.")
    max_wait: float = Field(0.01, ge=0, description="Seconds a lone item waits for company.")
    slots: int = Field(4, ge=1, description="Engine calls in flight.")
    max_request_bytes: int = Field(4 * 2**20, ge=1)
    max_items: int = Field(4096, ge=1, description="Items per request.")
    max_criteria_per_item: int = Field(256, ge=1, description="Criteria in one item's rubric.")
    max_criteria: int = Field(16384, ge=1, description="Criteria over all items of one request.")
    api_key: str | None = Field(None, description="Bearer token every request but /health must carry.")
    strip_tokens: tuple[str, ...] = Field(
        SPECIAL_TOKENS, description="Special tokens stripped from OpenRLHF responses."
    )
    unscored_reward: float = Field(0.0, description="OpenRLHF rows that could not be scored get this.")
    openrlhf_labels: Literal["rubric", "reference"] = "rubric"
    read_timeout: float = Field(
        30.0, gt=0, description="Seconds a request may take to arrive whole (headers and body); then 408."
    )
    max_connections: int = Field(1024, ge=1, description="Open connections; one more is answered 503 and closed.")
    max_inflight_bytes: int | None = Field(
        512 * 2**20,
        ge=1,
        description="Memory all requests in flight may hold (bodies, items, rendered prompts); past it 503. None: no limit.",
    )


def _default(model: type[BaseModel], name: str) -> Any:
    return model.model_fields[name].default


BATCHING, SHAPING, REQUESTS = "micro-batching", "reward shaping", "requests"
_c, _s = ServerConfig, Shaping


@dataclass(frozen=True)
class ServeOptions:
    """Every `rubric serve` flag but the model's and the judging's (judge.build.JudgeOptions)."""

    rubric: str | None = option(None, "default rubric for requests that name none", metavar="FILE|NAME")
    host: str = option("127.0.0.1", "address to listen on (default 127.0.0.1)", type=host)
    port: int = option(8000, "port (default 8000; 0 picks a free one)", type=integer(0, 65535))
    max_batch: int = option(
        _default(_c, "max_batch"),
        "items per engine call (default %(default)s; 1 turns batching off)",
        group=BATCHING,
        type=integer(1),
    )
    max_wait_ms: float = option(
        _default(_c, "max_wait") * 1000,
        "how long a lone item waits for company (default %(default)g)",
        group=BATCHING,
        type=number(0),
    )
    slots: int = option(
        _default(_c, "slots"), "engine calls in flight (default %(default)s)", group=BATCHING, type=integer(1)
    )
    score: str = option(
        _default(_s, "score"),
        "weights times P(yes) (soft) or times met (hard)",
        group=SHAPING,
        choices=["soft", "hard"],
    )
    reward_gate: bool = option(
        False,
        "the reward gate: a failed hard rule caps the reward at --reward-gate-cap. Off by default for rewards, so "
        "failing answers still differ by their other criteria; a verdict's score keeps the gate unless --no-gate",
        group=SHAPING,
    )
    reward_gate_cap: float = option(
        _default(_s, "gate_cap"),
        "the most a response that fails a hard rule can get, with --reward-gate (default %(default)g)",
        group=SHAPING,
        type=number(0, 1),
    )
    unscored: str = option(
        _default(_s, "unscored"),
        "a criterion that could not be scored (a check that timed out): 'fail' counts it against the response, "
        "'none' gives no reward; never left out of the reward, so a broken check cannot pay (default %(default)s)",
        group=SHAPING,
        choices=["fail", "none"],
    )
    quality_bonus: float = option(
        _default(_s, "quality_bonus"),
        "IFBench's quality term: added when every other criterion is met and --quality-criterion passes "
        "(default %(default)g: off)",
        group=SHAPING,
        type=number(0),
    )
    quality_penalty: float = option(
        _default(_s, "quality_penalty"),
        "taken when every other criterion is met and --quality-criterion fails (default %(default)g: off)",
        group=SHAPING,
        type=number(0),
    )
    quality_criterion: str = option(
        _default(_s, "quality_criterion"), "the criterion the quality term reads (default %(default)s)", group=SHAPING
    )
    quality_threshold: float = option(
        _default(_s, "quality_threshold"),
        "its P(yes) from which the quality bonus is paid (default %(default)g)",
        group=SHAPING,
        type=number(0, 1),
    )
    length_limit: int | None = option(
        None, "characters at which the full overlong penalty applies", group=SHAPING, type=integer(1)
    )
    length_buffer: int = option(
        _default(_s, "length_buffer"), "characters before the limit over which it grows", group=SHAPING, type=integer(0)
    )
    length_coef: float = option(_default(_s, "length_coef"), "the full penalty (default %(default)s)", group=SHAPING)
    max_request_mb: float = option(
        _default(_c, "max_request_bytes") / 2**20,
        "largest request body (default %(default)g MB)",
        group=REQUESTS,
        type=number(0, above=True),
    )
    unscored_reward: float = option(
        _default(_c, "unscored_reward"),
        "OpenRLHF rows that could not be scored get this (flagged in extra_logs)",
        group=REQUESTS,
    )
    openrlhf_labels: str = option(
        _default(_c, "openrlhf_labels"), "what OpenRLHF's labels hold", group=REQUESTS, choices=["rubric", "reference"]
    )
    read_timeout: float = option(
        _default(_c, "read_timeout"),
        "seconds a request may take to arrive whole, headers and body (default %(default)g; then 408 and closed)",
        group=REQUESTS,
        type=number(0, above=True),
    )
    max_connections: int = option(
        _default(_c, "max_connections"),
        "open connections at once (default %(default)s; one more is answered 503 and closed)",
        group=REQUESTS,
        type=integer(1),
    )
    max_inflight_mb: float = option(
        _default(_c, "max_inflight_bytes") / 2**20,
        "memory all requests in flight may hold: bodies, "
        "parsed items, one rendered prompt per criterion (default %(default)g MB; past it 503 with "
        "Retry-After; 0: no limit)",
        group=REQUESTS,
        type=number(0),
    )
    graceful_timeout: float = option(
        60.0, "seconds to finish in-flight requests on shutdown", group=REQUESTS, type=number(0)
    )
    max_criteria_per_item: int = option(
        _default(_c, "max_criteria_per_item"),
        "criteria in one item's rubric (default %(default)s; more: 422)",
        group=REQUESTS,
        type=integer(1),
    )
    max_criteria: int = option(
        _default(_c, "max_criteria"),
        "criteria over one request's items (default %(default)s; more: 413)",
        group=REQUESTS,
        type=integer(1),
    )
    strip_token: tuple[str, ...] = option(
        (),
        "OpenRLHF: another special token to strip from the end of responses (repeatable; "
        "common end-of-turn and padding tokens are stripped already)",
        group=REQUESTS,
        action="append",
        metavar="TOKEN",
    )
    api_key: str | None = option(
        None,
        f"require 'Authorization: Bearer KEY' on every request but /health; prefer the environment "
        f"variable {API_KEY_ENV}: a flag's value shows in the process list",
        group=REQUESTS,
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "strip_token", tuple(self.strip_token or ()))

    def config(self) -> ServerConfig:
        """The server's settings (ValueError if they do not fit)."""
        return ServerConfig(
            max_batch=self.max_batch,
            max_wait=self.max_wait_ms / 1000,
            slots=self.slots,
            max_request_bytes=int(self.max_request_mb * 2**20),
            unscored_reward=self.unscored_reward,
            openrlhf_labels=self.openrlhf_labels,
            max_criteria_per_item=self.max_criteria_per_item,
            max_criteria=self.max_criteria,  # type: ignore[arg-type]
            api_key=self.api_key or os.environ.get(API_KEY_ENV) or None,
            strip_tokens=(*SPECIAL_TOKENS, *self.strip_token),
            read_timeout=self.read_timeout,
            max_connections=self.max_connections,
            max_inflight_bytes=int(self.max_inflight_mb * 2**20) or None,
        )

    def shaping(self) -> Shaping:
        return Shaping(
            score=self.score,
            gate=self.reward_gate,
            gate_cap=self.reward_gate_cap,
            unscored=self.unscored,  # type: ignore[arg-type]
            quality_criterion=self.quality_criterion,
            quality_threshold=self.quality_threshold,
            quality_bonus=self.quality_bonus,
            quality_penalty=self.quality_penalty,
            length_limit=self.length_limit,  # type: ignore[arg-type]
            length_buffer=self.length_buffer,
            length_coef=self.length_coef,
        )
