"""The labelled judge items the bench scripts share: GSM8K answer criteria and IFEval
constraints in words, as judge input rows with a label per criterion.

GSM8K: each sampled model solution (gsm8k_model_solutions; 4 per question, labelled
``is_correct`` by final-answer matching) with one criterion, "The final answer of the
response is <reference>." (no ``check``: the model judges), balanced between correct and
incorrect solutions, seeded. IFEval: GPT-4's responses, the constraint extractor's specs
in words as criteria (no ``check``), each labelled by the official strict result of the
instruction it matches; responses in a seeded order until enough criteria are taken.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from judge.audit.suite import _final_answer  # noqa: E402
from judge.eval import datasets  # noqa: E402

CRITERION = "answer"


def gsm8k_rows(limit: int, seed: int) -> list[dict]:
    """``limit`` solutions, half correct and half not (as far as the data allows), seeded."""
    path = datasets.locate("gsm8k_model_solutions/example_model_solutions.jsonl")
    solutions = {True: [], False: []}
    for number, line in enumerate(path.open(encoding="utf-8")):
        row = json.loads(line)
        reference = _final_answer(row["ground_truth"])
        for name, value in row.items():
            if isinstance(value, dict) and "solution" in value:
                solutions[bool(value["is_correct"])].append(
                    (f"q{number}:{name}", row["question"], value["solution"], reference)
                )
    rng = random.Random(seed)
    chosen = []
    for correct in (True, False):
        pool = solutions[correct]
        rng.shuffle(pool)
        chosen += [(item, correct) for item in pool[: limit // 2]]
    rng.shuffle(chosen)
    return [
        {
            "id": item_id,
            "prompt": question,
            "response": solution,
            "rubric": {
                "id": "gsm8k-answer",
                "criteria": [{"id": CRITERION, "text": f"The final answer of the response is {reference}."}],
            },
            "labels": {CRITERION: correct},
        }
        for (item_id, question, solution, reference), correct in chosen
    ]


def ifeval_rows(criteria: int, seed: int) -> list[dict]:
    """GPT-4's IFEval responses with the extractor's constraints in words as criteria (no
    check: the model judges), labelled by the official strict result of the instruction
    each matches; responses in a seeded order until ``criteria`` criteria are taken."""
    from ifeval_constraints import canonical, official_specs

    from judge.checks.constraints import describe
    from judge.generate.constraint_extraction import extract

    folder = datasets.locate("ifeval/eval_results_strict.jsonl").parent
    rows = [json.loads(line) for line in (folder / "eval_results_strict.jsonl").open(encoding="utf-8")]
    kwargs = {r["prompt"]: r for r in map(json.loads, (folder / "input_data.jsonl").open(encoding="utf-8"))}
    random.Random(seed).shuffle(rows)
    items: list[dict] = []
    for row in rows:
        official = official_specs(kwargs[row["prompt"]])
        label_of = {
            key: ok
            for spec, ok in zip(official, row["follow_instruction_list"])
            for key in canonical(spec["type"], dict(spec))
        }
        chosen = [
            (spec, [label_of[k] for k in keys])
            for spec in extract(row["prompt"]).specs
            if (keys := canonical(spec["type"], dict(spec))) and all(k in label_of for k in keys)
        ]
        if not chosen:
            continue
        key = kwargs[row["prompt"]]["key"]
        items.append(
            {
                "id": f"ifeval-{key}",
                "prompt": row["prompt"],
                "response": row["response"],
                "rubric": {
                    "id": f"ifeval-{key}",
                    "criteria": [{"id": f"c{i}", "text": describe(spec)} for i, (spec, _) in enumerate(chosen)],
                },
                "labels": {f"c{i}": all(labels) for i, (_, labels) in enumerate(chosen)},
            }
        )
        if sum(len(i["labels"]) for i in items) >= criteria:
            break
    return items
