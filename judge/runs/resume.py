"""Resuming a run only where the earlier records belong to it.

A resumable run (``rubric judge``, ``pairwise``, ``eval``, ``generate``) writes one record
per item, each carrying what it depends on: ``run`` (the settings that shape every record:
backend identity, threshold, template version, rubric ...) and ``input_hash`` (a digest of
the item's own content: prompt, responses, reference, its rubric). A rerun reuses a record
only when both match what the run would write now; any difference stops the run with a
message that names it, so a verdict of another model, rubric or input is never passed off
as this run's. Records of ids the current input does not hold are left in the file and out
of the summary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


class ResumeMismatch(ValueError):
    """The output holds records made by another run; the message names the difference."""


def digest(value: Any) -> str:
    """A short stable digest of any JSON-able value (dict keys sorted)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _plain(value: Any) -> Any:
    """JSON for what json cannot write: pydantic models and dataclasses by their fields."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def normalised(value: Any) -> Any:
    """The value as it reads back from a JSON line (tuples become lists, models dicts)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=_plain))


def differences(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    keys = sorted(set(before) | set(now), key=lambda k: (k != "model", k))
    return [f"{k} {before.get(k)!r} -> {now.get(k)!r}" for k in keys if before.get(k) != now.get(k)]


def matching(
    path: str | Path,
    previous: Iterable[dict[str, Any]],
    run: dict[str, Any],
    hashes: Mapping[str, str],
    *,
    what: str = "verdict",
) -> dict[str, dict[str, Any]]:
    """The earlier records (by item id) that this run can keep: those of ids in ``hashes``
    (the current input, id -> input_hash). Raises ResumeMismatch at the first record made
    with other settings or on other input."""
    run = normalised(run)
    kept: dict[str, dict[str, Any]] = {}
    hint = "pass --overwrite to judge everything again, or another --output"
    for record in previous:
        item = str(record.get("item_id"))
        if item not in hashes:
            continue
        earlier = record.get("run")
        if not isinstance(earlier, dict):
            raise ResumeMismatch(
                f"{path}: the {what} of {item!r} records no run settings (an older version wrote it); {hint}"
            )
        if earlier != run:
            changes = "; ".join(differences(earlier, run))
            raise ResumeMismatch(f"{path}: holds {what}s of another run ({changes}); {hint}")
        if record.get("input_hash") != hashes[item]:
            raise ResumeMismatch(
                f"{path}: the {what} of {item!r} was made for other input than this run reads for that id; {hint}"
            )
        kept[item] = record
    return kept


def refuse_same_file(input_path: str | Path, output_path: str | Path) -> None:
    """--output must not be --input: appending verdicts to the input would destroy it."""
    given, out = Path(input_path), Path(output_path)
    same = given.absolute() == out.absolute() or (given.exists() and out.exists() and given.samefile(out))
    if same:
        raise ValueError(f"--output {output_path} is the input file; write the output elsewhere")
