"""What `rubric judge` is run with: its flags, the engine they build, and its help.

``add_judge_arguments`` declares the flags with the engine's defaults, ``judge_from`` builds
the ``Judge`` they describe, and ``JUDGE_HELP`` says what the input lines hold and how the
output resumes (with the model specs of judge.backends).
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from judge.backends import SPEC_HELP
from judge.backends.base import Backend
from judge.calibration import Calibration
from judge.engine import Judge
from judge.jury import Jury
from judge.models import calls_in_flight
from judge.runs.argtypes import integer, number
from judge.runs.sources import Columns
from rubrics.model import Criterion

JUDGE_HELP = """\
input records (JSON lines, or rows of a .json array, parquet, CSV or dataset), one item each:
  {"id": "q1", "prompt": "...", "response": "..."}
  prompt may be a list of {"role", "content"} messages; optional fields:
  "rubric" (inline rubric, list of principles, or HealthBench/RaR items),
  "rubric_id" (a rubric in --rubric or in the library), "reference" (reference answer).
  Without "id" an item is named after its line number.

""" + SPEC_HELP + """
The output is appended one line per item as soon as it is judged (each line echoes the
input's "id"; "item_id" is its string form, or line-N when the input has none); rerunning
the same command resumes where an interrupted run stopped. A rerun with another model,
rubric, threshold or input stops and names the difference (--overwrite starts afresh);
one run at a time may write an output, and a file no run wrote is never appended to.
"""

_DEFAULTS = {name: p.default for name, p in inspect.signature(Judge).parameters.items()}


def add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    """Every `rubric judge` flag but the model's and --overwrite (which the CLI shares across commands)."""
    parser.add_argument("--rubric", metavar="FILE|NAME", help="rubric file (JSON, JSONL, YAML) or library rubric name")
    parser.add_argument("--input", required=True, type=Path, metavar="FILE|FOLDER|hf:NAME[:SPLIT]",
                        help="responses to judge: JSONL, a .json array, .parquet (or a folder of shards), .csv, a dataset folder "
                        "saved with save_to_disk, a Hugging Face dataset hf:NAME[:SPLIT] (default split train; needs rubric-judge[data]), "
                        "or - for JSON lines on standard input")
    parser.add_argument("--output", required=True, type=Path, help="verdicts: JSONL, appended and resumable; or .parquet, written when "
                        "the run ends from its resumable log OUTPUT.parquet.jsonl (needs rubric-judge[data])")
    columns = parser.add_argument_group("input columns (datasets name their fields differently)")
    for name in ("id", "prompt", "response", "rubric", "reference"):
        columns.add_argument(f"--{name}-column", metavar="COLUMN", default=name, help=f"the column holding the item's {name} (default %(default)s)")
    parser.add_argument("--threshold", type=number(0, 1), help="P(yes) at which a criterion is met (default: the calibration's, else 0.5)")
    parser.add_argument("--calibration", type=Path, metavar="FILE", help="apply a calibration of this judge's P(yes) (from `rubric calibrate`)")
    parser.add_argument("--no-gate", action="store_true", help="do not cap the score when a hard rule fails")
    parser.add_argument("--no-guard", action="store_true", help="send content-free responses to the judge too (off: they fail)")
    parser.add_argument("--semantic-guard", action="store_true", help="the guard also reads sentence meaning: catches filler the rules "
                        "miss, but rejects more genuine short answers (README; needs rubric-judge[generate])")
    parser.add_argument("--reasoning", choices=["exclude", "include"], default=_DEFAULTS["reasoning"],
                        help="a reasoning model's <think>…</think>: judge the answer after it (exclude, default) or the whole text")
    parser.add_argument("--only-tags", metavar="TAG,...", help="judge only criteria with one of these tags; skip the rest")
    parser.add_argument("--batch-size", type=integer(1), default=_DEFAULTS["batch_size"], help="questions per backend call (default %(default)s)")
    parser.add_argument("--concurrency", type=integer(1), help="API models: requests in flight (default 16); local models: batches in flight (default 4)")
    parser.add_argument("--request-shape", choices=["per-criterion", "generated", "batched"], default="per-criterion",
                        help="one yes/no request per criterion (P(yes), default); a generated verdict per criterion (reasoning, then "
                        "the decision; local models decode it under its grammar); or one request per response labelling every criterion")
    parser.add_argument("--batch", action="store_true", help="openai/ and anthropic/ models: send the questions first as one provider "
                        "batch job (about half the price, answers within 24 h); its id is kept in OUTPUT.batches.json, so a rerun "
                        "resumes polling it; what the job could not answer is asked synchronously")
    parser.add_argument("--batch-poll", type=number(0, above=True), default=30.0, metavar="SECONDS", help="--batch: seconds between polls (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    ray = parser.add_argument_group("Ray engine (rubric-judge[ray]): --output is then a folder of shards, parquet (or JSON lines when named *.jsonl)")
    ray.add_argument("--engine", choices=["local", "ray"], default="local", help="judge in this process (default), or as a Ray Data "
                     "pipeline on an autoscaling actor pool, resumed by Ray Data's checkpointing (by id)")
    ray.add_argument("--ray-address", metavar="ADDRESS", help="join this Ray cluster (e.g. ray://head:10001 or auto); default: start a local one")
    ray.add_argument("--actors", type=parse_actors, default=(1, 1), metavar="N|MIN,MAX", help="judge actors: a fixed number, or the "
                     "autoscaling pool's bounds (default 1); an API model's rpm/tpm budget is split by MAX")
    ray.add_argument("--cpus-per-actor", type=number(0), default=1.0, metavar="N", help="CPUs each actor reserves (default %(default)s; less for API judges)")
    ray.add_argument("--gpus-per-actor", type=number(0), default=0.0, metavar="N", help="GPUs each actor reserves, for local models (default 0)")
    ray.add_argument("--ray-batch-rows", type=integer(1), default=64, metavar="N", help="rows an actor judges per batch (default %(default)s)")


def parse_actors(value: str) -> tuple[int, int]:
    """``--actors N`` or ``--actors MIN,MAX``."""
    try:
        low, _, high = value.partition(",")
        actors = (int(low), int(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--actors takes N or MIN,MAX (whole numbers), not {value!r}") from None
    if not 1 <= actors[0] <= actors[1]:
        raise argparse.ArgumentTypeError(f"--actors MIN,MAX needs 1 <= MIN <= MAX, not {value!r}")
    return actors


def columns_from(args: argparse.Namespace) -> Columns:
    return Columns(**{name: getattr(args, f"{name}_column") for name in ("id", "prompt", "response", "rubric", "reference")})


def only_tags(args: argparse.Namespace) -> set[str] | None:
    return set(args.only_tags.split(",")) if args.only_tags else None


def judge_from(args: argparse.Namespace, backends: Backend | list[Backend]) -> Judge | Jury:
    """The engine the flags describe (a jury for several backends), calls in flight worked out per backend."""
    if isinstance(backends, list) and len(backends) > 1:
        if args.calibration:
            raise ValueError("--calibration is fitted for one judge; a jury takes none (calibrate each model, or judge without)")
        return Jury([judge_from(args, backend) for backend in backends], args.jury)
    backend = backends[0] if isinstance(backends, list) else backends
    tags = only_tags(args)
    include: Callable[[Criterion], bool] | None = (lambda c: bool(tags & set(c.tags))) if tags else None
    settings: dict[str, Any] = {
        "threshold": args.threshold, "gate": not args.no_gate, "guard": False if args.no_guard else "semantic" if args.semantic_guard else True, "include": include,
        "batch_size": args.batch_size, "concurrency": calls_in_flight(backend, args.batch_size, args.concurrency),
        "request_shape": args.request_shape.replace("-", "_"), "reasoning": args.reasoning,
    }
    return Judge(backend, calibration=Calibration.of(args.calibration), **settings)
