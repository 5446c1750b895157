"""Opening a judge model: a model spec -> a backend, behind the disk cache.

The one place the CLI, the reward adapters and the benchmarks turn ``--model`` into a
backend: the embedded default (announced as the weak demonstration judge it is) when no
spec is given, options that only API backends take refused for the others, the judgement
cache in front unless asked not to.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judge.backends import BACKENDS, get_backend, parse_model_spec
from judge.backends.base import Backend, capability
from judge.backends.default_model import DEMO_WARNING
from judge.cache import CachedBackend
from judge.flags import integer, option

API = "API models (openai/, anthropic/, litellm/)"

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
    bound = capability(backend, "concurrency")
    if bound:
        return -(-bound // max(1, batch_size)) + 1
    return requested or default


@dataclass(frozen=True)
class ModelOptions:
    """Which models judge and how they are opened: the model flags every command shares."""

    model: tuple[str, ...] = option(
        (),
        "model spec: HF_ID or PATH, openai/MODEL, anthropic/MODEL, litellm/PROVIDER/MODEL, fake:yes ... (each with its "
        "options: the end of `rubric judge --help`); default: the embedded SmolLM2; repeat for a jury "
        "(each criterion judged by every model; API options then go in each spec, ?base_url=...)",
        action="append",
        metavar="SPEC",
    )
    cache: bool = option(
        True, flags=(("--no-cache", {"action": "store_false", "help": "neither read nor write the judgement cache"}),)
    )
    cache_dir: Path | None = option(None, "judgement cache directory (default: the user cache dir)")
    base_url: tuple[str, ...] = option(
        (),
        "server URL, e.g. http://host:8000/v1; repeat for replicas of one model",
        group=API,
        action="append",
        metavar="URL",
    )
    samples: int | None = option(
        None,
        "structured verdicts per criterion; P(yes) = share of yes (models without logprobs)",
        group=API,
        type=integer(1),
    )
    router_config: Path | None = option(
        None, "litellm Router configuration (YAML with model_list)", group=API, metavar="FILE"
    )

    def __post_init__(self) -> None:
        for name in ("model", "base_url"):  # a flag given once, a spec or URL as a string: one of them
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value or ()))

    @property
    def label(self) -> str:
        """The judge's name before it is opened (the summary of a run that opens it elsewhere)."""
        return " + ".join(self.model) if self.model else "local:default"


def open_backends(
    options: ModelOptions, *, on_default: Callable[[str], None] = _warn, **api_settings: Any
) -> list[Backend]:
    """One backend per model of ``options`` (the embedded default when none is named);
    ``api_settings`` as for open_backend."""
    specs = options.model or (None,)
    given = {
        "base_url": list(options.base_url) or None,
        "samples": options.samples,
        "router_config": str(options.router_config) if options.router_config else None,
    }
    if len(specs) > 1 and (ambiguous := next((name for name, value in given.items() if value), None)):
        raise ValueError(
            f"--{ambiguous.replace('_', '-')} is ambiguous with several --model: put it in the spec it belongs to "
            f"(openai/MODEL?{ambiguous}=...)"
        )
    return [
        open_backend(
            spec,
            cache=options.cache,
            cache_dir=options.cache_dir,
            api_options=given,
            api_settings=api_settings,
            on_default=on_default,
        )
        for spec in specs
    ]
