"""What a provider batch job and Anthropic prompt caching change in a run's requests and
cost, side by side on the same items, against the loopback provider (tests/provider_server.py,
real SDKs over real HTTP; its answers are scripted, its token counts ~4 characters a token).
Each response shares a prefix of about 1,300 tokens across its criteria: above the 1024 tokens
below which Anthropic caches nothing (the loopback server itself caches any marked prefix).

    python bench/batch_cost.py --items 40

For each provider: the run judged synchronously, then with --batch (the job's questions
answered at the batch price, the run served from the cache), and for Anthropic also without
the prompt-cache breakpoint. Prices are given (USD per 1M tokens) so that the ratios do not
depend on a price table: OpenAI 2.50 / 10, Anthropic 3 / 15 (cache reads 0.1x, writes 1.25x).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rubric_library  # noqa: E402
from judge.backends import get_backend  # noqa: E402
from judge.cache import CachedBackend  # noqa: E402
from judge.engine import Judge, JudgeItem  # noqa: E402
from judge.runs.provider_jobs import prefetch  # noqa: E402
from tests.provider_server import ProviderServer  # noqa: E402

PRICES = {"openai": "price_in=2.5&price_out=10", "anthropic": "price_in=3&price_out=15"}


def items(count: int) -> list[JudgeItem]:
    rubric = rubric_library.load("helpfulness")
    context = " ".join(
        f"Background sentence {k} that the question comes with." for k in range(100)
    )  # a shared prefix over 1024 tokens: what Anthropic caches at least
    return [
        JudgeItem(
            f"i{n}",
            f"{context}\nQuestion {n}: explain why the sky is blue.",
            f"Answer {n}: Rayleigh scattering favours short wavelengths, so blue light is scattered most. " * 3,
            rubric,
        )
        for n in range(count)
    ]


def run(server: ProviderServer, spec: str, todo: list[JudgeItem], *, batch: bool) -> dict[str, object]:
    base = server.url if spec.startswith("anthropic") else server.url + "/v1"
    backend = CachedBackend(get_backend(spec, base_url=base), tempfile.mkdtemp())
    judge = Judge(backend)
    if batch:
        asyncio.run(prefetch(judge, todo, Path(tempfile.mkdtemp()) / "v.jsonl", poll_seconds=0.01, progress=False))
    verdicts = judge.evaluate_many(todo)
    usage = backend.inner.usage
    return {"usage": usage, "unscored": sum(v.status != "scored" for v in verdicts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=40)
    args = parser.parse_args()
    todo = items(args.items)
    questions = sum(len(i.rubric.criteria) for i in todo)
    print(
        f"{args.items} responses x {len(todo[0].rubric.criteria)} criteria = {questions} yes/no questions, loopback provider"
    )
    header = f"{'run':<60} {'sync req':>8} {'batch req':>9} {'prompt tok':>10} {'cache rd':>9} {'cache wr':>9} {'cost $':>9} {'ratio':>6} {'unscored':>8}"
    print(header)
    print("-" * len(header))
    runs = [
        ("openai/gpt-4.1-mini", "openai/gpt-4.1-mini?" + PRICES["openai"], [("synchronous", False), ("--batch", True)]),
        (
            "anthropic/claude-sonnet-4-5",
            "anthropic/claude-sonnet-4-5?" + PRICES["anthropic"],
            [
                ("synchronous, prompt_cache=false", False, "&prompt_cache=false"),
                ("synchronous", False),
                ("--batch", True),
            ],
        ),
    ]
    for name, spec, variants in runs:
        baseline = None
        for variant in variants:
            label, batch = variant[0], variant[1]
            extra = variant[2] if len(variant) > 2 else ""
            with ProviderServer() as server:
                outcome = run(server, spec + extra, todo, batch=batch)
            usage = outcome["usage"]
            cost = usage.cost  # type: ignore[attr-defined]
            baseline = baseline or cost
            print(
                f"{name + ' ' + label:<60} {usage.requests:>8} {usage.batch_requests:>9} "  # type: ignore[attr-defined]
                f"{usage.prompt_tokens + usage.batch_prompt_tokens:>10} {usage.cache_read_tokens + usage.batch_cache_read_tokens:>9} {usage.cache_write_tokens + usage.batch_cache_write_tokens:>9} "  # type: ignore[attr-defined]
                f"{cost:>9.4f} {cost / baseline:>6.2f} {outcome['unscored']:>8}"
            )
    print("ratio: the cost over the provider's first row; prompt tok: uncached prompt tokens, synchronous and batch")


if __name__ == "__main__":
    main()
