"""Calibration: the maps and figures on hand-made data with known answers, fitting on held-out
folds only, bad input as counted values, and `--calibration` end to end with a fake judge."""

from __future__ import annotations

import json
import math
import random
import subprocess

import pytest

pytest.importorskip("sklearn")

from judge.backends.fake import FakeBackend  # noqa: E402
from judge.calibration import Calibration, Map  # noqa: E402
from judge.engine import Judge  # noqa: E402
from judge.eval.agreement import agreement, expected_calibration_error, reliability  # noqa: E402
from judge.eval.calibrate import Settings, choose_threshold, fit, fit_map, format_report  # noqa: E402
from judge.runs.labels import Example, Matched, match, read_labels  # noqa: E402
from rubrics.model import Rubric  # noqa: E402
from tests.conftest import ROOT  # noqa: E402


def test_maps_apply_as_their_formulas_say():
    assert Map(kind="platt", a=1.0, b=0.0)(0.8) == pytest.approx(0.8)
    assert Map(kind="platt", a=0.5, b=0.0)(0.8) == pytest.approx(1 / (1 + math.exp(-0.5 * math.log(4))))
    step = Map(kind="isotonic", x=[0.2, 0.6, 1.0], y=[0.0, 0.5, 0.9])
    assert [step(0.1), step(0.4), step(0.6), step(0.8), step(1.0)] == pytest.approx([0.0, 0.25, 0.5, 0.7, 0.9])
    assert Map(kind="identity")(0.37) == 0.37


def test_figures_on_hand_made_data():
    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert expected_calibration_error([0.95] * 4 + [0.05] * 4, [True, True, False, False] * 2) == pytest.approx(0.45)
    bins = reliability([0.05, 0.15, 1.0], [False, True, True])
    assert (bins[0]["n"], bins[1]["observed"], bins[-1]["n"]) == (1, 1.0, 1)
    figures = agreement([0.9, 0.8, 0.3, 0.6], [True, True, False, False], 0.5)
    assert figures["brier"] == pytest.approx((0.01 + 0.04 + 0.09 + 0.36) / 4)
    assert figures["auroc"] == 1.0 and figures["accuracy"] == 0.75 and figures["false_positive_rate"] == 0.5
    assert figures["kappa"] == pytest.approx(0.5)  # observed 0.75, chance 0.5
    assert figures["balanced_accuracy"] == 0.75


def test_the_threshold_maximises_balanced_accuracy_or_meets_a_false_positive_target():
    p = [0.95, 0.9, 0.85, 0.8, 0.7, 0.6]
    y = [True, True, False, True, False, False]
    assert choose_threshold(p, y) == 0.8  # yes from 0.8 up: TPR 1, FPR 1/3
    assert choose_threshold(p, y, target_fpr=0.0) == 0.9  # no false positive: only the two top ones
    assert choose_threshold(p, y, target_fpr=0.34) == 0.8  # one false positive of three allowed: all three yes caught
    assert choose_threshold(p, y, target_fpr=0.67) == 0.8  # more is allowed, but a lower cut adds false positives only


