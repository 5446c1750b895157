"""Backends pointed at the loopback provider server (tests/provider_server.py), fast-failing."""

from __future__ import annotations

from judge.backends import get_backend
from judge.engine import Judge
from rubrics.model import Rubric
from tests.provider_server import ProviderServer

MAX_RETRIES = 2
FAST = {"max_retries": MAX_RETRIES, "retry_wait": 0.01, "timeout": 0.6}
PROMPT = "What is the capital of France?"
RESPONSE = "Paris is the capital of France."


def backend_for(server: ProviderServer, spec: str, **options):
    base = server.url if spec.startswith("anthropic") else server.url + "/v1"
    return get_backend(spec, base_url=base, **{**FAST, **options})


def judge_one(backend, criteria: list[str], **judge_options):
    rubric = Rubric.from_principles(criteria, "r")
    return Judge(backend, **judge_options).evaluate(PROMPT, RESPONSE, rubric)
