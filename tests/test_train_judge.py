"""`rubric train-judge`: labelled rows -> the engine's questions -> a probe, a fine-tuned
model or a LoRA adapter, each judged afterwards through the ordinary model spec."""

from __future__ import annotations

import json
import math
import random
import subprocess
from pathlib import Path

import pytest
import torch

from judge.backends.base import YesNoQuestion
from judge.backends.hidden_states import answer_states
from judge.backends.local import LocalBackend
from judge.backends.probe import Probe, ProbeError
from judge.build import JudgeOptions, build_judge
from judge.item import JudgeItem
from judge.train.command import train_judge
from judge.train.examples import collect, examples_of
from judge.train.finetune import CHECKPOINT, FinetuneSettings, finetune
from judge.train.negatives import PERTURBATIONS, negatives
from judge.train.options import TrainOptions
from rubrics.model import Criterion, Rubric

ROOT = Path(__file__).resolve().parents[1]
END = "Any questions?"
RUBRIC = {
    "id": "cat-essay",
    "criteria": [
        {"id": "task", "text": "The response describes a cat.", "kind": "hard_rule"},
        {
            "id": "ends",
            "text": f"The response ends with the phrase '{END}'",
            "check": {"type": "startend:end_checker", "end_phrase": END},
        },
    ],
}
CATS = ["A cat is a small furry animal that purrs.", "Cats have whiskers and sharp claws.", "My cat sleeps all day."]
OTHER = ["The stock market rose today.", "Rain is expected over the weekend.", "Paris is the capital of France."]


def labelled_rows(n: int = 24, seed: int = 0) -> list[dict]:
    """Half describe a cat at length (task met), half say one thing else (a random model
    can learn that much); some end with the required phrase."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        good = i % 2 == 0
        text = " ".join(rng.sample(CATS, 3)) if good else rng.choice(OTHER)
        if i % 3:
            text += f" {END}"
        rows.append(
            {
                "id": f"r{i}",
                "prompt": f"Describe a cat and end with '{END}'",
                "response": text,
                "rubric": RUBRIC,
                "labels": {"task": good},
            }
        )
    return rows


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, tiny_llama, smollm2_tokenizer) -> Path:
    """The tiny random Llama as a model folder, so it opens by spec like any user's model."""
    folder = tmp_path_factory.mktemp("tiny")
    tiny_llama.save_pretrained(folder)
    smollm2_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def rows_file(tmp_path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in labelled_rows()))
    return path


def item(response: str, rubric: dict = RUBRIC) -> JudgeItem:
    return JudgeItem("x", f"Describe a cat and end with '{END}'", response, Rubric.model_validate(rubric))


def open_tiny(folder: Path, **options) -> LocalBackend:
    return LocalBackend.from_spec(str(folder), **options)


def test_the_examples_are_the_engines_own_questions_and_checks_label_what_rows_leave_out(tiny_backend):
    judge = build_judge(JudgeOptions(), [tiny_backend])
    response = f"{CATS[0]} {END}"
    found = examples_of(judge, item(response), {"task": True})
    by_criterion = {e.criterion_id: e for e in found.examples}
    assert by_criterion["task"].label is True and by_criterion["task"].source == "label"
    assert by_criterion["ends"].label is True and by_criterion["ends"].source == "check"  # the check decided it
    # the question is the one the engine asks of a criterion without a check, word for word
    plain = dict(RUBRIC, criteria=[{k: v for k, v in c.items() if k != "check"} for c in RUBRIC["criteria"]])
    asked = judge.render(item(response, plain), response, criterion=Criterion(**plain["criteria"][1]).text)
    assert list(by_criterion["ends"].messages) == asked
    # the row's own label wins over the check
    overruled = examples_of(judge, item(response), {"ends": False})
    assert {e.criterion_id: e.label for e in overruled.examples}["ends"] is False


