"""Judges trained from labels against the raw ones, on criterion families the training never saw.

Training rows (written once, seeded):
  - IFEval constraints in words: GPT-4's responses, labelled by the official strict results
    (bench/judge_data.py::ifeval_rows), leaving out the prompts of the GRPO held-out answers;
  - GSM8K answer correctness ("The final answer of the response is N.") on half the
    questions (even question numbers), balanced, plus the negatives `rubric train-judge`
    makes from the correct ones (the answer criterion is the task: phrase alone, quoted
    first sentence, truncation, another question's solution, a refusal).
Held-out families (every judge on the same items):
  - ifbench: IFBench's constraint kinds (bench/ifbench_data.py), none of them IFEval's;
  - llmbar: LLMBar pairs (Natural and Adversarial) made pointwise, "The response follows the
    instruction ..." labelled met for the better response, not met for the worse;
  - gsm8k-heldout: answer correctness on the odd-numbered questions (no training question);
  - grpo-task: the GRPO recipe's untrained held-out answers with the task criterion of
    `--method constraints` (constraints stripped), labelled by hand
    (bench/results/judge_training/grpo_task_labels.jsonl, committed before any training).
Judges: the embedded SmolLM2 raw, with a probe, with a LoRA adapter; the 1.5B measurement
model raw and Platt-calibrated on its own verdicts of a sample of the training rows.

Each stage runs `rubric` as a user would (train-judge, judge, calibrate) into a work
folder and is skipped when its output exists, so a stopped run resumes; `rubric judge`
itself resumes a half-written verdict file. Items per second and peak memory are those of
the `rubric judge` process over all families (run nothing else meanwhile: 2 cores).

    python bench/judge_training.py [--stage data|train|judge|report|all] [--work DIR] [--judges a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from judge.generate.constraint_task import task_criterion  # noqa: E402
from judge_methods import auroc, llmbar_pairs  # noqa: E402
from judge.paths import cache_root  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "judge_training.json"
HAND_LABELS = ROOT / "bench" / "results" / "judge_training" / "grpo_task_labels.jsonl"
GRPO_ANSWERS = ROOT / "bench" / "results" / "grpo" / "runs" / "eval-before" / "answers.jsonl"
FAMILIES = ("grpo-task", "gsm8k-heldout", "llmbar", "ifbench")  # cheapest first: a slow judge reports what it reached
PER_FAMILY = 100  # items per family (criteria for ifbench), the same for every judge
SMOLLM2 = "local:default"
LLMBAR_CRITERION = (
    "The response follows the instruction: it does what was asked, precisely and helpfully, "
    "without adding or leaving out anything the instruction asks for."
)


def qwen_spec() -> str:
    from bench_model import FILE_NAME

    return f"gguf:{cache_root() / 'models' / FILE_NAME}"


def rubric(*argv: str) -> None:
    """`rubric ARGV` (the installed command, as a user runs it); stops the bench if it fails."""
    exe = Path(sys.executable).parent / "rubric"
    started = time.perf_counter()
    done = subprocess.run([str(exe), *argv], cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"rubric {' '.join(argv[:1])} failed ({done.returncode})")
    print(f"  rubric {argv[0]}: {time.perf_counter() - started:.0f} s", flush=True)


def write_rows(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


# -- data -------------------------------------------------------------------------------------------
def gsm8k_split(seed: int) -> tuple[list[dict], list[dict]]:
    """Balanced GSM8K solutions: even question numbers to train, odd ones held out."""
    from judge_data import gsm8k_rows

    rows = gsm8k_rows(100_000, seed)
    train = [r for r in rows if int(r["id"][1:].split(":")[0]) % 2 == 0]
    held = [r for r in rows if int(r["id"][1:].split(":")[0]) % 2 == 1]
    return train, held


def llmbar_rows(limit: int, seed: int) -> list[dict]:
    rows = []
    for pair in llmbar_pairs(limit // 2, seed):
        better = pair.response_a if pair.label == "A" else pair.response_b
        worse = pair.response_b if pair.label == "A" else pair.response_a
        for suffix, response, label in (("better", better, True), ("worse", worse, False)):
            rows.append(
                {
                    "id": f"{pair.id}:{suffix}",
                    "prompt": pair.prompt,
                    "response": response,
                    "rubric": {"id": "llmbar", "criteria": [{"id": "follows", "text": LLMBAR_CRITERION}]},
                    "labels": {"follows": label},
                }
            )
    return rows


def grpo_task_rows() -> list[dict]:
    if not HAND_LABELS.exists():
        print(f"  grpo-task: no hand labels yet ({HAND_LABELS}); the family is left out")
        return []
    labels = {r["id"]: r["on_task"] for r in map(json.loads, HAND_LABELS.open(encoding="utf-8"))}
    rows = []
    for answer in map(json.loads, GRPO_ANSWERS.open(encoding="utf-8")):
        if answer["id"] not in labels:
            continue
        criterion = task_criterion(answer["prompt"], 1.0, gate=False).model_dump(include={"id", "text", "tags"})
        rows.append(
            {
                "id": answer["id"],
                "prompt": answer["prompt"],
                "response": answer["response"],
                "rubric": {"id": "grpo-task", "criteria": [criterion]},
                "labels": {"task": labels[answer["id"]]},
            }
        )
    return rows


def ifbench_family(limit: int, seed: int) -> list[dict]:
    from ifbench_data import ifbench_rows

    rows, left_out = ifbench_rows(limit, seed)
    print(f"  ifbench: {sum(len(r['labels']) for r in rows)} criteria; left out {dict(left_out)}")
    return [{k: v for k, v in r.items() if k != "kinds"} for r in rows]


def stage_data(work: Path, seed: int) -> None:
    from judge_data import ifeval_rows

    data = work / "data"
    if (data / "train.jsonl").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    grpo_ids = {json.loads(line)["id"] for line in GRPO_ANSWERS.open(encoding="utf-8")}
    ifeval = [r for r in ifeval_rows(500, seed) if r["id"] not in grpo_ids]
    gsm_train, gsm_held = gsm8k_split(seed)
    rng = random.Random(seed)
    gsm_train = rng.sample(gsm_train, min(300, len(gsm_train)))
    write_rows(data / "train.jsonl", ifeval + gsm_train)
    write_rows(data / "ifbench.jsonl", ifbench_family(PER_FAMILY, seed))
    write_rows(data / "llmbar.jsonl", llmbar_rows(PER_FAMILY + PER_FAMILY // 4, seed))
    write_rows(data / "gsm8k-heldout.jsonl", rng.sample(gsm_held, PER_FAMILY))
    write_rows(data / "grpo-task.jsonl", grpo_task_rows())
    counts = {p.stem: sum(len(json.loads(line)["labels"]) for line in p.open()) for p in data.glob("*.jsonl")}
    print(f"  data: {counts} labelled criteria")


# -- training ---------------------------------------------------------------------------------------
def stage_train(work: Path, methods: list[str], seed: int) -> None:
    for method in methods:
        out = work / "trained" / method
        if (out / "judge.json").exists():
            continue
        extra = ["--task-criteria", "answer"]
        if method != "probe":  # a pass of every example takes hours here: a seeded sample (issue: under an hour)
            extra += ["--max-examples", "700", "--epochs", "1"]
        rubric("train-judge", "--input", str(work / "data" / "train.jsonl"), "--output", str(out),
               "--method", method, "--model", SMOLLM2, "--seed", str(seed), "--overwrite", *extra)  # fmt: skip
    qwen_calibration = work / "trained" / "qwen-calibration.json"
    if "calibrated" in methods and not qwen_calibration.exists():
        sample = work / "data" / "calibration-sample.jsonl"
        rows = [json.loads(line) for line in (work / "data" / "train.jsonl").open()]
        write_rows(sample, random.Random(seed).sample(rows, 80))
        rubric(
            "calibrate",
            "--input",
            str(sample),
            "--output",
            str(qwen_calibration),
            "--model",
            qwen_spec(),
            "--quiet",
            "--overwrite",
            "--min-labels",
            "1000",
        )  # fmt: skip  (one global map: too few per criterion)


def judges(work: Path) -> dict[str, tuple[str, str]]:
    """name -> (method, model spec): the judges that judge; the calibrated 1.5B maps the raw one's verdicts."""

    def trained(method: str) -> str | None:
        record = work / "trained" / method / "judge.json"
        return json.loads(record.read_text())["model"] if record.exists() else None

    found = {"smollm2-raw": ("raw", SMOLLM2)}
    for method in ("probe", "lora", "sft"):
        if (spec := trained(method)) is not None:
            found[f"smollm2-{method}"] = (method, spec)
    found["qwen1.5b-raw"] = ("raw", qwen_spec())
    return found


