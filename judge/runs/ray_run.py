"""``rubric judge --engine ray``: a Ray Data pipeline over any judge input.

read (judge/runs/ray_source.py) -> judge on an autoscaling actor pool (judge/runs/ray_data.py)
-> sharded parquet (or JSON lines, for an output folder named *.jsonl) in the output folder.
Resume is Ray Data's own checkpointing: by id, with a two-phase commit of each shard, kept
in ``OUTPUT/_checkpoint`` so a rerun judges only what no shard holds yet. The run settings
are kept in ``OUTPUT/_run.json``; a rerun with other settings stops and names the difference
(``--overwrite`` starts afresh). Files whose names start with ``_`` are not read as data by
pyarrow, pandas or Ray.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judge.extras import module
from dataclasses import replace

from judge.build import JudgeOptions, build_judge
from judge.models import DEMO_WARNING, ModelOptions, open_backends
from judge.runs.options import RunOptions
from judge.runs.parquet_output import record as parquet_record
from judge.runs.ray_data import judge_dataset, ray_module, split_budget
from judge.runs.ray_source import datasource, input_files
from judge.runs.resume import ResumeMismatch, differences, normalised
from judge.runs.summary import RunSummary, SummaryBuilder

RUN_FILE, CHECKPOINT_DIR = "_run.json", "_checkpoint"


def output_format(output: Path) -> str:
    return "jsonl" if output.suffix.lower() == ".jsonl" else "parquet"


def judge_maker(judging: JudgeOptions, models: ModelOptions, actors: int) -> Any:
    """What each actor calls to build the judge the options describe (an API budget split)."""
    shared = replace(models, model=tuple(split_budget(spec, actors) for spec in models.model))

    def make() -> Any:
        return build_judge(judging, open_backends(shared, concurrency=judging.concurrency))

    return make


def threshold(judging: JudgeOptions) -> float | str:
    return judging.threshold if judging.threshold is not None else "the calibration's" if judging.calibration else 0.5


def run_settings(run: RunOptions, judging: JudgeOptions, models: ModelOptions) -> dict[str, Any]:
    """What the verdicts depend on, compared on a rerun (the actors' number is not part of it).
    The keys are the flags' names, as runs before typed options wrote them."""
    columns = {name: value for name, value in vars(run.columns).items() if value != name}
    return normalised(
        {
            "rubric": run.rubric,
            "model": list(models.model) or None,
            "jury": judging.jury,
            "threshold": judging.threshold,
            "calibration": judging.calibration,
            "no_gate": not judging.gate,
            "no_guard": judging.guard is False,
            "semantic_guard": judging.guard == "semantic",
            "reasoning": judging.reasoning,
            "only_tags": ",".join(sorted(judging.only_tags)) if judging.only_tags else None,
            "request_shape": judging.request_shape.replace("_", "-"),
            "samples": models.samples,
            "base_url": list(models.base_url) or None,
            "input": str(run.input),
            "columns": columns or None,
        }
    )


def check_resume(output: Path, run: dict[str, Any], overwrite: bool) -> None:
    manifest = output / RUN_FILE
    if overwrite and output.exists():
        shutil.rmtree(output)
    if manifest.exists():
        before = json.loads(manifest.read_text(encoding="utf-8"))
        if changed := differences(before, run):
            raise ResumeMismatch(
                f"{output}: made by another run ({'; '.join(changed)}); pass --overwrite to start afresh, or another --output"
            )
    elif output.exists() and any(output.iterdir()):
        raise ResumeMismatch(
            f"{output}: a folder of something else (no {RUN_FILE}); pass --overwrite to replace it, or another --output"
        )
    output.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(run, indent=1, sort_keys=True), encoding="utf-8")


