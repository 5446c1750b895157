"""What `rubric serve` is configured with, and the command-line flags that set it.

``ServerConfig`` (limits, batching, OpenRLHF options) and ``Shaping`` (judge/rl/shaping.py)
are the server's settings; ``add_serve_arguments`` declares the flags for them with their
defaults taken from the models, so each default and its meaning live here once, and
``settings_from`` turns parsed flags back into the two. Kept apart from server.py so that
`rubric --help` does not import the web stack.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from judge.rl.openrlhf import SPECIAL_TOKENS
from judge.rl.shaping import Shaping
from judge.runs.argtypes import host, integer, number

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
    strip_tokens: tuple[str, ...] = Field(SPECIAL_TOKENS, description="Special tokens stripped from OpenRLHF responses.")
    unscored_reward: float = Field(0.0, description="OpenRLHF rows that could not be scored get this.")
    openrlhf_labels: Literal["rubric", "reference"] = "rubric"
    read_timeout: float = Field(30.0, gt=0, description="Seconds a request may take to arrive whole (headers and body); then 408.")
    max_connections: int = Field(1024, ge=1, description="Open connections; one more is answered 503 and closed.")
    max_inflight_bytes: int | None = Field(
        512 * 2**20, ge=1, description="Memory all requests in flight may hold (bodies, items, rendered prompts); past it 503. None: no limit."
    )


def _default(model: type[BaseModel], name: str) -> Any:
    return model.model_fields[name].default


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Every `rubric serve` flag but the model's (which the CLI shares across commands)."""
    parser.add_argument("--rubric", metavar="FILE|NAME", help="default rubric for requests that name none")
    parser.add_argument("--host", type=host, default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=integer(0, 65535), default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--calibration", type=Path, metavar="FILE", help="apply a calibration of this judge's P(yes) (from `rubric calibrate`)")
    batching = parser.add_argument_group("micro-batching")
    c = ServerConfig
    batching.add_argument("--max-batch", type=integer(1), default=_default(c, "max_batch"), help="items per engine call (default %(default)s; 1 turns batching off)")
    batching.add_argument("--max-wait-ms", type=number(0), default=_default(c, "max_wait") * 1000, help="how long a lone item waits for company (default %(default)g)")
    batching.add_argument("--slots", type=integer(1), default=_default(c, "slots"), help="engine calls in flight (default %(default)s)")
    batching.add_argument("--batch-size", type=integer(1), default=64, help="questions per backend call (default %(default)s)")
    batching.add_argument("--request-shape", choices=["per-criterion", "generated", "batched"], default="per-criterion",
                          help="per-criterion: one yes/no question per criterion, P(yes) read from the answer; generated: a "
                          "generated verdict per criterion (reasoning, then the decision); batched: one generated request "
                          "per response, a label per criterion (default %(default)s)")
    shaping = parser.add_argument_group("reward shaping")
    s = Shaping
    shaping.add_argument("--score", choices=["soft", "hard"], default=_default(s, "score"), help="weights times P(yes) (soft) or times met (hard)")
    shaping.add_argument("--gate", action="store_true", help="a failed hard rule caps the reward at --gate-cap")
    shaping.add_argument("--gate-cap", type=number(0, 1), default=_default(s, "gate_cap"),
                         help="the most a response that fails a hard rule can get, with --gate (default %(default)g)")
    shaping.add_argument("--length-limit", type=integer(1), help="characters at which the full overlong penalty applies")
    shaping.add_argument("--length-buffer", type=integer(0), default=_default(s, "length_buffer"), help="characters before the limit over which it grows")
    shaping.add_argument("--length-coef", type=float, default=_default(s, "length_coef"), help="the full penalty (default %(default)s)")
    limits = parser.add_argument_group("requests")
    limits.add_argument("--max-request-mb", type=number(0, above=True), default=_default(c, "max_request_bytes") / 2**20, help="largest request body (default %(default)g MB)")
    limits.add_argument("--unscored-reward", type=float, default=_default(c, "unscored_reward"), help="OpenRLHF rows that could not be scored get this (flagged in extra_logs)")
    limits.add_argument("--openrlhf-labels", choices=["rubric", "reference"], default=_default(c, "openrlhf_labels"), help="what OpenRLHF's labels hold")
    limits.add_argument("--read-timeout", type=number(0, above=True), default=_default(c, "read_timeout"),
                        help="seconds a request may take to arrive whole, headers and body (default %(default)g; then 408 and closed)")
    limits.add_argument("--max-connections", type=integer(1), default=_default(c, "max_connections"),
                        help="open connections at once (default %(default)s; one more is answered 503 and closed)")
    limits.add_argument("--max-inflight-mb", type=number(0), default=_default(c, "max_inflight_bytes") / 2**20,
                        help="memory all requests in flight may hold: bodies, parsed items, one rendered prompt per criterion "
                        "(default %(default)g MB; past it 503 with Retry-After; 0: no limit)")
    limits.add_argument("--graceful-timeout", type=number(0), default=60.0, help="seconds to finish in-flight requests on shutdown")
    limits.add_argument("--max-criteria-per-item", type=integer(1), default=_default(c, "max_criteria_per_item"), help="criteria in one item's rubric (default %(default)s; more: 422)")
    limits.add_argument("--max-criteria", type=integer(1), default=_default(c, "max_criteria"), help="criteria over one request's items (default %(default)s; more: 413)")
    limits.add_argument("--strip-token", action="append", default=[], metavar="TOKEN",
                        help="OpenRLHF: another special token to strip from the end of responses (repeatable; "
                        "common end-of-turn and padding tokens are stripped already)")
    limits.add_argument("--api-key", help=f"require 'Authorization: Bearer KEY' on every request but /health; prefer the "
                        f"environment variable {API_KEY_ENV}: a flag's value shows in the process list")


def settings_from(args: argparse.Namespace) -> tuple[ServerConfig, Shaping]:
    """The server's settings from parsed `rubric serve` flags (ValueError if they do not fit)."""
    shaping = Shaping(score=args.score, gate=args.gate, gate_cap=args.gate_cap, length_limit=args.length_limit,
                      length_buffer=args.length_buffer, length_coef=args.length_coef)
    config = ServerConfig(
        max_batch=args.max_batch, max_wait=args.max_wait_ms / 1000, slots=args.slots,
        max_request_bytes=int(args.max_request_mb * 2**20), unscored_reward=args.unscored_reward,
        openrlhf_labels=args.openrlhf_labels, max_criteria_per_item=args.max_criteria_per_item, max_criteria=args.max_criteria,
        api_key=args.api_key or os.environ.get(API_KEY_ENV) or None, strip_tokens=(*SPECIAL_TOKENS, *args.strip_token),
        read_timeout=args.read_timeout, max_connections=args.max_connections,
        max_inflight_bytes=int(args.max_inflight_mb * 2**20) or None,
    )
    return config, shaping
