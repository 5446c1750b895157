"""A local model's hidden states at the answer position: what a probe reads and is fitted on.

Forward hooks on the decoder's layers catch their outputs during the ordinary passes, so a
probe is applied through the same shared-prefix and packed-suffix passes as the next-token
read-out (judge/backends/local.py), and fitted on states from plain batched passes.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from judge.backends.base import BackendError, YesNoQuestion
from judge.backends.forward_passes import plan_batches


def layer_count(model: Any) -> int:
    return len(model.get_decoder().layers)


@contextlib.contextmanager
def captured(model: Any, layers: Sequence[int]) -> Iterator[dict[int, torch.Tensor]]:
    """The hidden states [rows, positions, width] that the passes inside produce at the given
    layers: the output of decoder layer k, or for -1 the final norm's (what the head reads)."""
    decoder = model.get_decoder()
    found: dict[int, torch.Tensor] = {}
    hooks = []
    try:
        for layer in layers:
            if not -1 <= layer < len(decoder.layers):
                raise BackendError(f"layer {layer} is outside this model's {len(decoder.layers)} layers (or -1)")
            module = decoder.norm if layer == -1 else decoder.layers[layer]

            def keep(_module: Any, _inputs: Any, output: Any, layer: int = layer) -> None:
                found[layer] = output[0] if isinstance(output, tuple) else output

            hooks.append(module.register_forward_hook(keep))
        yield found
    finally:
        for hook in hooks:
            hook.remove()


def answer_states(
    backend: Any, questions: Sequence[YesNoQuestion], layers: Sequence[int], progress: bool | None = False
) -> dict[int, torch.Tensor]:
    """Each question's hidden state at its answer position, per layer ([questions, width]),
    from a local backend's model. Plain batched passes (no prefix sharing: these run once).
    progress: a bar (None: only on a terminal)."""
    from tqdm import tqdm

    encoded = [backend.encode(q.messages) for q in questions]
    states: dict[int, list[torch.Tensor | None]] = {layer: [None] * len(encoded) for layer in layers}
    batches = plan_batches([len(ids) for ids in encoded], backend.max_batch_tokens, backend.max_batch_size)
    bar = tqdm(total=len(encoded), unit="example", file=sys.stderr, disable=None if progress is None else not progress)
    with backend.lock, torch.inference_mode(), bar:
        for batch in batches:
            with captured(backend.model, layers) as hidden:
                backend.model(**backend.padded([encoded[i] for i in batch]), use_cache=False, logits_to_keep=1)
            for layer in layers:
                for row, index in enumerate(batch):
                    states[layer][index] = hidden[layer][row, -1, :].float().cpu()
            bar.update(len(batch))
    return {layer: torch.stack(rows) for layer, rows in states.items()}  # type: ignore[arg-type]
