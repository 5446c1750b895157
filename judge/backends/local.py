"""Local causal LMs through transformers + torch.

P(yes) = p(Yes) / (p(Yes) + p(No)) from one forward pass, where p(Yes) sums the
probabilities of every single-token spelling of the word ("Yes", " yes", "YES", ...).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from judge.backends import default_model
from judge.backends.base import BackendError, Message, YesNoQuestion, YesNoScore
from judge.backends.structured import parse_structured

YES_WORDS, NO_WORDS = ("yes",), ("no",)


class MissingAnswerTokens(BackendError):
    pass


def answer_token_ids(tokenizer: Any, words: Sequence[str]) -> list[int]:
    """Token ids that spell one of the words as a single token, in any common casing and spacing."""
    special = set(getattr(tokenizer, "all_special_ids", []))
    found: set[int] = set()
    for word in words:
        for spelling in {word.lower(), word.capitalize(), word.upper()}:
            for prefix in ("", " "):
                ids = tokenizer.encode(prefix + spelling, add_special_tokens=False)
                # An unknown-token id would "spell" every word: accept only ids that decode back.
                if len(ids) == 1 and ids[0] not in special and tokenizer.decode(ids).strip().lower() == word.lower():
                    found.add(ids[0])
    return sorted(found)


def plain_prompt(messages: Sequence[Message]) -> str:
    """For models without a chat template (base models)."""
    turns = [f"{m['role'].capitalize()}:\n{m['content']}" for m in messages]
    return "\n\n".join(turns) + "\n\nAssistant:"


def plan_batches(lengths: Sequence[int], max_batch_tokens: int, max_batch_size: int) -> list[list[int]]:
    """Group indices of similar length so that padded size stays within budget."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[index]  # sorted, so the newest is the longest
        if current and (len(current) >= max_batch_size or longest * (len(current) + 1) > max_batch_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def _fingerprint(path: Path) -> str:
    """Local checkpoints have no revision; name them by their files' sizes and times."""
    digest = hashlib.sha256()
    for file in sorted(path.glob("*")):
        if file.is_file():
            stat = file.stat()
            digest.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


class LocalBackend:
    name = "local"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_id: str,
        revision: str | None = None,
        max_batch_tokens: int = 8192,
        max_batch_size: int = 32,
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.revision = revision
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.device = next(model.parameters()).device
        self.yes_ids = answer_token_ids(tokenizer, YES_WORDS)
        self.no_ids = answer_token_ids(tokenizer, NO_WORDS)
        for word, ids in (("Yes", self.yes_ids), ("No", self.no_ids)):
            if not ids:
                raise MissingAnswerTokens(
                    f"the tokenizer of {model_id!r} has no single-token spelling of {word!r}, so P(yes) "
                    "cannot be read from the next-token distribution; use a model whose tokenizer has one"
                )
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if self.pad_id is None:
            self.pad_id = 0  # any id works: padded positions are masked out
        self.context_window = self._context_window()
        self._lock = threading.Lock()  # one forward pass at a time; torch uses every core already

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> LocalBackend:
        """'' or 'default': the embedded SmolLM2; otherwise a Hugging Face id or a path."""
        for key in ("max_batch_tokens", "max_batch_size"):
            if key in options:
                options[key] = int(options[key])
        if rest in ("", "default"):
            return cls.default(**options)
        return cls.from_pretrained(rest, **options)

    @classmethod
    def default(cls, **options: Any) -> LocalBackend:
        path = default_model.ensure_converted()
        backend = cls.from_pretrained(str(path), **options)
        backend.model_id = default_model.MODEL_NAME
        backend.revision = path.name  # names the package and transformers versions it came from
        return backend

    @classmethod
    def from_pretrained(
        cls,
        model_id: str,
        *,
        revision: str | None = None,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        gguf_file: str | None = None,
        **options: Any,
    ) -> LocalBackend:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if not sys.stderr.isatty():
            hf_logging.disable_progress_bar()
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        elif isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        if device == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_id, revision=revision, gguf_file=gguf_file)
            model = AutoModelForCausalLM.from_pretrained(model_id, revision=revision, gguf_file=gguf_file, dtype=dtype)
        except OSError as e:
            raise BackendError(
                f"could not load model {model_id!r}: {e}. Without network access, pass a local folder "
                "or leave --model out to use the embedded default."
            ) from None
        model.to(device)
        path = Path(model_id)
        revision = revision or getattr(model.config, "_commit_hash", None) or (_fingerprint(path) if path.is_dir() else None)
        return cls(model, tokenizer, model_id=model_id, revision=revision, **options)

    def _context_window(self) -> int | None:
        limits = [getattr(self.model.config, "max_position_embeddings", None), getattr(self.tokenizer, "model_max_length", None)]
        limits = [n for n in limits if isinstance(n, int) and 0 < n < 10**7]
        return min(limits) if limits else None

    # -- protocol -----------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model_id,
            "revision": self.revision,
            "dtype": str(self.model.dtype),
            "answer_ids": [self.yes_ids, self.no_ids],
        }

    def encode(self, messages: Sequence[Message]) -> list[int]:
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        else:
            text = plain_prompt(messages)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count_tokens(self, messages: Sequence[Message]) -> int | None:
        return len(self.encode(messages))

    async def p_yes(self, questions: Sequence[YesNoQuestion]) -> list[YesNoScore]:
        return await asyncio.to_thread(self.p_yes_sync, questions)

    def p_yes_sync(self, questions: Sequence[YesNoQuestion]) -> list[YesNoScore]:
        encoded = [self.encode(q.messages) for q in questions]
        scores: list[YesNoScore | None] = [None] * len(questions)
        fitting = []
        for index, ids in enumerate(encoded):
            if self.context_window and len(ids) > self.context_window:
                scores[index] = YesNoScore(
                    None, reason=f"prompt of {len(ids)} tokens exceeds the model context of {self.context_window}"
                )
            else:
                fitting.append(index)
        lengths = [len(encoded[i]) for i in fitting]
        with self._lock:
            for batch in plan_batches(lengths, self.max_batch_tokens, self.max_batch_size):
                indices = [fitting[b] for b in batch]
                p_yes, mass = self._forward([encoded[i] for i in indices])
                for row, index in enumerate(indices):
                    scores[index] = YesNoScore(float(p_yes[row]), yes_no_mass=float(mass[row]))
        return scores  # type: ignore[return-value]

    @torch.inference_mode()
    def _forward(self, sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """P(yes) and the Yes+No probability mass at the next token of each sequence.

        Sequences are left-padded so the last column is every row's next-token position;
        explicit position ids keep each row's positions as if it were alone.
        """
        width = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, ids in enumerate(sequences):
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention[row, width - len(ids) :] = 1
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        inputs = {
            "input_ids": input_ids.to(self.device),
            "attention_mask": attention.to(self.device),
            "position_ids": positions.to(self.device),
        }
        try:
            logits = self.model(**inputs, logits_to_keep=1).logits[:, -1, :]
        except TypeError:  # architectures without logits_to_keep
            logits = self.model(**inputs).logits[:, -1, :]
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        yes = torch.logsumexp(log_probs[:, self.yes_ids], dim=-1)
        no = torch.logsumexp(log_probs[:, self.no_ids], dim=-1)
        return torch.sigmoid(yes - no).cpu(), torch.exp(torch.logaddexp(yes, no)).cpu()

    async def generate(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str | BaseModel:
        text = await asyncio.to_thread(self._generate_sync, messages, max_tokens, temperature)
        return parse_structured(text, schema) if schema is not None else text

    def _generate_sync(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> str:
        ids = torch.tensor([self.encode(messages)], device=self.device)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        with self._lock, torch.inference_mode():
            output = self.model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens, pad_token_id=self.pad_id, **sampling
            )
        return self.tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True)