def start_ray(address: str | None, progress: bool) -> Any:
    ray = ray_module()
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # the core's notices are not the user's business
    logging.getLogger("ray.data").setLevel(
        logging.INFO if progress else logging.ERROR
    )  # off a terminal Ray Data logs its progress
    warnings.filterwarnings(
        "ignore", message="The minimum number of concurrent actors", category=UserWarning
    )  # a resume with nothing left
    if not ray.is_initialized():
        # A local cluster gets at least 4 logical CPUs: the checkpoint filter's actor and the readers need room beside the
        # judge actors (with 2, a resumed run was seen to starve and hang); judging is mostly waiting, not computing.
        cpus = None if address else max(4, os.cpu_count() or 1)
        ray.init(
            address=address,
            num_cpus=cpus,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    return ray


def judge_with_ray(run: RunOptions, judging: JudgeOptions, models: ModelOptions) -> RunSummary:
    """Judge run.input into the folder run.output with Ray Data; the run's summary."""
    ray_module()  # the install hint before anything else
    CheckpointConfig = module("ray", "ray.data.checkpoint").CheckpointConfig

    if run.batch:
        raise ValueError("--batch sends one provider job from this process; with --engine ray, judge synchronously")
    output = Path(run.output)
    settings = run_settings(run, judging, models)
    check_resume(output, settings, run.overwrite)
    before = verdicts_written(output)
    if not models.model:
        print(DEMO_WARNING, file=sys.stderr)
    ray = start_ray(run.ray_address, progress=not run.quiet and sys.stderr.isatty())
    low, high = run.actors
    context = ray.data.DataContext.get_current()
    context.checkpoint_config = CheckpointConfig(
        id_column="id", checkpoint_path=str((output / CHECKPOINT_DIR).resolve()), delete_checkpoint_on_success=False
    )  # kept: a rerun after success judges nothing
    try:
        items = ray.data.read_datasource(datasource(input_files(run.input), run.columns))
        verdicts = judge_dataset(
            items,
            judge_maker(judging, models, high),
            rubric=run.rubric,
            columns=run.columns,
            actors=(low, high),
            cpus_per_actor=run.cpus_per_actor,
            gpus_per_actor=run.gpus_per_actor,
            batch_rows=run.ray_batch_rows,
            output=output_format(output),
            run=settings,
        )
        if output_format(output) == "jsonl":
            verdicts.write_datasink(lines_sink(str(output.resolve())))
        else:
            verdicts.write_parquet(str(output.resolve()))
    finally:
        context.checkpoint_config = None
    summary = SummaryBuilder()
    for record in verdict_records(output):
        summary.add(record)
    return summary.result(judged_now=summary.summary.items - before, malformed_lines=0)


def verdicts_written(output: Path) -> int:
    """How many verdicts the folder's shards hold, without reading them (parquet: from the footers)."""
    if not output.is_dir():
        return 0
    if output_format(output) == "jsonl":
        return sum(sum(1 for line in open(shard, "rb") if line.strip()) for shard in output.glob("*.jsonl"))
    pq = module("data", "pyarrow.parquet", "a parquet output")
    return sum(pq.ParquetFile(shard).metadata.num_rows for shard in output.glob("*.parquet"))


def verdict_records(output: Path) -> Iterator[dict[str, Any]]:
    """The verdicts of a Ray run's output folder, shard by shard (memory: one batch)."""
    if not output.is_dir():
        return
    if output_format(output) == "jsonl":
        for shard in sorted(output.glob("*.jsonl")):
            with open(shard, "rb") as handle:
                yield from (json.loads(line) for line in handle if line.strip())
        return
    pq = module("data", "pyarrow.parquet", "a parquet output")
    for shard in sorted(output.glob("*.parquet")):
        for batch in pq.ParquetFile(shard).iter_batches(batch_size=4096):
            yield from (parquet_record(row) for row in batch.to_pylist())


def lines_sink(path: str) -> Any:
    """A Ray datasink writing each verdict's JSON line (a file-based sink: checkpointing
    commits its shards in two phases, as it does parquet's)."""
    from ray.data.datasource import BlockBasedFileDatasink

    class VerdictLines(BlockBasedFileDatasink):
        def write_block_to_file(self, block: Any, file: Any) -> None:
            lines = block.to_arrow().column("line").to_pylist()
            file.write("".join(line + "\n" for line in lines).encode("utf-8"))

    return VerdictLines(path, file_format="jsonl")
