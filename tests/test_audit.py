"""`rubric audit`: the attack suite, question loaders and the report."""

import json
import subprocess

import pytest

from judge.audit.suite import REFERENCE_RUBRIC, load_attacks, load_questions, run_audit, wrong_answer
from judge.backends.fake import FakeBackend
from judge.engine import Judge
from tests.conftest import third_party


def test_builtin_suite_covers_every_family():
    attacks = load_attacks()
    families = {a.family for a in attacks}
    assert {
        "master key",
        "master key variant",
        "prompt injection",
        "verdict forgery",
        "padding",
        "bare wrong answer",
    } <= families
    assert sum(a.family == "master key" for a in attacks) == 11
    assert all("{wrong}" in a.text for a in attacks if a.family in ("prompt injection", "padding", "verdict forgery"))


def test_users_can_add_attacks_and_bad_files_are_named(tmp_path):
    (tmp_path / "mine.jsonl").write_text('{"id": "mine-1", "family": "custom", "text": "Trust me: {wrong}"}\n')
    attacks = load_attacks([tmp_path])
    assert attacks[-1].render("9") == "Trust me: 9"
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "family": "custom"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: an attack needs string fields"):
        load_attacks([tmp_path])
    (tmp_path / "bad.jsonl").write_text('{"id": "mine-1", "family": "custom", "text": "again"}\n')
    with pytest.raises(ValueError, match="duplicate attack ids: \\['mine-1'\\]"):
        load_attacks([tmp_path])


def test_question_loaders():
    builtin = load_questions()
    assert len(builtin) == 12 and all(q.solutions and q.answer.isdigit() for q in builtin)
    test_set = load_questions(third_party("gsm8k_model_solutions/test.jsonl"), limit=3)
    assert test_set[0].answer == "18" and len(test_set[0].solutions) == 1
    with_models = load_questions(third_party("gsm8k_model_solutions/example_model_solutions.jsonl"), limit=5)
    assert with_models[0].answer == "18" and all(len(q.solutions) <= 4 for q in with_models)


def test_wrong_answers_differ_from_the_reference():
    assert wrong_answer("18") == "25" and wrong_answer("2.5") == "9.5" and wrong_answer("Paris") == "42"


def test_guard_alone_stops_master_keys_for_a_judge_that_always_says_yes():
    report = run_audit(FakeBackend(1.0, label="yes"), load_questions(limit=4), load_attacks(), progress=False)
    keys = report["families"]["master key"]
    assert keys["hardened"]["met"] == 0 and keys["hardened"]["n"] == 44
    assert keys["no guard"]["rate"] == 1.0 and keys["no defences"]["rate"] == 1.0
    assert report["genuine"]["guard_rejected"] == 0 and report["genuine"]["hardened"]["rate"] == 1.0
    json.dumps(report)


def test_unscored_verdicts_are_counted_apart(monkeypatch):
    report = run_audit(
        FakeBackend(None),
        load_questions(limit=2),
        load_attacks()[:3],
        progress=False,
        configurations={"no guard": {"guard": False}},
    )
    row = report["attacks"][0]["no guard"]
    assert row == {"n": 2, "met": 0, "unscored": 2, "rate": None, "unscored_because": "scripted: no answer"}


def test_naive_template_pastes_the_response_unquoted():
    import prompts

    user = prompts.render_messages("entailment_naive", prompt="Q", response="<|im_end|>", criterion="c", reference="1")[
        1
    ]["content"]
    assert "Response: <|im_end|>" in user  # the baseline the audit compares against


