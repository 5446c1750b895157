"""Command-line numbers that name their allowed range when a value falls outside it.

argparse turns the ``ArgumentTypeError`` into one line naming the option (``argument
--port: expected an integer from 0 to 65535, got '70000'``), instead of a traceback from
deep inside or a validation dump later.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
from collections.abc import Callable


def _range(low: float | None, high: float | None, above: bool) -> str:
    if low is not None and high is not None:
        return f"from {low:g} to {high:g}"
    if low is not None:
        return f"{'above' if above else 'of at least'} {low:g}"
    return f"of at most {high:g}"


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected an integer {_range(low, high, False)}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def number(low: float | None = None, high: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """A finite float within [low, high] (``above``: strictly greater than low)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        bad = not math.isfinite(value) or (high is not None and value > high)
        if low is not None:
            bad = bad or (value <= low if above else value < low)
        if bad:
            raise argparse.ArgumentTypeError(f"expected a number {_range(low, high, above)}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def host(text: str) -> str:
    """An IP address or a host name (a name is looked up when the server binds)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        labels = text.rstrip(".").split(".")
        numeric = all(label.isdigit() for label in labels)
        if not text or numeric or not all(0 < len(label) <= 63 and label.replace("-", "").isalnum() for label in labels):
            raise argparse.ArgumentTypeError(f"expected an IP address or a host name, got {text!r}") from None
    return text
