"""GRPO with rubric rewards: what the runs of examples/grpo/ measured, as a table, curves and summary.json.

Reads the run folders the recipe wrote (examples/grpo/README.md): the verifiable arm's
held-out evaluations before and after training (``eval-before``, ``eval-after``: per-prompt
pass and score), its step log, and the step logs of judged-arm runs; writes
``bench/results/grpo/`` (``summary.json``, ``table.txt``, PNG curves). The pass-rate difference
gets a paired bootstrap 95% interval (prompts resampled, 10,000 draws, seeded).

    python bench/grpo.py --runs DIR [--judged NAME=RUN_DIR ...] [--out bench/results/grpo]
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

DRAWS = 10_000


def steps(run: Path) -> list[dict[str, Any]]:
    path = run / "steps.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def paired_bootstrap(before: dict[str, bool], after: dict[str, bool], seed: int = 0) -> tuple[float, float]:
    """The 95% interval of the pass-rate difference (after - before), prompts resampled in pairs."""
    ids = sorted(set(before) & set(after))
    rng = random.Random(seed)
    diffs = []
    for _ in range(DRAWS):
        sample = [rng.choice(ids) for _ in ids]
        diffs.append(sum(after[i] - before[i] for i in sample) / len(sample))
    diffs.sort()
    return diffs[int(0.025 * DRAWS)], diffs[int(0.975 * DRAWS) - 1]


def per_kind(prompts: Path, before: dict[str, bool], after: dict[str, bool]) -> dict[str, dict[str, float]]:
    """Pass rates before and after by constraint kind (a prompt counts under each of its kinds)."""
    kinds: dict[str, list[str]] = defaultdict(list)
    for line in prompts.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for kind in row["kinds"]:
            if row["id"] in before and row["id"] in after:
                kinds[kind].append(row["id"])
    return {
        kind: {
            "n": len(ids),
            "before": sum(before[i] for i in ids) / len(ids),
            "after": sum(after[i] for i in ids) / len(ids),
        }
        for kind, ids in sorted(kinds.items())
    }


def verifiable(runs: Path) -> dict[str, Any]:
    before = json.loads((runs / "eval-before" / "per_prompt.json").read_text())
    after = json.loads((runs / "eval-after" / "per_prompt.json").read_text())
    log = steps(runs / "verifiable")
    share = [
        s["rubric_reward/seconds"] / s["step_time"] for s in log if "rubric_reward/seconds" in s and s.get("step_time")
    ]
    n = len(set(before["passed"]) & set(after["passed"]))
    return {
        "steps": max((s["step"] for s in log), default=0),
        "heldout_n": n,
        "pass_before": sum(before["passed"].values()) / len(before["passed"]),
        "pass_after": sum(after["passed"].values()) / len(after["passed"]),
        "pass_diff_ci95": list(paired_bootstrap(before["passed"], after["passed"])),
        "reward_before": sum(before["score"].values()) / len(before["score"]),
        "reward_after": sum(after["score"].values()) / len(after["score"]),
        "reward_share_of_step": sum(share) / len(share) if share else None,
        "per_kind": per_kind(runs / "heldout.jsonl", before["passed"], after["passed"]),
    }


def judged(run: Path) -> dict[str, Any]:
    log = steps(run)
    per_step = [
        {
            "step": s["step"],
            "judge_reward": s["rewards/rubric_reward/mean"],
            "true_reward": s.get("rewards/truth/mean"),
            "guard_flagged": s.get("guard_flagged"),
            "mean_length": s.get("completions/mean_length"),
        }
        for s in log
    ]
    return {"steps": max((s["step"] for s in log), default=0), "per_step": per_step}


def table(summary: dict[str, Any]) -> str:
    v = summary["arms"].get("verifiable")
    lines = []
    if v:
        lo, hi = v["pass_diff_ci95"]
        lines += [
            f"verifiable arm: {v['steps']} steps, {v['heldout_n']} held-out IFEval prompts (greedy)",
            f"  pass rate {v['pass_before']:.3f} -> {v['pass_after']:.3f}  (difference 95% CI [{lo:+.3f}, {hi:+.3f}])",
            f"  mean reward {v['reward_before']:.3f} -> {v['reward_after']:.3f}",
            "  by kind: "
            + "; ".join(f"{k} {d['before']:.2f}->{d['after']:.2f} (n={d['n']})" for k, d in v["per_kind"].items()),
        ]
    for name, arm in summary["arms"].get("judged", {}).items():
        first, last = arm["per_step"][:10], arm["per_step"][-10:]

        def mean(rows: list[dict[str, Any]], key: str) -> float:
            values = [r[key] for r in rows if r[key] is not None]
            return sum(values) / len(values) if values else float("nan")

        lines.append(
            f"judged arm, {name}: {arm['steps']} steps; first 10 -> last 10 steps: judge reward "
            f"{mean(first, 'judge_reward'):.3f} -> {mean(last, 'judge_reward'):.3f}, truth "
            f"{mean(first, 'true_reward'):.3f} -> {mean(last, 'true_reward'):.3f}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs",
        type=Path,
        required=True,
        help="the recipe's folder (eval-before, eval-after, verifiable/, heldout.jsonl)",
    )
    parser.add_argument("--judged", action="append", default=[], metavar="NAME=RUN_DIR", help="a judged-arm run")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "grpo")
    args = parser.parse_args()
    summary: dict[str, Any] = {"arms": {}}
    if (args.runs / "eval-after").exists():
        summary["arms"]["verifiable"] = verifiable(args.runs)
    if args.judged:
        summary["arms"]["judged"] = {
            name: judged(Path(run)) for name, run in (item.split("=", 1) for item in args.judged)
        }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    text = table(summary)
    (args.out / "table.txt").write_text(text, encoding="utf-8")
    print(text, end="")


if __name__ == "__main__":
    main()