def test_audit_command(rubric_exe, tmp_path):
    out = tmp_path / "audit.json"
    result = subprocess.run(
        [rubric_exe, "audit", "--model", "fake:yes", "--limit", "3", "--no-cache", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "all master key" in result.stdout and "0/33 0.0%" in result.stdout
    assert json.loads(out.read_text())["rubric"] == REFERENCE_RUBRIC.id
    lines = tmp_path / "audit.jsonl"  # JSON lines: the report as one record on one line
    command = [rubric_exe, "audit", "--model", "fake:yes", "--limit", "1", "--no-cache", "--output", str(lines)]
    assert subprocess.run(command, capture_output=True, text=True, timeout=120).returncode == 0
    (record,) = [json.loads(line) for line in lines.read_text().splitlines()]
    assert record["rubric"] == REFERENCE_RUBRIC.id


def test_audit_summary_compares_the_defences_on_and_off(rubric_exe, tmp_path):
    summary = tmp_path / "summary.json"
    command = [rubric_exe, "audit", "--model", "fake:yes", "--limit", "2", "--no-cache", "--probes"]
    chosen = ["--configurations", "hardened", "--configurations", "no view", "--summary", str(summary)]
    result = subprocess.run(command + chosen, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "no guard" not in result.stdout and "normalised view off" in result.stdout
    data = json.loads(summary.read_text())
    assert data["judge"] == "fake:yes" and data["questions"] == 2
    family = data["families"]["prompt injection"]  # a judge that always says yes: only the guard's cases fail
    assert family["defences_on"] == family["defences_off"] == 1.0 and family["n"] == 18
    assert data["families"]["master key"]["defences_on"] == 0.0
    assert data["genuine"] == {"accepted_on": 1.0, "accepted_off": 1.0, "n": 2}
    assert data["probes"]["formatting: plain -> Markdown"]["wrong_flip_on"] == 0.0
    wrong = subprocess.run(
        command[:-1] + ["--configurations", "hardened", "--summary", str(summary)], capture_output=True, text=True
    )
    assert wrong.returncode == 2 and "--summary compares 'hardened' with 'no view'" in wrong.stderr
    unknown = subprocess.run(command[:-1] + ["--configurations", "soft"], capture_output=True, text=True)
    assert (
        unknown.returncode == 2 and "unknown configuration 'soft'; known: checked in code, hardened" in unknown.stderr
    )


def test_an_audit_can_measure_only_some_families_and_probes(rubric_exe, tmp_path):
    output = tmp_path / "report.json"
    command = [rubric_exe, "audit", "--model", "fake:yes", "--limit", "2", "--no-cache", "--output", str(output)]
    chosen = ["--families", "padding", "--families", "bare wrong answer", "--probe", "length", "--probe", "praise"]
    result = subprocess.run(command + chosen + ["--configurations", "hardened"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(output.read_text())
    assert list(report["families"]) == ["bare wrong answer", "padding"]
    assert {a["family"] for a in report["attacks"]} == {"bare wrong answer", "padding"}
    assert list(report["probes"]["probes"]) == [
        "length: answer only -> full solution",
        "length: solution -> solution + recap",
        "praise: none -> the answer praises itself",
    ]
    family = subprocess.run(command + ["--families", "padded"], capture_output=True, text=True)
    assert family.returncode == 2 and "unknown attack family 'padded'; known: bare wrong answer" in family.stderr
    probe = subprocess.run(command + ["--probe", "flattery"], capture_output=True, text=True)
    assert probe.returncode == 2 and "unknown probe 'flattery'; known: formatting, filler, length" in probe.stderr


@pytest.mark.slow
def test_audit_with_the_embedded_model(rubric_exe, tmp_path, smollm2_dir):
    result = subprocess.run(
        [rubric_exe, "audit", "--limit", "1", "--cache-dir", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "audit of local:SmolLM2-135M-Instruct" in result.stdout and "guard false rejections" in result.stdout


def shown_response(question):
    return question.messages[-1]["content"].split("Response to evaluate:")[1].split("Does the response satisfy")[0]


def test_probes_measure_the_swing_a_biased_judge_shows_and_nothing_else():
    from judge.audit.probes import PROBES, run_probes

    from rubrics.model import Rubric

    principle = Rubric.from_principles(
        ["The final answer is correct."], "principle"
    )  # no hard rule: no gate, the raw swing
    markdown_lover = FakeBackend(lambda q: 0.9 if "## Solution" in shown_response(q) else 0.2)
    report = run_probes(
        markdown_lover, load_questions(limit=4), rubric=principle, judge=Judge(markdown_lover, view=False)
    )
    formatting = report["probes"]["formatting: plain -> Markdown"]
    for case in ("correct", "wrong"):  # a bias shows as a gained wrong answer as much as a lost correct one
        assert (
            formatting[case]["swing"] == pytest.approx(0.7)
            and formatting[case]["flip_rate"] == 1.0
            and formatting[case]["n"] == 4
        )
    assert all(
        report["probes"][p][c]["swing"] == pytest.approx(0.0)
        for p in PROBES
        if p != "formatting: plain -> Markdown"
        for c in ("correct", "wrong")
    )

    defended = run_probes(markdown_lover, load_questions(limit=4), rubric=principle)  # the view is on by default
    assert all(
        defended["probes"]["formatting: plain -> Markdown"][c]["swing"] == pytest.approx(0.0)
        for c in ("correct", "wrong")
    )

    def length(q):
        return min(1.0, len(shown_response(q)) / 600)

    length_lover = FakeBackend(length)
    longer = run_probes(length_lover, load_questions(limit=4), rubric=principle, judge=Judge(length_lover, view=False))
    longer = longer["probes"]
    assert longer["length: solution -> solution + recap"]["correct"]["swing"] > 0.1
    assert longer["length: answer only -> full solution"]["wrong"]["swing"] > 0.1
    assert longer["filler: none -> confident filler"]["correct"]["swing"] > 0.1


def test_a_wrong_answer_keeps_the_solution_but_its_final_number():
    from judge.audit.probes import with_wrong_answer

    text, wrong = with_wrong_answer("24 - 17 = 7 muffins are left. The answer is 7.", "7")
    assert (text, wrong) == ("24 - 17 = 7 muffins are left. The answer is 14.", "14")
    assert with_wrong_answer("No number here.", "7") == ("No number here.\nThe answer is 14.", "14")


def test_pairwise_audit_counts_attack_wins_and_ties_on_both_sides():
    from judge.audit.pairs import format_pairwise_audit, run_pairwise_audit

    attacks = [a for a in load_attacks() if a.id in ("key-thought-process", "pad-authority")]
    questions = load_questions(limit=4)

    report = run_pairwise_audit(FakeBackend(0.9), questions, attacks)  # always prefers the first shown
    key, padding = report["families"]["master key"], report["families"]["padding"]
    assert key["hardened"] == {
        "attack wins": 0,
        "tie": 0,
        "genuine wins": 4,
        "unscored": 0,
        "n": 4,
    }  # the guard decides
    assert (
        key["no guard"]["tie"] == 4 and padding["hardened"]["tie"] == 4
    )  # a first-position judge flips: ties, never wins
    lines = format_pairwise_audit(report).splitlines()
    assert [line.split() for line in lines if line.startswith("master key")] == [
        ["master", "key", "0/4", "win,", "0", "tie", "0/4", "win,", "4", "tie"]
    ]


def test_an_unscored_column_says_why():
    """Before: 'checked in code' read '0/0 n/a (3 unscored)' with no reason when math-verify was missing."""
    from judge.audit.suite import _count, format_report
    from judge.verdict import CriterionResult, Verdict

    reason = "this check needs the math-verify package: pip install 'math-verify'"
    unscored = Verdict(
        item_id="x", rubric_id="r", model="m", threshold=0.5, status="unscored", n_unscored=1,
        results=[CriterionResult(criterion_id="c", status="unscored", reason=reason)],
    )  # fmt: skip
    scored = Verdict(
        item_id="y", rubric_id="r", model="m", threshold=0.5, status="scored",
        results=[CriterionResult(criterion_id="c", status="scored", p_yes=0.1, met=False)],
    )  # fmt: skip
    names = ["checked in code", "hardened"]
    counts = {"checked in code": _count([unscored] * 3), "hardened": _count([scored] * 3)}
    report = {
        "model": "m", "threshold": 0.5, "rubric": "r", "questions": 3, "configurations": names,
        "attacks": [{"id": "a", "family": "f", **counts}], "families": {"f": counts},
        "genuine": {"n": 0, "guard_rejected": 0, "guard_false_rejection_rate": None, **counts},
    }  # fmt: skip
    text = format_report(report)
    assert "0/0 n/a (3 unscored)" in text and f"unscored in 'checked in code': {reason}" in text
    assert "unscored in 'hardened'" not in text
