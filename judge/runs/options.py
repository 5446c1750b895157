"""What `rubric judge` is run with besides the judging itself: the input, the output, the
columns, a provider batch job, the Ray engine; and the command's help.

``RunOptions`` declares these flags (judge/flags.py); the judging options are
judge.build.JudgeOptions and the models judge.models.ModelOptions. ``JUDGE_HELP`` says what
the input lines hold and how the output resumes (with the model specs of judge.backends).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from judge.backends import SPEC_HELP
from judge.flags import OptionError, integer, number, option
from judge.runs.sources import Columns

JUDGE_HELP = (
    """\
input records (JSON lines, or rows of a .json array, parquet, CSV or dataset), one item each:
  {"id": "q1", "prompt": "...", "response": "..."}
  prompt may be a list of {"role", "content"} messages; optional fields:
  "rubric" (inline rubric, list of principles, or HealthBench/RaR items),
  "rubric_id" (a rubric in --rubric or in the library), "reference" (reference answer).
  Without "id" an item is named after its line number.

"""
    + SPEC_HELP
    + """
The output is appended one line per item as soon as it is judged (each line echoes the
input's "id"; "item_id" is its string form, or line-N when the input has none); rerunning
the same command resumes where an interrupted run stopped. A rerun with another model,
rubric, threshold or input stops and names the difference (--overwrite starts afresh);
one run at a time may write an output, and a file no run wrote is never appended to.
"""
)

COLUMNS = "input columns (datasets name their fields differently)"
RAY = "Ray engine (rubric-judge[ray]): --output is then a folder of shards, parquet (or JSON lines when named *.jsonl)"


def parse_actors(value: str) -> tuple[int, int]:
    """``--actors N`` or ``--actors MIN,MAX``."""
    try:
        low, _, high = value.partition(",")
        actors = (int(low), int(high or low))
    except ValueError:
        raise OptionError(f"--actors takes N or MIN,MAX (whole numbers), not {value!r}") from None
    if not 1 <= actors[0] <= actors[1]:
        raise OptionError(f"--actors MIN,MAX needs 1 <= MIN <= MAX, not {value!r}")
    return actors


def _column(name: str) -> str:
    return option(name, f"the column holding the item's {name} (default %(default)s)", group=COLUMNS, metavar="COLUMN")


@dataclass(frozen=True)
class RunOptions:
    """A `rubric judge` run: what it reads and writes, and where it judges."""

    input: Path = option(
        help="responses to judge: JSONL, a .json array, .parquet (or a folder of shards), .csv, a dataset folder "
        "saved with save_to_disk, a Hugging Face dataset hf:NAME[:SPLIT] (default split train; needs "
        "rubric-judge[data]), or - for JSON lines on standard input",
        metavar="FILE|FOLDER|hf:NAME[:SPLIT]",
    )
    output: Path = option(
        help="verdicts: JSONL, appended and resumable; or .parquet, written when the run ends from its "
        "resumable log OUTPUT.parquet.jsonl (needs rubric-judge[data])"
    )
    rubric: str | None = option(None, "rubric file (JSON, JSONL, YAML) or library rubric name", metavar="FILE|NAME")
    id_column: str = _column("id")
    prompt_column: str = _column("prompt")
    response_column: str = _column("response")
    rubric_column: str = _column("rubric")
    reference_column: str = _column("reference")
    batch: bool = option(
        False,
        "openai/ and anthropic/ models: send the questions first as one provider batch job (about half "
        "the price, answers within 24 h); its id is kept in OUTPUT.batches.json, so a rerun resumes polling "
        "it; what the job could not answer is asked synchronously",
    )
    batch_poll: float = option(
        30.0, "--batch: seconds between polls (default %(default)s)", type=number(0, above=True), metavar="SECONDS"
    )
    quiet: bool = option(False, "no progress bar and no summary table")
    overwrite: bool = option(
        False,
        "start the output afresh; by default a rerun resumes, and stops if the output holds records "
        "made with other settings or for other input",
    )
    engine: str = option(
        "local",
        "judge in this process (default), or as a Ray Data pipeline on an autoscaling actor pool, "
        "resumed by Ray Data's checkpointing (by id)",
        group=RAY,
        choices=["local", "ray"],
    )
    ray_address: str | None = option(
        None,
        "join this Ray cluster (e.g. ray://head:10001 or auto); default: start a local one",
        group=RAY,
        metavar="ADDRESS",
    )
    actors: tuple[int, int] = option(
        (1, 1),
        "judge actors: a fixed number, or the autoscaling pool's bounds (default 1); an API "
        "model's rpm/tpm budget is split by MAX",
        group=RAY,
        type=parse_actors,
        metavar="N|MIN,MAX",
    )
    cpus_per_actor: float = option(
        1.0,
        "CPUs each actor reserves (default %(default)s; less for API judges)",
        group=RAY,
        type=number(0),
        metavar="N",
    )
    gpus_per_actor: float = option(
        0.0, "GPUs each actor reserves, for local models (default 0)", group=RAY, type=number(0), metavar="N"
    )
    ray_batch_rows: int = option(
        64, "rows an actor judges per batch (default %(default)s)", group=RAY, type=integer(1), metavar="N"
    )

    @property
    def columns(self) -> Columns:
        return Columns(
            **{name: getattr(self, f"{name}_column") for name in ("id", "prompt", "response", "rubric", "reference")}
        )

    @property
    def progress(self) -> bool | None:
        return False if self.quiet else None