def test_negatives_fail_the_task_and_leave_code_checked_criteria_to_their_checks(tiny_backend):
    original = item(f"{CATS[0]} {CATS[1]}\n{END}")
    other = item(OTHER[0])
    made = list(negatives([(original, {"task": True}), (other, {"task": False})], ["task"], seed=1))
    assert {kind for _, _, kind, _ in made} == set(PERTURBATIONS)  # only the met row makes negatives
    assert all(labels == {"task": False} and row == "x" for _, labels, _, row in made)
    responses = {kind: negative.response for negative, _, kind, _ in made}
    assert responses["phrase-alone"] == END
    assert responses["quoted"] == f'"{CATS[0]}"'
    assert responses["truncated"] == CATS[0]
    assert responses["other-answer"] == OTHER[0]
    with pytest.raises(ValueError, match="unknown negative kind"):
        list(negatives([(original, {"task": True})], ["task"], kinds=["shuffled"]))
    # the end check decides again on the new response: the quoted first sentence no longer ends with the phrase
    judge = build_judge(JudgeOptions(), [tiny_backend])
    found = collect(judge, [(n, labels, kind, row) for n, labels, kind, row in made if kind == "quoted"])
    assert {e.criterion_id: e.label for e in found.examples} == {"task": False, "ends": False}


def test_a_probe_reads_the_same_p_yes_through_shared_prefixes_as_from_the_hidden_state(tiny_llama, smollm2_tokenizer):
    weights = torch.randn(tiny_llama.config.hidden_size, generator=torch.Generator().manual_seed(3))
    probe = Probe(layer=1, weights=tuple(weights.tolist()), bias=-0.2)
    backend = LocalBackend(tiny_llama, smollm2_tokenizer, model_id="tiny", probe=probe, min_shared_prefix=4)
    questions = [
        YesNoQuestion(({"role": "user", "content": f"The response: hello. Is criterion {i} {'met ' * i}?"},), group="g")
        for i in range(5)
    ]
    shared = [s.p_yes for s in backend.p_yes_sync(questions)]  # one prefix, packed suffixes
    alone = [s.p_yes for s in backend.p_yes_sync([YesNoQuestion(q.messages) for q in questions])]
    by_hand = torch.sigmoid(answer_states(backend, questions, [1])[1] @ weights - 0.2).tolist()
    assert shared == pytest.approx(by_hand, abs=1e-5) and alone == pytest.approx(by_hand, abs=1e-5)
    assert len(set(round(p, 4) for p in shared)) > 1
    plain = LocalBackend(tiny_llama, smollm2_tokenizer, model_id="tiny")
    assert backend.identity() != plain.identity() and "probe" in backend.model_id  # other cache keys, other name


def test_a_probe_file_refuses_another_models_width_and_a_wrong_file(tmp_path, tiny_llama, smollm2_tokenizer):
    narrow = Probe(layer=-1, weights=(0.1, 0.2), bias=0.0)
    backend = LocalBackend(tiny_llama, smollm2_tokenizer, model_id="tiny", probe=narrow)
    with pytest.raises(ProbeError, match="width 2"):
        backend.p_yes_sync([YesNoQuestion(({"role": "user", "content": "Is it?"},))])
    (tmp_path / "no.json").write_text('{"weights": [1]}')
    with pytest.raises(ProbeError, match="not a probe file"):
        Probe.load(tmp_path / "no.json")
    narrow.save(tmp_path / "p.json")
    assert Probe.load(tmp_path / "p.json") == narrow


