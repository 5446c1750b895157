"""`rubric train-judge` as a function: labelled rows -> examples -> a trained judge folder.

The folder holds the result (``probe.json``, ``model/`` or ``adapter/``), ``rows.jsonl``
(every row trained on, negatives included, with its labels and source) and ``judge.json``:
the model spec that judges with it, the base model's identity, the input's digest, the
seed, the settings and the counts. ``rubric judge --model SPEC`` and ``rubric_reward`` then
read P(yes) from it like from any local model.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from judge.backends.local import LocalBackend
from judge.build import JudgeOptions, build_judge
from judge.extras import require
from judge.hardening import surface
from judge.item import JudgeItem
from judge.rubric_lookup import RubricSource
from judge.runs.inputs import read_items
from judge.runs.labels import read_labels
from judge.train.examples import Examples, collect
from judge.train.finetune import FinetuneSettings, finetune
from judge.train.negatives import negatives
from judge.train.options import TrainOptions
from judge.train.probe_fit import fit_probe
from rubrics.records import LoadReport, Problem

RECORD = "judge.json"


def _spec_with(spec: str, key: str, value: Path) -> str:
    return f"{spec}{'&' if '?' in spec else '?'}{key}={value.resolve()}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _version() -> str | None:
    try:
        return importlib.metadata.version("rubric-judge")
    except importlib.metadata.PackageNotFoundError:  # a checkout on the path
        return None


def labelled_rows(options: TrainOptions, say: Callable[[str], None]) -> list[tuple[JudgeItem, dict[str, bool]]]:
    report = LoadReport(unit="labels")
    labels = read_labels(options.input, report)
    by_item: dict[str, dict[str, bool]] = {}
    for (item_id, criterion_id), label in labels.items():
        by_item.setdefault(item_id, {})[criterion_id] = label
    rows, problems = [], 0
    for entry in read_items(options.input, RubricSource.from_option(options.rubric)):
        if isinstance(entry, Problem):
            problems += 1
            if problems <= 3:
                say(f"skipped {entry}")
            continue
        rows.append((entry, by_item.get(entry.id, {})))
    say(
        f"{options.input}: {len(rows)} rows, {len(labels)} labels"
        + (f"; {problems} rows skipped" if problems else "")
        + (f"; labels skipped: {report.describe()}" if report.skipped else "")
    )
    return rows


def examples_for(options: TrainOptions, judge: Any, say: Callable[[str], None]) -> Examples:
    """The labelled rows and their negatives as the judge's questions (the rows written to
    OUTPUT/rows.jsonl), sampled down to --max-examples."""
    rows = labelled_rows(options, say)
    made = list(negatives(rows, options.task_criteria, options.negatives, options.seed))
    if options.negatives and not made:
        say(f"no negatives: no row has a task criterion ({', '.join(options.task_criteria)}) labelled met")
    everything = [(item, labels, "label", item.id) for item, labels in rows] + made
    level = surface.log.level  # "can be met without doing the task" warns about rewards; labels are another use
    surface.log.setLevel(logging.ERROR)
    try:
        found = collect(judge, everything)
    finally:
        surface.log.setLevel(level)
    counts = found.counts()
    say(
        f"{counts['examples']} examples ({counts['positive']} met) from {counts['items']} rows; by source {counts['by_source']}"
    )
    if found.skipped:
        say(f"criteria not trained on: {dict(found.skipped)}")
    if options.max_examples is not None and len(found.examples) > options.max_examples:
        kept = sorted(random.Random(options.seed).sample(range(len(found.examples)), options.max_examples))
        found.found = len(found.examples)
        found.examples = [found.examples[i] for i in kept]
        say(f"trained on a seeded sample of {len(kept)} of them (--max-examples)")
    if len({e.label for e in found.examples}) < 2:
        raise ValueError(f"{options.input}: training needs examples of both labels; got {found.counts()}")
    options.output.mkdir(parents=True, exist_ok=True)
    with (options.output / "rows.jsonl").open("w", encoding="utf-8") as handle:
        for item, labels, source, _ in everything:
            row = {"id": item.id, "prompt": item.prompt, "response": item.response, "labels": labels, "source": source}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return found


def train_judge(
    options: TrainOptions, open_backend: Callable[[], Any], base_spec: str, say: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Train, write the folder, return the record written to judge.json."""
    require("train", "sklearn", *(("peft",) if options.method == "lora" else ()), purpose="rubric train-judge")
    record_path = options.output / RECORD
    if record_path.exists() and not options.overwrite:
        raise FileExistsError(
            f"{options.output} already holds a trained judge ({RECORD}); pass --overwrite to replace it"
        )
    backend = open_backend()
    backend = getattr(backend, "inner", backend)  # the cache in front judges; training needs the model
    if not isinstance(backend, LocalBackend):
        raise ValueError(f"train-judge trains a local model (local:, gguf: or a folder), not {base_spec}")
    found = examples_for(options, build_judge(JudgeOptions(), [backend]), say)
    base = backend.identity()
    started = time.perf_counter()
    if options.method == "probe":
        probe, choice = fit_probe(
            backend,
            found.examples,
            layers=options.layers,
            folds=options.folds,
            seed=options.seed,
            progress=options.progress,
            say=say,
        )
        probe.save(options.output / "probe.json")
        spec = _spec_with(base_spec, "probe", options.output / "probe.json")
        result = {"layer": choice.layer, "c": choice.c, "cv_auroc": choice.auroc}
    else:
        settings = FinetuneSettings(
            method=options.method,
            epochs=options.epochs,
            learning_rate=options.learning_rate,
            batch_size=options.batch_size,
            lora_rank=options.lora_rank,
            seed=options.seed,
        )
        result = finetune(backend, found.examples, options.output, settings, progress=options.progress, say=say)
        folder = Path(result["folder"])
        spec = f"local:{folder.resolve()}" if options.method == "sft" else _spec_with(base_spec, "adapter", folder)
        result["settings"] = asdict(settings)
    record = {
        "model": spec,
        "method": options.method,
        "base": {"spec": base_spec, **base},
        "input": {"path": str(options.input), "sha256": _digest(options.input)},
        "seed": options.seed,
        "negatives": list(options.negatives),
        "task_criteria": list(options.task_criteria),
        "examples": found.counts(),
        "train_seconds": round(time.perf_counter() - started, 1),
        "result": result,
        "rubric_judge": _version(),
    }
    record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record
