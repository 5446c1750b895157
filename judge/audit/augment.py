"""Master-RM-style training negatives: real solutions cut to their first sentence.

"One Token to Fool LLM-as-a-Judge" trains a robust judge on such truncations labelled
"not satisfied": they look like the start of a good answer and contain no answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judge.checks.text import first_sentence
from rubrics.records import objects

__all__ = ["first_sentence", "solutions", "truncated_negatives", "write_negatives"]


def solutions(path: str | Path) -> Iterator[tuple[str, str, str]]:
    """(id, prompt, solution) from JSONL: {id?, prompt|question, response|solution} lines, or
    GSM8K's example_model_solutions.jsonl (one row per model solution)."""
    for number, record in objects(path):
        prompt = record.get("prompt", record.get("question"))
        if not isinstance(prompt, str):
            raise ValueError(f"{path}:{number}: needs a string 'prompt' or 'question'")
        base = str(record.get("id", f"line-{number}"))
        nested = {k: v for k, v in record.items() if isinstance(v, dict) and isinstance(v.get("solution"), str)}
        if nested:
            for name, value in nested.items():
                yield f"{base}:{name}", prompt, value["solution"]
            continue
        response = record.get("response", record.get("solution"))
        if not isinstance(response, str):
            raise ValueError(f"{path}:{number}: needs a string 'response' or 'solution'")
        yield base, prompt, response


def truncated_negatives(path: str | Path) -> Iterator[dict[str, Any]]:
    for item_id, prompt, solution in solutions(path):
        truncated = first_sentence(solution)
        if truncated and truncated != solution.strip():
            yield {
                "id": f"{item_id}:first-sentence",
                "prompt": prompt,
                "response": truncated,
                "label": "not_satisfied",
                "source_id": item_id,
                "augmentation": "truncate-first-sentence",
            }


def write_negatives(source: str | Path, output: str | Path) -> int:
    """Write the first-sentence negatives of ``source`` to ``output`` (JSONL); how many."""
    count = 0
    with Path(output).open("w", encoding="utf-8") as handle:
        for record in truncated_negatives(source):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
