"""`rubric calibrate`: fit a calibration of a judge's P(yes) on labelled verdicts.

Input: verdict lines of `rubric judge` and labels, matched into examples (raw P(yes), label)
by labels.py.

Fit: Platt scaling (a logistic curve on the logit) or isotonic regression, whichever has
the lower out-of-fold log loss; the same kind per criterion where a criterion has at least
``min_labels`` labels of both classes, and per kind of generated check (``check-existence-*``:
judge/calibration.py::kind_of) where the kind has, else the global map (said so). A Platt
map whose slope is not positive would invert the judge: it is flat instead, and named. The threshold on the
calibrated scale maximises balanced accuracy, or keeps the false-positive rate at most
``target_fpr``. Report: every figure before (raw P(yes), threshold 0.5) and after on
held-out folds only: each fold is scored by maps and a threshold fitted on the others.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judge.calibration import EPS, Calibration, Map, flat, kind_of
from judge.engine import Judge
from judge.extras import module
from judge.eval.agreement import agreement, reliability
from judge.eval.options import CalibrateFlags
from judge.runs.labels import Example, Matched, match, read_labels
from rubrics.records import LoadReport

HEADINGS = {
    "accuracy": "acc",
    "balanced_accuracy": "bal. acc",
    "false_positive_rate": "FPR",
    "auroc": "AUROC",
    "ece": "ECE",
    "brier": "Brier",
}


# -- fitting ------------------------------------------------------------------------------
def _sklearn() -> Any:
    return tuple(module("calibrate", f"sklearn.{name}") for name in ("isotonic", "linear_model", "model_selection"))


def _logit(p: float) -> float:
    q = min(1 - EPS, max(EPS, p))
    return math.log(q / (1 - q))


def fit_map(kind: str, p: Sequence[float], y: Sequence[bool]) -> Map:
    isotonic, linear_model, _ = _sklearn()
    if len(set(y)) < 2:
        return Map(kind="identity", n=len(y))
    if kind == "platt":
        model = linear_model.LogisticRegression(C=1e6).fit([[_logit(v)] for v in p], list(map(int, y)))
        slope = float(model.coef_[0][0])
        if slope <= 0:  # the judge ranks these labels the wrong way round: a flat map, not an inverted one
            return flat(sum(y) / len(y), len(y))
        return Map(kind="platt", a=slope, b=float(model.intercept_[0]), n=len(y))
    model = isotonic.IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(list(p), list(map(int, y)))
    return Map(
        kind="isotonic", x=[float(v) for v in model.X_thresholds_], y=[float(v) for v in model.y_thresholds_], n=len(y)
    )


def choose_threshold(p: Sequence[float], y: Sequence[bool], target_fpr: float | None = None) -> float:
    """The cut on (calibrated) probabilities: best balanced accuracy, or the lowest cut whose
    false-positive rate is at most ``target_fpr``."""
    candidates = sorted(set(p)) + [1.0 + EPS]
    positives, negatives = max(1, sum(y)), max(1, sum(not v for v in y))
    best, best_value = 0.5, -1.0
    for t in candidates:
        tpr = sum(v >= t and lab for v, lab in zip(p, y)) / positives
        fpr = sum(v >= t and not lab for v, lab in zip(p, y)) / negatives
        if target_fpr is not None:  # the most yes-recall the false-positive budget allows
            value = tpr - fpr * 1e-3 if fpr <= target_fpr else -1.0
        else:
            value = (tpr + 1 - fpr) / 2
        if value > best_value + 1e-12:
            best, best_value = t, value
    return min(1.0, best)


@dataclass(frozen=True)
class Settings:
    min_labels: int = 30  # per criterion, both classes, for a map of its own
    folds: int = 5
    seed: int = 0
    target_fpr: float | None = None


def _by_criterion(examples: Sequence[Example]) -> list[tuple[str, list[Example]]]:
    grouped: dict[str, list[Example]] = defaultdict(list)
    for e in examples:
        grouped[e.criterion_id].append(e)
    return sorted(grouped.items())


# A judge whose P(yes) ranks a criterion's labels no better than this cannot decide it: a
# calibration can flatten or even invert its map, but a reward on it is noise at best.
UNDECIDED_AUROC = 0.6


def _undecided(examples: Sequence[Example], settings: Settings) -> dict[str, float]:
    """The criteria with enough labels of both classes whose raw P(yes) ranks them no better
    than UNDECIDED_AUROC, with that AUROC (below 0.5: the judge leans the wrong way)."""
    out = {}
    for criterion, rows in _by_criterion(examples):
        labels = [e.label for e in rows]
        if len(rows) >= settings.min_labels and len(set(labels)) == 2:
            auroc = agreement([e.p_yes for e in rows], labels, 0.5)["auroc"]
            if auroc is not None and auroc <= UNDECIDED_AUROC:
                out[criterion] = auroc
    return out


Maps = tuple[Map, dict[str, Map], dict[str, Map]]  # the global map, per criterion, per kind of generated check


def _by_kind(examples: Sequence[Example]) -> list[tuple[str, list[Example]]]:
    grouped: dict[str, list[Example]] = defaultdict(list)
    for e in examples:
        if (kind := kind_of(e.criterion_id)) is not None:
            grouped[kind].append(e)
    return sorted(grouped.items())


def _own_maps(
    kind: str, groups: list[tuple[str, list[Example]]], settings: Settings, notes: dict[str, str] | None = None
) -> dict[str, Map]:
    """A map for each group with enough labels of both classes (and why not, in notes)."""
    own = {}
    for name, rows in groups:
        classes = {e.label for e in rows}
        if len(rows) < settings.min_labels:
            reason = f"{len(rows)} labels, fewer than {settings.min_labels}"
        elif len(classes) < 2:
            reason = f"all {len(rows)} labels are {'yes' if True in classes else 'no'}"
        else:
            own[name] = fit_map(kind, [e.p_yes for e in rows], [e.label for e in rows])
            continue
        if notes is not None:
            notes[name] = reason
    return own


def _maps(kind: str, examples: Sequence[Example], settings: Settings) -> tuple[Maps, dict[str, str]]:
    global_map = fit_map(kind, [e.p_yes for e in examples], [e.label for e in examples])
    notes: dict[str, str] = {}
    own = _own_maps(kind, _by_criterion(examples), settings, notes)
    kinds = _own_maps(kind, _by_kind(examples), settings)
    for criterion in list(notes):
        found = kind_of(criterion)
        notes[criterion] = (
            f"the map of its kind {found!r}: {notes[criterion]}"
            if found in kinds
            else f"global map: {notes[criterion]}"
        )
    return (global_map, own, kinds), notes


def _apply(maps: Maps, examples: Sequence[Example]) -> list[float]:
    global_map, own, kinds = maps
    table = Calibration(model="-", global_map=global_map, criteria=own, kinds=kinds)
    return [table.apply(e.criterion_id, e.p_yes) for e in examples]


def _folds(examples: Sequence[Example], settings: Settings) -> list[tuple[list[int], list[int]]]:
    _, _, model_selection = _sklearn()
    labels = [e.label for e in examples]
    counts = Counter(labels)
    folds = min(settings.folds, min(counts.values()))
    if len(counts) < 2 or folds < 2:
        raise ValueError(f"calibration needs at least 2 labels of each class, got {dict(counts)}")
    splitter = model_selection.StratifiedKFold(n_splits=folds, shuffle=True, random_state=settings.seed)
    return [(list(train), list(test)) for train, test in splitter.split([[0]] * len(labels), labels)]


def _log_loss(p: Sequence[float], y: Sequence[bool]) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(list(y), [min(1 - EPS, max(EPS, v)) for v in p], labels=[False, True]))


def _held_out(
    kind: str, examples: Sequence[Example], folds: list[tuple[list[int], list[int]]], settings: Settings
) -> tuple[list[float], list[float]]:
    """Each example's calibrated value and threshold from maps fitted on the other folds."""
    predicted, thresholds = [0.0] * len(examples), [0.5] * len(examples)
    for train, test in folds:
        rows = [examples[i] for i in train]
        maps, _ = _maps(kind, rows, settings)
        cut = choose_threshold(_apply(maps, rows), [e.label for e in rows], settings.target_fpr)
        for i, value in zip(test, _apply(maps, [examples[i] for i in test])):
            predicted[i], thresholds[i] = value, cut
    return predicted, thresholds


