"""What the normalised view costs on a large response, side by side.

A `rubric serve` client may send megabytes in one response, and the view reads every word
of it (judge/hardening/view.py). Two texts of the same size: prose that repeats its words,
as real answers do, and random letters, where every word is new (the worst case for the
word caches). Three configurations in one run: as shipped (word look-ups cached, Snowball's
C build through PyStemmer), without the caches, and without the caches on the pure-Python
stemmer (the view before issue 44). Seconds per MB and the ratios to as shipped.

    python bench/view_large.py [--mb 0.5]
"""

from __future__ import annotations

import argparse
import importlib
import random
import string
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from judge.hardening import lexicon  # noqa: E402
from judge.hardening.view import normalised_view  # noqa: E402

CACHED = ("stem", "is_meta", "is_function", "is_answer_word", "is_judging", "is_apparatus", "asks_judgement")


def prose(size: int) -> str:
    sentences = [
        f"Step {n}: the {word} grows by {n % 7} units, as the second table shows, so the total is {n * 3}."
        for n, word in enumerate(["harvest", "river", "budget", "orchard", "signal"] * (size // 400 + 1))
    ]
    return " ".join(sentences)[:size]


def letters(size: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    words, total = [], 0
    while total < size:
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))
        words.append(word + ("." if rng.random() < 0.08 else ""))
        total += len(words[-1]) + 1
    return " ".join(words)[:size]


@contextmanager
def uncached() -> Iterator[None]:
    """Each word look-up computed afresh, as before the caches (the caches' own wrappers bypassed)."""
    shipped = {name: getattr(lexicon, name) for name in CACHED}
    for name, function in shipped.items():
        setattr(lexicon, name, function.__wrapped__)
    try:
        yield
    finally:
        for name, function in shipped.items():
            setattr(lexicon, name, function)


@contextmanager
def pure_python() -> Iterator[None]:
    """Snowball's pure-Python stemmers (what snowballstemmer uses without PyStemmer), one per language."""
    shipped = lexicon._stemmer

    @cache
    def stemmer(language: str) -> object:
        module = importlib.import_module(f"snowballstemmer.{language}_stemmer")
        return getattr(module, f"{language.capitalize()}Stemmer")()

    lexicon._stemmer = stemmer
    try:
        yield
    finally:
        lexicon._stemmer = shipped


@contextmanager
def nothing() -> Iterator[None]:
    yield


def seconds(text: str, setting: Callable[[], object]) -> float:
    for name in CACHED:
        getattr(lexicon, name).cache_clear()
    with setting():  # type: ignore[attr-defined]
        started = time.perf_counter()
        normalised_view(text, "Summarise the growth.", None)
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=0.5, help="size of each text in MB (default %(default)s)")
    args = parser.parse_args(argv)
    size = int(args.mb * 2**20)
    configurations = {
        "as shipped": nothing,
        "no word caches": uncached,
        "no caches, pure-Python stemmer": lambda: _both(),
    }
    print(f"normalised view of {args.mb:g} MB; seconds per MB (ratio to as shipped)")
    for name, text in (("prose", prose(size)), ("random words", letters(size))):
        times = {label: seconds(text, setting) / args.mb for label, setting in configurations.items()}
        base = times["as shipped"]
        print(f"  {name}: " + "; ".join(f"{label} {t:.2f} s ({t / base:.1f}x)" for label, t in times.items()))
    return 0


@contextmanager
def _both() -> Iterator[None]:
    with uncached(), pure_python():
        yield


if __name__ == "__main__":
    sys.exit(main())