def test_train_judge_probe_writes_a_spec_that_judges_and_rewards(tmp_path, rows_file, tiny_dir):
    options = TrainOptions(input=rows_file, output=tmp_path / "out", method="probe", folds=3, progress=False)
    record = train_judge(options, lambda: open_tiny(tiny_dir), f"local:{tiny_dir}")
    assert record["model"] == f"local:{tiny_dir}?probe={(tmp_path / 'out' / 'probe.json').resolve()}"
    assert record["examples"]["by_source"]["label"] > 0 and record["examples"]["by_source"]["check"] > 0
    assert record["input"]["sha256"] and record["seed"] == 0 and record["base"]["model"] == str(tiny_dir)
    assert record["result"]["cv_auroc"] > 0.8  # cats and stock markets are far apart even in a random model
    written = [json.loads(line) for line in (tmp_path / "out" / "rows.jsonl").open()]
    assert {r["source"] for r in written} >= {"label", "refusal", "other-answer"}
    # the spec opens the probe; its P(yes) on the task separates the held-out kinds of response
    from judge.models import open_backend
    from judge.rl import rubric_reward

    trained = open_backend(record["model"], cache=False)
    judge = build_judge(JudgeOptions(), [trained])
    held_out = [item(f"{CATS[2]} {CATS[0]} {CATS[1]}"), item(OTHER[1])]
    met, unmet = (next(r.p_yes for r in v.results if r.criterion_id == "task") for v in judge.evaluate_many(held_out))
    assert met > unmet
    reward = rubric_reward(trained, rubric=Rubric.model_validate(RUBRIC))
    values = reward(prompts=["Describe a cat."] * 2, completions=[held_out[0].response, held_out[1].response])
    assert all(isinstance(v, float) for v in values)
    with pytest.raises(FileExistsError, match="--overwrite"):
        train_judge(options, lambda: open_tiny(tiny_dir), f"local:{tiny_dir}")


@pytest.mark.parametrize("method", ["sft", "lora"])
def test_fine_tuning_learns_the_labels_and_the_written_model_judges_as_it_did_in_memory(
    tmp_path, rows_file, tiny_dir, method
):
    backend = open_tiny(tiny_dir)
    options = TrainOptions(
        input=rows_file,
        output=tmp_path / "out",
        method=method,
        epochs=4 if method == "sft" else 12,
        batch_size=8,
        progress=False,
        learning_rate=1e-2 if method == "sft" else 3e-3,
        negatives=(),
    )  # fmt: skip  (a random model needs a push; LoRA on it learns slowly)
    judge = build_judge(JudgeOptions(), [backend])
    held_out = [item(f"{CATS[2]} {CATS[0]} {CATS[1]}"), item(OTHER[1])]

    def task_margin(j):
        met, unmet = (next(r.p_yes for r in v.results if r.criterion_id == "task") for v in j.evaluate_many(held_out))
        return met - unmet, (met, unmet)

    before, _ = task_margin(judge)
    record = train_judge(options, lambda: backend, f"local:{tiny_dir}")
    result = record["result"]
    assert result["steps"] == options.epochs * math.ceil(record["examples"]["examples"] / 8)
    assert result["final_loss"] < result["first_epoch_loss"] - 0.05, result
    after, in_memory = task_margin(build_judge(JudgeOptions(), [backend]))  # the trained model, still loaded
    if method == "sft":  # it learnt the task on responses it never saw
        assert after > before + 0.1, (before, after)
    # the spec it prints loads the same judge from disk: the full model folder, or the base plus the adapter
    from judge.models import open_backend

    reopened = open_backend(record["model"], cache=False)
    _, from_disk = task_margin(build_judge(JudgeOptions(), [reopened]))
    assert from_disk == pytest.approx(in_memory, abs=1e-4)
    if method == "lora":
        assert record["model"].endswith("?adapter=" + str((tmp_path / "out" / "adapter").resolve()))
        assert sum(f.stat().st_size for f in (tmp_path / "out" / "adapter").iterdir()) < 10 * 2**20
        assert "adapter" in reopened.model_id


