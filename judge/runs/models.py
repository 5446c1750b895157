"""The model flags every command shares (--model, the cache, API options; --jury where a
jury may judge) and the backends they name, the weak-judge notice on stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from judge.jury.combine import METHODS


def add_model_options(parser: argparse.ArgumentParser, model_help: str = "model spec as for `rubric judge`", *, jury: bool = False) -> None:
    """--model, --no-cache and --cache-dir: what make_backend reads (with jury: --model repeats, and --jury)."""
    if jury:
        parser.add_argument("--model", action="append", help=f"{model_help}; default: the embedded SmolLM2; repeat for a jury "
                            "(each criterion judged by every model; API options then go in each spec, ?base_url=...)")
        parser.add_argument("--jury", choices=METHODS, default="mean", help="a jury's P(yes) per criterion: the judges' mean (default), "
                            "median, majority vote (P(yes) = share of yes; a tie goes by the mean) or min (met only if all say so)")
    else:
        parser.add_argument("--model", help=f"{model_help}; default: the embedded SmolLM2")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the judgement cache")
    parser.add_argument("--cache-dir", type=Path, help="judgement cache directory (default: the user cache dir)")
    api = parser.add_argument_group("API models (openai/, anthropic/, litellm/)")
    api.add_argument("--base-url", action="append", metavar="URL", help="server URL, e.g. http://host:8000/v1; repeat for replicas of one model")
    api.add_argument("--samples", type=int, help="structured verdicts per criterion; P(yes) = share of yes (models without logprobs)")
    api.add_argument("--router-config", type=Path, metavar="FILE", help="litellm Router configuration (YAML with model_list)")


def make_backend(args: argparse.Namespace, spec: str | None = None, **api_settings):
    """The backend named by --model (or spec; judge.models.open_backend), the weak-judge notice on stderr."""
    from judge.models import open_backend

    given = {"base_url": args.base_url, "samples": args.samples, "router_config": str(args.router_config) if args.router_config else None}
    return open_backend(spec or args.model, cache=not args.no_cache, cache_dir=args.cache_dir, api_options=given, api_settings=api_settings,
                        on_default=lambda notice: print(notice, file=sys.stderr))


def make_backends(args: argparse.Namespace, **api_settings) -> list[Any]:
    """One backend per --model of a command that takes juries (one, the default, without --model)."""
    specs = args.model or [None]
    if len(specs) > 1 and (given := next((f for f in ("base_url", "samples", "router_config") if getattr(args, f)), None)):
        raise ValueError(f"--{given.replace('_', '-')} is ambiguous with several --model: put it in the spec it belongs to "
                         f"(openai/MODEL?{given}=...)")
    return [make_backend(args, spec, **api_settings) for spec in specs]