def judge_one(work: Path, name: str, spec: str) -> None:
    """Every family with one judge, in this process (its peak memory is the judge's); each
    family's cost is kept as it finishes (families.json), so a slow judge's partial run
    reports what it reached; cost.json once every family is judged."""
    import cli

    out = work / "verdicts" / name
    out.mkdir(parents=True, exist_ok=True)
    costs = json.loads((out / "families.json").read_text()) if (out / "families.json").exists() else {}
    for family in FAMILIES:
        if family in costs:
            continue
        source, target = work / "data" / f"{family}.jsonl", out / f"{family}.jsonl"
        started = time.perf_counter()
        # no judgement cache: a judge's time is its own
        argv = ["judge", "--input", str(source), "--output", str(target), "--model", spec, "--quiet", "--no-cache"]
        if (code := cli.main(argv)) != 0:
            sys.exit(f"{name}/{family}: rubric judge exited {code}")
        costs[family] = {
            "seconds": time.perf_counter() - started,
            "criteria": sum(len(json.loads(line)["labels"]) for line in source.open()),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        (out / "families.json").write_text(json.dumps(costs, indent=1) + "\n")
    (out / "cost.json").write_text(json.dumps(total_cost(costs)) + "\n")


def total_cost(costs: dict[str, dict[str, float]]) -> dict[str, float]:
    return {
        "seconds": sum(c["seconds"] for c in costs.values()),
        "criteria": sum(c["criteria"] for c in costs.values()),
        "rss_mb": max(c["rss_mb"] for c in costs.values()),
    }


def stage_judge(work: Path, only: list[str] | None) -> None:
    for name, (_, spec) in judges(work).items():
        if only and name not in only:
            continue
        if (work / "verdicts" / name / "cost.json").exists():
            continue
        print(f"judging with {name}", flush=True)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--stage", "judge-one", "--work", str(work), "--name", name, "--spec", spec],
            cwd=ROOT,
        )
        if done.returncode != 0:
            sys.exit(f"judging with {name} failed")
        print(f"  {name}: {time.perf_counter() - started:.0f} s", flush=True)


