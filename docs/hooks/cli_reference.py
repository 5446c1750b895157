"""MkDocs hook: the command-line reference is written from the real argument parser
(`cli.build_parser()`) at build time, so the page cannot drift from the commands."""

import argparse
import os

MARKER = "<!-- cli-reference -->"


def on_page_markdown(markdown, page, **kwargs):
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, reference())


def reference() -> str:
    os.environ["COLUMNS"] = "80"  # argparse wraps help to the terminal: fix it to the page's code width
    import cli

    return "\n".join(_sections(cli.build_parser(), "rubric"))


def _sections(parser: argparse.ArgumentParser, name: str, depth: int = 2):
    yield f"{'#' * depth} `{name}`\n"
    yield f"```text\n{parser.format_help().rstrip()}\n```\n"
    for action in parser._actions:  # argparse has no public walk over its subcommands
        if isinstance(action, argparse._SubParsersAction):
            for command, subparser in action.choices.items():
                yield from _sections(subparser, f"{name} {command}", min(depth + 1, 4))
