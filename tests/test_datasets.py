"""Benchmark data by name: local copies first, then a checked download; offline says how to provide it."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from judge.eval import datasets
from judge.eval.preference import benchmark_files
from tests.conftest import ROOT


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $RUBRIC_JUDGE_DATA and an empty cache: what a fresh user has."""
    monkeypatch.delenv(datasets.ENV_DATA, raising=False)
    monkeypatch.setenv("RUBRIC_JUDGE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def file_server(tmp_path):
    """A loopback HTTP server over tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_every_benchmark_file_is_registered_with_a_checksum_and_licence():
    for benchmark in datasets.benchmarks().values():
        for relative in benchmark.files:
            entry = datasets.data_file(relative)
            assert len(entry.sha256) == 64 and entry.licence
            assert entry.url.startswith("https://") and "/" + entry.dataset not in entry.url.split("/")[3:5]
    assert set(datasets.benchmarks("scored")) == {"prometheus-vicuna", "prometheus-mt-bench", "biggen"}
    assert "llmbar" in datasets.benchmarks("pairs") and "biggen" not in datasets.benchmarks("pairs")


def test_local_copies_are_found_in_order_data_dir_then_environment(isolated, monkeypatch):
    first, second = isolated / "first", isolated / "second"
    for root in (first, second):
        (root / "pandalm_testset").mkdir(parents=True)
        (root / "pandalm_testset" / "testset-v1.json").write_text("[]")
    monkeypatch.setenv(datasets.ENV_DATA, str(second))
    assert datasets.locate("pandalm_testset/testset-v1.json") == second / "pandalm_testset" / "testset-v1.json"
    assert datasets.locate("pandalm_testset/testset-v1.json", first) == first / "pandalm_testset" / "testset-v1.json"
    assert benchmark_files("pandalm", first) == [first / "pandalm_testset" / "testset-v1.json"]


def test_download_checks_the_sha256_and_lands_in_the_cache(isolated, file_server):
    root, url = file_server
    body = b'[{"idx": 1}]'
    (root / "good.json").write_bytes(body)
    entry = datasets.DataFile("demo", "good.json", hashlib.sha256(body).hexdigest(), f"{url}/good.json", "MIT")
    path = datasets.fetch(entry, datasets.cache_dir())
    assert path.read_bytes() == body and path == datasets.cache_dir() / "demo" / "good.json"

    tampered = datasets.DataFile("demo", "bad.json", hashlib.sha256(b"other").hexdigest(), f"{url}/good.json", "MIT")
    with pytest.raises(datasets.DataUnavailable, match="could not download .*good.json"):
        datasets.fetch(tampered, datasets.cache_dir())
    assert not (datasets.cache_dir() / "demo" / "bad.json").exists()


def test_offline_error_names_the_url_and_how_to_provide_the_file(isolated, file_server):
    _, url = file_server
    entry = datasets.DataFile("demo", "missing.json", "0" * 64, f"{url}/missing.json", "MIT")
    with pytest.raises(datasets.DataUnavailable) as caught:
        datasets.fetch(entry, datasets.cache_dir())
    message = str(caught.value)
    assert f"{url}/missing.json" in message and "RUBRIC_JUDGE_DATA" in message and "--data-dir" in message
    assert "\n" not in message
    with pytest.raises(datasets.DataUnavailable, match="no local copy.*master_keys/master_keys.json"):
        datasets.locate("master_keys/master_keys.json")  # no upstream file to download


def test_eval_without_data_says_where_from(rubric_exe, isolated):
    env = {
        "PATH": "/usr/bin:/bin",
        "RUBRIC_JUDGE_CACHE_DIR": str(isolated / "cache"),
        "HOME": str(isolated),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
    }  # no network, surely
    result = subprocess.run(
        [rubric_exe, "eval", "--benchmark", "pandalm", "--model", "fake:yes", "--output", str(isolated / "e.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "https://raw.githubusercontent.com/WeOpenML/PandaLM/" in last and "RUBRIC_JUDGE_DATA" in last, result.stderr