def overconfident(n: int, seed: int = 0, criterion: str = "c") -> list[Example]:
    """A judge that says Yes too readily: raw = sigmoid(2 logit(q) + 1.5) of the true probability q."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        q = rng.uniform(0.02, 0.98)
        raw = 1 / (1 + math.exp(-(2 * math.log(q / (1 - q)) + 1.5)))
        rows.append(Example(f"i{i}", criterion, raw, rng.random() < q))
    return rows


def test_a_biased_judge_is_calibrated_on_held_out_folds():
    calibration = fit(Matched(overconfident(600), model="fake:scripted"), Settings(folds=5))
    raw, calibrated = calibration.report["held_out"]["raw"], calibration.report["held_out"]["calibrated"]
    assert calibrated["ece"] < raw["ece"] / 2 and calibrated["brier"] < raw["brier"]
    assert calibrated["balanced_accuracy"] > raw["balanced_accuracy"]
    assert calibration.report["method"] == "platt"  # the truth is a logistic curve
    assert calibration.global_map.a == pytest.approx(0.5, abs=0.15) and calibration.global_map.b == pytest.approx(
        -0.75, abs=0.3
    )
    assert 0.3 < calibration.threshold < 0.7  # near 0.5 once calibrated


def test_criteria_get_their_own_map_only_with_enough_labels_of_both_classes():
    rows = overconfident(200, criterion="many") + overconfident(10, seed=1, criterion="few")
    rows += [Example(f"s{i}", "always", 0.9, True) for i in range(40)]
    calibration = fit(Matched(rows, model="m"), Settings(min_labels=30))
    assert calibration.report["criteria_with_own_map"] == ["many"]
    notes = calibration.report["criteria_on_the_global_map"]
    assert notes["few"].startswith("global map: 10 labels") and notes["always"] == "global map: all 40 labels are yes"
    assert calibration.apply("unseen", 0.9) == calibration.global_map(0.9)


def test_criteria_the_judge_does_not_rank_are_named_as_undecided():
    rng = random.Random(3)
    blind = [Example(f"b{i}", "blind", rng.random(), rng.random() < 0.4) for i in range(80)]  # P(yes) says nothing
    backwards = [Example(f"w{i}", "backwards", 0.8 - 0.5 * (i % 2), i % 2 == 1) for i in range(40)]
    rows = overconfident(200, criterion="many") + blind + backwards
    calibration = fit(Matched(rows, model="m"), Settings(min_labels=30))
    undecided = calibration.report["criteria_undecided"]
    assert set(undecided) == {"blind", "backwards"} and undecided["backwards"] == 0.0 and undecided["blind"] <= 0.6
    assert "cannot decide (AUROC of its P(yes) on their labels at most 0.6): backwards 0.00, blind" in format_report(
        calibration
    )
    assert "cannot decide" not in format_report(fit(Matched(overconfident(200), model="m"), Settings()))


def test_a_map_that_would_invert_the_judge_is_flat_and_named():
    """Before: forbidden words got a Platt map with slope -1.17, which turned the judge's
    ranking upside down in every reward it calibrated."""
    backwards = fit_map("platt", [0.8 - 0.5 * (i % 2) for i in range(40)], [i % 2 == 1 for i in range(40)])
    assert backwards.a == 0 and backwards(0.3) == backwards(0.8) == pytest.approx(0.5)  # the labels' base rate
    rows = overconfident(200, criterion="many")
    rows += [Example(f"w{i}", "backwards", 0.8 - 0.5 * (i % 2) + 0.01 * (i % 7), i % 2 == 1) for i in range(60)]
    calibration = fit(Matched(rows, model="m"), Settings(min_labels=30))
    assert calibration.report["method"] == "platt"
    assert calibration.criteria["backwards"].a == 0 and "criteria:backwards" in calibration.report["flat_maps"]
    assert "flat maps (the judge ranks their labels the wrong way round" in format_report(calibration)
    # a file fitted before (a negative slope inside) is read with that map flat, and says so
    old = Calibration(model="m", global_map=Map(kind="identity"), criteria={"c": Map(kind="platt", a=-1.17, b=0.2)})
    assert old.criteria["c"].a == 0 and old.apply("c", 0.1) == old.apply("c", 0.9) == pytest.approx(
        Map(kind="platt", a=-1.17, b=0.2)(0.5)
    )
    assert old.report["flattened"] == ["criteria:c"]


def test_generated_checks_share_the_map_of_their_kind():
    """Generated check ids name their kind (check-existence-lantern): a kind with enough labels
    gets a map that every criterion of that kind uses, in any rubric."""
    rows = [
        Example(e.item_id, f"check-existence-{'lantern' if i % 2 else 'kite'}{i % 5}", e.p_yes, e.label)
        for i, e in enumerate(overconfident(300, seed=4))
    ]
    calibration = fit(Matched(rows, model="m"), Settings(min_labels=100))
    assert calibration.criteria == {} and set(calibration.kinds) == {"existence"}
    assert calibration.apply("check-existence-never-seen", 0.9) == calibration.kinds["existence"](0.9)
    assert calibration.apply("check-no_comma", 0.9) == calibration.global_map(0.9)
    assert "the map of its kind 'existence'" in next(iter(calibration.report["criteria_on_the_global_map"].values()))


def test_labels_and_verdicts_are_matched_with_what_is_left_out_counted(tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "criterion_id": "c1", "label": "yes"}),
                json.dumps({"id": "a", "criterion_id": "c2", "label": 0}),
                json.dumps({"id": "b", "labels": {"c1": True, "code": False}}),
                json.dumps({"id": "ghost", "criterion_id": "c1", "label": True}),
                json.dumps({"id": "a", "criterion_id": "c3", "label": "maybe"}),
                "not json",
            ]
        )
        + "\n"
    )
    from rubrics.records import LoadReport

    report = LoadReport()
    found = read_labels(labels, report)
    assert found == {
        ("a", "c1"): True,
        ("a", "c2"): False,
        ("b", "c1"): True,
        ("b", "code"): False,
        ("ghost", "c1"): True,
    }
    assert sum(report.skipped.values()) == 2
    verdicts = [
        {
            "item_id": "a",
            "model": "fake:x",
            "results": [
                {"criterion_id": "c1", "status": "scored", "p_yes": 0.9},
                {"criterion_id": "c2", "status": "unscored", "p_yes": None},
            ],
        },
        {
            "item_id": "b",
            "model": "fake:x",
            "results": [
                {"criterion_id": "c1", "status": "scored", "p_yes": 0.4, "p_yes_raw": 0.7},
                {"criterion_id": "code", "status": "scored", "p_yes": 0.0, "reason": "checked in code: 2 words"},
            ],
        },
    ]
    matched = match(verdicts, found)
    assert [(e.item_id, e.p_yes, e.label) for e in matched.examples] == [
        ("a", 0.9, True),
        ("b", 0.7, True),
    ]  # the raw P(yes)
    assert matched.unmatched == {
        "the criterion was not scored": 1,
        "decided in code, not by the judge": 1,
        "no verdict has this item and criterion": 1,
    }
    assert matched.examples_of_unmatched["no verdict has this item and criterion"] == ["ghost/c1"]
    with pytest.raises(ValueError, match="several judges"):
        match([*verdicts, {"item_id": "z", "model": "other:y", "results": []}], found)
    with pytest.raises(ValueError, match="mix request shapes"):
        match([*verdicts, {"item_id": "z", "model": "fake:x", "request_shape": "batched", "results": []}], found)
    with pytest.raises(ValueError, match="at least 2 labels of each class"):
        fit(Matched([Example("a", "c", 0.9, True)] * 5, model="m"))


def test_the_engine_applies_a_calibration_after_the_cache_and_records_both_values():
    calibration = Calibration(model="fake:scripted", global_map=Map(kind="platt", a=1.0, b=-1.0), threshold=0.6)
    rubric = Rubric.model_validate(
        {
            "id": "r",
            "criteria": [
                {"id": "c", "text": "Polite."},
                {
                    "id": "w",
                    "text": "Short.",
                    "check": {"type": "length_constraints:number_words", "relation": "less than", "num_words": 5},
                },
            ],
        }
    )
    judge = Judge(FakeBackend(0.8), calibration=calibration)
    verdict = judge.evaluate("q", "Hello there!", rubric)
    polite, short = verdict.results
    expected = 1 / (1 + math.exp(-(math.log(4) - 1)))
    assert polite.p_yes_raw == 0.8 and polite.p_yes == pytest.approx(expected) and polite.met is (expected >= 0.6)
    assert short.p_yes == 1.0 and short.p_yes_raw is None  # decided in code: not calibrated
    assert (
        verdict.calibration == calibration.id
        and judge.threshold == 0.6
        and judge.settings()["calibration"] == calibration.id
    )
    with pytest.raises(ValueError, match="fitted for the judge fake:scripted, not fake:other"):
        Judge(FakeBackend(0.8, label="other"), calibration=calibration)
    with pytest.raises(ValueError, match="fitted on per_criterion verdicts, not batched ones"):
        Judge(FakeBackend(0.8), calibration=calibration, request_shape="batched")


def test_calibrate_end_to_end_with_a_fake_judge(tmp_path, rubric_exe):
    """judge -> labels -> calibrate -> judge --calibration -> report, through the CLI."""
    rows, labels, rng = [], [], random.Random(3)
    for i in range(80):
        good = rng.random() < 0.5
        rows.append(
            {"id": f"r{i}", "prompt": "Say hi.", "response": ("Hello, friend! " if good else "Go away. ") * (1 + i % 3)}
        )
        labels.append({"id": f"r{i}", "criterion_id": "polite", "label": good})
    source, label_file = tmp_path / "in.jsonl", tmp_path / "labels.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    label_file.write_text("".join(json.dumps(r) + "\n" for r in labels))
    rubric = tmp_path / "rubric.json"
    rubric.write_text(json.dumps({"id": "polite", "criteria": [{"id": "polite", "text": "The response is polite."}]}))
    script = tmp_path / "judge.yaml"  # says Yes too often: 0.9 to polite answers, 0.7 to rude ones
    script.write_text("p_yes:\n  - match: 'Hello, friend'\n    p_yes: 0.9\ndefault_p_yes: 0.7\n")
    model = f"fake:script:{script}"
    verdicts, calibration, calibrated = tmp_path / "v.jsonl", tmp_path / "cal.json", tmp_path / "v2.jsonl"

    def run(*argv):
        result = subprocess.run([rubric_exe, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert result.returncode == 0, result.stderr
        return result

    run(
        "judge",
        "--rubric",
        str(rubric),
        "--input",
        str(source),
        "--output",
        str(verdicts),
        "--model",
        model,
        "--no-cache",
        "--quiet",
    )
    printed = run(
        "calibrate",
        "--verdicts",
        str(verdicts),
        "--labels",
        str(label_file),
        "--output",
        str(calibration),
        "--folds",
        "4",
    ).stdout
    assert "figures on held-out folds only" in printed and "raw" in printed and "calibrated" in printed
    fitted = Calibration.load(calibration)
    assert fitted.model == f"fake:script:{script}" and fitted.backend["backend"] == "fake"
    assert fitted.report["held_out"]["calibrated"]["accuracy"] == 1.0  # 0.9 vs 0.7 separates them once the cut moves
    assert fitted.report["held_out"]["raw"]["accuracy"] < 0.7  # at 0.5 the raw judge says yes to everything
    run(
        "judge",
        "--rubric",
        str(rubric),
        "--input",
        str(source),
        "--output",
        str(calibrated),
        "--model",
        model,
        "--no-cache",
        "--quiet",
        "--calibration",
        str(calibration),
    )
    lines = [json.loads(line) for line in calibrated.read_text().splitlines()]
    assert all(v["calibration"] == fitted.id and v["results"][0]["p_yes_raw"] in (0.9, 0.7) for v in lines)
    assert all(v["results"][0]["met"] is (v["results"][0]["p_yes_raw"] == 0.9) for v in lines)
    html = tmp_path / "cal.html"
    run("report", str(calibration), "-o", str(html))
    assert "Reliability diagram" in html.read_text() and html.read_text().count("<svg") == 1
    other = subprocess.run(
        [
            rubric_exe,
            "judge",
            "--rubric",
            str(rubric),
            "--input",
            str(source),
            "--output",
            str(tmp_path / "v3.jsonl"),
            "--model",
            "fake:yes",
            "--no-cache",
            "--quiet",
            "--calibration",
            str(calibration),
        ],
        capture_output=True,
        text=True,
    )
    assert other.returncode == 2 and "was fitted for the judge" in other.stderr


def flat_calibration(tmp_path, model: str):
    """Every P(yes) becomes 0.3: easy to see wherever it is applied."""
    path = tmp_path / "flat.json"
    Calibration(model=model, global_map=Map(kind="isotonic", x=[0.0, 1.0], y=[0.3, 0.3])).save(path)
    return path


def test_rewards_for_trl_verl_and_the_server_apply_a_calibration(tmp_path, rubric_exe, monkeypatch):
    import re
    import signal

    import httpx

    from judge.rl import RewardRequest, build_scorer, rubric_reward
    from judge.rl import verl_reward

    path = flat_calibration(tmp_path, "fake:yes")
    rubric = {"id": "r", "criteria": [{"id": "c", "text": "The answer is polite."}]}
    scorer = build_scorer("fake:yes", rubric=rubric, calibration=path)
    assert scorer.score([RewardRequest("q", "Hello!")])[0].value == pytest.approx(0.3)
    trl = rubric_reward("fake:yes", rubric=rubric, calibration=path)
    assert trl(prompts=["q"], completions=["Hello!"]) == [pytest.approx(0.3)]
    monkeypatch.setenv("RUBRIC_JUDGE_CALIBRATION", str(path))
    monkeypatch.setenv("RUBRIC_JUDGE_MODEL", "fake:yes")
    verl = verl_reward.compute_score("data", "Hello!", json.dumps(rubric), {"prompt": "q"})
    assert verl["score"] == pytest.approx(0.3)
    server = subprocess.Popen(
        [rubric_exe, "serve", "--model", "fake:yes", "--port", "0", "--calibration", str(path), "--no-cache"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        address = re.search(r"http://([\d.]+:\d+)", server.stderr.readline()).group(1)
        answer = httpx.post(
            f"http://{address}/score", json={"prompt": "q", "response": "Hello!", "rubric": rubric}, timeout=60
        ).json()
        assert answer["reward"] == pytest.approx(0.3)
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    finally:
        server.kill()
