"""`rubric train-judge`'s options (each with its flag, default and help)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from judge.flags import integer, layer_list, names, number, option
from judge.train.negatives import PERTURBATIONS

METHODS = ("probe", "sft", "lora")


@dataclass(frozen=True)
class TrainOptions:
    input: Path = option(
        help='labelled rows: judge input lines with "labels": {criterion_id: label} (what `rubric calibrate '
        "--input` reads); a criterion with a code check needs no label, its check gives it"
    )
    output: Path = option(
        help="the folder to write: the probe or model, judge.json (how to use it, what made it), rows.jsonl"
    )
    method: str = option(
        "probe",
        "probe: logistic regression on the frozen model's hidden state (seconds to fit, a small file); sft: every "
        "weight fine-tuned; lora: a LoRA adapter (default %(default)s)",
        choices=METHODS,
    )
    rubric: str | None = option(None, "the rubric of rows that name none, as for `rubric judge`", metavar="FILE|NAME")
    negatives: tuple[str, ...] = option(
        tuple(PERTURBATIONS),
        f"negatives made from rows whose task criterion is met, keeping the form and dropping the task "
        f"({', '.join(PERTURBATIONS)}; default all, or none)",
        type=names,
        metavar="KIND,...|none",
    )
    task_criteria: tuple[str, ...] = option(
        ("task",),
        "the criteria the negatives fail (default %(default)s: the task criterion of `rubric generate --method constraints`)",
        type=names,
        metavar="ID,...",
    )
    layers: tuple[int, ...] | None = option(
        None, "probe: the layers to try (default: four from the middle to the last)", type=layer_list, metavar="N,..."
    )
    folds: int = option(5, "probe: cross-validation folds, split by item (default %(default)s)", type=integer(2))
    epochs: int = option(1, "sft, lora: passes over the examples (default %(default)s)", type=integer(1))
    learning_rate: float | None = option(
        None, "sft, lora: the peak learning rate (default 1e-5 for sft, 2e-4 for lora)", type=number(0, above=True)
    )
    batch_size: int = option(8, "sft, lora: examples per step (default %(default)s)", type=integer(1))
    lora_rank: int = option(8, "lora: the adapter's rank (default %(default)s)", type=integer(1))
    max_examples: int | None = option(
        None,
        "train on a seeded sample of at most N examples (fine-tuning reads about 800 an hour on 2 CPU cores)",
        type=integer(2),
    )
    seed: int = option(0, "seed of the negatives, the folds, the sample and the training order")
    overwrite: bool = option(False, cli=False)  # the CLI's shared --overwrite
    progress: bool | None = option(None, cli=False)  # None: a bar on a terminal
