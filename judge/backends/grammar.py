"""Decoding under a JSON schema's grammar: a local model's structured output is valid JSON
for the schema by construction, however weak the model.

llguidance (chosen over xgrammar, outlines-core and lm-format-enforcer on the side-by-side
run of bench/grammar_libraries.py: no dependencies, fastest masks on CPU, every schema
feature we use) turns the pydantic schema into a grammar over the tokenizer's vocabulary;
each step, the tokens that cannot continue a valid document are masked out of the logits
before sampling. The schema's own bounds (maxItems, maxLength, enums) are part of the
grammar, so a model that would repeat itself forever reaches the end of a list or a string
and has to close it. A generation that runs out of tokens first is reported, never returned
as broken JSON.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ValidationError
from transformers import LogitsProcessorList

from judge.backends.base import GenerationError, Message
from judge.backends.structured import parse_structured
from judge.extras import install_hint

try:
    import llguidance
    import llguidance.hf
except ImportError:  # pragma: no cover - the local extra installs it
    llguidance = None

# No optional whitespace between tokens: a small model would otherwise spend its budget on
# newlines and indentation the grammar allows.
COMPILE_OPTIONS = {"whitespace_flexible": False}


def closed(schema: Any) -> Any:
    """The schema with every object closed to keys it does not name (JSON Schema leaves them
    open, and a grammar that allows any key lets a model write keys until its budget ends)."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if schema.get("type") == "object" and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [closed(value) for value in schema]
    return schema


MODES = ("grammar", "parse")  # decode under the schema, or parse free text (the old way, kept to compare)


def check_mode(structured: str) -> None:
    if structured not in MODES:
        raise ValueError(
            f"structured must be 'grammar' (decode under the schema) or 'parse' (parse free text), got {structured!r}"
        )


class SchemaGrammars:
    """The tokenizer as llguidance sees it (built once, about half a second) and the
    grammars compiled from it, one per schema."""

    def __init__(self, tokenizer: Any):
        if llguidance is None:
            raise GenerationError(f"constrained decoding needs llguidance: {install_hint('local')}")
        self.tokenizer = llguidance.hf.from_tokenizer(tokenizer)
        self.eos_id: int = tokenizer.eos_token_id
        self._grammars: dict[type[BaseModel], str] = {}  # with_bounds keeps one class per bound
        self._lock = threading.Lock()

    def grammar(self, schema: type[BaseModel]) -> str:
        with self._lock:
            if schema not in self._grammars:
                closed_schema = json.dumps(closed(schema.model_json_schema()))
                self._grammars[schema] = llguidance.LLMatcher.grammar_from_json_schema(
                    closed_schema, overrides=COMPILE_OPTIONS
                )
            return self._grammars[schema]

    def processor(self, schema: type[BaseModel], prompt_length: int) -> JsonMask:
        matcher = llguidance.LLMatcher(self.tokenizer, self.grammar(schema), log_level=0)
        if matcher.is_error():
            raise GenerationError(f"no grammar for {schema.__name__}: {matcher.get_error()}")
        return JsonMask(matcher, prompt_length, schema.__name__)


class JsonMask:
    """A transformers logits processor: before each token, everything the grammar forbids
    gets -inf. The token sampled last is fed to the matcher at the next call."""

    def __init__(self, matcher: Any, prompt_length: int, schema_name: str):
        self.matcher = matcher
        self.prompt_length = prompt_length
        self.schema_name = schema_name
        self.consumed = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[1] > self.prompt_length + self.consumed:
            self.matcher.consume_token(int(input_ids[0, -1]))
            self.consumed += 1
        if self.matcher.is_error():  # cannot happen with a mask applied; kept loud if it does
            raise GenerationError(f"the {self.schema_name} grammar rejected a token: {self.matcher.get_error()}")
        bits = np.unpackbits(np.frombuffer(self.matcher.compute_bitmask(), dtype=np.uint8), bitorder="little")
        allowed = torch.zeros(scores.shape[-1], dtype=torch.bool)
        width = min(len(bits), scores.shape[-1])  # a model's logits may be wider than its vocabulary
        allowed[:width] = torch.from_numpy(bits[:width].astype(bool))
        return scores.masked_fill(~allowed.to(scores.device), float("-inf"))

    def finish(self, generated: list[int], text: str, max_tokens: int) -> str:
        """The text if it is a complete document; GenerationError if the budget ran out first.
        The last token sampled has not reached the matcher yet (no call came after it)."""
        for token in generated[self.consumed :]:
            self.matcher.consume_token(token)
        if not self.matcher.is_accepting():
            raise GenerationError(
                f"the {self.schema_name} JSON was not finished within max_tokens={max_tokens} tokens "
                "(raise max_tokens, or tighten the schema's maxItems/maxLength)",
                text,
            )
        return text


async def generate(
    backend: Any, messages: Sequence[Message], schema: type[BaseModel] | None, max_tokens: int, temperature: float
) -> str | BaseModel:
    """A LocalBackend's ``generate``: text, or with a schema a validated instance."""
    if schema is None or backend.structured == "parse":
        text = await asyncio.to_thread(generate_sync, backend, messages, max_tokens, temperature)
        return parse_structured(text, schema) if schema is not None else text
    text = await asyncio.to_thread(generate_sync, backend, messages, max_tokens, temperature, schema)
    try:
        return schema.model_validate_json(text)
    except ValidationError as e:  # valid for the grammar, refused by a validator it cannot express
        raise GenerationError(f"output does not match {schema.__name__}: {e.errors()[0]['msg']}", text) from None


def generate_sync(
    backend: Any,
    messages: Sequence[Message],
    max_tokens: int,
    temperature: float,
    schema: type[BaseModel] | None = None,
) -> str:
    """A LocalBackend's generation: free, or under the schema's grammar."""
    prompt = backend.encode(messages)
    ids = torch.tensor([prompt], device=backend.device)
    options: dict[str, Any] = (
        {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    )
    mask = None
    if schema is not None:
        if backend.grammars is None:
            backend.grammars = SchemaGrammars(backend.tokenizer)
        mask = backend.grammars.processor(schema, len(prompt))
        options |= {"logits_processor": LogitsProcessorList([mask]), "eos_token_id": backend.grammars.eos_id}
    with backend.lock, torch.inference_mode():
        output = backend.model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens, pad_token_id=backend.pad_id, **options
        )
    generated = output[0, ids.shape[1] :].tolist()
    text = backend.tokenizer.decode(generated, skip_special_tokens=True)
    return mask.finish(generated, text, max_tokens) if mask is not None else text
