"""RoSE: nugget scores from `rubric judge` against human nugget recall (ACU scores).

For each of 100 CNN/DM examples x 4 system summaries, the human-written reference nuggets
(ACUs) become a rubric of ``kind: nugget`` criteria and the summary is judged by `rubric
judge`, as a user would run it: each nugget is matched in code (judge/checks/nuggets.py) and
only the unsure ones reach the model, here scripted three ways (absent, half, present) so
that the rows show what code alone decides, or ``--model SPEC`` for a real judge. The
score is correlated with the annotators' ``acu`` score beside two lexical baselines
computed here: plain stemmed content-word recall (a nugget counts when at least 70% of its
Snowball-stemmed non-stop words appear) and ROUGE-1 recall against the nuggets.
Correlations: Pearson, Spearman and Kendall over all 400 summaries, and the mean
per-example Kendall (ranking the 4 systems of one article).

    python bench/rose_nuggets.py [--data FILE] [--model SPEC]
    (data: the registered RoSE file, from $RUBRIC_JUDGE_DATA or downloaded)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import snowballstemmer  # noqa: E402

from judge.checks.nuggets import STOPWORDS  # noqa: E402
from judge.eval import datasets  # noqa: E402

SYSTEMS = ("gpt3", "t0", "bart", "brio")


def rouge1_recall(summary: str, reference: str) -> float:
    """Unigram recall with clipped counts (lowercased alphanumeric tokens)."""
    ref = Counter(re.findall(r"[a-z0-9]+", reference.lower()))
    got = Counter(re.findall(r"[a-z0-9]+", summary.lower()))
    return sum(min(n, got[t]) for t, n in ref.items()) / max(1, sum(ref.values()))


def stemmed_recall(summary: str, nuggets: list[str], share: float = 0.7) -> float:
    """The plain baseline: the fraction of nuggets with >= share of their stemmed content words in the summary."""
    stem = snowballstemmer.stemmer("english").stemWords

    def words(text: str) -> list[str]:
        return stem([w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS])

    have = set(words(summary))
    counted = [sum(w in have for w in ws) / len(ws) >= share for ws in map(words, nuggets) if ws]
    return sum(counted) / max(1, len(counted))


def correlations(metric: list[float], human: list[float], groups: list[int]) -> dict[str, float]:
    per_example = []
    for group in sorted(set(groups)):
        rows = [i for i, g in enumerate(groups) if g == group]
        tau = stats.kendalltau([metric[i] for i in rows], [human[i] for i in rows]).statistic
        if not np.isnan(tau):
            per_example.append(tau)
    return {
        "pearson": stats.pearsonr(metric, human).statistic,
        "spearman": stats.spearmanr(metric, human).statistic,
        "kendall": stats.kendalltau(metric, human).statistic,
        "per-example kendall": float(np.mean(per_example)),
    }


def half_script() -> Path:
    path = Path(tempfile.mkdtemp()) / "half.yaml"
    path.write_text("default_p_yes: 0.5\n")
    return path


def judged_scores(examples: list[dict], model: str) -> list[float]:
    """Each summary judged by `rubric judge` against its example's nuggets (kind: nugget,
    matched in code; the unsure ones go to ``model``), in the order of the other metrics."""
    folder = Path(tempfile.mkdtemp())
    source, output = folder / "summaries.jsonl", folder / "verdicts.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for number, example in enumerate(examples):
            criteria = [{"id": f"n{k}", "text": text, "kind": "nugget"} for k, text in enumerate(example["reference_acus"])]
            for system in SYSTEMS:
                handle.write(json.dumps({"id": f"{number}:{system}", "prompt": "Summarise the article.",
                                         "response": example["system_outputs"][system], "rubric": {"id": f"acus-{number}", "criteria": criteria}}) + "\n")
    command = [sys.executable, str(Path(__file__).resolve().parents[1] / "cli.py"), "judge", "--input", str(source),
               "--output", str(output), "--model", model, "--no-cache", "--quiet", "--no-guard"]
    subprocess.run(command, check=True, capture_output=True)
    scores = {r["id"]: r["score"] for r in map(json.loads, output.read_text(encoding="utf-8").splitlines())}
    return [scores[f"{number}:{system}"] for number in range(len(examples)) for system in SYSTEMS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="protocol-comparison-llm.json (default: the registered copy)")
    parser.add_argument("--model", help="also judge the unsure nuggets with this model spec (for example local:PATH.gguf)")
    args = parser.parse_args(argv)
    data = args.data or datasets.locate("rose_acu_nuggets/protocol-comparison-llm.json")
    examples = json.loads(data.read_text(encoding="utf-8"))
    stemmed, rouge, human, groups = [], [], [], []
    for number, example in enumerate(examples):
        nuggets = example["reference_acus"]
        for system in SYSTEMS:
            summary = example["system_outputs"][system]
            stemmed.append(stemmed_recall(summary, nuggets))
            rouge.append(rouge1_recall(summary, " ".join(nuggets)))
            human.append(example["annotations"][system]["acu"])
            groups.append(number)
    judges = [("absent (fake:no)", "fake:no"), ("half (P(yes) 0.5)", "fake:script:" + str(half_script())), ("present (fake:yes)", "fake:yes")]
    if args.model:
        judges.append((f"asked of {args.model}", args.model))
    rows = {f"rubric judge, nugget rubrics, unsure nuggets {label}": correlations(judged_scores(examples, model), human, groups)
            for label, model in judges}
    rows["plain stemmed content-word recall (>= 70%)"] = correlations(stemmed, human, groups)
    rows["ROUGE-1 recall vs the nuggets"] = correlations(rouge, human, groups)
    print(f"RoSE protocol-comparison-llm: {len(examples)} examples x {len(SYSTEMS)} systems = {len(human)} summaries, "
          f"{sum(len(e['reference_acus']) for e in examples)} nuggets; correlation with human ACU recall")
    print(f"{'metric':66} {'pearson':>8} {'spearman':>9} {'kendall':>8} {'per-ex tau':>11}")
    for name, r in rows.items():
        print(f"{name:66} {r['pearson']:8.3f} {r['spearman']:9.3f} {r['kendall']:8.3f} {r['per-example kendall']:11.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
