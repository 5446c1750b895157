"""Fine-tuning a local causal LM as a judge: full (sft) or a LoRA adapter (lora).

The objective is the engine's read-out itself: at the answer position, the logit margin
log p(Yes spellings) - log p(No spellings) is trained with binary cross-entropy towards
the label (Generative Verifiers' recipe, restricted to the two answers the engine reads).
The model is then judged unchanged: shared prefix, caching and resume included.

A checkpoint (trainable weights, optimiser, step, random state) is written every
``save_every`` steps and at the end of each epoch; a rerun with the same examples and
settings resumes from it, anything else starts over.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from judge.backends.forward_passes import InstructionCache, plan_batches
from judge.backends.gguf import terminal_progress_only
from judge.extras import module
from judge.train.examples import Example

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class FinetuneSettings:
    method: str = "lora"  # "sft" (every weight) or "lora" (an adapter)
    epochs: int = 1
    learning_rate: float | None = None  # None: 1e-5 for sft, 2e-4 for lora
    batch_size: int = 8
    lora_rank: int = 8
    seed: int = 0
    save_every: int = 25  # steps
    max_tokens: int = 2048  # rows x longest row per forward-backward pass (memory; not the batch)

    @property
    def rate(self) -> float:
        return self.learning_rate if self.learning_rate is not None else (1e-5 if self.method == "sft" else 2e-4)


def _digest(examples: Sequence[Example], settings: FinetuneSettings, base: dict[str, Any]) -> str:
    """What a checkpoint was made from: resume only the same run."""
    digest = hashlib.sha256(json.dumps([asdict(settings), base], sort_keys=True, default=str).encode())
    for example in examples:
        digest.update(json.dumps([example.messages, example.label]).encode())
    return digest.hexdigest()[:20]


def _trainable(model: Any, settings: FinetuneSettings) -> Any:
    """The model to train: itself, or wrapped with a LoRA adapter. Each layer's activations are
    recomputed in the backward pass rather than held (a third more compute, a fraction of the
    memory: a 2,000-token prompt fits)."""
    if hasattr(model, "activation_checkpointing_enable"):  # transformers 5 renamed it (the old name warns)
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if settings.method == "sft":
        return model
    peft = module("train", "peft", "LoRA fine-tuning")
    config = peft.LoraConfig(
        r=settings.lora_rank, lora_alpha=2 * settings.lora_rank, lora_dropout=0.0, target_modules="all-linear"
    )
    with warnings.catch_warnings():  # peft asks transformers 5 by a name it deprecates; not the user's to fix
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return peft.get_peft_model(model, config)


def _margins(backend: Any, model: Any, batch: Sequence[list[int]]) -> torch.Tensor:
    """log p(Yes) - log p(No) at each row's answer position (the model in training)."""
    logits = model(**backend.padded(batch), use_cache=False, logits_to_keep=1).logits[:, -1, :]
    return backend.answer_log_odds(logits)


def finetune(
    backend: Any,
    examples: Sequence[Example],
    output: Path,
    settings: FinetuneSettings,
    *,
    progress: bool | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Train backend.model on the examples; write the model (sft) or adapter (lora) folder
    under ``output``; what was done, as a record."""
    if backend.probe is not None:
        raise ValueError("fine-tune the model itself, not a model read through a probe")
    torch.manual_seed(settings.seed)
    model = _trainable(backend.model, settings)
    encoded = [backend.encode(e.messages) for e in examples]
    labels = torch.tensor([float(e.label) for e in examples])
    steps_per_epoch = (len(examples) + settings.batch_size - 1) // settings.batch_size
    total = steps_per_epoch * settings.epochs
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.rate)
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (total - step) / max(total - warmup, 1))
    )
    output.mkdir(parents=True, exist_ok=True)
    checkpoint, digest, step = output / CHECKPOINT, _digest(examples, settings, backend.identity()), 0
    if checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        if saved.get("digest") == digest:
            model.load_state_dict(saved["weights"], strict=False)
            optimiser.load_state_dict(saved["optimiser"])
            schedule.load_state_dict(saved["schedule"])
            step = saved["step"]
            say(f"resumed from {checkpoint} at step {step} of {total}")
        else:
            say(f"{checkpoint} was made from other examples or settings: starting over")

    def save() -> None:
        weights = {k: v for k, v in model.state_dict().items() if settings.method == "sft" or "lora_" in k}
        state = {"digest": digest, "step": step, "weights": weights}
        state |= {"optimiser": optimiser.state_dict(), "schedule": schedule.state_dict()}
        torch.save(state, checkpoint.with_suffix(".tmp"))
        checkpoint.with_suffix(".tmp").replace(checkpoint)

    model.train()
    losses: list[float] = []
    with tqdm(
        total=total, initial=step, unit="step", file=sys.stderr, disable=None if progress is None else not progress
    ) as bar:
        while step < total:
            epoch, within = divmod(step, steps_per_epoch)
            order = list(range(len(examples)))
            random.Random(settings.seed + epoch).shuffle(order)  # the same order when resumed
            batch = order[within * settings.batch_size : (within + 1) * settings.batch_size]
            optimiser.zero_grad()
            loss = 0.0
            # long rows go a few at a time (gradients add up): a batch of 2,000-token prompts
            # held for the backward pass at once took 23 GB
            for part in plan_batches([len(encoded[i]) for i in batch], settings.max_tokens, len(batch)):
                rows = [batch[i] for i in part]
                margins = _margins(backend, model, [encoded[i] for i in rows])
                share = torch.nn.functional.binary_cross_entropy_with_logits(
                    margins, labels[rows], reduction="sum"
                ) / len(batch)
                share.backward()
                loss += share.item()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            step += 1
            losses.append(loss)
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
            bar.update(1)
            if step % settings.save_every == 0 or step % steps_per_epoch == 0:
                save()
    model.eval()
    base = backend.model
    (getattr(base, "activation_checkpointing_disable", None) or base.gradient_checkpointing_disable)()
    folder = output / ("model" if settings.method == "sft" else "adapter")
    with terminal_progress_only():
        model.save_pretrained(folder)
    if settings.method == "sft":
        backend.tokenizer.save_pretrained(folder)
        backend.model = model
    else:
        backend.model = model.merge_and_unload()  # what `?adapter=` gives when loaded
    backend.instructions = InstructionCache(backend.min_shared_prefix)  # its keys and values came from the old weights
    checkpoint.unlink(missing_ok=True)  # the folder is the result now

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    first = losses[:steps_per_epoch] if step == len(losses) else []  # this run's own first epoch, when whole
    return {"steps": total, "first_epoch_loss": mean(first), "final_loss": mean(losses[-20:]), "folder": str(folder)}
