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


def paired_bootstrap(before: dict[Any, float], after: dict[Any, float], seed: int = 0) -> tuple[float, float]:
    """The 95% interval of the mean difference (after - before), pairs resampled: held-out
    prompts' pass (0/1) before and after, or two runs' truth at the same training step."""
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


FEATURES = ("markdown_share", "filler_mean", "repeated_mean", "words_mean")


def completions(run: Path) -> list[dict[str, Any]]:
    path = run / "completions.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def samples(rows: list[dict[str, Any]], step: int, n: int = 4) -> list[dict[str, Any]]:
    """The first ``n`` completions of a step, with the judge's reward and the truth."""
    keep = ("completion", "reward", "truth", "guard_flagged")
    return [{k: r.get(k) for k in keep} for r in rows if r["step"] == step][:n]


def judged(run: Path) -> dict[str, Any]:
    log = list({s["step"]: s for s in steps(run)}.values())  # a resumed run logs a step again: keep the last
    per_step = [
        {
            "step": s["step"],
            "judge_reward": s["rewards/rubric_reward/mean"],
            "true_reward": s.get("rewards/truth/mean"),
            "guard_flagged": s.get("guard_flagged"),
            "mean_length": s.get("completions/mean_length"),
            "reward_seconds": s.get("rubric_reward/seconds"),
            "step_seconds": s.get("step_time"),
            **{k: s.get(k) for k in FEATURES},
        }
        for s in log
    ]
    rows = completions(run)
    config = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    last = max((s["step"] for s in log), default=0)
    return {
        "judge": config.get("judge"),
        "guard": config.get("guard"),
        "view": config.get("view", False),  # runs from before the view have no such key
        "calibration": config.get("calibration"),
        "steps": last,
        "per_step": per_step,
        "samples_first": samples(rows, 1),
        "samples_last": samples(rows, last),
    }


def mean(values: list[Any]) -> float:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("nan")


def correlation(rows: list[dict[str, Any]]) -> float | None:
    """Pearson correlation of the judge's reward and the truth over completions."""
    pairs = [(r["reward"], r["truth"]) for r in rows if r["reward"] is not None and r["truth"] is not None]
    if len(pairs) < 3:
        return None
    xs, ys = zip(*pairs)
    mx, my = mean(list(xs)), mean(list(ys))
    sxy = sum((x - mx) * (y - my) for x, y in pairs)
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / (sxx * syy) ** 0.5 if sxx and syy else None


def auroc(rows: list[dict[str, Any]]) -> float | None:
    """How well the judge's reward ranks completions meeting every constraint above those meeting none."""
    met = [r["reward"] for r in rows if r["truth"] == 1.0 and r["reward"] is not None]
    missed = [r["reward"] for r in rows if r["truth"] == 0.0 and r["reward"] is not None]
    if not met or not missed:
        return None
    return sum((a > b) + 0.5 * (a == b) for a in met for b in missed) / (len(met) * len(missed))


def windows(arm: dict[str, Any], rows: list[dict[str, Any]], size: int = 10) -> dict[str, dict[str, Any]]:
    """The first and last ``size`` steps: rewards, the judge-truth correlation, features."""
    out = {}
    for name, part in (("first", arm["per_step"][:size]), ("last", arm["per_step"][-size:])):
        chosen = {p["step"] for p in part}
        out[name] = {
            "steps": [min(chosen, default=0), max(chosen, default=0)],
            **{k: mean([p[k] for p in part]) for k in ("judge_reward", "true_reward", "guard_flagged", "mean_length")},
            **{k: mean([p[k] for p in part]) for k in FEATURES},
            "judge_truth_correlation": correlation([r for r in rows if r["step"] in chosen]),
            "judge_truth_auroc": auroc([r for r in rows if r["step"] in chosen]),
        }
    return out


