"""Opening a judge model: a model spec -> a backend, behind the disk cache.

The one place the CLI, the reward adapters and the benchmarks turn ``--model`` into a
backend: the embedded default (announced as the weak demonstration judge it is) when no
spec is given, options that only API backends take refused for the others, the judgement
cache in front unless asked not to.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from judge.backends import BACKENDS, get_backend, parse_model_spec
from judge.backends.base import Backend
from judge.backends.default_model import DEMO_WARNING
from judge.cache import CachedBackend

API_BACKENDS = tuple(name for name, entry in BACKENDS.items() if entry.api)


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def open_backend(
    spec: str | None = None,
    *,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    api_options: dict[str, Any] | None = None,
    api_settings: dict[str, Any] | None = None,
    on_default: Callable[[str], None] = _warn,
    **options: Any,
) -> Backend:
    """The backend ``spec`` names. ``api_options`` are the user's (base URLs, samples, a
    router config ...): for a backend that is not an API, ValueError names the first.
    ``api_settings`` are the program's own for API backends (requests in flight ...) and are
    dropped for the others. ``options`` go to any backend. ``on_default`` hears the
    weak-judge notice when ``spec`` is None."""
    if spec is None:
        on_default(DEMO_WARNING)
    is_api = parse_model_spec(spec)[0] in API_BACKENDS
    given = {k: v for k, v in (api_options or {}).items() if v is not None}
    if given and not is_api:
        first = next(iter(given)).replace("_", "-")
        raise ValueError(f"--{first} applies to API models only ({', '.join(b + '/' for b in API_BACKENDS)})")
    if is_api:
        given.update({k: v for k, v in (api_settings or {}).items() if v is not None})
    backend = get_backend(spec, **given, **{k: v for k, v in options.items() if v is not None})
    return CachedBackend(backend, cache_dir) if cache else backend


def calls_in_flight(backend: Backend, batch_size: int, requested: int | None = None, default: int = 4) -> int:
    """Engine calls to keep in flight: an API backend bounds its own requests, so enough
    batches to keep that many going; a local one runs ``requested`` (or ``default``) batches."""
    bound = getattr(backend, "concurrency", None)
    if bound:
        return -(-bound // max(1, batch_size)) + 1
    return requested or default