def fit(matched: Matched, settings: Settings = Settings()) -> Calibration:
    """The calibration of ``matched`` with its held-out report (ValueError if it cannot be fitted)."""
    examples = matched.examples
    if matched.model is None or not examples:
        raise ValueError("no labelled, model-judged criterion to calibrate on")
    folds = _folds(examples, settings)
    labels = [e.label for e in examples]
    held_out = {kind: _held_out(kind, examples, folds, settings) for kind in ("platt", "isotonic")}
    losses = {kind: _log_loss(predicted, labels) for kind, (predicted, _) in held_out.items()}
    kind = "platt" if losses["platt"] <= losses["isotonic"] else "isotonic"  # the smoother one on a tie
    predicted, thresholds = held_out[kind]
    (global_map, own, kinds), notes = _maps(kind, examples, settings)
    threshold = choose_threshold(_apply((global_map, own, kinds), examples), labels, settings.target_fpr)
    raw = [e.p_yes for e in examples]
    report = {
        "labels": len(examples),
        "positives": sum(labels),
        "folds": len(folds),
        "seed": settings.seed,
        "method": kind,
        "held_out_log_loss": losses,
        "min_labels": settings.min_labels,
        "target_fpr": settings.target_fpr,
        "held_out": {"raw": agreement(raw, labels, 0.5), "calibrated": agreement(predicted, labels, thresholds)},
        "reliability": {"raw": reliability(raw, labels), "calibrated": reliability(predicted, labels)},
        "criteria_with_own_map": sorted(own),
        "kinds_with_own_map": sorted(kinds),
        "flat_maps": sorted(f"criteria:{c}" for c, m in own.items() if m.kind == "platt" and m.a == 0)
        + sorted(f"kinds:{k}" for k, m in kinds.items() if m.kind == "platt" and m.a == 0)
        + (["global"] if global_map.kind == "platt" and global_map.a == 0 else []),
        "criteria_on_the_global_map": notes,
        "criteria_undecided": _undecided(examples, settings),
        "unmatched_labels": dict(matched.unmatched),
        "unmatched_examples": matched.examples_of_unmatched,
    }
    rule = f"false-positive rate <= {settings.target_fpr}" if settings.target_fpr is not None else "balanced accuracy"
    return Calibration(
        model=matched.model,
        request_shape=matched.request_shape,
        backend=matched.backend,
        global_map=global_map,
        criteria=own,
        kinds=kinds,
        threshold=threshold,
        threshold_rule=rule,
        report=report,
    )


