"""The rubric model, its file formats and interchange formats, and the library."""

import json

import pytest
import yaml
from pydantic import ValidationError

import rubric_library
from rubrics import (
    Criterion,
    Provenance,
    Rubric,
    RubricFileError,
    Theme,
    from_healthbench,
    from_rar,
    load_rubric,
    load_rubrics,
    rubric_file_schema,
    save_rubrics,
    to_healthbench,
    to_rar,
)


@pytest.fixture
def full_rubric():
    return Rubric(
        id="writing",
        task="Write a cover letter.",
        description="Cover letters",
        criteria=[
            Criterion(
                id="addressed",
                text="The letter names the role.",
                kind="hard_rule",
                weight=5,
                tags=["content"],
                theme="fit",
            ),
            Criterion(
                id="concise",
                text="The letter fits on one page.",
                kind="constraint",
                weight=2,
                theme="form",
                check={"type": "length_constraints:number_words", "relation": "at most", "num_words": 400},
            ),
            Criterion(id="cliche", text="The letter relies on cliches.", weight=-1, tags=["style"], sources=["pair-3"]),
        ],
        themes=[Theme(name="fit", description="Fit to the role"), Theme(name="form")],
        provenance=Provenance(method="contrastive", model="fake:yes", params={"tau": 0.5}, sources=["pair-3"]),
    )


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".yaml", ".yml"])
def test_round_trip_through_every_native_format(tmp_path, full_rubric, suffix):
    other = full_rubric.model_copy(update={"id": "other"})
    path = tmp_path / f"rubrics{suffix}"
    save_rubrics([full_rubric, other], path)
    assert load_rubrics(path) == [full_rubric, other]
    single = tmp_path / f"one{suffix}"
    save_rubrics([full_rubric], single)
    assert load_rubric(single) == full_rubric


def test_healthbench_round_trip(tmp_path, full_rubric):
    items = to_healthbench(full_rubric)
    assert items[2] == {"criterion": "The letter relies on cliches.", "points": -1.0, "tags": ["style"]}
    back = from_healthbench(items, "writing")
    assert [(c.text, c.weight, c.tags) for c in back.criteria] == [
        (c.text, c.weight, c.tags) for c in full_rubric.criteria
    ]
    assert back.criteria[2].is_pitfall
    path = tmp_path / "hb.json"
    path.write_text(json.dumps(items))
    assert load_rubric(path).provenance.method == "import:healthbench"  # detected by its fields
    save_rubrics([back], tmp_path / "hb2.json", fmt="healthbench")
    assert json.loads((tmp_path / "hb2.json").read_text()) == items


def test_rar_round_trip_and_named_weights(full_rubric):
    items = to_rar(full_rubric)
    assert set(items[0]) == {"title", "description", "weight"}
    back = from_rar(items, "writing")
    assert [(c.text, c.weight) for c in back.criteria] == [(c.text, c.weight) for c in full_rubric.criteria]
    named = from_rar(
        [
            {"title": "Essential Criteria", "description": "States the dose.", "weight": "Essential"},
            {"title": "Pitfall Criteria", "description": "Recommends a banned drug.", "weight": "Pitfall"},
        ],
        "rar",
    )
    assert [c.weight for c in named.criteria] == [5.0, -1.0]
    assert named.criteria[0].tags == ["Essential Criteria"]


def test_criterion_without_id_gets_a_stable_content_id():
    a = Criterion(text="  The answer is correct. ")
    b = Criterion.model_validate({"text": "The answer is correct."})
    assert a.id == b.id and a.id.startswith("c-") and a.text == "The answer is correct."


def test_rubric_rejects_duplicate_ids_and_zero_positive_weight():
    with pytest.raises(ValidationError, match="duplicate criterion id"):
        Rubric(id="r", criteria=[Criterion(id="a", text="x"), Criterion(id="a", text="y")])
    with pytest.raises(ValidationError, match="no criterion has a positive weight"):
        Rubric(id="r", criteria=[Criterion(id="a", text="bad thing", weight=-1)])


def test_rubric_rejects_undeclared_theme():
    with pytest.raises(ValidationError, match="not among the declared themes"):
        Rubric(id="r", themes=[Theme(name="a")], criteria=[Criterion(id="c", text="x", theme="b")])


