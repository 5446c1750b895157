"""Rubric generation from preference pairs: loaders, coding-rate selection, the
consistency filter, Contrastive Rubric Generation, Auto-Rubric, and `rubric generate`."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import subprocess

import numpy as np
import pytest

from judge.backends.fake import FakeBackend
from judge.generate.auto_rubric import AutoRubricGenerator, AutoSettings
from judge.generate.coding_rate import coding_rate, greedy_select
from judge.generate.contrastive import ContrastiveGenerator, ContrastiveSettings
from judge.generate.run import OutcomeLog, consistency, run_generation
from rubrics.io import load_rubrics
from rubrics.pairs import PreferencePair, load_pairs
from rubrics.records import LoadReport
from tests.conftest import ROOT, third_party


# -- loading pairs ---------------------------------------------------------------------------
def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_our_layouts_and_every_bad_record_counted(tmp_path):
    path = write_jsonl(
        tmp_path / "pairs.jsonl",
        [
            {"id": "a", "prompt": "p", "chosen": "good", "rejected": "bad"},
            {"id": "b", "prompt": "p", "responses": ["best", "mid", "worst"]},
            {"id": "c", "prompt": "p", "chosen": "same", "rejected": "same "},
            {"id": "d", "prompt": "p", "chosen": "  ", "rejected": "bad"},
            {"id": "e", "prompt": "p", "chosen": "x"},
            {"id": "f", "input": "p", "output_1": "x", "output_2": "y", "label": 3},
            {"id": "a", "prompt": "p", "chosen": "again", "rejected": "dup"},
            {"id": "g", "nothing": True},
        ],
    )
    (tmp_path / "pairs.jsonl").write_text(path.read_text() + "{broken\n")
    report = LoadReport()
    pairs = list(load_pairs(path, report))
    assert [p.id for p in pairs] == ["a", "b"] and pairs[1].responses == ("best", "mid", "worst")
    assert report.read == 9
    assert report.skipped == {
        "identical responses": 1,
        "empty response": 1,
        "missing field 'rejected'": 1,
        "label out of range": 1,
        "duplicate id": 1,
        "unknown layout (no chosen/rejected, responses, output_1/output_2, response_a/response_b or response1/response2)": 1,
        "not JSON": 1,
    }
    assert report.describe().startswith("2 pairs from 9 records (skipped: ")


def test_shared_data_layouts():
    llmbar_file = third_party("llmbar/LLMBar_Natural.json")
    llmbar = list(load_pairs(llmbar_file))
    raw = json.loads(llmbar_file.read_text())
    assert len(llmbar) == 100
    first = raw[0]
    assert llmbar[0].chosen == first["output_1" if first["label"] == 1 else "output_2"]

    report = LoadReport()
    panda = list(load_pairs(third_party("pandalm_testset/testset-v1.json"), report))
    assert len(panda) + sum(report.skipped.values()) == 999 == report.read
    assert (report.skipped["label is a tie"], report.skipped["empty response"]) == (103, 55)  # real quirks, counted
    record = next(
        r
        for r in json.loads(third_party("pandalm_testset/testset-v1.json").read_text())
        if str(r["idx"]) == panda[0].id
    )
    votes = [record[f"annotator{i}"] for i in (1, 2, 3)]
    winner = "response1" if [str(v) for v in votes].count("1") >= 2 else "response2"
    assert panda[0].chosen == record[winner]

    hh = third_party("hh_rlhf_harmless_test/harmless-base_test.jsonl.gz")
    pairs = [p for _, p in zip(range(20), load_pairs(hh))]
    with gzip.open(hh, "rt") as handle:
        record = json.loads(handle.readline())
    assert pairs[0].prompt.startswith("Human:") and record["chosen"].endswith(pairs[0].chosen)
    assert "\n\nAssistant:" not in pairs[0].chosen


# -- coding rate -------------------------------------------------------------------------------
def test_duplicates_add_nothing_and_orthogonal_vectors_add_the_most():
    e = np.eye(4)
    one = coding_rate(e[:1])
    assert coding_rate(np.vstack([e[0], e[0]])) == pytest.approx(one)  # a duplicate adds nothing
    assert coding_rate(e[:2]) > coding_rate(np.vstack([e[0], (e[0] + 0.1 * e[1]) / np.linalg.norm(e[0] + 0.1 * e[1])]))
    assert coding_rate(np.zeros((0, 4))) == 0.0


def test_greedy_selection_picks_directions_not_repeats():
    e = np.eye(3)
    vectors = np.vstack([e[0], e[0] * 2, e[1], (e[0] + 0.01 * e[1]), e[2]])  # index 1, 3: (near) repeats of 0
    chosen = greedy_select(vectors, eps=0.1, min_gain=0.05)
    assert sorted(chosen.indices) == [0, 2, 4] and "below" in chosen.stopped
    assert all(g > 0.05 for g in chosen.gains)
    capped = greedy_select(vectors, max_size=2)
    assert len(capped.indices) == 2 and capped.stopped == "size cap 2" and len(set(capped.indices) & {0, 1, 3}) == 1


# -- scripted judge ----------------------------------------------------------------------------
def first_shown(response: str) -> str:
    """A regex true when `response` is Response 1 of a pairwise question."""
    return r"Response 1:\n<response_1-\w+>\n" + re.escape(response[:30])


PAIR = PreferencePair("p1", "Write a haiku about rain.", ("Soft rain on the roof / ...", "Rain is wet."))


def test_consistency_counts_induced_pairs_and_ties():
    three = PreferencePair("p3", "q", ("gold medal", "silver medal", "bronze medal"))

    def script(question):
        text = question.messages[-1]["content"]
        first = re.search(r"Response 1:\n<response_1-\w+>\n(\w+)", text).group(1)
        second = re.search(r"Response 2:\n<response_2-\w+>\n(\w+)", text).group(1)
        rank = {"gold": 0, "silver": 1, "bronze": 2}
        if {first, second} == {"silver", "bronze"}:
            return 1.0  # says yes in both orders: a tie
        return 1.0 if rank[first] < rank[second] else 0.0

    from judge.pairwise import PairwiseJudge

    result = asyncio.run(consistency(PairwiseJudge(FakeBackend(script)), three, ["Is it good?"]))
    assert (result.pairs, result.ties, result.explained_correct) == (3, 1, True)
    assert result.accuracy == pytest.approx(2 / 3) and result.passes(0.5) and not result.passes(0.7)


def test_contrastive_keeps_a_consistent_rubric_and_rejects_after_bounded_resampling():
    kept_pair = PAIR
    rejected_pair = PreferencePair("p2", "Name a colour.", ("Blue.", "Sandwich."))

    def text(messages):
        if "haiku" in messages[-1]["content"]:
            return json.dumps(
                {
                    "hard_rules": ["KEEP: The response is a haiku."],
                    "principles": ["The response mentions rain.", "The response mentions rain. "],
                }
            )
        return "Sure! " + json.dumps({"hard_rules": [], "principles": ["The response names a colour."]})

    def p_yes(question):
        content = question.messages[-1]["content"]
        if "KEEP" in content:
            return 1.0 if re.search(first_shown(kept_pair.chosen), content) else 0.0
        return 1.0  # yes in both orders: a tie, so the label is never reproduced

    backend = FakeBackend(p_yes, text)
    generator = ContrastiveGenerator(backend, settings=ContrastiveSettings(max_tries=2))
    kept = asyncio.run(generator(kept_pair))
    assert kept.status == "kept" and kept.attempts == [
        {"accuracy": 1.0, "explained_correct": True, "pairs": 1, "ties": 0}
    ]
    rubric = kept.rubric
    assert [(c.id, c.kind) for c in rubric.criteria] == [
        ("rule-1", "hard_rule"),
        ("principle-1", "principle"),
    ]  # repeat dropped
    assert (
        rubric.provenance.method == "contrastive"
        and rubric.provenance.sources == ["p1"]
        and rubric.task == kept_pair.prompt
    )
    assert rubric.provenance.params["consistency"]["accuracy"] == 1.0 and rubric.provenance.params["tau"] == 0.5
    rejected = asyncio.run(generator(rejected_pair))
    assert rejected.status == "rejected" and len(rejected.attempts) == 2 and rejected.attempts[0]["ties"] == 1
    assert "2 tries" in rejected.reason


def test_contrastive_re_asks_then_records_the_failure():
    answers = iter(
        [
            "no json here",
            json.dumps({"hard_rules": [], "principles": []}),
            json.dumps({"principles": ["The answer is kind."]}),
        ]
    )
    seen = []

    def text(messages):
        seen.append(messages)
        return next(answers)

    outcome = asyncio.run(
        ContrastiveGenerator(FakeBackend(1.0, text), settings=ContrastiveSettings(reasks=2, max_tries=1))(PAIR)
    )
    assert outcome.status == "rejected"  # the third answer was usable; the judge ties
    assert "not usable: no JSON object" in seen[1][-1]["content"] and "it has no criteria" in seen[2][-1]["content"]
    failing = asyncio.run(
        ContrastiveGenerator(FakeBackend(1.0, "never JSON"), settings=ContrastiveSettings(reasks=1))(PAIR)
    )
    assert failing.status == "failed" and "after 2 attempts" in failing.reason and failing.rubric is None


def test_contrastive_with_tau_0_keeps_the_first_rubric_without_judging_it():
    backend = FakeBackend(1.0, json.dumps({"hard_rules": ["The response is a haiku."], "principles": []}))
    outcome = asyncio.run(ContrastiveGenerator(backend, settings=ContrastiveSettings(tau=0))(PAIR))
    assert outcome.status == "kept" and outcome.rubric.provenance.params["consistency"] == "not checked (tau 0)"
    assert not backend.calls  # no pairwise question was asked


def test_the_rubric_asked_for_is_bounded_to_what_the_settings_keep():
    from judge.backends.structured import with_bounds
    from judge.generate.contrastive import GeneratedRubric

    bounded = with_bounds(GeneratedRubric, hard_rules=2, principles=3)
    schema = bounded.model_json_schema()
    assert schema["properties"]["hard_rules"]["maxItems"] == 2 and schema["properties"]["principles"]["maxItems"] == 3
    assert bounded is with_bounds(GeneratedRubric, principles=3, hard_rules=2)  # one class per bound: stable cache keys
    assert isinstance(bounded(), GeneratedRubric)
    assert (
        len(bounded.model_validate_json(json.dumps({"hard_rules": ["a rule here"] * 5})).hard_rules) == 5
    )  # API answers still validate


def generate_example_pairs(rubric_exe, output, *options, timeout):
    """`rubric generate --method contrastive` on examples/pairs.jsonl, uncached and quiet."""
    command = [
        rubric_exe,
        "generate",
        "--method",
        "contrastive",
        "--input",
        "examples/pairs.jsonl",
        "--output",
        str(output),
        *options,
        "--no-cache",
        "--quiet",
    ]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def test_rubric_generate_writes_rubrics_with_the_embedded_model(rubric_exe, tmp_path):
    """The embedded SmolLM2 used to fail every pair ("no JSON object in the output"): decoded
    under the schema's grammar it writes rubrics. Their quality is the model's business."""
    output = tmp_path / "crg.jsonl"
    result = generate_example_pairs(rubric_exe, output, "--tau", "0", timeout=900)
    assert result.returncode == 0, result.stderr
    assert "kept 2, rejected 0 (label not reproduced), failed 0" in result.stdout
    rubrics = load_rubrics(output)
    assert len(rubrics) == 2 and all(
        r.criteria and r.provenance.model == "local:SmolLM2-135M-Instruct" for r in rubrics
    )
    assert all(
        1 <= len(r.criteria) <= 10 and all(c.text.strip() and len(c.text) <= 300 for c in r.criteria) for r in rubrics
    )


def test_auto_rubric_revises_until_the_label_is_reproduced_then_generalises():
    def text(messages):
        content = messages[-1]["content"]
        if "Organise them" in content:
            return json.dumps(
                {
                    "themes": [
                        {
                            "name": "Form",
                            "description": "Shape of the answer.",
                            "tips": [{"text": "The response keeps the requested form.", "sources": ["r1", "r9"]}],
                        },
                        {"name": "Empty", "tips": []},
                    ]
                }
            )
        if "Previous rubrics" in content:
            return json.dumps(
                {"rubrics": ["REVISED: The response follows the requested poetic form.", "The response uses imagery."]}
            )
        return json.dumps({"rubrics": ["The response is long."]})

    def p_yes(question):
        content = question.messages[-1]["content"]
        if "REVISED" in content:
            return 1.0 if re.search(first_shown(PAIR.chosen), content) else 0.0
        return 1.0

    generator = AutoRubricGenerator(FakeBackend(p_yes, text), settings=AutoSettings(max_rounds=3))
    outcome = asyncio.run(generator(PAIR))
    assert outcome.status == "kept" and [a["round"] for a in outcome.attempts] == [1, 2]
    assert outcome.rubric.provenance.params["rounds"] == 2 and outcome.rubric.criteria[0].text.startswith("REVISED")

    def embed(texts):  # hand-made: every text its own direction
        return np.eye(len(texts), 8)

    general = asyncio.run(generator.generalise([outcome.rubric], embed, embedding_model="hand-made"))
    assert [t.name for t in general.themes] == ["Form"]
    assert [(c.id, c.theme, c.sources) for c in general.criteria] == [("t1-1", "Form", ["auto-p1:r1"])]
    params = general.provenance.params
    assert (
        params["core"] == 2
        and params["unknown_source_ids_dropped"] == ["r9"]
        and params["embedding_model"] == "hand-made"
    )

    stuck = AutoRubricGenerator(
        FakeBackend(1.0, json.dumps({"rubrics": ["The response is long."]})), settings=AutoSettings(max_rounds=2)
    )
    rejected = asyncio.run(stuck(PAIR))
    assert rejected.status == "rejected" and len(rejected.attempts) == 2
    flat = asyncio.run(stuck.generalise([outcome.rubric], embed))  # no Theme-Tips answer: the core set, flat
    assert "failed" in flat.provenance.params["theme_tips"] and [c.id for c in flat.criteria] == ["c1", "c2"]


def test_run_generation_logs_each_pair_and_resumes(tmp_path):
    calls = []

    async def generator(pair):
        calls.append(pair.id)
        if pair.id == "boom":
            raise RuntimeError("model crashed")
        from judge.generate.run import ItemOutcome

        return ItemOutcome(pair.id, "rejected", reason="scripted")

    pairs = [PreferencePair(i, "q", ("a", "b")) for i in ("one", "boom", "two")]
    log = OutcomeLog(tmp_path / "out.log.jsonl")
    counts = asyncio.run(run_generation(pairs, generator, log, progress=False))
    log.close()
    assert counts == {"rejected": 2, "failed": 1}
    with (tmp_path / "out.log.jsonl").open("a") as handle:
        handle.write('{"pair_id": "half')  # an interrupted write
    calls.clear()
    log = OutcomeLog(tmp_path / "out.log.jsonl")
    assert asyncio.run(run_generation(pairs, generator, log, progress=False)) == counts and calls == []
    assert log.outcomes["boom"].reason == "RuntimeError: model crashed"


# -- the command -------------------------------------------------------------------------------
def script_for(pairs, tmp_path):
    """A fake:script file: rubrics whose marker makes the judge right for pair 0 only (kept),
    a tie for pair 1 (rejected), and a revised rubric (auto) that fixes pair 1 too."""
    rules = [
        {
            "match": "Organise them",
            "text": json.dumps(
                {
                    "themes": [
                        {"name": "Faithful", "tips": [{"text": "The response does what was asked.", "sources": ["r1"]}]}
                    ]
                }
            ),
        },
        {"match": "Previous rubrics", "text": json.dumps({"rubrics": ["FIXED: The response does what was asked."]})},
        {
            "match": re.escape(pairs[0].prompt[:40]),
            "text": json.dumps(
                {
                    "hard_rules": ["KEEP: The response does what was asked."],
                    "rubrics": ["KEEP: The response does what was asked."],
                }
            ),
        },
        {
            "match": ".",
            "text": json.dumps(
                {"principles": ["TIE: The response is good."], "rubrics": ["TIE: The response is good."]}
            ),
        },
    ]
    judge = [
        {"match": first_shown(pairs[0].chosen) + ".*(?:KEEP|FIXED)", "p_yes": 1.0},  # criteria follow the responses
        {"match": first_shown(pairs[1].chosen) + ".*FIXED", "p_yes": 1.0},
        {"match": "KEEP|FIXED", "p_yes": 0.0},
        {"match": ".", "p_yes": 1.0},
    ]
    path = tmp_path / "script.yaml"
    path.write_text(json.dumps({"generate": rules, "p_yes": judge}))
    return path


@pytest.mark.parametrize("method", ["contrastive", "auto"])
def test_rubric_generate_end_to_end_on_llmbar_with_a_scripted_judge(method, rubric_exe, tmp_path):
    llmbar = third_party("llmbar/LLMBar_Natural.json")
    pairs = list(load_pairs(llmbar))[:2]
    script = script_for(pairs, tmp_path)
    output = tmp_path / f"{method}.jsonl"
    command = [
        rubric_exe,
        "generate",
        "--method",
        method,
        "--input",
        str(llmbar),
        "--output",
        str(output),
        "--model",
        f"fake:script:{script}",
        "--limit",
        "2",
        "--no-cache",
        "--quiet",
        "--max-tries",
        "2",
        "--rounds",
        "2",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "input: 100 pairs from 100 records; using the first 2" in result.stderr
    rubrics = load_rubrics(output)
    if method == "contrastive":
        assert "kept 1, rejected 1" in result.stdout
        assert [r.id for r in rubrics] == ["crg-LLMBar_Natural-1"] and rubrics[0].criteria[0].kind == "hard_rule"
    else:
        assert "kept 2, rejected 0" in result.stdout  # pair 2 was kept after a revision
        general, *specific = rubrics
        assert general.id == "auto-rubric-general" and general.themes[0].name == "Faithful"
        assert [r.id for r in specific] == ["auto-LLMBar_Natural-1", "auto-LLMBar_Natural-2"]
        assert specific[1].provenance.params["rounds"] == 2
    log = [json.loads(line) for line in (tmp_path / f"{method}.jsonl.log.jsonl").read_text().splitlines()]
    assert len(log) == 2
    again = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=300
    )  # resumes: nothing left to do
    assert again.returncode == 0 and load_rubrics(output) == rubrics
    assert len((tmp_path / f"{method}.jsonl.log.jsonl").read_text().splitlines()) == 2


def test_docs_show_the_rubric_the_example_command_produces(rubric_exe, tmp_path):
    import yaml

    from rubrics.model import Rubric

    page = (ROOT / "docs" / "generating.md").read_text(encoding="utf-8")
    shown = next(b for b in re.findall(r"```yaml\n(.*?)```", page, flags=re.DOTALL) if b.startswith("id: crg-haiku"))
    output = tmp_path / "crg.jsonl"
    result = generate_example_pairs(
        rubric_exe, output, "--model", "fake:script:examples/scripted_judge.yaml", timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "input: 2 pairs from 3 records (skipped: 1 identical responses)" in result.stderr
    assert "kept 1, rejected 1 (label not reproduced), failed 0" in result.stdout
    assert load_rubrics(output) == [Rubric.model_validate(yaml.safe_load(shown))]