def format_report(calibration: Calibration) -> str:
    """The human summary: held-out figures before and after, and what was left out."""
    r = calibration.report
    figures = ("ece", "brier", "auroc", "accuracy", "balanced_accuracy", "false_positive_rate", "kappa", "alpha")

    def cell(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [
        f"calibration {calibration.id} for {calibration.model}: {r['method']} (held-out log loss platt "
        f"{r['held_out_log_loss']['platt']:.3f}, isotonic {r['held_out_log_loss']['isotonic']:.3f}); threshold "
        f"{calibration.threshold:.3f} ({calibration.threshold_rule})",
        f"{r['labels']} labels ({r['positives']} yes), {r['folds']} folds; figures on held-out folds only",
        f"{'':12}" + "".join(f"{HEADINGS.get(name, name):>10}" for name in figures),
    ]
    for side in ("raw", "calibrated"):
        lines.append(f"{side:12}" + "".join(f"{cell(r['held_out'][side][name]):>10}" for name in figures))
    lines.append(
        f"criteria with their own map: {len(r['criteria_with_own_map'])}; kinds of generated check with one: "
        f"{len(r.get('kinds_with_own_map', []))}; on the global map or their kind's: {len(r['criteria_on_the_global_map'])}"
    )
    if flat_maps := r.get("flat_maps"):
        lines.append(
            f"flat maps (the judge ranks their labels the wrong way round or not at all, so P(yes) tells nothing "
            f"there): {', '.join(flat_maps)}"
        )
    undecided = r.get("criteria_undecided") or {}  # calibrations written before it have none
    if undecided:
        shown = ", ".join(f"{c} {auroc:.2f}" for c, auroc in undecided.items())
        lines.append(
            f"criteria this judge cannot decide (AUROC of its P(yes) on their labels at most {UNDECIDED_AUROC}): "
            f"{shown}; check them in code or leave them out of a reward"
        )
    for why, count in r["unmatched_labels"].items():
        lines.append(f"labels left out: {count} ({why}; e.g. {', '.join(r['unmatched_examples'][why][:3])})")
    return "\n".join(lines)


@dataclass(frozen=True)
class CalibrateOptions:
    output: Path  # the calibration file (JSON)
    labels: Path | None = None  # label lines; default: the labels inside --input rows
    verdicts: Path | None = None  # verdicts of `rubric judge`; or judge --input here
    input: Path | None = None  # labelled input rows, judged first (verdicts: OUTPUT.verdicts.jsonl)
    rubric: str | None = None
    settings: Settings = Settings()
    overwrite: bool = False
    progress: bool | None = None

    @classmethod
    def from_flags(
        cls, flags: CalibrateFlags, *, overwrite: bool = False, progress: bool | None = None
    ) -> CalibrateOptions:
        """From `rubric calibrate`'s flags (judge.eval.options.CalibrateFlags)."""
        settings = Settings(
            min_labels=flags.min_labels, folds=flags.folds, seed=flags.seed, target_fpr=flags.target_fpr
        )
        return cls(
            output=flags.output,
            labels=flags.labels,
            verdicts=flags.verdicts,
            input=flags.input,
            rubric=flags.rubric,
            settings=settings,
            overwrite=overwrite,
            progress=progress,
        )


def calibrate(
    options: CalibrateOptions, open_judge: Callable[[], Judge], say: Callable[[str], None] = lambda _: None
) -> Calibration:
    """Judge the labelled input first when given (resumably), read labels and verdicts, fit,
    write the calibration file. ``open_judge()`` is called only when there is input to judge."""
    from judge.eval.report import read_verdicts
    from judge.runs.files import judge_file
    from judge.rubric_lookup import RubricSource

    _sklearn()  # the install hint before any work
    if (options.verdicts is None) == (options.input is None):
        raise ValueError("give --verdicts (verdicts of `rubric judge`) or --input (labelled rows to judge), not both")
    verdicts_path = options.verdicts
    if options.input is not None:
        verdicts_path = options.output.with_name(options.output.name + ".verdicts.jsonl")
        judge_file(
            open_judge(),
            options.input,
            verdicts_path,
            RubricSource.from_option(options.rubric),
            progress=options.progress,
            overwrite=options.overwrite,
        )
    labels_path = options.labels or options.input
    if labels_path is None:
        raise ValueError("--labels is needed with --verdicts")
    report = LoadReport(unit="labels")
    labels = read_labels(labels_path, report)
    say(f"{labels_path}: {len(labels)} labels" + (f"; skipped {report.describe()}" if report.skipped else ""))
    assert verdicts_path is not None
    verdicts, malformed = read_verdicts(verdicts_path)
    if malformed:
        say(f"{verdicts_path}: {malformed} lines are not verdicts (left out)")
    calibration = fit(match(verdicts, labels), options.settings)
    calibration.save(options.output)
    return calibration
