"""Time to first verdict (cold and warm) and throughput of the embedded default model.

Runs the installed `rubric judge` on the shipped sample, as a user would:
  cold: an empty cache directory, so the GGUF file is converted first;
  warm: the same directory again (converted weights on disk), judgement cache off.
Then scores criteria in-process to measure criteria per second, uncached.
Both runs are measured here side by side; absolute times drift on a shared machine.

    python bench/first_verdict.py [--items 24]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample_responses.jsonl"
RUBRIC_EXE = Path(sys.executable).parent / "rubric"


def timed_run(cache_dir: Path, output: Path) -> tuple[float, float]:
    """Seconds until the first verdict line appears, and until the run ends."""
    env = {**os.environ, "RUBRIC_JUDGE_CACHE_DIR": str(cache_dir)}
    args = [
        str(RUBRIC_EXE),
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        str(SAMPLE),
        "--output",
        str(output),
        "--no-cache",
        "--quiet",
    ]
    start = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = None
    while process.poll() is None:
        if first is None and output.exists() and output.stat().st_size > 0:
            first = time.perf_counter() - start
        time.sleep(0.01)
    total = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"rubric judge failed with exit status {process.returncode}")
    return (first if first is not None else total), total


def throughput(cache_dir: Path, items: int) -> tuple[float, int]:
    os.environ["RUBRIC_JUDGE_CACHE_DIR"] = str(cache_dir)
    import json

    import rubric_library
    from judge import Judge, JudgeItem, get_backend

    rubric = rubric_library.load("helpfulness")
    lines = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    batch = [
        JudgeItem(f"{n}", lines[n % len(lines)]["prompt"], lines[n % len(lines)]["response"], rubric)
        for n in range(items)
    ]
    judge = Judge(get_backend())
    judge.evaluate_many(batch[:2])  # warm-up
    start = time.perf_counter()
    judge.evaluate_many(batch)
    elapsed = time.perf_counter() - start
    criteria = items * len(rubric.criteria)
    return criteria / elapsed, criteria


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        cold_first, cold_total = timed_run(cache, Path(tmp) / "cold.jsonl")
        warm_first, warm_total = timed_run(cache, Path(tmp) / "warm.jsonl")
        rate, criteria = throughput(cache, args.items)
    print(f"{'run':<6}{'first verdict (s)':>20}{'whole sample (s)':>20}")
    print(f"{'cold':<6}{cold_first:>20.1f}{cold_total:>20.1f}")
    print(f"{'warm':<6}{warm_first:>20.1f}{warm_total:>20.1f}")
    print(f"warm/cold time to first verdict: {warm_first / cold_first:.2f}")
    print(
        f"throughput: {rate:.2f} criteria/s ({criteria} criteria, {args.items} items, uncached, {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
