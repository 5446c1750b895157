"""RoSE: nugget scores from `rubric judge` against human nugget recall (ACU scores).

Each summary's human-written reference nuggets (ACUs) become a rubric of ``kind: nugget``
criteria and the summary is judged by `rubric judge`, as a user would run it: each nugget
is matched in code (judge/checks/nuggets.py) and only the unsure ones reach the model,
here scripted three ways (absent, half, present) so that the rows show what code alone
decides, or ``--model SPEC`` for a real judge. The score is correlated with the
annotators' ``acu`` score beside two lexical baselines computed here: plain stemmed
content-word recall (a nugget counts when at least 70% of its Snowball-stemmed non-stop
words appear) and ROUGE-1 recall against the nuggets. Correlations: Pearson, Spearman and
Kendall over all summaries, and the mean per-example Kendall (ranking one article's
systems). Two sets: protocol-comparison-llm (100 articles x 4 systems: GPT-3, T0, BART,
BRIO), on which the matcher's rules were chosen, and, held out, protocol-comparison (the
same kind of articles x 11 other systems) joined to acu-cnndm-test for its nuggets.

    python bench/rose_nuggets.py [--data-dir DIR] [--model SPEC]
    (data: the registered RoSE files, from --data-dir, $RUBRIC_JUDGE_DATA or downloaded)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Summary:
    article: int
    system: str
    text: str
    nuggets: tuple[str, ...]
    human: float  # the annotators' share of nuggets present (acu)


def llm_set(data_dir: Path | None) -> list[Summary]:
    examples = json.loads(
        datasets.locate("rose_acu_nuggets/protocol-comparison-llm.json", data_dir).read_text(encoding="utf-8")
    )
    return [
        Summary(n, system, e["system_outputs"][system], tuple(e["reference_acus"]), e["annotations"][system]["acu"])
        for n, e in enumerate(examples)
        for system in SYSTEMS
    ]


def held_out_set(data_dir: Path | None) -> list[Summary]:
    """protocol-comparison's summaries with the nuggets of acu-cnndm-test, joined by reference
    text (99 of its 100 articles join); the reference itself ("gold") is left out."""

    def text(name: str) -> list[dict]:
        return json.loads(datasets.locate(f"rose_acu_nuggets/{name}", data_dir).read_text(encoding="utf-8"))

    nuggets = {" ".join(e["reference"].split()): tuple(e["acu"]) for e in text("acu-cnndm-test.json")}
    return [
        Summary(n, system, output, nuggets[key], e["annotations"][system]["acu"])
        for n, e in enumerate(text("protocol-comparison.json"))
        if (key := " ".join(e["reference"].split())) in nuggets
        for system, output in e["system_outputs"].items()
        if system != "gold"
    ]


def judged_scores(summaries: list[Summary], model: str) -> list[float]:
    """Each summary judged by `rubric judge` against its article's nuggets (kind: nugget,
    matched in code; the unsure ones go to ``model``), in the order given."""
    folder = Path(tempfile.mkdtemp())
    source, output = folder / "summaries.jsonl", folder / "verdicts.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for s in summaries:
            criteria = [{"id": f"n{k}", "text": text, "kind": "nugget"} for k, text in enumerate(s.nuggets)]
            handle.write(
                json.dumps(
                    {
                        "id": f"{s.article}:{s.system}",
                        "prompt": "Summarise the article.",
                        "response": s.text,
                        "rubric": {"id": f"acus-{s.article}", "criteria": criteria},
                    }
                )
                + "\n"
            )
    command = [
        sys.executable,
        str(Path(__file__).resolve().parents[1] / "cli.py"),
        "judge",
        "--input",
        str(source),
        "--output",
        str(output),
        "--model",
        model,
        "--quiet",
        "--no-guard",
    ]
    if model.startswith("fake:"):  # a real model's judgements are cached: a rerun resumes them
        command.append("--no-cache")
    subprocess.run(command, check=True, capture_output=True)
    scores = {r["id"]: r["score"] for r in map(json.loads, output.read_text(encoding="utf-8").splitlines())}
    unscored = [key for key, score in scores.items() if score is None]
    if unscored:
        raise SystemExit(
            f"{len(unscored)} summaries could not be scored by {model} (first: {unscored[0]}); see {output}"
        )
    return [scores[f"{s.article}:{s.system}"] for s in summaries]


def table(title: str, summaries: list[Summary], judges: list[tuple[str, str]]) -> None:
    human, groups = [s.human for s in summaries], [s.article for s in summaries]
    rows = {
        f"rubric judge, nugget rubrics, unsure nuggets {label}": correlations(
            judged_scores(summaries, model), human, groups
        )
        for label, model in judges
    }
    rows["plain stemmed content-word recall (>= 70%)"] = correlations(
        [stemmed_recall(s.text, list(s.nuggets)) for s in summaries], human, groups
    )
    rows["ROUGE-1 recall vs the nuggets"] = correlations(
        [rouge1_recall(s.text, " ".join(s.nuggets)) for s in summaries], human, groups
    )
    articles = sorted(set(groups))
    print(
        f"\n{title}: {len(articles)} articles, {len(summaries)} summaries, "
        f"{sum(len(s.nuggets) for s in summaries)} nugget judgements; correlation with human ACU recall"
    )
    print(f"{'metric':66} {'pearson':>8} {'spearman':>9} {'kendall':>8} {'per-ex tau':>11}")
    for name, r in rows.items():
        print(
            f"{name:66} {r['pearson']:8.3f} {r['spearman']:9.3f} {r['kendall']:8.3f} {r['per-example kendall']:11.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="a folder holding rose_acu_nuggets/ (default: $RUBRIC_JUDGE_DATA, else a download)",
    )
    parser.add_argument(
        "--model", help="also judge the unsure nuggets with this model spec (for example local:PATH.gguf)"
    )
    args = parser.parse_args(argv)
    judges = [
        ("absent (fake:no)", "fake:no"),
        ("half (P(yes) 0.5)", "fake:script:" + str(half_script())),
        ("present (fake:yes)", "fake:yes"),
    ]
    if args.model:
        judges.append((f"asked of {args.model}", args.model))
    table(
        "RoSE protocol-comparison-llm (GPT-3, T0, BART, BRIO; the rules were chosen here)",
        llm_set(args.data_dir),
        judges,
    )
    table("RoSE protocol-comparison x acu-cnndm-test (11 other systems; held out)", held_out_set(args.data_dir), judges)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
