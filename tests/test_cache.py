"""The disk cache in front of a backend."""

import asyncio
import multiprocessing

from pydantic import BaseModel

from judge import Judge
from judge.backends.base import YesNoQuestion, YesNoScore
from judge.backends.fake import FakeBackend
from judge.cache import CachedBackend


def q(text, template="t@1"):
    return YesNoQuestion(({"role": "user", "content": text},), template)


def test_second_lookup_is_served_from_disk(tmp_path):
    inner = FakeBackend(0.7)
    cached = CachedBackend(inner, tmp_path)
    first = asyncio.run(cached.p_yes([q("a"), q("b")]))
    again = asyncio.run(
        CachedBackend(FakeBackend(0.1), tmp_path).p_yes([q("a"), q("b")])
    )  # a new process, same model id
    assert [s.p_yes for s in first] == [s.p_yes for s in again] == [0.7, 0.7]
    assert len(inner.calls) == 2


def test_key_covers_model_template_and_messages(tmp_path):
    cached = CachedBackend(FakeBackend(0.7), tmp_path)
    asyncio.run(cached.p_yes([q("a")]))
    other_model = CachedBackend(FakeBackend(0.2, label="other"), tmp_path)
    assert asyncio.run(other_model.p_yes([q("a")]))[0].p_yes == 0.2
    assert asyncio.run(cached.p_yes([q("a", template="t@2")]))[0].p_yes == 0.7
    assert (cached.hits, cached.misses) == (0, 2)
    assert asyncio.run(cached.p_yes([q("a")]))[0].p_yes == 0.7 and cached.hits == 1


def test_failures_are_not_cached(tmp_path):
    answers = iter([YesNoScore(None, reason="timeout"), YesNoScore(0.4)])
    cached = CachedBackend(FakeBackend(lambda _: next(answers)), tmp_path)
    assert asyncio.run(cached.p_yes([q("a")]))[0].reason == "timeout"
    assert asyncio.run(cached.p_yes([q("a")]))[0].p_yes == 0.4


def test_only_missing_questions_reach_the_backend(tmp_path):
    inner = FakeBackend(0.5)
    cached = CachedBackend(inner, tmp_path)
    asyncio.run(cached.p_yes([q("a")]))
    asyncio.run(cached.p_yes([q("a"), q("b"), q("c")]))
    assert [c.messages[0]["content"] for c in inner.calls] == ["a", "b", "c"]


class Verdict(BaseModel):
    ok: bool


def test_generation_cached_at_temperature_zero_only(tmp_path):
    texts = iter(['{"ok": true}', '{"ok": false}', '{"ok": false}'])
    cached = CachedBackend(FakeBackend(text=lambda _: next(texts)), tmp_path)
    msgs = [{"role": "user", "content": "?"}]
    assert asyncio.run(cached.generate(msgs, schema=Verdict)).ok is True
    assert asyncio.run(cached.generate(msgs, schema=Verdict)).ok is True  # cached
    assert asyncio.run(cached.generate(msgs, schema=Verdict, temperature=0.8)).ok is False  # sampled: not cached


def test_engine_through_the_cache(tmp_path, rubric):
    inner = FakeBackend(1.0)
    judge = Judge(CachedBackend(inner, tmp_path))
    first = judge.evaluate("Q", "A", rubric)
    second = judge.evaluate("Q", "A", rubric)
    assert first.results == second.results and len(inner.calls) == 3


def _writer(directory, start):
    cached = CachedBackend(FakeBackend(0.25), directory)
    asyncio.run(cached.p_yes([q(str(i)) for i in range(start, start + 50)]))


def test_concurrent_processes_share_one_cache(tmp_path):
    processes = [multiprocessing.get_context("spawn").Process(target=_writer, args=(tmp_path, s)) for s in (0, 25, 50)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(60)
        assert p.exitcode == 0
    inner = FakeBackend(0.9)
    scores = asyncio.run(CachedBackend(inner, tmp_path).p_yes([q(str(i)) for i in range(100)]))
    assert {s.p_yes for s in scores} == {0.25} and inner.calls == []
