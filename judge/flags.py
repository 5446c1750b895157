"""Options that declare their own command-line flags, as data.

A command's options are a frozen dataclass; each field made with ``option()`` carries its
default, its help and how a flag sets it. The library reads nothing but the dataclass (a
Python caller builds it directly); the CLI (cli.py, the one module that imports argparse)
turns ``flag_specs`` into flags and the parsed values back into the dataclass, so a default
and its meaning are written once. The number parsers below name the range they expect;
their ``OptionError`` becomes argparse's one-line usage error naming the flag.
"""

from __future__ import annotations

import ipaddress
import math
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

_SCALARS = {int: int, float: float, Path: Path}


class OptionError(ValueError):
    """A flag's value is outside what the option takes (the message says what it takes)."""


def option(
    default: Any = MISSING,
    help: str | None = None,
    *,
    flags: tuple[tuple[str, dict[str, Any]], ...] | None = None,  # noqa: A002
    group: str | None = None,
    cli: bool = True,
    **spec: Any,
) -> Any:
    """A dataclass field with its flag: ``--max-tries`` for ``max_tries`` (booleans are switches,
    the type comes from the annotation) unless ``flags`` spells the flags out (several flags
    setting one field, ``--no-gate`` clearing one); ``spec`` holds argparse's words (choices,
    metavar, type ...); ``group`` titles the help section; ``cli=False``: no flag."""
    meta = {"help": help, "flags": flags, "group": group, "cli": cli, "spec": spec}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class FlagSpec:
    names: tuple[str, ...]
    dest: str
    group: str | None
    arguments: dict[str, Any]  # add_argument's keyword arguments


def flag_specs(options: type) -> Iterator[FlagSpec]:
    """The flags of an options dataclass, in field order."""
    hints = typing.get_type_hints(options)
    for f in fields(options):
        meta = f.metadata
        if not meta or not meta["cli"]:
            continue
        if meta["flags"]:
            default = {} if f.default is MISSING or _appends(meta["flags"]) else {"default": f.default}
            for name, arguments in meta["flags"]:
                yield FlagSpec((name,), f.name, meta["group"], {**default, **arguments})
            continue
        yield FlagSpec(("--" + f.name.replace("_", "-"),), f.name, meta["group"], _inferred(f, hints[f.name]))


def _appends(flags: tuple[tuple[str, dict[str, Any]], ...]) -> bool:
    return any(arguments.get("action") == "append" for _, arguments in flags)


def _inferred(f: Field, hint: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {"help": f.metadata["help"], **f.metadata["spec"]}
    kind = _scalar(hint)
    if f.default is MISSING and f.default_factory is MISSING:
        arguments["required"] = True
    elif kind is bool:
        arguments.setdefault("action", "store_true")
    elif arguments.get("action") == "append":
        arguments.setdefault(
            "default", None
        )  # argparse appends to a copy of the default; the dataclass makes it a tuple
    elif f.default is not MISSING:
        arguments.setdefault("default", f.default)
    if kind in _SCALARS and "choices" not in arguments and arguments.get("action") not in ("store_true", "store_false"):
        arguments.setdefault("type", _SCALARS[kind])
    return arguments


def _scalar(hint: Any) -> Any:
    """``int`` for ``int | None``; the hint itself otherwise."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        return members[0] if len(members) == 1 else hint
    return hint


def values_for(options: type, given: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``options`` found in ``given`` (parsed flags), for its constructor."""
    return {f.name: given[f.name] for f in fields(options) if f.name in given}


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
            raise OptionError(f"expected an integer {_range(low, high, False)}, got {text!r}")
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
            raise OptionError(f"expected a number {_range(low, high, above)}, got {text!r}")
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
        if (
            not text
            or numeric
            or not all(0 < len(label) <= 63 and label.replace("-", "").isalnum() for label in labels)
        ):
            raise OptionError(f"expected an IP address or a host name, got {text!r}") from None
    return text


def words(text: str) -> str:
    """A choice as typed (``per-criterion``) -> as the library spells it (``per_criterion``)."""
    return text.replace("-", "_")


def tag_set(text: str) -> frozenset[str]:
    """``TAG,...`` -> the set of tags."""
    tags = frozenset(t.strip() for t in text.split(",") if t.strip())
    if not tags:
        raise OptionError(f"expected TAG,..., got {text!r}")
    return tags


def names(text: str) -> tuple[str, ...]:
    """``NAME,...`` -> the names in order; ``none`` -> none."""
    if text.strip().lower() == "none":
        return ()
    found = tuple(n.strip() for n in text.split(",") if n.strip())
    if not found:
        raise OptionError(f"expected NAME,... or none, got {text!r}")
    return found


def layer_list(text: str) -> tuple[int, ...]:
    """``12,20,-1`` -> layer indices (-1: the last, after its norm)."""
    try:
        found = tuple(int(n) for n in text.split(",") if n.strip())
    except ValueError:
        found = ()
    if not found or any(n < -1 for n in found):
        raise OptionError(f"expected layer numbers (0 and up, or -1 for the last) like 12,20,-1, got {text!r}")
    return found
