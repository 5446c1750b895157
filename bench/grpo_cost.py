"""What the rubric reward costs a GRPO step, in process and through `rubric serve`.

Runs examples/grpo/train.py for ``--steps`` steps four ways on the same machine, one after
another: code-checked rubrics (the verifiable arm) and model-judged ones (the judged arm,
the embedded SmolLM2 by default), each with the reward computed in the training process and
through a `rubric serve` started with the same judge (``--reward-server``). The seed is the
same, and the rewards are the same, so the two runs of a kind generate the same completions
step for step: the pairs differ only in where the reward is computed. Prints and writes
(``--out``, default bench/results/grpo/cost.json) per run the mean step time, the reward's
seconds and share of the step, and per kind the served/in-process ratio of reward seconds,
step by step; and what the server counted: engine calls and items per call (a GRPO batch is
one request and one engine call).

    python bench/grpo_cost.py --runs DIR [--steps 8] [--judge SPEC] [--out FILE]

DIR is the recipe's folder (train.jsonl, train.rubrics.jsonl). Do not run it beside another
benchmark or a training run: the timings share two cores.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "examples" / "grpo" / "train.py"


def rubric_exe() -> str:
    return str(Path(sys.executable).parent / "rubric")


def train(runs: Path, out: Path, arm: str, steps: int, judge: str | None, server: str | None) -> list[dict[str, Any]]:
    shutil.rmtree(out, ignore_errors=True)
    argv = [sys.executable, str(TRAIN), "--prompts", str(runs / "train.jsonl")]
    argv += ["--rubrics", str(runs / "train.rubrics.jsonl"), "--out", str(out), "--arm", arm]
    argv += ["--steps", str(steps), "--save-every", str(steps)]
    if judge and arm == "judged":
        argv += ["--judge", judge]
    if server:
        argv += ["--reward-server", server]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return [json.loads(line) for line in (out / "steps.jsonl").read_text(encoding="utf-8").splitlines()]


class Server:
    """`rubric serve` on a free port, with the arm's judge and rubric judge's default flags, no cache."""

    def __init__(self, model: str):
        self.process = subprocess.Popen(
            [rubric_exe(), "serve", "--model", model, "--no-cache", "--port", "0"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for line in self.process.stderr:  # type: ignore[union-attr]
            if found := re.search(r"listening on (http://\S+)", line):
                self.url = found.group(1)
                break
        else:
            raise SystemExit(f"rubric serve --model {model} did not start")

    def metrics(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/metrics", timeout=30) as answer:
            return json.load(answer)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def run_summary(log: list[dict[str, Any]]) -> dict[str, float]:
    step = [s["step_time"] for s in log]
    reward = [s["rubric_reward/seconds"] for s in log]
    return {
        "steps": len(log),
        "step_seconds_mean": statistics.fmean(step),
        "reward_seconds_mean": statistics.fmean(reward),
        "reward_share_of_step": statistics.fmean(r / s for r, s in zip(reward, step)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=Path, required=True, help="the recipe's folder (train.jsonl, train.rubrics.jsonl)"
    )
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--judge", help="the judged arm's judge (default: the embedded SmolLM2)")
    parser.add_argument("--work", type=Path, help="where the runs go (default: RUNS/cost)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "grpo" / "cost.json")
    args = parser.parse_args()
    work = args.work or args.runs / "cost"
    from judge.backends import default_model

    judge = args.judge or f"local:{default_model.ensure_converted()}"
    result: dict[str, Any] = {"steps": args.steps, "judge": args.judge or "embedded SmolLM2-135M-Instruct", "kinds": {}}
    for arm, kind, model in (("verifiable", "code-checked", "fake:no"), ("judged", "judged", judge)):
        local = train(args.runs, work / f"{arm}-in-process", arm, args.steps, judge, None)
        server = Server(model)
        try:
            served = train(args.runs, work / f"{arm}-served", arm, args.steps, judge, server.url)
            metrics = server.metrics()
        finally:
            server.stop()
        same = [a["rewards/rubric_reward/mean"] for a in local] == [b["rewards/rubric_reward/mean"] for b in served]
        ratios = [b["rubric_reward/seconds"] / a["rubric_reward/seconds"] for a, b in zip(local, served)]
        result["kinds"][kind] = {
            "in_process": run_summary(local),
            "served": run_summary(served),
            "served_over_in_process_reward_seconds": {
                "median": statistics.median(ratios),
                "min": min(ratios),
                "max": max(ratios),
            },
            "same_rewards_step_for_step": same,
            "server": {k: metrics[k] for k in ("requests", "items", "engine_calls", "mean_batch_items")},
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for kind, row in result["kinds"].items():
        a, b, r = row["in_process"], row["served"], row["served_over_in_process_reward_seconds"]
        print(
            f"{kind:>12}: step {a['step_seconds_mean']:.1f} s in process, {b['step_seconds_mean']:.1f} s served; "
            f"reward {a['reward_seconds_mean']:.2f} s ({a['reward_share_of_step']:.1%} of the step) vs "
            f"{b['reward_seconds_mean']:.2f} s ({b['reward_share_of_step']:.1%}); served/in-process reward time "
            f"median {r['median']:.2f} [{r['min']:.2f}, {r['max']:.2f}]; server: {row['server']['engine_calls']} engine "
            f"calls, {row['server']['mean_batch_items']} items each; same rewards: {row['same_rewards_step_for_step']}"
        )


if __name__ == "__main__":
    main()
