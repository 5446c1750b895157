"""Local causal LMs through transformers + torch.

P(yes) = p(Yes) / (p(Yes) + p(No)) from one forward pass, where p(Yes) sums the
probabilities of every single-token spelling of the word ("Yes", " yes", "YES", ...).

Questions about one response (same ``group``) share everything up to the criterion: that
prefix runs once, and all the criterion suffixes are scored against its key/value cache,
packed into one row whose mask lets each suffix see the prefix and itself only (or, for
models where a custom mask is unsafe, as a batch against copies of the cache). One level up, the judge instructions that open every prompt are
the same for all responses: their cache is kept between calls (InstructionCache).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import inspect
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from judge.backends import default_model
from judge.backends import gguf, grammar
from judge.backends.gguf import terminal_progress_only
from judge.backends.base import BackendBase, BackendError, Message, YesNoQuestion, YesNoScore
from judge.backends.forward_passes import InstructionCache, plan_batches, plan_sharing
from judge.backends.hidden_states import captured
from judge.backends.probe import Probe

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


def _integer_options(options: dict[str, Any]) -> None:
    """Spec options arrive as strings (``local:PATH?max_batch_size=8``)."""
    for key in ("max_batch_tokens", "max_batch_size", "memory_budget_mb", "min_shared_prefix"):
        if key in options:
            options[key] = int(options[key])


def _fingerprint(path: Path) -> str:
    """Local checkpoints have no revision; name them by their files' sizes and times."""
    digest = hashlib.sha256()
    for file in sorted(path.glob("*")):
        if file.is_file():
            stat = file.stat()
            digest.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def _left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ids and mask: the last column is every row's last real token."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, width - len(sequence) :] = torch.tensor(sequence, dtype=torch.long)
        mask[row, width - len(sequence) :] = 1
    return ids, mask


def merged_adapter(model: Any, adapter: str | Path) -> Any:
    """The model with a LoRA adapter folder merged into its weights (then judged as any model)."""
    from judge.extras import module

    peft = module("train", "peft", "a LoRA adapter (?adapter=)")
    folder = Path(adapter).expanduser()
    if not (folder / "adapter_config.json").is_file():
        raise BackendError(f"{folder}: not a LoRA adapter folder (no adapter_config.json)")
    with warnings.catch_warnings():  # peft asks transformers 5 by a name it deprecates; not the user's to fix
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return peft.PeftModel.from_pretrained(model, str(folder)).merge_and_unload()