# -- report -----------------------------------------------------------------------------------------
def auroc_interval(scores: list[float], labels: list[bool], seed: int, rounds: int = 1000) -> list[float] | None:
    rng = random.Random(seed)
    values = []
    for _ in range(rounds):
        picks = [rng.randrange(len(scores)) for _ in scores]
        value = auroc([scores[i] for i in picks], [labels[i] for i in picks])
        if value is not None:
            values.append(value)
    if not values:
        return None
    values.sort()
    return [round(values[int(0.025 * len(values))], 3), round(values[int(0.975 * len(values)) - 1], 3)]


def ece(scores: list[float], labels: list[bool], bins: int = 10) -> float:
    total, error = len(scores), 0.0
    for b in range(bins):
        inside = [i for i, s in enumerate(scores) if b / bins <= s < (b + 1) / bins or (b == bins - 1 and s == 1.0)]
        if inside:
            confidence = sum(scores[i] for i in inside) / len(inside)
            accuracy = sum(labels[i] for i in inside) / len(inside)
            error += len(inside) / total * abs(confidence - accuracy)
    return error


def cross_fitted_ece(scores: list[float], labels: list[bool], seed: int, folds: int = 5) -> float | None:
    """ECE once a Platt map is fitted on the family's own labels, each fold mapped by a map of
    the others: what the judge's own calibration (`rubric calibrate` on such labels) can reach."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    y = np.array(labels)
    if min(y.sum(), len(y) - y.sum()) < folds:
        return None
    x = np.log(np.clip(scores, 1e-6, 1 - 1e-6) / (1 - np.clip(scores, 1e-6, 1 - 1e-6))).reshape(-1, 1)
    mapped = np.zeros(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        mapped[test] = LogisticRegression().fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    return round(ece(mapped.tolist(), labels), 3)


def family_figures(work: Path, name: str, family: str, seed: int, calibration: Any = None) -> dict[str, Any] | None:
    """AUROC (with a bootstrap interval), ECE and mean P(yes) of one judge on one family;
    ``calibration``: applied to the raw P(yes) first, as `rubric judge --calibration` does."""
    path = work / "verdicts" / name / f"{family}.jsonl"
    if not path.exists():
        return None
    labels = {}
    for row in map(json.loads, (work / "data" / f"{family}.jsonl").open()):
        for criterion, label in row["labels"].items():
            labels[(row["id"], criterion)] = bool(label)
    scores, truth, unscored = [], [], 0
    for verdict in map(json.loads, path.open()):
        for result in verdict.get("results", []):
            key = (verdict["item_id"], result["criterion_id"])
            if key not in labels:
                continue
            if result.get("p_yes") is None:
                unscored += 1
                continue
            p_yes = float(result["p_yes"])
            scores.append(calibration.apply(result["criterion_id"], p_yes) if calibration is not None else p_yes)
            truth.append(labels[key])
    value = auroc(scores, truth)
    return {
        "n": len(scores),
        "positive": sum(truth),
        "unscored": unscored,
        "auroc": None if value is None else round(value, 3),
        "auroc_ci95": auroc_interval(scores, truth, seed),
        "ece": round(ece(scores, truth), 3),
        "ece_after_own_calibration": cross_fitted_ece(scores, truth, seed),
        "mean_p_yes": round(sum(scores) / len(scores), 3) if scores else None,
    }


def stage_report(work: Path, seed: int) -> dict[str, Any]:
    report: dict[str, Any] = {"judges": {}, "per_family_items": PER_FAMILY}
    for name, (method, _) in judges(work).items():
        folder = work / "verdicts" / name
        if (folder / "cost.json").exists():  # every family judged
            cost, reached = json.loads((folder / "cost.json").read_text()), FAMILIES
        elif (folder / "families.json").exists():  # a partial run: the families it finished
            costs = json.loads((folder / "families.json").read_text())
            cost, reached = total_cost(costs), tuple(costs)
        else:
            continue
        entry: dict[str, Any] = {
            "method": method,
            "base": "Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M)" if name.startswith("qwen") else "SmolLM2-135M-Instruct",
            "train_rows": 0,
            "train_seconds": 0.0,
            "items_per_second": round(cost["criteria"] / cost["seconds"], 3),
            "rss_mb": round(cost["rss_mb"]),
            "families": {},
        }
        record = work / "trained" / method / "judge.json"
        if method in ("probe", "lora", "sft") and record.exists():
            trained = json.loads(record.read_text())
            entry["train_rows"] = trained["examples"]["examples"]
            entry["train_seconds"] = trained["train_seconds"]
            entry["train_result"] = {k: v for k, v in trained["result"].items() if k not in ("folder",)}
        for family in FAMILIES:
            if family in reached and (figures := family_figures(work, name, family, seed)) is not None:
                entry["families"][family] = figures
        report["judges"][name] = entry
    calibration_path = work / "trained" / "qwen-calibration.json"
    if "qwen1.5b-raw" in report["judges"] and calibration_path.exists():
        from judge.calibration import Calibration

        calibration = Calibration.load(calibration_path)
        entry = dict(report["judges"]["qwen1.5b-raw"], method="calibrated", families={})
        entry["train_rows"] = sum(1 for _ in (work / "data" / "calibration-sample.jsonl").open())
        entry["calibration"] = {"id": calibration.id, "fitted_on": "its own verdicts of 80 training rows"}
        for family in report["judges"]["qwen1.5b-raw"]["families"]:
            entry["families"][family] = family_figures(work, "qwen1.5b-raw", family, seed, calibration)
        report["judges"]["qwen1.5b-calibrated"] = entry  # the raw verdicts, mapped: its cost is the raw judge's
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    return report


def table(report: dict[str, Any]) -> str:
    """Markdown: per family AUROC [95% CI], then ECE as judged -> after a cross-fitted Platt map."""
    lines = ["| judge | method | items/s | RSS MB | " + " | ".join(FAMILIES) + " |"]
    lines.append("|" + "---|" * (4 + len(FAMILIES)))
    for name, entry in report["judges"].items():
        cells = []
        for family in FAMILIES:
            f = entry["families"].get(family)
            if not f or f["auroc"] is None:
                cells.append("not run" if not f else "–")
                continue
            low, high = f["auroc_ci95"]
            calibrated = f.get("ece_after_own_calibration")
            after = f" → {calibrated:.2f}" if calibrated is not None else ""
            cells.append(f"**{f['auroc']:.2f}** [{low:.2f}, {high:.2f}]; ECE {f['ece']:.2f}{after}")
        lines.append(
            f"| {name} | {entry['method']} | {entry['items_per_second']} | {entry['rss_mb']} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="all", choices=("data", "train", "judge", "report", "all", "judge-one"))
    parser.add_argument("--work", type=Path, default=cache_root() / "bench" / "judge_training")
    parser.add_argument(
        "--methods", default="probe,lora,calibrated", help="what to train (probe, lora, sft, calibrated)"
    )
    parser.add_argument("--judges", default=None, help="judge only these (names as in the report)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name"), parser.add_argument("--spec")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.stage == "judge-one":
        judge_one(args.work, args.name, args.spec)
        return 0
    if args.stage in ("data", "all"):
        stage_data(args.work, args.seed)
    if args.stage in ("train", "all"):
        stage_train(args.work, args.methods.split(","), args.seed)
    if args.stage in ("judge", "all"):
        stage_judge(args.work, args.judges.split(",") if args.judges else None)
    if args.stage in ("report", "all"):
        stage_report(args.work, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
