"""What `rubric audit` is run with (typed; each option declares its flag, judge/flags.py), and
the audit it describes.

The false-positive audit always runs; ``probes`` adds the bias probes (probes.py),
``pairwise`` the audit of a pairwise judge (pairs.py). One report: printed tables, and the
same as JSON with ``output``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judge.flags import number, option


@dataclass(frozen=True)
class AuditOptions:
    rubric: str | None = option(None, "rubric to audit (default: a reference-answer check)", metavar="FILE|NAME")
    questions: Path | None = option(None, "questions with reference answers (JSONL; GSM8K files work)")
    limit: int = option(12, "questions to use (default 12)")
    attacks: tuple[Path, ...] = option((), "extra attack files (*.jsonl)", action="append", type=Path, metavar="DIR")
    threshold: float = option(0.5, type=number(0, 1))
    probes: bool = option(
        False,
        "also the bias probes: the same content with and without Markdown, confident filler, shorter "
        "and longer; the score swing per probe",
    )
    families: tuple[str, ...] = option(
        (),
        "only the attacks of this family (repeatable; default all): a slow judge can re-measure the families "
        "a change touches",
        action="append",
        metavar="FAMILY",
    )
    probe: tuple[str, ...] = option(
        (),
        "only this bias probe, named by the word before its colon (repeatable: praise, recheck, ...); implies --probes",
        action="append",
        metavar="NAME",
    )
    pairwise: bool = option(False, "also audit the pairwise judge: each attack against a genuine correct solution")
    output: Path | None = option(
        None, "also write the report as JSON (indented; one line when the name ends in .jsonl)"
    )
    summary: Path | None = option(
        None,
        "also write a summary as JSON: per family and probe, the rates with the new defences (the normalised "
        "view) on and off, and genuine acceptance",
    )
    configurations: tuple[str, ...] = option(
        (),
        "judge configurations to compare (default all: checked in code, hardened, no view, no guard, no "
        "defences); a slow judge may run fewer",
        action="append",
        metavar="NAME",
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "attacks", tuple(self.attacks or ()))
        object.__setattr__(self, "configurations", tuple(self.configurations or ()))
        object.__setattr__(self, "families", tuple(self.families or ()))
        object.__setattr__(self, "probe", tuple(self.probe or ()))

    def check(self) -> None:
        """ValueError naming an unknown configuration, attack family or probe, or a summary
        without the two configurations it compares."""
        from judge.audit import probes, suite, summary

        chosen = suite.configurations(self.configurations)
        suite.of_families(suite.load_attacks(list(self.attacks)), self.families)
        probes.named(self.probe)
        if self.summary and not {summary.ON, summary.OFF} <= set(chosen):
            raise ValueError(f"--summary compares {summary.ON!r} with {summary.OFF!r}: run both configurations")


def audit(options: AuditOptions, backend: Any, rubric: Any) -> tuple[str, dict[str, Any]]:
    """The printed report and its JSON."""
    from judge.audit import pairs, probes, suite  # the engine, only once an audit runs (not for --help)
    from judge.engine import Judge
    from judge.options import JudgeOptions

    questions = suite.load_questions(options.questions, options.limit)
    attacks = suite.of_families(suite.load_attacks(list(options.attacks)), options.families)
    configurations = suite.configurations(options.configurations)
    report = suite.run_audit(
        backend, questions, attacks, rubric=rubric, threshold=options.threshold, configurations=configurations
    )
    text = [suite.format_report(report)]
    if options.probes or options.probe:
        chosen = probes.named(options.probe)
        for view, key in ((True, "probes"), (False, "probes_no_view")):
            judge = Judge(backend, JudgeOptions(threshold=options.threshold, view=view))
            report[key] = probes.run_probes(backend, questions, rubric=rubric, judge=judge, probes=chosen)
            text.append(probes.format_probes(report[key]))
    if options.pairwise:
        report["pairwise"] = pairs.run_pairwise_audit(backend, questions, attacks)
        text.append(pairs.format_pairwise_audit(report["pairwise"]))
    return "\n\n".join(text), report