def test_jsonl_error_names_file_line_and_field(tmp_path):
    path = tmp_path / "r.jsonl"
    good = {"id": "ok", "criteria": [{"id": "a", "text": "x"}]}
    bad = {"id": "bad", "criteria": [{"id": "a", "text": "x", "weight": "heavy"}]}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(RubricFileError) as info:
        load_rubrics(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: rubric #2: ")
    assert "criteria[0].weight" in message


def test_json_syntax_error_names_line(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{\n  "id": "x",\n  "criteria": [\n}\n')
    with pytest.raises(RubricFileError, match=r"r\.json:4: invalid JSON"):
        load_rubrics(path)


def test_yaml_errors_name_line_item_and_field(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("id: x\ncriteria:\n  - text: [unclosed\n")
    with pytest.raises(RubricFileError, match=r"r\.yaml:\d+: invalid YAML"):
        load_rubrics(path)
    path.write_text(yaml.safe_dump([{"id": "a", "criteria": [{"text": "x"}]}, {"id": "b", "criteria": [{"txt": "x"}]}]))
    with pytest.raises(
        RubricFileError, match=r"r\.yaml:4: rubric #2: .*criteria\[0\]\.txt: Extra inputs are not permitted"
    ):
        load_rubrics(path)


def test_other_file_errors(tmp_path):
    with pytest.raises(RubricFileError, match="no such file"):
        load_rubrics(tmp_path / "missing.yaml")
    (tmp_path / "r.txt").write_text("x")
    with pytest.raises(RubricFileError, match="unknown file type"):
        load_rubrics(tmp_path / "r.txt")
    (tmp_path / "latin1.yaml").write_bytes(b"id: caf\xe9\n")
    with pytest.raises(RubricFileError, match="not valid UTF-8"):
        load_rubrics(tmp_path / "latin1.yaml")
    (tmp_path / "dup.jsonl").write_text('{"id": "a", "criteria": [{"text": "x"}]}\n' * 2)
    with pytest.raises(RubricFileError, match="duplicate rubric id 'a'"):
        load_rubrics(tmp_path / "dup.jsonl")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(RubricFileError, match="holds no rubric"):
        load_rubrics(tmp_path / "empty.yaml")


def test_json_schema_describes_rubric_files():
    schema = rubric_file_schema()
    json.dumps(schema)
    rubric_schema = schema["$defs"]["Rubric"]
    assert set(rubric_schema["required"]) == {"id", "criteria"}
    criterion = schema["$defs"]["Criterion"]["properties"]
    assert {"id", "text", "kind", "weight", "tags", "theme", "check"} <= set(criterion)


def test_every_library_file_validates_against_the_exported_schema():
    import jsonschema

    schema = rubric_file_schema()
    for name in rubric_library.names():
        data = yaml.safe_load(rubric_library.path_of(name).read_text(encoding="utf-8"))
        jsonschema.validate(data, schema)  # raises, naming the path, on any violation
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "x", "criteria": [{"id": "a", "text": "t", "weight": "heavy"}]}, schema)


def test_library_math_rubric_checks_the_final_answer_in_code():
    from judge import Judge
    from judge.backends.fake import FakeBackend

    verdict = Judge(FakeBackend(1.0)).evaluate(
        "What is 6 * 7?", "Trust me, the answer is 41.", rubric_library.load("math_reference"), reference="42"
    )
    final = verdict.results[0]
    assert (
        final.criterion_id == "final-answer-correct"
        and final.met is False
        and verdict.gate == "failed"
        and verdict.score == 0.0
    )


def test_every_library_rubric_loads_with_unique_ids():
    names = rubric_library.names()
    assert {
        "helpfulness",
        "harmlessness",
        "instruction_following",
        "long_form_writing",
        "code_answers",
        "math_reference",
        "rag_citations",
        "summarisation",
    } <= set(names)
    for name in names:
        rubric = rubric_library.load(name)
        assert rubric.id == name
        assert rubric.description and rubric.intended_use
        assert len({c.id for c in rubric.criteria}) == len(rubric.criteria)


def test_unknown_library_name_lists_known_ones():
    with pytest.raises(rubric_library.UnknownRubricError, match="known: .*helpfulness"):
        rubric_library.load("no-such-rubric")
