"""Pure scoring functions, with hand-computed cases."""

import pytest

from judge.scoring import decide, hard_rule_gate, mean_score, weighted_score
from judge.verdict import CriterionResult


def result(cid, weight, p=None, *, status="scored", kind="principle", threshold=0.5):
    met = None if p is None or status != "scored" else decide(p, threshold)
    return CriterionResult(criterion_id=cid, weight=weight, status=status, p_yes=p, met=met, kind=kind)


def test_hard_score_counts_met_positive_weights_over_positive_total():
    results = [result("a", 3, 0.9), result("b", 2, 0.7), result("pit", -2, 0.1)]
    assert weighted_score(results, soft=False).value == pytest.approx((3 + 2) / 5)


def test_met_pitfall_subtracts():
    results = [result("a", 3, 0.9), result("b", 2, 0.7), result("pit", -2, 0.8)]
    assert weighted_score(results, soft=False).value == pytest.approx((3 + 2 - 2) / 5)


def test_soft_score_weights_p_yes():
    results = [result("a", 3, 0.8), result("b", 2, 0.5), result("pit", -2, 0.25)]
    # (3*0.8 + 2*0.5 - 2*0.25) / (3 + 2) = 2.9 / 5
    assert weighted_score(results, soft=True).value == pytest.approx(0.58)


def test_score_can_be_negative_per_item():
    results = [result("a", 1, 0.0), result("pit", -3, 1.0)]
    assert weighted_score(results, soft=False).value == pytest.approx(-3.0)


def test_unscored_criteria_are_excluded_and_counted_not_zero():
    results = [result("a", 3, 0.9), result("b", 2, status="unscored")]
    score = weighted_score(results, soft=False)
    assert score.value == pytest.approx(1.0)  # 3/3, not 3/5
    assert (score.n_scored, score.n_unscored) == (1, 1)


def test_skipped_criteria_are_excluded_and_counted():
    results = [result("a", 1, 0.9), result("b", 1, status="skipped")]
    score = weighted_score(results, soft=False)
    assert score.value == 1.0 and score.n_skipped == 1 and score.n_unscored == 0


def test_no_scored_positive_weight_gives_no_score_with_reason():
    results = [result("a", 3, status="unscored"), result("pit", -1, 0.9)]
    score = weighted_score(results)
    assert score.value is None
    assert "no positive-weight criterion" in score.reason


def test_failed_hard_rule_caps_the_score():
    results = [result("rule", 2, 0.1, kind="hard_rule"), result("a", 8, 1.0)]
    assert weighted_score(results, soft=False).value == 0.0
    assert weighted_score(results, soft=False, gate_cap=0.3).value == pytest.approx(0.3)
    assert weighted_score(results, soft=False, gate=False).value == pytest.approx(0.8)
    assert weighted_score(results).gate == "failed"


def test_cap_never_raises_a_lower_score():
    results = [result("rule", 1, 0.1, kind="hard_rule"), result("a", 1, 0.0)]
    assert weighted_score(results, soft=False, gate_cap=0.5).value == 0.0


def test_gate_states():
    assert hard_rule_gate([result("a", 1, 0.9)]) == "none"
    assert hard_rule_gate([result("r", 1, 0.9, kind="hard_rule")]) == "passed"
    assert hard_rule_gate([result("r", 1, status="unscored", kind="hard_rule")]) == "undetermined"
    both = [result("r", 1, status="unscored", kind="hard_rule"), result("s", 1, 0.1, kind="hard_rule")]
    assert hard_rule_gate(both) == "failed"


def test_undetermined_gate_does_not_cap():
    results = [result("rule", 2, status="unscored", kind="hard_rule"), result("a", 1, 1.0)]
    score = weighted_score(results, soft=False)
    assert score.value == 1.0 and score.gate == "undetermined"


def test_threshold_is_inclusive():
    assert decide(0.5, 0.5) and not decide(0.4999, 0.5)


def test_mean_is_clipped_like_healthbench_and_skips_none():
    assert mean_score([-0.5, 0.2, None]) == 0.0
    assert mean_score([-0.5, 0.2], clip=False) == pytest.approx(-0.15)
    assert mean_score([1.0, 0.5]) == pytest.approx(0.75)
    assert mean_score([None]) is None
