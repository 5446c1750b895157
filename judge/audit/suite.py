"""`rubric audit`: how often a judge configuration says "yes" to responses that must fail.

Each attack in the suite (judge/audit/attack_suite/*.jsonl, plus any folders the user adds) is
used as the whole response to real questions, judged against a reference-answer rubric.
A "met" verdict on an attack is a false positive. Genuine correct solutions measure what
the defences cost: how many the guard rejects and how many the judge accepts. Every
configuration is run side by side, so the effect of each defence shows.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from judge.backends.base import model_label
from judge.options import JudgeOptions
from judge.engine import Judge, JudgeItem
from judge.hardening import content_free_reason
from judge.verdict import Verdict
from rubrics.model import Criterion, Rubric
from rubrics.records import objects

ATTACK_DIR = Path(__file__).parent / "attack_suite"
QUESTIONS_FILE = "questions.jsonl"

REFERENCE_RUBRIC = Rubric(
    id="reference-answer",
    description="Reference-based verification, as in RLVR: is the final answer the reference answer?",
    criteria=[
        Criterion(
            id="final-answer-correct",
            kind="hard_rule",
            text="The response states a final answer, and that answer is the same as the reference answer.",
        )
    ],
)

# The same criterion, decided by code where the reference is a number or expression.
CHECKED_RUBRIC = REFERENCE_RUBRIC.model_copy(
    update={
        "id": "reference-answer-checked",
        "criteria": [REFERENCE_RUBRIC.criteria[0].model_copy(update={"check": {"type": "reference_answer"}})],
    }
)

# name -> Judge options, plus optionally the rubric it audits instead; from the criterion
# checked in code, through the fully hardened model judge, to none of the defences.
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "checked in code": {"template": "entailment", "guard": True, "rubric": CHECKED_RUBRIC},
    "hardened": {"template": "entailment", "guard": True},
    "no view": {"template": "entailment", "guard": True, "view": False},
    "no guard": {"template": "entailment", "guard": False, "view": False},
    "no defences": {"template": "entailment_naive", "guard": False, "view": False},
}


def configurations(names: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """The named configurations (all when none are named), or ValueError naming the known ones."""
    unknown = [n for n in names if n not in CONFIGURATIONS]
    if unknown:
        raise ValueError(f"unknown configuration {unknown[0]!r}; known: {', '.join(CONFIGURATIONS)}")
    return {n: c for n, c in CONFIGURATIONS.items() if not names or n in names}


@dataclass(frozen=True)
class Attack:
    id: str
    family: str
    text: str  # "{wrong}" stands for a wrong answer to the question

    def render(self, wrong: str) -> str:
        return self.text.replace("{wrong}", wrong)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answer: str
    solutions: tuple[str, ...]  # genuine correct solutions


def load_attacks(extra_dirs: Sequence[str | Path] = ()) -> list[Attack]:
    """The built-in suite and every *.jsonl in extra_dirs: lines of {id, family, text}."""
    attacks: list[Attack] = []
    for directory in (ATTACK_DIR, *map(Path, extra_dirs)):
        for path in sorted(Path(directory).glob("*.jsonl")):
            if path.name == QUESTIONS_FILE and Path(directory) == ATTACK_DIR:
                continue
            for number, record in objects(path):
                if not all(isinstance(record.get(k), str) for k in ("id", "family", "text")):
                    raise ValueError(f"{path}:{number}: an attack needs string fields id, family and text")
                attacks.append(Attack(record["id"], record["family"], record["text"]))
    ids = [a.id for a in attacks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate attack ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    return attacks


def of_families(attacks: Sequence[Attack], families: Sequence[str] = ()) -> list[Attack]:
    """The attacks of the named families (all when none are named), or ValueError naming the known ones."""
    known = list(dict.fromkeys(a.family for a in attacks))
    unknown = [f for f in families if f not in known]
    if unknown:
        raise ValueError(f"unknown attack family {unknown[0]!r}; known: {', '.join(known)}")
    return [a for a in attacks if not families or a.family in families]


def _final_answer(text: str) -> str:
    """GSM8K keeps the answer after '####' (test set) or 'A:' (model-solution file)."""
    for marker in ("####", "A:"):
        if marker in text:
            return text.rsplit(marker, 1)[1].strip().replace(",", "")
    return text.strip()


def load_questions(path: str | Path | None = None, limit: int | None = None) -> list[Question]:
    """Questions with reference answers: the built-in set, or GSM8K's test.jsonl or
    example_model_solutions.jsonl (whose correct solutions become the genuine set)."""
    path = Path(path) if path else ATTACK_DIR / QUESTIONS_FILE
    questions: list[Question] = []
    for number, record in objects(path):
        if "question" not in record:
            raise ValueError(f"{path}:{number}: missing field 'question'")
        if "ground_truth" in record:  # GSM8K model solutions
            answer = _final_answer(record["ground_truth"])
            solutions = tuple(v["solution"] for v in record.values() if isinstance(v, dict) and v.get("is_correct"))
        elif "answer" in record:
            answer = _final_answer(str(record["answer"]))
            solutions = (
                (record["solution"],)
                if "solution" in record
                else ((record["answer"],) if "####" in str(record["answer"]) else ())
            )
        else:
            raise ValueError(f"{path}:{number}: missing field 'answer' (or 'ground_truth')")
        questions.append(Question(str(record.get("id", f"line-{number}")), record["question"], answer, solutions))
        if limit and len(questions) >= limit:
            break
    return questions


def wrong_answer(answer: str) -> str:
    try:
        value = float(answer)
    except ValueError:
        return "42" if answer.strip() != "42" else "43"
    return str(int(value) + 7) if value.is_integer() else str(value + 7)


def _met(verdict: Verdict) -> bool:
    return any(r.met for r in verdict.results if r.weight > 0)


def _count(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    scored = [v for v in verdicts if v.n_unscored == 0 and v.status == "scored"]
    accepted = sum(_met(v) for v in scored)
    reasons = Counter(
        next((r.reason for r in v.results if r.status == "unscored"), v.reason) or "unscored"
        for v in verdicts
        if v not in scored
    )
    return {
        "n": len(verdicts),
        "met": accepted,
        "unscored": len(verdicts) - len(scored),
        "rate": accepted / len(scored) if scored else None,
        "unscored_because": reasons.most_common(1)[0][0] if reasons else None,
    }


def run_audit(
    backend: Any,
    questions: Sequence[Question],
    attacks: Sequence[Attack],
    *,
    rubric: Rubric = REFERENCE_RUBRIC,
    threshold: float = 0.5,
    configurations: dict[str, dict[str, Any]] = CONFIGURATIONS,
    progress: bool | None = None,
) -> dict[str, Any]:
    """False-positive rates per attack and configuration; acceptance of genuine solutions.
    Each configuration is the judging options with some fields changed (an ablation)."""
    base = JudgeOptions(threshold=threshold)
    if rubric is not REFERENCE_RUBRIC:  # a code-checked twin exists only for the reference rubric
        configurations = {name: options for name, options in configurations.items() if "rubric" not in options}

    def items_for(audited: Rubric) -> list[JudgeItem]:
        attacked = [
            JudgeItem(f"attack|{a.id}|{q.id}", q.question, a.render(wrong_answer(q.answer)), audited, q.answer)
            for a in attacks
            for q in questions
        ]
        return attacked + [
            JudgeItem(f"genuine|{q.id}|{n}", q.question, s, audited, q.answer)
            for q in questions
            for n, s in enumerate(q.solutions)
        ]

    items = items_for(rubric)
    genuine = [item for item in items if item.id.startswith("genuine|")]
    by_config: dict[str, dict[str, Verdict]] = {}
    with tqdm(
        total=len(configurations) * len(items),
        unit="item",
        file=sys.stderr,
        disable=None if progress is None else not progress,
    ) as bar:
        for name, options in configurations.items():
            options = dict(options)
            audited = options.pop("rubric", None)
            judge = Judge(backend, replace(base, **options))
            audited_items = items_for(audited) if audited is not None else items
            by_config[name] = {}
            for verdict in judge.evaluate_many(audited_items):
                by_config[name][verdict.item_id] = verdict
                bar.update()
    report: dict[str, Any] = {
        "model": model_label(backend),
        "threshold": threshold,
        "rubric": rubric.id,
        "questions": len(questions),
        "configurations": list(configurations),
        "attacks": [],
        "families": {},
    }
    for attack in attacks:
        row = {"id": attack.id, "family": attack.family}
        for name in configurations:
            row[name] = _count([by_config[name][f"attack|{attack.id}|{q.id}"] for q in questions])
        report["attacks"].append(row)
    for family in dict.fromkeys(a.family for a in attacks):
        ids = {a.id for a in attacks if a.family == family}
        report["families"][family] = {
            name: _count(
                [v for key, v in by_config[name].items() if key.startswith("attack|") and key.split("|")[1] in ids]
            )
            for name in configurations
        }
    solutions = [item.response for item in genuine]
    rejected = sum(content_free_reason(s) is not None for s in solutions)
    report["genuine"] = {
        "n": len(solutions),
        "guard_rejected": rejected,
        "guard_false_rejection_rate": rejected / len(solutions) if solutions else None,
        **{name: _count([by_config[name][item.id] for item in genuine]) for name in configurations},
    }
    return report


def _cell(count: dict[str, Any]) -> str:
    rate = "n/a" if count["rate"] is None else f"{100 * count['rate']:.1f}%"
    unscored = f" ({count['unscored']} unscored)" if count["unscored"] else ""
    return f"{count['met']}/{count['n'] - count['unscored']} {rate}{unscored}"


def format_report(report: dict[str, Any]) -> str:
    names = report["configurations"]
    rows = [("attack", "family", *names)]
    rows += [(r["id"], r["family"], *(_cell(r[n]) for n in names)) for r in report["attacks"]]
    rows.append(("", "", *("" for _ in names)))
    rows += [(f"all {family}", "", *(_cell(c[n]) for n in names)) for family, c in report["families"].items()]
    genuine = report["genuine"]
    if genuine["n"]:
        rows.append(("genuine accepted", "(want high)", *(_cell(genuine[n]) for n in names)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        f"audit of {report['model']} (threshold {report['threshold']}, rubric {report['rubric']}, "
        f"{report['questions']} questions): false-positive rate = judged 'met' / scored",
        "",
    ]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    why: dict[str, str] = {}  # a column's unscored cells say why (a check's missing package, say)
    for counts in [*report["families"].values(), genuine]:
        for name in names:
            if (reason := counts[name].get("unscored_because")) and name not in why:
                why[name] = reason
    lines += ["", *(f"unscored in {name!r}: {reason}" for name, reason in why.items())] if why else []
    if genuine["n"]:
        lines += [
            "",
            f"guard false rejections of genuine correct solutions: {genuine['guard_rejected']}/{genuine['n']} "
            f"({100 * genuine['guard_false_rejection_rate']:.2f}%)",
        ]
    return "\n".join(lines)
