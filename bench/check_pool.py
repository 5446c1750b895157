"""What running code checks in worker processes costs, and what it buys, side by side.

1. Cheap checks (a word count, a lowercase-and-English check, a reference answer): time per
   check called in this process against the check pool (2 workers), for one check at a time
   and for a batch of 512 (one engine chunk's worth), after the workers have started.
2. An exploding answer (``\\boxed{9^{9^{9^{9}}}}``): in this process it never returns (not
   run here); through the pool it is unscored after the timeout, and a cheap check submitted
   after it by another caller is answered first.

    python bench/check_pool.py [--timeout 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge.checks import CHECKS, CheckCall, CheckPool  # noqa: E402

CHEAP = [
    CheckCall(
        "length_constraints:number_words",
        "The sky is blue because air scatters blue light most.",
        None,
        {"type": "length_constraints:number_words", "relation": "at most", "num_words": 20},
    ),
    CheckCall(
        "change_case:english_lowercase",
        "the sky is blue because air scatters blue light most.",
        None,
        {"type": "change_case:english_lowercase"},
    ),
    CheckCall("reference_answer", "She makes 9 * 2 = 18 dollars.\nA: 18", "18", {}),
]
TOWER = CheckCall("reference_answer", "The answer is \\boxed{9^{9^{9^{9}}}}", "18", {})


def per_check_ms(run, calls: list[CheckCall], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        run(calls)
    return (time.perf_counter() - start) / (repeats * len(calls)) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()
    pool = CheckPool(workers=2, timeout=args.timeout)
    pool.run([CHEAP[0]] * 4)  # start both workers
    pool.run([CHEAP[0]])

    def in_process(calls: list[CheckCall]) -> None:
        for call in calls:
            CHECKS[call.type](call.response, call.reference, call.spec)

    print(f"{'check':<34} {'in process':>11} {'pool, 1':>9} {'pool, 512':>10} {'ratio (512)':>12}   ms per check")
    for call in CHEAP:
        here = per_check_ms(in_process, [call], 200)
        one = per_check_ms(pool.run, [call], 200)
        batch = per_check_ms(pool.run, [call] * 512, 4)
        print(f"{call.type:<34} {here:>11.3f} {one:>9.3f} {batch:>10.3f} {batch / here:>11.2f}x")

    start = time.perf_counter()
    towers = pool.submit([TOWER, TOWER], caller="a")
    (quick,) = pool.submit([CHEAP[0]], caller="b")
    quick.result()
    quick_at = time.perf_counter() - start
    outcomes = [f.result() for f in towers]
    done_at = time.perf_counter() - start
    print(f"\ntwo towers (caller a) then a word count (caller b), timeout {args.timeout:g} s, 2 workers:")
    print(f"  b answered after {quick_at:.2f} s; a's towers unscored after {done_at:.2f} s: {outcomes[0].reason!r}")
    print("  in this process the tower never returns (math-verify holds the GIL in one C call); not run")
    pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