class LocalBackend(BackendBase):
    name = "local"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_id: str,
        revision: str | None = None,
        max_batch_tokens: int | None = None,
        max_batch_size: int = 32,
        memory_budget_mb: int = 1024,
        min_shared_prefix: int = 32,
        pack_suffixes: bool | None = None,
        structured: str = "grammar",
        probe: Probe | str | Path | None = None,
    ):
        grammar.check_mode(structured)
        self.model = model.eval()
        # A probe reads P(yes) from a hidden state (probe.py); without one, from the next token.
        self.probe = Probe.load(probe) if isinstance(probe, (str, Path)) else probe
        self.adapter: str | None = None  # a merged LoRA adapter's folder (from_pretrained)
        self.named(model_id, revision)
        # transformers 5 renamed the key/value cache argument and output `cache` (the old
        # `past_key_values` warns and goes in 5.40); 4.x knows only the old name.
        self._cache_argument = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.tokenizer = tokenizer
        self.max_batch_size = max_batch_size
        self.max_batch_tokens = max_batch_tokens or self._tokens_within(memory_budget_mb)
        self.min_shared_prefix = min_shared_prefix
        self.pack_suffixes = self._can_pack() if pack_suffixes is None else pack_suffixes
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
        self.instructions = InstructionCache(min_shared_prefix)
        self.tokens_computed = 0  # tokens run through the model (padding aside): what sharing saves
        self.lock = threading.Lock()  # one forward pass at a time; torch uses every core already
        self.structured = structured
        self.grammars: grammar.SchemaGrammars | None = None  # built at the first structured generation

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> LocalBackend:
        """'' or 'default': the embedded SmolLM2; otherwise a Hugging Face id or a path."""
        _integer_options(options)
        if isinstance(options.get("pack_suffixes"), str):
            options["pack_suffixes"] = options["pack_suffixes"].lower() in ("1", "true", "yes")
        if rest in ("", "default"):
            return cls.default(**options)
        gguf_file = options.pop("gguf_file", None)
        if rest.endswith(".gguf") or (gguf_file and Path(rest).is_dir()):
            return cls.from_gguf(str(Path(rest) / gguf_file) if gguf_file else rest, **options)
        return cls.from_pretrained(rest, gguf_file=gguf_file, **options)

    @classmethod
    def from_gguf(cls, path: str, **options: Any) -> LocalBackend:
        """A GGUF file (``gguf:PATH``), converted to transformers weights once and cached
        (gguf.py); verdicts name the file, and the revision its content."""
        _integer_options(options)
        converted = gguf.ensure_converted(path)
        backend = cls.from_pretrained(str(converted), **options)
        return backend.named(str(Path(path).expanduser().resolve()), converted.name)

    @classmethod
    def default(cls, **options: Any) -> LocalBackend:
        path = default_model.ensure_converted()
        backend = cls.from_pretrained(str(path), **options)
        return backend.named(default_model.MODEL_NAME, path.name)  # the revision names the package and versions

    @classmethod
    def from_pretrained(
        cls,
        model_id: str,
        *,
        revision: str | None = None,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        gguf_file: str | None = None,
        adapter: str | None = None,
        **options: Any,
    ) -> LocalBackend:
        """A Hugging Face id or folder; ``adapter``: a LoRA adapter folder (peft) merged into it,
        as `rubric train-judge --method lora` writes."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        elif isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        if device == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)
        try:
            with terminal_progress_only():
                tokenizer = AutoTokenizer.from_pretrained(model_id, revision=revision, gguf_file=gguf_file)
                model = AutoModelForCausalLM.from_pretrained(
                    model_id, revision=revision, gguf_file=gguf_file, dtype=dtype
                )
        except OSError as e:
            raise BackendError(
                f"could not load model {model_id!r}: {e}. Without network access, pass a local folder "
                "or leave --model out to use the embedded default."
            ) from None
        if adapter:
            model = merged_adapter(model, adapter)
        model.to(device)
        if gguf_file:  # name the file in verdicts, not only its folder or repository
            model_id = f"{model_id}/{gguf_file}"
        path = Path(model_id)
        revision = (
            revision or getattr(model.config, "_commit_hash", None) or (_fingerprint(path) if path.is_dir() else None)
        )
        backend = cls(model, tokenizer, model_id=model_id, revision=revision, **options)
        backend.adapter = str(Path(adapter).expanduser().resolve()) if adapter else None
        return backend.named(model_id, revision)

    def named(self, model_id: str, revision: str | None) -> LocalBackend:
        """Name the judge in verdicts (and cache keys); a merged adapter is part of the name."""
        self.model_id, self.revision = model_id, revision
        if self.adapter:
            self.model_id = f"{model_id}+{self.adapter}"
            self.revision = f"{revision}+{_fingerprint(Path(self.adapter))}"
        if self.probe is not None:
            self.model_id += f"+probe:{self.probe.digest()}"
        return self

    def _tokens_within(self, budget_mb: int) -> int:
        """Tokens per batch (rows x padded length) whose key/value cache fits the budget;
        half of it is left for activations."""
        config = self.model.config
        try:
            head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
            kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
            per_token = 2 * config.num_hidden_layers * kv_heads * head_dim * self.model.dtype.itemsize
        except (AttributeError, TypeError, ZeroDivisionError):
            return 8192
        return max(512, budget_mb * 2**20 // (2 * per_token))

    def _can_pack(self) -> bool:
        """A hand-made 4-D mask is honoured as is only by SDPA attention; a sliding-window
        model would lose its window under it."""
        config = self.model.config
        return getattr(config, "_attn_implementation", None) == "sdpa" and not getattr(config, "sliding_window", None)

    def _context_window(self) -> int | None:
        limits = [
            getattr(self.model.config, "max_position_embeddings", None),
            getattr(self.tokenizer, "model_max_length", None),
        ]
        limits = [n for n in limits if isinstance(n, int) and 0 < n < 10**7]
        return min(limits) if limits else None

    @property
    def final_structured_output(self) -> bool:
        """Under the grammar, structured output is valid by construction: nothing to re-ask."""
        return self.structured == "grammar"

    # -- protocol -----------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        identity = {
            "backend": self.name,
            "model": self.model_id,
            "revision": self.revision,
            "dtype": str(self.model.dtype),
            "answer_ids": [self.yes_ids, self.no_ids],
            "structured": self.structured,
        }
        if self.probe is not None:  # another read-out is another judge (and other cache keys)
            identity["probe"] = self.probe.digest()
        return identity

    def encode(self, messages: Sequence[Message]) -> list[int]:
        template = getattr(self.tokenizer, "chat_template", None)
        if template:
            # A thinking judge (Qwen3 and the like) would open with <think> and never reach its
            # answer token: its template turns thinking off when told to.
            thinking = {"enable_thinking": False} if isinstance(template, str) and "enable_thinking" in template else {}
            text = self.tokenizer.apply_chat_template(
                list(messages), add_generation_prompt=True, tokenize=False, **thinking
            )
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
        shared, plain = plan_sharing(
            [questions[i].group for i in fitting], [encoded[i] for i in fitting], self.min_shared_prefix
        )
        with self.lock:
            for group in shared:
                indices = [fitting[i] for i in group.indices]
                self._fill(scores, indices, self._forward_shared([encoded[i] for i in indices], group.prefix_length))
            plain_indices = [fitting[i] for i in plain]
            for batch in plan_batches(
                [len(encoded[i]) for i in plain_indices], self.max_batch_tokens, self.max_batch_size
            ):
                indices = [plain_indices[b] for b in batch]
                self._fill(scores, indices, self._forward([encoded[i] for i in indices]))
        return scores  # type: ignore[return-value]

    @staticmethod
    def _fill(
        scores: list[YesNoScore | None], indices: Sequence[int], result: tuple[torch.Tensor, torch.Tensor]
    ) -> None:
        p_yes, mass = result
        for row, index in enumerate(indices):
            scores[index] = YesNoScore(float(p_yes[row]), yes_no_mass=float(mass[row]))

    def _yes_no(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities of the Yes and of the No spellings, from next-token logits
        [rows, vocab] (or a probe's [rows, 2]: yes, no)."""
        yes_ids, no_ids = ([0], [1]) if self.probe is not None else (self.yes_ids, self.no_ids)
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        return torch.logsumexp(log_probs[:, yes_ids], dim=-1), torch.logsumexp(log_probs[:, no_ids], dim=-1)

    def answer_log_odds(self, logits: torch.Tensor) -> torch.Tensor:
        """log p(Yes) - log p(No) per row: the read-out P(yes) is the sigmoid of (what a
        fine-tuned judge is trained on)."""
        yes, no = self._yes_no(logits)
        return yes - no

    def _answer_probabilities(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """P(yes) and the probability mass on Yes/No spellings."""
        yes, no = self._yes_no(logits)
        return torch.sigmoid(yes - no).cpu(), torch.exp(torch.logaddexp(yes, no)).cpu()

    def padded(self, sequences: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """A batch's model inputs: left-padded ids, their mask, and position ids that keep each
        row's positions as if it were alone."""
        ids, mask = _left_pad(sequences, self.pad_id)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return {
            "input_ids": ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "position_ids": positions.to(self.device),
        }

    def _logits_at(self, keep: int | torch.Tensor, **inputs: Any) -> torch.Tensor:
        """Next-token logits [rows, vocab] at the kept positions: the last one (keep=1), or
        the given positions of a single row (keep=tensor of indices). With a probe, its
        [rows, 2] logits from the hidden state at those positions."""
        if self.probe is None:
            return self._next_token_logits(keep, **inputs)
        with captured(self.model, [self.probe.layer]) as hidden:
            self._next_token_logits(keep, **inputs)
        states = hidden[self.probe.layer]
        return self.probe.logits(states[:, -1, :] if isinstance(keep, int) else states[0, keep, :])

    def _next_token_logits(self, keep: int | torch.Tensor, **inputs: Any) -> torch.Tensor:
        try:
            logits = self.model(**inputs, logits_to_keep=keep).logits
        except TypeError:  # architectures without logits_to_keep
            logits = self.model(**inputs).logits
            logits = logits[:, -1:, :] if isinstance(keep, int) else logits[:, keep, :]
        return logits[:, -1, :] if isinstance(keep, int) else logits[0]

    @torch.inference_mode()
    def _forward(self, sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """One full pass per sequence, batched."""
        self.tokens_computed += sum(len(s) for s in sequences)
        return self._answer_probabilities(self._logits_at(1, **self.padded(sequences), use_cache=False))

    @torch.inference_mode()
    def _forward_shared(
        self, sequences: Sequence[Sequence[int]], prefix_length: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The shared prefix once, then every suffix against its cache."""
        cache = self._prefix_cache(list(sequences[0][:prefix_length]))
        suffixes = [list(s[prefix_length:]) for s in sequences]
        p_yes = torch.empty(len(sequences))
        mass = torch.empty(len(sequences))
        if self.pack_suffixes:  # one row: the prefix plus the chunk's suffixes
            batches = plan_batches(
                [len(s) for s in suffixes], max(self.max_batch_tokens - prefix_length, 1), len(suffixes)
            )
        else:  # a row per suffix, each holding a copy of the prefix
            batches = plan_batches(
                [prefix_length + len(s) for s in suffixes], self.max_batch_tokens, self.max_batch_size
            )
        for batch in batches:
            chunk = [suffixes[i] for i in batch]
            self.tokens_computed += sum(len(s) for s in chunk)
            if self.pack_suffixes:
                logits = self._packed_suffix_logits(cache, prefix_length, chunk)
                cache.crop(-sum(len(s) for s in chunk))  # back to the prefix for the next chunk
            else:
                logits = self._batched_suffix_logits(copy.deepcopy(cache), prefix_length, chunk)
            p_yes[batch], mass[batch] = self._answer_probabilities(logits)
        return p_yes, mass

    def _packed_suffix_logits(self, cache: Any, prefix_length: int, suffixes: list[list[int]]) -> torch.Tensor:
        """All suffixes in one row after the prefix: each token sees the whole prefix and the
        earlier tokens of its own suffix; positions restart after the prefix for each."""
        lengths = torch.tensor([len(s) for s in suffixes])
        total = int(lengths.sum())
        segment = torch.repeat_interleave(torch.arange(len(suffixes)), lengths)
        offset = torch.arange(total) - torch.repeat_interleave(lengths.cumsum(0) - lengths, lengths)
        causal = torch.arange(total)[:, None] >= torch.arange(total)[None, :]
        own_suffix = (segment[:, None] == segment[None, :]) & causal
        mask = torch.cat([torch.ones((total, prefix_length), dtype=torch.bool), own_suffix], dim=1)
        return self._logits_at(
            (lengths.cumsum(0) - 1).to(self.device),
            input_ids=torch.tensor([[t for s in suffixes for t in s]], device=self.device),
            attention_mask=mask[None, None].to(self.device),
            position_ids=(prefix_length + offset)[None].to(self.device),
            **{self._cache_argument: cache},
            use_cache=True,
        )

    def _batched_suffix_logits(self, cache: Any, prefix_length: int, suffixes: list[list[int]]) -> torch.Tensor:
        """Suffixes as a batch against copies of the prefix cache, left-padded after the
        prefix: the mask hides the padding and positions continue from the prefix."""
        ids, suffix_mask = _left_pad(suffixes, self.pad_id)
        mask = torch.cat([torch.ones((len(suffixes), prefix_length), dtype=torch.long), suffix_mask], dim=1)
        positions = prefix_length + (suffix_mask.cumsum(-1) - 1).clamp(min=0)
        cache.batch_repeat_interleave(len(suffixes))
        return self._logits_at(
            1,
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            **{self._cache_argument: cache},
            use_cache=True,
        )

    def _run_prefix(self, ids: list[int], past: Any = None) -> Any:
        """The key/value cache after ids (continuing past, a cache of the tokens before them)."""
        self.tokens_computed += len(ids)
        inputs = torch.tensor([ids], device=self.device)
        output = self.model(input_ids=inputs, **{self._cache_argument: past}, use_cache=True, logits_to_keep=1)
        return output[self._cache_argument]

    @staticmethod
    def _crop(cache: Any, length: int) -> Any:
        """The cache cut back to its first length tokens (transformers crops by a negative count)."""
        if (extra := cache.get_seq_length() - length) > 0:
            cache.crop(-extra)
        return cache

    def _prefix_cache(self, prefix: list[int]) -> Any:
        covered, cache = self.instructions.reusable(prefix, self._run_prefix, self._crop)
        if covered == len(prefix):
            return cache
        return self._run_prefix(prefix[covered:], cache)

    async def generate(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str | BaseModel:
        """Text, or with a schema a validated instance (grammar.py)."""
        return await grammar.generate(self, messages, schema, max_tokens, temperature)
