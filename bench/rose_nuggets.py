"""RoSE: nugget recall from the embedded matcher against human nugget recall (ACU scores).

For each of 100 CNN/DM examples x 4 system summaries, the human-written reference nuggets
(ACUs) are matched against the summary with rubrics.nuggets.EmbeddedMatcher (no language
model: lexical overlap + all-MiniLM-L6-v2 similarity), and nugget recall is correlated with
the annotators' ``acu`` score. ROUGE-1 recall of the summary against the reference nuggets,
computed here on the same tokens, is the baseline. Correlations: Pearson, Spearman and
Kendall over all 400 summaries, and the mean per-example Kendall (ranking 4 systems).

    python bench/rose_nuggets.py [--data FILE]   (default: the registered RoSE file, from $RUBRIC_JUDGE_DATA or downloaded)
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

from judge.eval import datasets  # noqa: E402
from rubrics.generate.auto_rubric import sentence_embedder  # noqa: E402
from rubrics.generate.nuggets import EmbeddedMatcher  # noqa: E402

SYSTEMS = ("gpt3", "t0", "bart", "brio")


def rouge1_recall(summary: str, reference: str) -> float:
    """Unigram recall with clipped counts (lowercased alphanumeric tokens)."""
    ref = Counter(re.findall(r"[a-z0-9]+", reference.lower()))
    got = Counter(re.findall(r"[a-z0-9]+", summary.lower()))
    return sum(min(n, got[t]) for t, n in ref.items()) / max(1, sum(ref.values()))


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
    parser.add_argument("--embedding-model", help="sentence-transformers id or path (default: the bundled all-MiniLM-L6-v2)")
    args = parser.parse_args(argv)
    data = args.data or datasets.locate("rose_acu_nuggets/protocol-comparison-llm.json")
    examples = json.loads(data.read_text(encoding="utf-8"))
    matcher = EmbeddedMatcher(sentence_embedder(args.embedding_model))
    recall, soft, rouge, human, groups = [], [], [], [], []
    for number, example in enumerate(examples):
        nuggets = example["reference_acus"]
        reference = " ".join(nuggets)
        for system in SYSTEMS:
            summary = example["system_outputs"][system]
            scores = matcher.scores(summary, nuggets)
            labels = [matcher.label_of(float(s)) for s in scores]
            recall.append(sum({"support": 1.0, "partial_support": 0.5}.get(label, 0.0) for label in labels) / len(labels))
            soft.append(float(scores.mean()))
            rouge.append(rouge1_recall(summary, reference))
            human.append(example["annotations"][system]["acu"])
            groups.append(number)
    through_judge = {
        f"rubric judge, nugget rubrics, unsure nuggets {label}": correlations(judged_scores(examples, model), human, groups)
        for label, model in (("absent (fake:no)", "fake:no"), ("half (P(yes) 0.5)", "fake:script:" + str(half_script())),
                             ("present (fake:yes)", "fake:yes"))
    }
    rows = {
        **through_judge,
        "nugget recall (embedded matcher, labels)": correlations(recall, human, groups),
        "mean match score (embedded matcher)": correlations(soft, human, groups),
        "ROUGE-1 recall vs the nuggets": correlations(rouge, human, groups),
    }
    print(f"RoSE protocol-comparison-llm: {len(examples)} examples x {len(SYSTEMS)} systems = {len(human)} summaries, "
          f"{sum(len(e['reference_acus']) for e in examples)} nuggets; correlation with human ACU recall")
    print(f"{'metric':62} {'pearson':>8} {'spearman':>9} {'kendall':>8} {'per-ex tau':>11}")
    for name, r in rows.items():
        print(f"{name:62} {r['pearson']:8.3f} {r['spearman']:9.3f} {r['kendall']:8.3f} {r['per-example kendall']:11.3f}")
    ours, base = rows["rubric judge, nugget rubrics, unsure nuggets absent (fake:no)"], rows["ROUGE-1 recall vs the nuggets"]
    beaten = [k for k in ours if ours[k] > base[k]]
    print(f"nugget recall beats ROUGE-1 recall on {len(beaten)} of {len(ours)} correlations ({', '.join(beaten) or 'none'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
