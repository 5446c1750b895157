"""A backend from another package, registered through the entry-point group
``rubric_judge.backends`` (tests/backend_plugin), judges in `rubric judge` and in Python."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).parent / "backend_plugin"
RUBRIC = {"id": "colour", "criteria": [{"id": "c1", "text": "The answer names a colour of the sky."}]}


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    """The test package installed (built by pip, entry points and all) into a folder of its own."""
    target, source = tmp_path_factory.mktemp("plugin"), tmp_path_factory.mktemp("plugin-source") / "keyword-judge"
    shutil.copytree(PLUGIN, source)  # pip builds in the source tree: a copy keeps the checkout clean
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    assert list(target.glob("keyword_judge-*.dist-info/entry_points.txt"))
    return target


def test_a_registered_backend_judges_in_rubric_judge(rubric_exe, plugin_path, tmp_path):
    lines = [
        {"id": "a", "prompt": "What colour is the sky?", "response": "It is blue."},
        {"id": "b", "prompt": "What colour is the sky?", "response": "It is grey today."},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (tmp_path / "rubric.json").write_text(json.dumps(RUBRIC))
    env = {**os.environ, "PYTHONPATH": str(plugin_path)}
    done = subprocess.run(
        [
            rubric_exe,
            "judge",
            "--model",
            "keyword:blue",
            "--rubric",
            str(tmp_path / "rubric.json"),
            "--input",
            str(source),
            "--output",
            str(tmp_path / "out.jsonl"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    verdicts = {v["id"]: v for v in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines())}
    assert verdicts["a"]["score"] == 1.0 and verdicts["b"]["score"] == 0.0
    assert verdicts["a"]["model"] == "keyword:blue"


def test_without_the_package_the_spec_is_a_local_model_path(rubric_exe, tmp_path):
    """Unregistered, ``keyword:blue`` names no backend: it is read as a local model, which does not exist."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "prompt": "p", "response": "blue"}) + "\n")
    done = subprocess.run(
        [
            rubric_exe,
            "judge",
            "--model",
            "keyword:blue",
            "--rubric",
            "helpfulness",
            "--input",
            str(source),
            "--output",
            str(tmp_path / "out.jsonl"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "keyword:blue" in done.stderr


def test_a_registered_backend_gets_the_default_capabilities(plugin_path, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_path))
    from judge.backends import get_backend, installed_backends
    from judge.backends.base import capability
    from judge.build import JudgeOptions, build_judge
    from rubrics.model import Rubric

    installed_backends.cache_clear()
    try:
        backend = get_backend("keyword:blue")
        assert type(backend).__module__ == "keyword_judge"
        assert capability(backend, "concurrency") is None and capability(backend, "usage") is None
        judge = build_judge(JudgeOptions(), backend)
        assert judge.evaluate("What colour is the sky?", "blue", Rubric.model_validate(RUBRIC)).score == 1.0
    finally:
        installed_backends.cache_clear()
