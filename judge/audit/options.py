"""What `rubric audit` is run with: its flags, and the audit they describe.

The false-positive audit always runs; ``--probes`` adds the bias probes (probes.py),
``--pairwise`` the audit of a pairwise judge (pairs.py). One report: printed tables, and
the same as JSON with ``--output``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_audit_arguments(parser: argparse.ArgumentParser) -> None:
    """Every `rubric audit` flag but the model's."""
    parser.add_argument("--rubric", metavar="FILE|NAME", help="rubric to audit (default: a reference-answer check)")
    parser.add_argument("--questions", type=Path, help="questions with reference answers (JSONL; GSM8K files work)")
    parser.add_argument("--limit", type=int, default=12, help="questions to use (default 12)")
    parser.add_argument("--attacks", type=Path, action="append", default=[], metavar="DIR", help="extra attack files (*.jsonl)")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--probes", action="store_true", help="also the bias probes: the same content with and without Markdown, "
                        "confident filler, shorter and longer; the score swing per probe")
    parser.add_argument("--pairwise", action="store_true", help="also audit the pairwise judge: each attack against a genuine correct solution")
    parser.add_argument("--output", type=Path, help="also write the report as JSON")


def audit(args: argparse.Namespace, backend: Any, rubric: Any) -> tuple[str, dict[str, Any]]:
    """The printed report and its JSON."""
    from judge.audit import pairs, probes, suite  # the engine, only once an audit runs (not for --help)

    questions = suite.load_questions(args.questions, args.limit)
    attacks = suite.load_attacks(args.attacks)
    report = suite.run_audit(backend, questions, attacks, rubric=rubric, threshold=args.threshold)
    text = [suite.format_report(report)]
    if args.probes:
        report["probes"] = probes.run_probes(backend, questions, rubric=rubric, threshold=args.threshold)
        text.append(probes.format_probes(report["probes"]))
    if args.pairwise:
        report["pairwise"] = pairs.run_pairwise_audit(backend, questions, attacks)
        text.append(pairs.format_pairwise_audit(report["pairwise"]))
    return "\n\n".join(text), report