def paired_runs(judged_arms: dict[str, Any]) -> list[dict[str, Any]]:
    """Each judged run against the first run of the same judge with as many steps: the same
    seed and prompts step for step, so the truth's difference per step is paired (windows of
    one run see different prompts, whose constraints differ in difficulty)."""
    out = []
    names = list(judged_arms)
    for at, name in enumerate(names):
        arm = judged_arms[name]
        base = next(
            (
                b
                for b in names[:at]
                if judged_arms[b]["judge"] == arm["judge"] and judged_arms[b]["steps"] == arm["steps"]
            ),
            None,
        )
        if base is None:
            continue
        truth = {n: {p["step"]: p["true_reward"] for p in judged_arms[n]["per_step"]} for n in (base, name)}
        common = sorted(set(truth[base]) & set(truth[name]))
        diff = mean([truth[name][s] - truth[base][s] for s in common])
        out.append(
            {
                "run": name,
                "against": base,
                "steps": len(common),
                "truth_difference": diff,
                "ci95": list(
                    paired_bootstrap({s: truth[base][s] for s in common}, {s: truth[name][s] for s in common})
                ),
            }
        )
    return out


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
        if "answers" in v:
            b, a = v["answers"]["before"], v["answers"]["after"]
            lines.append("  held-out answers before -> after: " + "; ".join(f"{k} {b[k]:.2f}->{a[k]:.2f}" for k in b))
    for name, arm in summary["arms"].get("judged", {}).items():
        w = arm["windows"]
        every = arm["per_step"]
        lines.append(
            f"judged arm, {name} (judge {arm['judge']}, guard {'on' if arm['guard'] else 'off'}, "
            f"view {'on' if arm['view'] else 'off'}{', calibrated' if arm.get('calibration') else ''}): {arm['steps']} steps"
        )
        lines.append(
            f"  all {len(every)} steps: judge reward {mean([p['judge_reward'] for p in every]):.3f}, truth "
            f"{mean([p['true_reward'] for p in every]):.3f}"
        )
        for label in ("first", "last") if w["first"]["steps"] != w["last"]["steps"] else ("first",):
            x = w[label]
            corr, area = x["judge_truth_correlation"], x["judge_truth_auroc"]
            lines.append(
                f"  steps {x['steps'][0]}-{x['steps'][1]}: judge reward {x['judge_reward']:.3f}, truth "
                f"{x['true_reward']:.3f}, judge-truth r {'n/a' if corr is None else f'{corr:+.2f}'}, AUROC (all met vs none) "
                f"{'n/a' if area is None else f'{area:.2f}'}, guard flagged "
                f"{x['guard_flagged']:.2f}, words {x['words_mean']:.1f}, markdown {x['markdown_share']:.2f}, filler "
                f"{x['filler_mean']:.2f}, repeated 3-grams {x['repeated_mean']:.2f}"
            )
        for label in ("first", "last"):
            for sample in arm[f"samples_{label}"][:3]:
                lines.append(
                    f"    {label} step: judge {sample['reward']:.2f} truth {sample['truth']:.2f} "
                    f"{sample['completion'][:90]!r}"
                )
    for pair in summary.get("paired_runs", []):
        lo, hi = pair["ci95"]
        lines.append(
            f"{pair['run']} against {pair['against']}, the same prompts step for step ({pair['steps']} steps): "
            f"truth {pair['truth_difference']:+.3f} a step (95% CI [{lo:+.3f}, {hi:+.3f}])"
        )
    cost = summary.get("cost")
    if cost:
        lines.append(f"cost of the reward ({cost['steps']} steps each, judge {cost['judge']}):")
        for kind, row in cost["kinds"].items():
            a, b = row["in_process"], row["served"]
            r = row["served_over_in_process_reward_seconds"]
            lines.append(
                f"  {kind}: in process {a['reward_seconds_mean']:.2f} s of a {a['step_seconds_mean']:.1f} s step "
                f"({a['reward_share_of_step']:.1%}); served {b['reward_seconds_mean']:.2f} s of "
                f"{b['step_seconds_mean']:.1f} s ({b['reward_share_of_step']:.1%}); served/in-process median "
                f"{r['median']:.2f}; server engine calls {row['server']['engine_calls']} for "
                f"{row['server']['requests']} (items per call {row['server']['mean_batch_items']})"
            )
    return "\n".join(lines) + "\n"


def figures(summary: dict[str, Any], runs: Path, out: Path) -> None:
    """PNG curves: the verifiable arm's training reward; each judged run's judge reward and truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def smooth(values: list[float], k: int = 10) -> list[float]:
        return [mean(values[max(0, i - k + 1) : i + 1]) for i in range(len(values))]

    if "verifiable" in summary["arms"]:
        log = steps(runs / "verifiable")
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([s["step"] for s in log], smooth([s["rewards/rubric_reward/mean"] for s in log]), label="reward (code)")
        ax.set(xlabel="GRPO step", ylabel="training reward (10-step mean)", title="Verifiable arm", ylim=(0, 1))
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "verifiable.png", dpi=110)
        plt.close(fig)
    judged_runs = summary["arms"].get("judged", {})
    if judged_runs:
        fig, axes = plt.subplots(1, len(judged_runs), figsize=(4.5 * len(judged_runs), 3.5), squeeze=False)
        for ax, (name, arm) in zip(axes[0], judged_runs.items()):
            x = [p["step"] for p in arm["per_step"]]
            ax.plot(x, smooth([p["judge_reward"] for p in arm["per_step"]]), label="judge's reward")
            ax.plot(x, smooth([p["true_reward"] for p in arm["per_step"]]), label="truth (code)")
            ax.set(xlabel="GRPO step", title=name, ylim=(0, 1))
        axes[0][0].set_ylabel("reward (10-step mean)")
        axes[0][0].legend()
        fig.tight_layout()
        fig.savefig(out / "judged.png", dpi=110)
        plt.close(fig)


def answer_features(path: Path) -> dict[str, float]:
    """What the held-out answers look like: wrapped in quotes, content-free by the guard, words."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "grpo"))
    from features import features

    from judge.hardening.guard import inspect

    answers = [json.loads(line)["response"] for line in path.read_text(encoding="utf-8").splitlines()]
    n = len(answers)
    return {
        "quoted_share": sum(a.startswith('"') for a in answers) / n,
        "content_free_share": sum(inspect(a).content_free for a in answers) / n,
        "words_mean": sum(int(features(a)["words"]) for a in answers) / n,
    }


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
        summary["arms"]["verifiable"]["answers"] = {
            when: answer_features(args.runs / f"eval-{when}" / "answers.jsonl") for when in ("before", "after")
        }
    if args.judged:
        summary["arms"]["judged"] = {}
        for name, run in (item.split("=", 1) for item in args.judged):
            arm = judged(Path(run))
            arm["windows"] = windows(arm, completions(Path(run)))
            summary["arms"]["judged"][name] = arm
        summary["paired_runs"] = paired_runs(summary["arms"]["judged"])
    args.out.mkdir(parents=True, exist_ok=True)
    if (args.out / "cost.json").exists():  # bench/grpo_cost.py
        summary["cost"] = json.loads((args.out / "cost.json").read_text(encoding="utf-8"))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    text = table(summary)
    (args.out / "table.txt").write_text(text, encoding="utf-8")
    figures(summary, args.runs, args.out)
    print(text, end="")


if __name__ == "__main__":
    main()
