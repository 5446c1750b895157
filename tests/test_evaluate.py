"""`rubric eval`: scripted judges with known behaviour must get exactly the accuracies
that behaviour implies on the real benchmark files."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess

import pytest

from judge.eval import preference, stats
from judge.backends.fake import FakeBackend
from judge.engine import Judge
from judge.pairwise import PairwiseJudge
from rubrics.model import Rubric
from rubrics.pairs import LabelledPair
from rubrics.records import LoadReport
from tests.conftest import ROOT, third_party, third_party_root


def shown(content: str, tag: str) -> str:
    return re.search(rf"<{tag}-\w+>\n(.*?)\n</{tag}-\w+>", content, flags=re.DOTALL).group(1)


def longer_first(question):
    content = question.messages[-1]["content"]
    return 1.0 if len(shown(content, "response_1")) > len(shown(content, "response_2")) else 0.0


def oracle(pairs):
    from prompts import neutralise

    # keyed by prompt too: one response text can be the better in one pair and the worse in another
    better = {
        (neutralise(p.prompt).strip(), neutralise(p.response_a if p.label == "A" else p.response_b).strip())
        for p in pairs
        if p.label != "tie"
    }

    def script(question):
        content = question.messages[-1]["content"]
        return 1.0 if (shown(content, "prompt").strip(), shown(content, "response_1").strip()) in better else 0.0

    return script


@pytest.fixture(scope="module")
def benchmark():
    pairs = []
    for name in ("llmbar", "pandalm"):
        report = LoadReport()
        pairs += preference.stratified_sample(
            preference.load_benchmark(
                name, report, third_party_root("llmbar/LLMBar_Natural.json", "pandalm_testset/testset-v1.json")
            ),
            150,
            seed=1,
        )
    return pairs


def run(mode, backend, pairs, rubric=None):
    async def collect():
        judge_kw = (
            {"pairwise": PairwiseJudge(backend, guard=False)}
            if mode == "pairwise"
            else {"judge": Judge(backend, guard=False), "rubric": rubric}
        )
        return [r async for r in preference.judge_pairs(mode, pairs, **judge_kw)]

    return preference.summarise(asyncio.run(collect()))


def expected_longer(pairs):
    labelled = [p for p in pairs if p.label != "tie"]
    return sum(
        (len(p.response_a) > len(p.response_b)) == (p.label == "A") and len(p.response_a) != len(p.response_b)
        for p in labelled
    ) / len(labelled)


def test_always_first_judge_ties_everything(benchmark):
    summary = run("pairwise", FakeBackend(1.0), benchmark)
    assert summary["accuracy"]["value"] == 0.0 and summary["judge_ties"]["value"] == 1.0
    assert summary["position_consistency"]["value"] == 0.0


def test_always_longer_judge_scores_exactly_the_share_of_longer_better_responses(benchmark):
    summary = run("pairwise", FakeBackend(longer_first), benchmark)
    assert summary["accuracy"]["value"] == pytest.approx(expected_longer(benchmark))
    assert summary["length_bias"]["better_is_longer"]["value"] == 1.0
    assert summary["length_bias"]["better_is_shorter"]["value"] == 0.0
    unequal = sum(len(p.response_a) != len(p.response_b) for p in benchmark) / len(benchmark)
    assert unequal < 1 and summary["position_consistency"]["value"] == pytest.approx(
        unequal
    )  # equal lengths flip: ties
    low, high = summary["accuracy"]["ci95"]
    assert low < summary["accuracy"]["value"] < high


def test_oracle_judge_is_always_right_and_label_ties_are_counted_apart(benchmark):
    # The oracle sees only the question: leave out pairs whose response is the better one
    # for a prompt in one pair and the worse for that same prompt in another (LLMBar reuses them).
    roles: dict[tuple[str, str], set[bool]] = {}
    for p in benchmark:
        for text, is_better in ((p.response_a, p.label == "A"), (p.response_b, p.label == "B")):
            roles.setdefault((p.prompt, text), set()).add(is_better)
    benchmark = [
        p for p in benchmark if len(roles[(p.prompt, p.response_a)]) == len(roles[(p.prompt, p.response_b)]) == 1
    ]
    summary = run("pairwise", FakeBackend(oracle(benchmark)), benchmark)
    ties = sum(p.label == "tie" for p in benchmark)
    assert ties > 0 and summary["label_ties"] == ties
    assert summary["accuracy"] == {"n": len(benchmark) - ties, "value": 1.0, "ci95": [1.0, 1.0]}


def test_pointwise_length_judge_prefers_the_longer_and_reports_equal_scores():
    rubric = Rubric.from_principles(["The response is good."], "r")
    pairs = [
        LabelledPair("1", "q", "a longer answer", "short", "A", "s"),
        LabelledPair("2", "q", "short", "a longer answer", "A", "s"),
        LabelledPair("3", "q", "same!", "same?", "B", "s"),
        LabelledPair("4", "q", "xx", "yyyy", "tie", "s"),
    ]

    def by_length(question):
        return len(shown(question.messages[-1]["content"], "response")) / 100

    summary = run("pointwise", FakeBackend(by_length), pairs, rubric)
    assert summary["accuracy"]["value"] == pytest.approx(1 / 3) and summary["accuracy"]["n"] == 3
    assert summary["equal_scores"]["value"] == pytest.approx(1 / 4) and summary["label_ties"] == 1


def test_stratified_sample_keeps_proportions_and_is_seeded(benchmark):
    report = LoadReport()
    pairs = preference.load_benchmark("llmbar", report, third_party_root("llmbar/LLMBar_Natural.json"))
    sample = preference.stratified_sample(pairs, 100, seed=3)
    assert len(sample) == 100 and sample == preference.stratified_sample(pairs, 100, seed=3)
    by_source = {s: sum(p.source == s for p in sample) for s in {p.source for p in pairs}}
    assert by_source["LLMBar_Natural"] == round(100 * 100 / 419)
    assert preference.stratified_sample(pairs, None) == pairs


def test_unknown_benchmark_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: faireval, hh-rlhf-harmless, llmbar"):
        preference.benchmark_files("llmbars")


def test_bootstrap_interval_is_exact_for_constant_values_and_brackets_the_mean():
    assert stats.interval([1.0] * 10) == (1.0, 1.0)
    low, high = stats.interval([0.0, 1.0] * 50)
    assert low < 0.5 < high and high - low < 0.3
    assert stats.interval([]) is None


def test_rubric_eval_command_resumes_and_writes_json(rubric_exe, tmp_path):
    output = tmp_path / "eval.json"
    command = [
        rubric_exe,
        "eval",
        "--benchmark",
        "llmbar-natural",
        "--benchmark",
        "pandalm",
        "--model",
        "fake:yes",
        "--limit",
        "20",
        "--data-dir",
        str(third_party_root("llmbar/LLMBar_Natural.json", "pandalm_testset/testset-v1.json")),
        "--output",
        str(output),
        "--no-cache",
        "--quiet",
    ]
    first = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert first.returncode == 0, first.stderr
    results = json.loads(output.read_text())
    assert results["mode"] == "pairwise" and set(results["benchmarks"]) == {"llmbar-natural", "pandalm"}
    panda = results["benchmarks"]["pandalm"]
    assert panda["input"]["skipped"]["empty response"] == 55 and panda["overall"]["pairs"] == 20
    assert "overall" in first.stdout and "label ties left out of accuracy" in first.stdout
    # every pair is a tie at P(A better) 0.5 whatever the band: the fit keeps it at 0
    assert panda["overall"]["fitted_margin"]["margin"] == 0.0 and "--decision averaged --margin 0.000" in first.stdout
    lines = (tmp_path / "eval.json.pairs.jsonl").read_text().splitlines()
    assert len(lines) == 40
    # fake:yes says yes in both orders: a tie, unless the guard decided (a content-free response loses)
    records = [json.loads(line) for line in lines]
    assert all(r["preferred"] == "tie" or r["reason"].startswith("decided without the judge") for r in records)
    assert panda["overall"]["judge_ties"]["value"] < 1.0
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert again.returncode == 0 and len((tmp_path / "eval.json.pairs.jsonl").read_text().splitlines()) == 40
    assert json.loads(output.read_text()) == results
    other_mode = subprocess.run(
        [*command, "--mode", "pointwise"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert other_mode.returncode == 2 and "mode 'pairwise' -> 'pointwise'" in other_mode.stderr
    unknown = subprocess.run(
        [rubric_exe, "eval", "--benchmark", "nope", "--output", str(output), "--model", "fake:yes"],
        capture_output=True,
        text=True,
    )
    assert unknown.returncode == 2 and "known: faireval" in unknown.stderr


def test_judgebench_rows_with_a_breakdown_by_source_and_unreadable_files_fail(rubric_exe, tmp_path):
    rows = tmp_path / "judgebench.jsonl"
    rows.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {
                    "pair_id": f"jb-{n}",
                    "question": f"Question {n}?",
                    "response_A": f"Answer {n}, long and detailed.",
                    "response_B": f"No {n}.",
                    "label": "A>B" if n % 2 else "B>A",
                    "source": "mmlu-pro" if n < 4 else "livebench-math",
                }
                for n in range(6)
            ]
        )
    )
    output = tmp_path / "jb.json"
    result = subprocess.run(
        [
            rubric_exe,
            "eval",
            "--benchmark",
            str(rows),
            "--model",
            "fake:random:3",
            "--output",
            str(output),
            "--no-cache",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    bench = json.loads(output.read_text())["benchmarks"][str(rows)]
    assert bench["input"]["skipped"] == {} and bench["overall"]["pairs"] == 6
    assert set(bench["by_source"]) == {"mmlu-pro", "livebench-math"} and bench["by_source"]["mmlu-pro"]["pairs"] == 4

    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text("".join(json.dumps({"q": "x", "first": "a", "second": "b"}) + "\n" for _ in range(5)))
    failed = subprocess.run(
        [
            rubric_exe,
            "eval",
            "--benchmark",
            str(unknown),
            "--model",
            "fake:yes",
            "--output",
            str(tmp_path / "u.json"),
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert (
        failed.returncode == 2 and "no usable pairs: 0 pairs from 5 records (skipped: 5 unknown layout" in failed.stderr
    )
    mostly = tmp_path / "mostly.jsonl"
    mostly.write_text(rows.read_text().splitlines()[0] + "\n" + unknown.read_text())
    failed = subprocess.run(
        [
            rubric_exe,
            "eval",
            "--benchmark",
            str(mostly),
            "--model",
            "fake:yes",
            "--output",
            str(tmp_path / "m.json"),
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert (
        failed.returncode == 2
        and "most records were skipped" in failed.stderr
        and "1 pairs from 6 records" in failed.stderr
    )


# -- rubric-graded (HealthBench convention) -----------------------------------------------------
HEALTHBENCH_ROWS = ROOT / "examples" / "healthbench_rows.jsonl"
MET = {
    "Advises calling emergency services immediately.",
    "Mentions aspirin with an allergy caveat.",
    "States that the combination is safe without caveats.",
    "Gives a reasonable daily range.",
}


def met_oracle(question):
    content = question.messages[-1]["content"]
    return 1.0 if any(text in content for text in MET) else 0.0


def test_graded_scores_follow_healthbench_arithmetic():
    from judge.eval import graded

    report = LoadReport()
    examples = graded.load_graded(HEALTHBENCH_ROWS, report)
    assert [e.id for e in examples] == ["hb-1", "hb-2", "hb-3"]
    assert report.skipped == {"no rubric items": 1, "missing field 'response' (or 'completion')": 1}

    async def collect():
        return [r async for r in graded.grade(Judge(FakeBackend(met_oracle), gate=False), examples)]

    records = {r["item_id"]: r for r in asyncio.run(collect())}
    assert records["hb-1"]["score"] == 1.0  # 15 of 15 points; the pitfall not met
    assert records["hb-2"]["score"] == pytest.approx(-9 / 13)  # only the pitfall met
    assert records["hb-3"]["score"] == 1.0
    # rubric-item tags score their own criteria; example tags (theme:) carry the overall score
    assert records["hb-2"]["tag_scores"] == {
        "axis:accuracy": -1.0,
        "axis:completeness": 0.0,
        "theme:emergency": pytest.approx(-9 / 13),
    }
    assert records["hb-1"]["tag_scores"]["physician_agreed_category:emergent"] == 1.0
    summary = graded.summarise_graded(list(records.values()))
    assert summary["score"]["value"] == pytest.approx((2 - 9 / 13) / 3)
    assert summary["tags"]["axis:accuracy"]["value"] == pytest.approx(1 / 3)
    assert summary["tags"]["axis:completeness"]["value"] == 0.5 and summary["tags"]["theme:emergency"]["n"] == 2
    assert summary["tags"]["theme:emergency"]["value"] == pytest.approx((1 - 9 / 13) / 2)
    low, high = summary["score"]["ci95"]
    assert low <= summary["score"]["value"] <= high and summary["score"]["se"] > 0


def test_graded_rows_as_simple_evals_grades_them(tmp_path):
    """Two items of the same text are two criteria; a row of pitfalls only is graded, its
    score undefined and counted apart; example tags are per-example breakdowns."""
    from judge.eval import graded

    rows = tmp_path / "rows.jsonl"
    same = {"criterion": "Mentions hydration.", "points": 3, "tags": ["axis:completeness"]}
    rows.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "prompt_id": "dup",
                    "prompt": "q",
                    "completion": "Drink water.",
                    "example_tags": ["theme:hydration"],
                    "rubrics": [same, same],
                },
                {
                    "prompt_id": "pitfalls",
                    "prompt": "q",
                    "completion": "Fine.",
                    "example_tags": ["theme:hydration"],
                    "rubrics": [{"criterion": "Gives a dangerous dose.", "points": -5, "tags": ["axis:accuracy"]}],
                },
            ]
        )
        + "\n"
    )
    report = LoadReport()
    examples = graded.load_graded(rows, report)
    assert [e.id for e in examples] == ["dup", "pitfalls"] and report.skipped == {}
    assert len(examples[0].rubric.criteria) == 2 and len({c.id for c in examples[0].rubric.criteria}) == 2

    async def collect():
        return [r async for r in graded.grade(Judge(FakeBackend(1.0), gate=False), examples)]

    records = {r["item_id"]: r for r in asyncio.run(collect())}
    assert records["dup"]["score"] == 1.0 and len(records["dup"]["results"]) == 2
    assert records["pitfalls"]["status"] == "undefined" and records["pitfalls"]["score"] is None
    assert len(records["pitfalls"]["results"]) == 1 and records["pitfalls"]["results"][0]["met"] is True
    summary = graded.summarise_graded(list(records.values()))
    assert (summary["examples"], summary["unscored_examples"], summary["undefined_examples"]) == (2, 0, 1)
    assert summary["tags"]["theme:hydration"] == {"n": 1, "value": 1.0, "se": 0.0, "ci95": [1.0, 1.0]}
    assert "axis:accuracy" not in summary["tags"]  # no positive point under it


def test_graded_mean_is_clipped_and_the_bootstrap_of_a_constant_is_exact():

    assert stats.bootstrap([-1.0, -0.5])["value"] == 0.0 and stats.bootstrap([0.5, 0.7])["value"] == pytest.approx(0.6)
    assert stats.bootstrap([-1.0, -0.5], clip=False)["value"] == -0.75
    assert stats.bootstrap([0.4] * 5) == {"n": 5, "value": 0.4, "se": 0.0, "ci95": [0.4, 0.4]}
    assert stats.bootstrap([])["value"] is None


def test_graded_eval_command_and_report(rubric_exe, tmp_path):
    from judge.eval.report import build_report

    output = tmp_path / "graded.json"
    command = [
        rubric_exe,
        "eval",
        "--mode",
        "graded",
        "--benchmark",
        str(HEALTHBENCH_ROWS),
        "--model",
        "fake:yes",
        "--output",
        str(output),
        "--no-cache",
        "--quiet",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "3 examples from 5 records (skipped: 1 no rubric items" in result.stderr
    summary = json.loads(output.read_text())["benchmarks"][str(HEALTHBENCH_ROWS)]["graded"]
    # fake:yes meets every criterion, pitfalls included: (15-8)/15, (13-9)/13, 5/5
    assert summary["score"]["value"] == pytest.approx((7 / 15 + 4 / 13 + 1) / 3)
    assert "axis:accuracy" in result.stdout and "bootstrap SE" in result.stdout
    html = build_report(output)
    assert (
        f"{summary['score']['value']:.3f} [" in html
        and "theme:emergency" in html
        and "bootstrap standard error" in html
    )
    wrong = subprocess.run(
        [
            rubric_exe,
            "eval",
            "--mode",
            "graded",
            "--benchmark",
            "llmbar",
            "--output",
            str(tmp_path / "x.json"),
            "--model",
            "fake:yes",
        ],
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 2 and "graded mode reads files" in wrong.stderr


# -- 1-5 score rubrics (Prometheus, BiGGen) ------------------------------------------------------
PROMETHEUS = "prometheus_eval_rubrics/vicuna_eval.json"


def test_prometheus_prompts_and_biggen_rubrics_are_read():
    from judge.eval import scored

    report = LoadReport()
    examples = scored.load_scored(third_party(PROMETHEUS), report)
    assert len(examples) == 320 and report.skipped == {}  # JSON lines under a .json name
    first = examples[0]
    assert first.prompt == "How can I improve my time management skills?" and first.gold == 5.0
    assert first.response.startswith("Improving your time management skills") and first.reference.startswith(
        "To improve"
    )
    assert first.rubric.criterion.startswith("Does the response provide detailed and actionable steps")
    assert sorted(first.rubric.levels) == [1, 2, 3, 4, 5] and first.rubric.levels[3].startswith(
        "The response has some detailed"
    )
    assert [c.id for c in first.rubric.to_rubric("x").criteria] == ["level-2", "level-3", "level-4", "level-5"]
    biggen = scored.load_scored(third_party("biggen_bench_rubrics/sample_responses.json"))
    assert len(biggen) == 765 and all(e.gold == 5.0 and e.response != "Hello World!" for e in biggen)


def test_scored_mode_reads_the_level_questions_exactly():
    from judge.eval import scored

    examples = scored.load_scored(third_party(PROMETHEUS))[:60]
    gold_of = {e.response.strip(): round(e.gold) for e in examples}

    def levels_up_to_gold(question):  # yes for the levels at or below the reference grade
        content = question.messages[-1]["content"]
        level = int(re.search(r"level-(\d) description", content).group(1))
        return 1.0 if level <= gold_of[shown(content, "response").strip()] else 0.0

    def always_three(question):
        return 1.0 if re.search(r"level-[23] description", question.messages[-1]["content"]) else 0.0

    async def collect(script):
        judge = Judge(FakeBackend(script), gate=False, guard=False, view=False)  # the questions as written
        return [r async for r in scored.grade_scored(judge, examples)]

    oracle = scored.summarise_scored(asyncio.run(collect(levels_up_to_gold)))
    assert oracle["exact_agreement"] == 1.0 and oracle["within_one"] == 1.0 and oracle["unscored"] == 0
    assert oracle["correlation"]["spearman"] > 0.9
    flat = scored.summarise_scored(asyncio.run(collect(always_three)))
    assert flat["score_distribution"] == {"1": 0, "2": 0, "3": 60, "4": 0, "5": 0}
    assert flat["exact_agreement"] == pytest.approx(sum(round(e.gold) == 3 for e in examples) / 60)
    assert flat["correlation"] == {"pearson": None, "spearman": None, "kendall": None}  # a constant score has none


def test_scored_eval_command(rubric_exe, tmp_path):
    output = tmp_path / "scored.json"
    command = [
        rubric_exe,
        "eval",
        "--mode",
        "scored",
        "--benchmark",
        "prometheus-vicuna",
        "--model",
        "fake:yes",
        "--limit",
        "12",
        "--data-dir",
        str(third_party_root(PROMETHEUS)),
        "--output",
        str(output),
        "--no-cache",
        "--quiet",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(output.read_text())["benchmarks"]["prometheus-vicuna"]["scored"]
    assert summary["score_distribution"]["5"] == 12  # yes to every level
    assert "Kendall" in result.stdout
