"""verl's entry points (compute_score, compute_score_batch, acompute_score), as verl calls and loads them."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys

import pytest

from judge.backends.fake import FakeBackend
from tests.serving import serve


@pytest.fixture
def verl_env(monkeypatch):
    from judge.rl import verl_reward

    monkeypatch.setenv("RUBRIC_JUDGE_MODEL", "fake:random:7")
    monkeypatch.setenv("RUBRIC_JUDGE_RUBRIC", "helpfulness")
    monkeypatch.delenv("RUBRIC_JUDGE_SERVER", raising=False)
    verl_reward._judge_for.cache_clear()
    yield verl_reward
    verl_reward._judge_for.cache_clear()


def test_verl_compute_score_as_verl_calls_it(verl_env):
    keys = {"score", "rubric_scored", "rubric_reason", "rubric_criteria"}
    # the naive manager: keyword arguments; the reward loop adds its own keywords
    one = verl_env.compute_score(
        data_source="chat",
        solution_str="Paris.",
        ground_truth="Paris",
        extra_info={"question": "Capital of France?", "index": 3},
        reward_router_address=None,
        reward_model_tokenizer=None,
    )
    assert set(one) == keys and one["rubric_scored"] == 1.0 and 0.0 <= one["score"] <= 1.0
    assert [c["id"] for c in json.loads(one["rubric_criteria"])][0] == "addresses-request"
    # the batch manager: lists (numpy arrays in verl)
    numpy = pytest.importorskip("numpy")
    batch = verl_env.compute_score_batch(
        data_sources=numpy.array(["a", "b", "c"], dtype=object),
        solution_strs=["Paris.", "Lyon.", "x"],
        ground_truths=[json.dumps(["Names the capital."]), None, "ref"],
        extra_infos=numpy.array([{"prompt": "q"}, {"prompt": "q", "rubric": "{bad"}, None], dtype=object),
    )
    assert [set(row) for row in batch] == [keys] * 3  # the same keys on every row, as verl needs
    assert json.loads(batch[0]["rubric_criteria"])[0]["id"].startswith("c-")  # the rubric came from ground_truth
    assert (
        batch[1]["rubric_scored"] == 0.0 and batch[1]["score"] == 0.0 and "not valid JSON" in batch[1]["rubric_reason"]
    )
    assert batch[2]["rubric_scored"] == 1.0


VERL_LIKE_LOADER = """
import importlib.util, json, sys
# as verl's custom_reward_function.path loader does it: by path, not registered in sys.modules
spec = importlib.util.spec_from_file_location("custom_module", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
row = getattr(module, "compute_score")("chat", "Paris.", "Paris", {"question": "Capital of France?"})
print(json.dumps(row))
"""


def test_verl_loads_the_reward_file_by_path_as_verl_does(verl_env, tmp_path):
    import judge.rl.verl_reward as by_package  # what pkg://judge.rl.verl_reward imports

    loader = tmp_path / "load.py"
    loader.write_text(VERL_LIKE_LOADER)
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", str(loader), by_package.__file__],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RUBRIC_JUDGE_MODEL": "fake:yes"},
    )
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["rubric_scored"] == 1.0 and row["score"] == pytest.approx(0.8)  # helpfulness: (10 - 2) / 10


def test_verl_settings_come_from_extra_info_over_the_environment(verl_env):
    row = verl_env.compute_score(
        "d", "text", None, {"prompt": "q", "rubric_judge": {"model": "fake:no", "unscored_reward": -1}}
    )
    assert row["score"] == 0.0 and row["rubric_scored"] == 1.0
    with pytest.raises(ValueError, match="unknown keys"):
        verl_env.compute_score("d", "text", None, {"rubric_judge": {"modle": "fake:no"}})


def test_verl_async_calls_are_micro_batched(verl_env):
    async def run():
        rows = [verl_env.acompute_score("d", f"answer {i}", None, {"prompt": "q"}) for i in range(12)]
        return await asyncio.gather(*rows)

    rows = asyncio.run(run())
    expected = verl_env.compute_score_batch(
        ["d"] * 12, [f"answer {i}" for i in range(12)], [None] * 12, [{"prompt": "q"}] * 12
    )
    assert [r["score"] for r in rows] == pytest.approx([r["score"] for r in expected])


def test_verl_through_a_reward_server_and_with_the_server_down(verl_env, monkeypatch):
    with serve(FakeBackend(0.6), rubric="helpfulness") as running:
        monkeypatch.setenv("RUBRIC_JUDGE_SERVER", running.url)
        answers = ["Paris is the capital of France.", "Lyon."]
        rows = verl_env.compute_score_batch(
            ["d", "d"], answers, [None, None], [{"prompt": "q"}, {"prompt": "q", "rubric": "nope"}]
        )
    # helpfulness: positive weights 10, a pitfall of -2, every P(yes) 0.6
    assert rows[0]["score"] == pytest.approx((0.6 * 10 - 0.6 * 2) / 10) and rows[0]["rubric_scored"] == 1.0
    assert rows[1]["rubric_scored"] == 0.0 and rows[1]["rubric_reason"].startswith("rubric: unknown rubric id")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("RUBRIC_JUDGE_SERVER", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("RUBRIC_JUDGE_TIMEOUT", "2")
    down = verl_env.compute_score("d", "a", None, {"prompt": "q"})
    assert down["rubric_scored"] == 0.0 and "ConnectError" in down["rubric_reason"]


def test_verl_reward_router_address_judges_on_verls_reward_servers(verl_env, monkeypatch):
    pytest.importorskip("openai")
    from tests.provider_server import ProviderServer, hashed_p_yes

    monkeypatch.delenv("RUBRIC_JUDGE_MODEL")
    with ProviderServer() as router:
        address = router.url.removeprefix("http://")  # verl passes host:port

        async def reward_loop():  # verl's reward loop awaits one call per sample, with its keywords
            return await asyncio.gather(
                *(
                    verl_env.acompute_score(
                        data_source="chat",
                        solution_str=f"Paris {n}.",
                        ground_truth="Paris",
                        extra_info={"question": "Capital of France?"},
                        reward_router_address=address,
                        reward_model_tokenizer=None,
                    )
                    for n in range(3)
                )
            )

        results = asyncio.run(reward_loop())
        assert all(r["rubric_scored"] == 1.0 for r in results)
        asked = [r for r in router.requests if r.path.endswith("/chat/completions")]
        assert (
            len(asked) == 3 * 6
            and {r.body["model"] for r in asked} == {"served-judge"}
            and all(r.body["logprobs"] for r in asked)
        )
        criteria = json.loads(results[0]["rubric_criteria"])
        assert criteria[0]["p_yes"] == pytest.approx(hashed_p_yes(_criterion_text("addresses-request")), abs=1e-6)
    # a model configured wins over the router
    monkeypatch.setenv("RUBRIC_JUDGE_MODEL", "fake:yes")
    verl_env._judge_for.cache_clear()
    one = verl_env.compute_score(
        data_source="chat",
        solution_str="Paris.",
        ground_truth="Paris",
        extra_info={"question": "q"},
        reward_router_address="127.0.0.1:9",
    )
    assert one["rubric_scored"] == 1.0


def _criterion_text(criterion_id):
    import rubric_library

    return next(c.text for c in rubric_library.load("helpfulness").criteria if c.id == criterion_id)