def test_fine_tuning_resumes_from_its_checkpoint_and_only_for_the_same_run(tmp_path, rows_file, tiny_dir, monkeypatch):
    backend = open_tiny(tiny_dir)
    judge = build_judge(JudgeOptions(), [backend])
    from judge.train.command import labelled_rows

    rows = labelled_rows(TrainOptions(input=rows_file, output=tmp_path), lambda _: None)
    examples = collect(judge, [(i, labels, "label", i.id) for i, labels in rows]).examples
    settings = FinetuneSettings(method="lora", epochs=2, batch_size=8, save_every=2)
    calls = {"n": 0}
    real_step = torch.optim.AdamW.step

    def stop_at_five(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", stop_at_five)
    with pytest.raises(KeyboardInterrupt):
        finetune(backend, examples, tmp_path / "run", settings, progress=False)
    assert (tmp_path / "run" / CHECKPOINT).exists()
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    heard: list[str] = []
    result = finetune(open_tiny(tiny_dir), examples, tmp_path / "run", settings, progress=False, say=heard.append)
    assert heard == [f"resumed from {tmp_path / 'run' / CHECKPOINT} at step 4 of {result['steps']}"]
    assert not (tmp_path / "run" / CHECKPOINT).exists()  # the adapter folder is the result now
    # a checkpoint of other settings is not resumed
    monkeypatch.setattr(torch.optim.AdamW, "step", stop_at_five)
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        finetune(open_tiny(tiny_dir), examples, tmp_path / "again", settings, progress=False)
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    heard.clear()
    other = FinetuneSettings(method="lora", epochs=2, batch_size=8, save_every=2, seed=1)
    finetune(open_tiny(tiny_dir), examples, tmp_path / "again", other, progress=False, say=heard.append)
    assert heard == [f"{tmp_path / 'again' / CHECKPOINT} was made from other examples or settings: starting over"]


def test_the_command_line_trains_and_prints_the_spec_that_judges(tmp_path, rows_file, tiny_dir, rubric_exe):
    def run(*argv):
        return subprocess.run([rubric_exe, *argv], capture_output=True, text=True, cwd=ROOT, timeout=300)

    out = tmp_path / "probe"
    trained = run(
        "train-judge", "--input", str(rows_file), "--output", str(out), "--model", f"local:{tiny_dir}", "--quiet"
    )
    assert trained.returncode == 0, trained.stderr
    spec = trained.stdout.split("--model '")[1].split("'")[0]
    assert spec == json.loads((out / "judge.json").read_text())["model"]
    judged = run(
        "judge", "--input", str(rows_file), "--output", str(tmp_path / "v.jsonl"), "--model", spec, "--quiet",
    )  # fmt: skip
    assert judged.returncode == 0, judged.stderr
    verdicts = [json.loads(line) for line in (tmp_path / "v.jsonl").open()]
    assert len(verdicts) == 24 and all("+probe:" in v["model"] for v in verdicts)
    assert all(r["status"] == "scored" for v in verdicts for r in v["results"] if r["criterion_id"] == "task")
    again = run("train-judge", "--input", str(rows_file), "--output", str(out), "--model", f"local:{tiny_dir}")
    assert again.returncode == 2 and "--overwrite" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    fake = run("train-judge", "--input", str(rows_file), "--output", str(tmp_path / "f"), "--model", "fake:yes")
    assert fake.returncode == 2 and "trains a local model" in fake.stderr


def test_a_missing_training_extra_names_its_install_command(tmp_path, rows_file, monkeypatch):
    import importlib.util

    from judge.extras import MissingExtra

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    options = TrainOptions(input=rows_file, output=tmp_path / "out", method="lora")
    with pytest.raises(MissingExtra, match="peft.*train"):
        train_judge(options, lambda: pytest.fail("opened the model before checking the extra"), "local:x")


def test_max_examples_trains_on_a_seeded_sample_and_says_so(tmp_path, rows_file, tiny_dir):
    heard: list[str] = []

    def train(output: str, seed: int) -> dict:
        options = TrainOptions(
            input=rows_file,
            output=tmp_path / output,
            method="probe",
            folds=2,
            max_examples=20,
            seed=seed,
            progress=False,
        )
        return train_judge(options, lambda: open_tiny(tiny_dir), f"local:{tiny_dir}", say=heard.append)

    first = train("a", 0)
    train("b", 0), train("c", 1)
    assert first["examples"]["examples"] == 20 and first["examples"]["found"] > 20
    assert "trained on a seeded sample of 20 of them (--max-examples)" in heard
    weights = [json.loads((tmp_path / name / "probe.json").read_text())["weights"] for name in "abc"]
    assert weights[0] == weights[1] and weights[0] != weights[2]  # the same seed, the same sample and fit
