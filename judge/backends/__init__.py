"""Backends by name. Each lives in its own module, imported only when asked for.

Model specs (``SPEC_HELP``, what `rubric ... --help` shows): ``fake:yes``, ``local:<HF id
or path>``, a bare HF id or path (local), ``openai/<model>``, ``anthropic/<model>``,
``litellm/<provider>/<model>``, or nothing for the embedded default model. Options may
follow as a query string: ``fake:random:7?delay=0.1``, ``openai/gpt-4.1-mini?mode=structured``.

A package adds a backend through the entry-point group ``rubric_judge.backends``: the name
is the spec's prefix (``NAME:REST``), the value a class with a ``from_spec(rest, **options)``
class method (``my_pkg.judges:MyBackend``). Entry points are read once, when a spec names
no built-in backend; a built-in name cannot be replaced.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import parse_qsl

from judge.extras import install_hint
from judge.backends.base import (
    Backend,
    BackendError,
    BackendFatalError,
    GenerationError,
    Message,
    YesNoQuestion,
    YesNoScore,
)


SPEC_HELP = """\
models (--model):
  (none)               the embedded SmolLM2-135M-Instruct: a tiny demo model and a weak judge
                       (local:default names it, e.g. in a jury of several --model)
  HF_ID or PATH        any causal LM through transformers, e.g. Qwen/Qwen2.5-7B-Instruct
  local:HF_ID_OR_PATH  the same, explicitly
  gguf:PATH.gguf       a GGUF file, converted to transformers weights once and cached
                       (the first run takes minutes for a large file, later ones seconds)
  openai/MODEL         OpenAI (OPENAI_API_KEY); with --base-url any OpenAI-compatible
                       server (vLLM, SGLang, Ollama); repeat --base-url for replicas
  anthropic/MODEL      Anthropic (ANTHROPIC_API_KEY); structured verdicts, no logprobs
  litellm/PROVIDER/MODEL   anything litellm reaches; --router-config for a litellm Router
  fake:yes, fake:no, fake:random[:SEED]   scripted answers, for dry runs (every request
                       shape, batched too); add ?delay=SECONDS to make each call slow
  fake:script:FILE     regex rules (YAML) for P(yes) and generated text, for end-to-end
                       runs of generators without a model (examples/scripted_judge.yaml)
  API options after '?': mode=logprobs|structured, samples, concurrency, rpm, tpm,
  max_retries, timeout, reasks, top_logprobs (1-20), price_in, price_out (USD per 1M
  tokens), api_key_env, chat_template_kwargs (JSON), reasoning, reasoning_tokens,
  json_schema (true: a compatible server decodes under the schema), prompt_cache
  (Anthropic; false: no cache breakpoint);
  e.g. openai/gpt-4.1-mini?rpm=500&price_in=0.4&price_out=1.6
  Local options after '?': structured=grammar|parse (JSON decoded under the schema's
  grammar, the default, or parsed from free text), max_batch_tokens, max_batch_size,
  probe=FILE (P(yes) from a probe on the hidden state), adapter=DIR (a LoRA adapter merged
  in): both as `rubric train-judge` writes them, e.g. local:default?probe=judge/probe.json
"""


@dataclass(frozen=True)
class BackendEntry:
    module: str
    cls: str
    install_hint: str | None = None
    slash_prefix: bool = False  # also accept "name/model" (provider-style ids)
    api: bool = False  # a hosted or self-hosted API: takes base URLs, samples, limits
    factory: str = "from_spec"  # the class method that builds it from the rest of the spec


BACKENDS: dict[str, BackendEntry] = {
    "fake": BackendEntry("judge.backends.fake", "FakeBackend"),
    "local": BackendEntry(
        "judge.backends.local",
        "LocalBackend",
        f"install torch first (the CPU or CUDA build you want), then: {install_hint('local')}",
    ),
    "gguf": BackendEntry(
        "judge.backends.local",
        "LocalBackend",
        f"install torch first (the CPU or CUDA build you want), then: {install_hint('local')}",
        factory="from_gguf",
    ),
    "openai": BackendEntry(
        "judge.backends.openai_backend", "OpenAIBackend", install_hint("api"), slash_prefix=True, api=True
    ),
    "anthropic": BackendEntry(
        "judge.backends.anthropic_backend", "AnthropicBackend", install_hint("api"), slash_prefix=True, api=True
    ),
    "litellm": BackendEntry(
        "judge.backends.litellm_backend", "LiteLLMBackend", install_hint("litellm"), slash_prefix=True, api=True
    ),
}


ENTRY_POINT_GROUP = "rubric_judge.backends"


@lru_cache(maxsize=1)
def installed_backends() -> dict[str, BackendEntry]:
    """Backends other packages register under ENTRY_POINT_GROUP (read once, lazily)."""
    found = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        module, _, cls = point.value.partition(":")
        if point.name not in BACKENDS and cls:
            found[point.name] = BackendEntry(module, cls)
    return found


def registry() -> dict[str, BackendEntry]:
    """Every backend a spec may name: the built-in ones, then those of installed packages."""
    return {**BACKENDS, **installed_backends()}


class BackendUnavailable(RuntimeError):
    pass


def parse_model_spec(spec: str | None) -> tuple[str, str, dict[str, str]]:
    """'fake:random:3?delay=0.1' -> ('fake', 'random:3', {'delay': '0.1'}). No spec: the default local model."""
    if not spec:
        return "local", "", {}
    spec, _, query = spec.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    name = spec.partition(":")[0]
    known = BACKENDS if name in BACKENDS or ":" not in spec else registry()  # entry points only for a name not built in
    for name, entry in known.items():
        separators = (":", "/") if entry.slash_prefix else (":",)
        for separator in separators:
            if spec.startswith(name + separator):
                return name, spec[len(name) + 1 :], options
    return "local", spec, options


def get_backend(spec: str | None = None, **options: Any) -> Backend:
    """Build a backend from a model spec; keyword options go to its ``from_spec``."""
    name, rest, spec_options = parse_model_spec(spec)
    entry = BACKENDS.get(name) or installed_backends()[name]
    try:
        module = importlib.import_module(entry.module)
    except ModuleNotFoundError as e:
        hint = f"; install it with: {entry.install_hint}" if entry.install_hint else ""
        raise BackendUnavailable(f"the {name!r} backend needs the package {e.name!r}{hint}") from None
    backend_cls = getattr(module, entry.cls)
    return getattr(backend_cls, entry.factory)(rest, **{**spec_options, **options})


__all__ = [
    "BACKENDS",
    "ENTRY_POINT_GROUP",
    "Backend",
    "BackendError",
    "BackendFatalError",
    "BackendUnavailable",
    "GenerationError",
    "Message",
    "YesNoQuestion",
    "YesNoScore",
    "get_backend",
    "parse_model_spec",
    "registry",
]
