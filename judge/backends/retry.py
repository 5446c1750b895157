"""Which API failures to retry, how long to wait, and the bounded retry loop (tenacity).

One policy for every API backend: 408, 409, 429 and 5xx answers, connection errors,
timeouts and unreadable bodies are retried with exponential backoff and full jitter,
waiting at least what the server asks for in Retry-After; anything else (400, 401, 403,
404, 422, invalid structured output) fails at once with the provider's message.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_random_exponential

from judge.backends.base import BackendFatalError

T = TypeVar("T")
RETRYABLE_STATUS = {408, 409, 429}
FATAL_STATUS = {401, 403}  # every later request would fail the same way
TRANSIENT_NAMES = ("Connection", "Timeout", "RemoteProtocol", "ReadError", "IncompleteRead", "ResponseValidation")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4  # retries after the first attempt
    base_wait: float = 0.5  # seconds; the exponential backoff's first step
    max_wait: float = 60.0  # no single wait is longer, whatever Retry-After says

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it was raised from (instructor and litellm wrap the SDK's errors).

    Only explicit causes: an exception's implicit __context__ is often an unrelated error
    some library caught along the way.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def status_code(error: BaseException) -> int | None:
    for cause in causes(error):
        status = getattr(cause, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def is_retryable(error: BaseException) -> bool:
    status = status_code(error)
    if status is not None:
        return status in RETRYABLE_STATUS or status >= 500
    for cause in causes(error):
        if isinstance(cause, (json.JSONDecodeError, TimeoutError, ConnectionError)):
            return True
        if any(part in klass.__name__ for klass in type(cause).__mro__ for part in TRANSIENT_NAMES):
            return True
    return False


def retry_after(error: BaseException) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms or Retry-After: seconds or a date)."""
    for cause in causes(error):
        headers = getattr(getattr(cause, "response", None), "headers", None)
        if headers is None:
            continue
        if (millis := headers.get("retry-after-ms")) is not None:
            try:
                return max(0.0, float(millis) / 1000)
            except ValueError:
                pass
        if (value := headers.get("retry-after")) is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                try:
                    return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
                except (TypeError, ValueError):
                    return None
    return None


def describe(error: BaseException) -> str:
    """The provider's own message, with the HTTP status where there is one."""
    innermost = list(causes(error))
    for cause in innermost:
        status = getattr(cause, "status_code", None)
        if isinstance(status, int):
            body = getattr(cause, "body", None)
            message = None
            if isinstance(body, dict):
                inner = body.get("error", body)
                message = inner.get("message") if isinstance(inner, dict) else str(inner)
            return f"HTTP {status}: {message or cause}"
    root = innermost[-1]
    return f"{type(root).__name__}: {root}" if str(root) else type(root).__name__


def fatal(error: BaseException) -> bool:
    return status_code(error) in FATAL_STATUS


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[BaseException, float], None] = lambda e, w: None,
) -> T:
    """call() until it succeeds, fails in a way not worth retrying, or runs out of attempts.

    The last error is raised as it is; 401/403 become BackendFatalError.
    """
    backoff = wait_random_exponential(multiplier=policy.base_wait, max=policy.max_wait)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = retry_after(error) if error is not None else None
        jittered = backoff(state)
        return min(policy.max_wait, asked + jittered * 0.1) if asked is not None else jittered

    def before_sleep(state: RetryCallState) -> None:  # only when another attempt follows
        on_retry(state.outcome.exception(), state.upcoming_sleep)  # type: ignore[union-attr, arg-type]

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait,
        retry=retry_if_exception(is_retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                return await call()
    except Exception as e:
        if fatal(e):
            raise BackendFatalError(describe(e)) from e
        raise
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover


__all__ = ["BackendFatalError", "RetryPolicy", "describe", "is_retryable", "retry_after", "with_retries"]
