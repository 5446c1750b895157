"""Fits the semantic guard reader's threshold and margin on development data only.

Unseen families are simulated by leaving each family of the content-free bank out in turn:
its responses are read with the bank without it. Genuine responses are LLMBar Natural's
(the other LLMBar sets and the third held-out set stay out of the fit). Chosen: the most
left-out content-free responses rejected while at most --max-rejected of the genuine
responses are (the issue's bound for GSM8K solutions, 0.5%); ties go to the stricter
reader (higher threshold, then margin).

    python bench/guard_threshold.py   # RUBRIC_JUDGE_DATA or --data-dir for LLMBar
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge.eval import datasets  # noqa: E402
from judge.hardening import inspect  # noqa: E402
from judge.hardening.semantic import CORPUS, META_FILES, SemanticReader  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument(
        "--max-rejected", type=float, default=0.005, help="genuine responses rejected, at most (default %(default)s)"
    )
    args = parser.parse_args(argv)
    reader = SemanticReader()
    embed = reader.embed

    @cache
    def vector(sentence: str) -> np.ndarray:
        return embed([sentence])[0]

    reader.embed = lambda texts: np.stack([vector(t) for t in texts])  # each sentence embedded once across the grid
    corpus = [
        row
        for name in META_FILES
        for row in map(json.loads, (CORPUS / name).open(encoding="utf-8"))
        if row["language"] == "en"
    ]
    natural = json.loads(datasets.locate("llmbar/LLMBar_Natural.json", args.data_dir).read_text(encoding="utf-8"))
    genuine = [text for pair in natural for text in (pair["output_1"], pair["output_2"])]

    # only responses the rules pass with nothing but ordinary words as content reach the reader
    def reach(text: str) -> bool:
        decision = inspect(text)
        return not decision.content_free and all(s.role != "content" or s.soft for s in decision.sentences)

    corpus, genuine_reaching = [r for r in corpus if reach(r["text"])], [t for t in genuine if reach(t)]
    print(
        f"left-out families: {len(corpus)} content-free responses the rules pass; LLMBar Natural: {len(genuine_reaching)} of "
        f"{len(genuine)} genuine responses reach the reader"
    )

    grid = []
    for threshold in np.arange(0.30, 0.625, 0.025):
        for margin in (0.0, 0.05, 0.1, 0.15, 0.2):
            t, m = round(float(threshold), 3), margin
            caught = sum(inspect(r["text"], reader.excluding(r["family"], t, m)).content_free for r in corpus)
            rejected = sum(inspect(text, reader.excluding("", t, m)).content_free for text in genuine_reaching)
            grid.append((t, m, caught / len(corpus), rejected / len(genuine)))
    allowed = [g for g in grid if g[3] <= args.max_rejected]
    best = max(allowed, key=lambda g: (g[2], g[0], g[1]))
    print(f"{'threshold':>9} {'margin':>6} {'left-out content-free rejected':>31} {'genuine rejected':>17}")
    for t, m, caught, wrong in grid:
        if m in (0.0, 0.1) or (t, m) == best[:2]:
            print(f"{t:>9.3f} {m:>6.2f} {caught:>31.1%} {wrong:>17.2%}{'  <- chosen' if (t, m) == best[:2] else ''}")
    print(
        f"chosen: threshold {best[0]}, margin {best[1]}: {best[2]:.1%} of the left-out families' content-free responses that the rules "
        f"pass are rejected, {best[3]:.2%} of LLMBar Natural's responses (at most {args.max_rejected:.1%})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
