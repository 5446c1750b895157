"""Judging a Ray Data dataset: a judge built once per actor of an autoscaling pool, rows in,
verdict rows out (``judge_dataset``, the Python API; ``rubric judge --engine ray`` is built
on it in judge/runs/ray_run.py).

A row never raises inside the pool: a row that cannot be read or judged comes out as an
unscored verdict with the reason, so one bad prompt cannot stop a million-row job. What does
raise there (an actor that dies) is retried by Ray. ``ray`` is an optional extra, imported
only when a Ray run starts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from judge.engine import Evaluates, JudgeItem
from judge.extras import module
from judge.runs.files import item_hash
from rubrics.records import Problem
from judge.runs.inputs import parse_line
from judge.runs.parquet_output import row as parquet_row
from judge.runs.parquet_output import schema as parquet_schema
from judge.runs.sources import Columns
from judge.verdict import Verdict
from rubrics.records import message_of
from judge.rubric_lookup import RubricSource

FORMATS = ("parquet", "jsonl")


def ray_module() -> Any:
    module("ray", "ray.data")
    return module("ray", "ray")


def split_budget(spec: str, actors: int) -> str:
    """An API model spec whose rpm/tpm budget is shared by ``actors`` actors: each gets its
    part (by the pool's largest size, so the pool never goes over the budget)."""
    name, sep, query = spec.partition("?")
    if not sep or actors <= 1:
        return spec
    options = dict(parse_qsl(query, keep_blank_values=True))
    for key in ("rpm", "tpm"):
        if key in options:
            options[key] = f"{float(options[key]) / actors:g}"
    return f"{name}?{urlencode(options, safe='/:')}"


@dataclass(frozen=True)
class JudgeSpec:
    """What each actor builds its judge from (sent to the actors, so no model in it)."""

    make_judge: Callable[[], Evaluates]  # called once per actor: loads the backend there
    rubric: Any = None  # the --rubric value: a file, a library name, or a rubric value
    columns: Columns = Columns()
    output: str = "parquet"  # rows of the parquet schema, or {id, line} for JSON lines
    run: dict[str, Any] = field(default_factory=dict)  # the run settings stamped on each verdict


class JudgeRows:
    """The pool's stateful function: the judge and rubrics built once, then batch after batch."""

    def __init__(self, spec: JudgeSpec):
        self.spec = spec
        self.judge = spec.make_judge()
        self.rubrics = RubricSource.from_option(spec.rubric)
        self.loop = asyncio.new_event_loop()  # one loop for the actor's life: API clients stay bound to it

    def __call__(self, batch: Any) -> Any:
        records = self.loop.run_until_complete(self.judge_rows(batch.to_pylist()))
        return table(records, self.spec.output)

    async def judge_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One verdict record per row, in order; failures are unscored records, never raised."""
        out: list[dict[str, Any] | None] = [None] * len(rows)
        items: dict[str, tuple[int, JudgeItem]] = {}
        for index, row in enumerate(rows):
            parsed = self.item(row)
            if isinstance(parsed, str):
                out[index] = self.unscored(row_id(row, self.spec.columns), parsed)
            else:  # the position is the engine's id, so rows sharing an id stay apart
                items[str(index)] = (index, parsed)
        try:
            todo = [replace(item, id=key) for key, (_, item) in items.items()]
            async for verdict in self.judge.aevaluate_many(todo):
                index, item = items.pop(verdict.item_id)
                out[index] = self.stamp(verdict.model_copy(update={"item_id": item.id}), item)
        except Exception as e:  # not one row's doing (the judge itself failed): the rows left are unscored, with why
            for index, item in items.values():
                out[index] = self.unscored(item.id, f"the judge failed: {type(e).__name__}: {message_of(e)}")
        return [record for record in out if record is not None]

    def item(self, row: dict[str, Any]) -> JudgeItem | str:
        """The row as an item, or why it is not one. Rows of the engine's reader carry the
        record as JSON text and their id worked out; a dataset's own rows are the record."""
        try:
            if "record" in row and "error" in row:
                if row["error"] is not None:
                    return row["error"]
                record, number = json.loads(row["record"]), int(row.get("row") or 0)
            else:
                record, number = row, 0
            parsed = parse_line(record, number, self.rubrics, self.spec.columns)
            if isinstance(parsed, Problem):
                return parsed.message
            return replace(parsed, id=row_id(row, self.spec.columns) or parsed.id)
        except Exception as e:  # whatever a row holds, it is that row's verdict, not the job's end
            return f"unreadable row: {type(e).__name__}: {message_of(e)}"

    def stamp(self, verdict: Verdict, item: JudgeItem) -> dict[str, Any]:
        return {
            "id": item.id,
            **verdict.model_dump(mode="json"),
            "run": self.spec.run or None,
            "input_hash": item_hash(item),
        }

    def unscored(self, item_id: str | None, reason: str) -> dict[str, Any]:
        verdict = Verdict(
            item_id=item_id or "",
            rubric_id="",
            model=self.judge.model_label,
            threshold=getattr(self.judge, "threshold", 0.5),
            status="unscored",
            reason=reason,
            results=[],
        )
        return {"id": item_id, **verdict.model_dump(mode="json"), "run": self.spec.run or None, "input_hash": None}


def row_id(row: dict[str, Any], columns: Columns) -> str | None:
    """The id of a row as text: the one the reader worked out, else the id column's."""
    if "record" in row and "error" in row:
        return row.get("id")
    value = row.get(columns.id)
    return None if value is None or isinstance(value, bool) else str(value)


def table(records: list[dict[str, Any]], output: str) -> Any:
    """Verdict records as an Arrow table: the parquet output's fixed schema, or {id, line}."""
    import pyarrow as pa

    if output == "jsonl":
        lines = [json.dumps(r, ensure_ascii=False) for r in records]
        return pa.table(
            {"id": [r["id"] for r in records], "line": lines},
            schema=pa.schema([("id", pa.string()), ("line", pa.string())]),
        )
    return pa.Table.from_pylist([parquet_row(r) for r in records], schema=parquet_schema())


def judge_dataset(
    dataset: Any,
    judge: str | Callable[[], Evaluates] | None = None,
    *,
    rubric: Any = None,
    columns: Columns = Columns(),
    actors: tuple[int, int] = (1, 1),
    cpus_per_actor: float = 1.0,
    gpus_per_actor: float = 0.0,
    batch_rows: int = 64,
    output: str = "parquet",
    run: dict[str, Any] | None = None,
) -> Any:
    """The verdicts of every row of a ``ray.data.Dataset`` as a dataset, one row per input row
    (lazy, like any Ray dataset: write it, or iterate it).

    judge: a model spec (``"openai/gpt-4.1-mini?rpm=600"``: an rpm/tpm budget is split across
    the actors) or a function returning a Judge or Jury, called once in each actor.
    Rows hold ``prompt``, ``response`` and ``id`` (or the columns ``columns`` names), and
    optionally ``rubric``/``rubric_id``/``reference``; ``rubric`` is the default rubric.
    actors: the pool's (min, max) size; output: "parquet" rows (the parquet output's schema)
    or "jsonl" rows (``id`` and the verdict as a JSON ``line``).
    """
    ray = ray_module()
    if output not in FORMATS:
        raise ValueError(f"output must be one of {', '.join(FORMATS)}, not {output!r}")
    low, high = actors
    if not 1 <= low <= high:
        raise ValueError(f"actors must be (min, max) with 1 <= min <= max, not {actors}")
    schema = dataset.schema()
    names = schema.names if schema is not None else []
    if "record" not in names and columns.id not in names:  # the reader's rows carry their id; a dataset's own need one
        raise ValueError(
            f"the dataset has no id column {columns.id!r} (columns: {', '.join(names)}): verdicts are matched to rows, "
            "and runs resumed, by id (name it with columns=Columns(id=...))"
        )
    if judge is None or isinstance(judge, str):
        judge = _spec_judge(split_budget(judge, high) if judge else None)
    spec = JudgeSpec(judge, rubric, columns, output, dict(run or {}))
    return dataset.map_batches(
        JudgeRows,
        fn_constructor_kwargs={"spec": spec},
        batch_format="pyarrow",
        batch_size=batch_rows,
        compute=ray.data.ActorPoolStrategy(min_size=low, max_size=high),
        num_cpus=cpus_per_actor,
        num_gpus=gpus_per_actor or None,
    )


def _spec_judge(spec: str | None) -> Callable[[], Evaluates]:
    def make() -> Evaluates:
        from judge.build import JudgeOptions, build_judge
        from judge.models import open_backend

        return build_judge(JudgeOptions(), open_backend(spec))

    return make
