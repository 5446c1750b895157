"""What `rubric serve` reads: the request bodies (our format and OpenRLHF's), read within a
size limit, and the errors it answers with (``ApiError``: a status and a JSON message)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from judge.rl.budget import RETRY_AFTER, OverBudget
from judge.runs.inputs import has_unpaired_surrogate


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra, self.headers = status, message, extra, headers


class ScoreItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | int | None = None
    prompt: str | list[dict[str, Any]]
    response: str | list[dict[str, Any]]  # chat messages: the assistant's text is judged
    rubric: Any = None
    rubric_id: str | None = None
    reference: str | None = None


class ScoreBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem]


class OpenRLHFRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # forks add fields (datasources, token ids...)

    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


async def read_json(request: Any, limit: int) -> Any:
    """A Starlette request's JSON body, read in chunks up to ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body of {declared} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"the request body is not JSON: {e}") from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply") from None
    if has_unpaired_surrogate(body):
        raise ApiError(422, "the request holds an unpaired UTF-16 surrogate escape (e.g. \\ud800), which is not text")
    return body


@contextmanager
def over_budget_as_answer() -> Iterator[None]:
    """OverBudget as its HTTP answer: 503 with Retry-After, or 413 for a request that never fits."""
    try:
        yield
    except OverBudget as e:
        raise ApiError(413, str(e)) if e.ever else ApiError(503, str(e), headers={"Retry-After": RETRY_AFTER}) from None


def validation_error(error: ValidationError) -> ApiError:
    problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in error.errors()[:10]]
    return ApiError(422, f"invalid request: {problems[0]['field']}: {problems[0]['problem']}", problems=problems)
