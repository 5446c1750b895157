"""Shared-prefix scoring gives the same P(yes) as one full pass per question."""

import pytest

import prompts
from judge import Judge
from judge.backends.base import YesNoQuestion
from judge.backends.forward_passes import common_prefix_length, plan_batches, plan_sharing
from judge.backends.local import LocalBackend

CRITERIA = [
    "Correct.",
    "The response explains its reasoning in at least two clear, numbered steps.",
    "The response is polite.",
    "The response mentions the number four explicitly and states it as the final answer, without hedging.",
    "Brief.",
]


def questions(response, group, criteria=CRITERIA, prompt="What is 2+2?"):
    return [
        YesNoQuestion(
            tuple(prompts.render_messages("entailment", prompt=prompt, response=response, criterion=c, reference=None)),
            group=group,
        )
        for c in criteria
    ]


def ungrouped(qs):
    return [YesNoQuestion(q.messages, q.template_version, group=None) for q in qs]


def assert_same(shared, plain, tolerance=1e-4):
    assert len(shared) == len(plain)
    for s, p in zip(shared, plain):
        assert s.p_yes == pytest.approx(p.p_yes, abs=tolerance)
        assert s.yes_no_mass == pytest.approx(p.yes_no_mass, rel=1e-3)


def test_common_prefix_length():
    assert common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix_length([[5], [6]]) == 0
    assert common_prefix_length([[1, 2], [1, 2]]) == 2


def test_plan_sharing():
    long_a, long_b = [1] * 50 + [2, 3], [1] * 50 + [4]
    shared, plain = plan_sharing(
        ["x", "x", None, "y", "z", "z"], [long_a, long_b, long_a, long_a, [1, 2], [1, 3]], min_prefix=32
    )
    assert [(g.indices, g.prefix_length) for g in shared] == [([0, 1], 50)]
    assert plain == [2, 3, 4, 5]  # no group, a group of one, a prefix too short to pay off


def test_identical_questions_keep_a_suffix_token():
    shared, _ = plan_sharing(["g", "g"], [[1] * 40, [1] * 40], min_prefix=32)
    assert shared[0].prefix_length == 39


def test_plan_batches_respects_budgets():
    lengths = [5, 100, 7, 60, 99, 3]
    batches = plan_batches(lengths, max_batch_tokens=200, max_batch_size=3)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for batch in batches:
        assert len(batch) <= 3 and max(lengths[i] for i in batch) * len(batch) <= 200


@pytest.fixture(params=[True, False], ids=["packed", "batched"])
def layout_backend(request, tiny_llama, smollm2_tokenizer):
    """The tiny model with each suffix layout: packed in one row, or batched against cache copies."""
    return LocalBackend(tiny_llama, smollm2_tokenizer, model_id="tiny", pack_suffixes=request.param)


def test_sdpa_models_pack_suffixes_by_default(tiny_backend):
    assert tiny_backend.model.config._attn_implementation == "sdpa" and tiny_backend.pack_suffixes


def test_shared_matches_unshared_on_a_tiny_random_model(layout_backend, monkeypatch):
    grouped = questions("It is four. " * 30, "a") + questions("Five, obviously.", "b")[:3] + questions("4", None)[:2]
    calls = []
    original = layout_backend._forward_shared
    monkeypatch.setattr(
        layout_backend, "_forward_shared", lambda seqs, n: calls.append((len(seqs), n)) or original(seqs, n)
    )
    shared = layout_backend.p_yes_sync(grouped)
    assert [c[0] for c in calls] == [5, 3]  # both groups went through the shared path
    single = [layout_backend.p_yes_sync([q])[0] for q in ungrouped(grouped)]
    assert_same(shared, single)


def test_suffixes_split_by_the_token_budget_still_match(layout_backend, monkeypatch):
    qs = questions("It is four. " * 60, "a")
    prefix = common_prefix_length([layout_backend.encode(q.messages) for q in qs])
    # packed: room for about two suffixes after the prefix; batched: for one row at a time
    layout_backend.max_batch_tokens = prefix + 40
    name = "_packed_suffix_logits" if layout_backend.pack_suffixes else "_batched_suffix_logits"
    chunks = []
    original = getattr(layout_backend, name)
    monkeypatch.setattr(
        layout_backend, name, lambda cache, n, suffixes: chunks.append(len(suffixes)) or original(cache, n, suffixes)
    )
    scores = layout_backend.p_yes_sync(qs)
    assert len(chunks) >= 2 and sum(chunks) == len(qs)
    if not layout_backend.pack_suffixes:
        assert chunks == [1] * len(qs)
    layout_backend.max_batch_tokens = 10**6
    assert_same(scores, [layout_backend.p_yes_sync([q])[0] for q in ungrouped(qs)])


def test_budget_from_model_size(tiny_backend):
    # 2 layers x 2 kv heads x 16 dims x 2 (k, v) x 4 bytes = 512 bytes a token; half the budget for the cache
    assert tiny_backend.max_batch_tokens == 1024 * 2**20 // (2 * 512)


def test_engine_groups_criteria_of_one_response(tiny_backend, rubric, monkeypatch):
    calls = []
    original = tiny_backend._forward_shared
    monkeypatch.setattr(tiny_backend, "_forward_shared", lambda seqs, n: calls.append(len(seqs)) or original(seqs, n))
    verdict = Judge(tiny_backend).evaluate("What is 2+2?", "It is four. " * 20, rubric)
    assert calls == [3] and verdict.n_scored == 3


@pytest.mark.slow
@pytest.mark.parametrize("pack", [True, False], ids=["packed", "batched"])
def test_shared_matches_unshared_on_smollm2(smollm2_dir, pack):
    backend = LocalBackend.from_pretrained(str(smollm2_dir), pack_suffixes=pack)
    qs = questions("Two plus two equals four, since adding two to two gives four. " * 12, "a")
    assert_same(backend.p_yes_sync(qs), backend.p_yes_sync(ungrouped(qs)))


def test_instruction_cache_learns_the_common_start_of_consecutive_prefixes():
    from judge.backends.forward_passes import InstructionCache

    computed = []

    def compute(ids, past):
        computed.append((list(ids), past))
        return (past or ()) + tuple(ids)

    def crop(cache, length):
        return cache[:length]

    store = InstructionCache(min_length=3)
    assert store.reusable([1, 2, 3, 4, 9], compute, crop) == (0, None)  # nothing seen before
    assert store.reusable([1, 2, 3, 4, 8, 8], compute, crop) == (4, (1, 2, 3, 4))  # learned [1, 2, 3, 4]
    assert store.reusable([1, 2, 3, 4, 7], compute, crop) == (4, (1, 2, 3, 4))  # reused, not recomputed
    assert computed == [([1, 2, 3, 4], None)]
    assert store.reusable([5, 6, 7], compute, crop) == (0, None)  # a different start is never served stale
    assert store.reusable([1, 2, 9], compute, crop) == (0, None)  # too short a common start to pay off


def test_instruction_cache_follows_a_grpo_batch_prompt_by_prompt():
    """Instructions I, then two prompts' groups: the held prefix grows to I + the prompt from
    its group's second completion on, and is cut back to I (not recomputed) for the next."""
    from judge.backends.forward_passes import InstructionCache

    computed = []

    def compute(ids, past):
        computed.append(list(ids))
        return (past or ()) + tuple(ids)

    store = InstructionCache(min_length=3)
    instructions, first, second = [1, 2, 3, 4], [10, 11, 12], [20, 21, 22]
    group = lambda prompt, n: [instructions + prompt + [100 + k] for k in range(n)]  # noqa: E731
    covered = [store.reusable(p, compute, lambda c, n: c[:n])[0] for p in group(first, 4) + group(second, 4)]
    assert covered == [0, 7, 7, 7, 4, 7, 7, 7]
    assert computed == [instructions + first, second]  # each prompt once; the instructions once


def test_instruction_cache_gives_the_same_scores(tiny_backend):
    first = questions("It is four. " * 20, "a")
    second = questions("Four, since 2 + 2 = 4.", "b")
    tiny_backend.p_yes_sync(first)
    assert tiny_backend.instructions.ids == []  # one response seen: nothing shared yet
    scores = tiny_backend.p_yes_sync(second)
    learned = tiny_backend.instructions.ids
    assert len(learned) > 100 and tiny_backend.encode(second[0].messages)[: len(learned)] == learned
    assert_same(scores, [tiny_backend.p_yes_sync([q])[0] for q in ungrouped(second)])
    third = questions("Four.", "c", prompt="Add two and two.")
    assert_same(tiny_backend.p_yes_sync(third), [tiny_backend.p_yes_sync([q])[0] for q in ungrouped(third)])


def test_changed_instructions_are_not_served_from_the_old_cache(tiny_backend):
    tiny_backend.p_yes_sync(questions("It is four.", "a"))
    tiny_backend.p_yes_sync(questions("Four.", "b"))
    other_system = [
        YesNoQuestion(({"role": "system", "content": "Judge leniently. Answer Yes or No."}, q.messages[1]), group="c")
        for q in questions("Five.", "c")
    ]
    assert_same(
        tiny_backend.p_yes_sync(other_system), [tiny_backend.p_yes_sync([q])[0] for q in ungrouped(other_system)]
    )


def unique_tokens(sequences):
    """The tokens of a batch counted once per distinct prefix (the nodes of its token trie):
    what a judge that never recomputed anything would run."""
    return len({tuple(s[: i + 1]) for s in sequences for i in range(len(s))})


def test_a_grpo_batch_computes_each_prompt_once_for_its_group(tiny_backend):
    """Two prompts x four completions, judged in two calls as TRL hands batches: the held
    prefix follows the prompt, so the tokens run stay within 1.3x the batch's unique tokens
    (before, the second prompt's group recomputed its prompt for every completion), and the
    scores are those of judging each question alone."""
    long_prompt = "Describe, in a few sentences, the history and the uses of the lighthouse on the rocky coast. " * 3
    other_prompt = "Explain how bread is baked at home, from the flour and the yeast to the oven, step by step. " * 3
    batch = [
        q
        for prompt in (long_prompt, other_prompt)
        for k in range(4)
        for q in questions(f"Answer {k}: it is fine.", f"{prompt[:5]}-{k}", criteria=CRITERIA[:2], prompt=prompt)
    ]
    tiny_backend.p_yes_sync(questions("Warm-up.", "w"))  # the judge instructions, learnt as in a running job
    start = tiny_backend.tokens_computed
    scores = tiny_backend.p_yes_sync(batch[:8]) + tiny_backend.p_yes_sync(batch[8:])
    computed = tiny_backend.tokens_computed - start
    encoded = [tiny_backend.encode(q.messages) for q in batch]
    assert computed <= 1.3 * unique_tokens(encoded), (computed, unique_tokens(encoded))
    assert_same(scores, [tiny_backend.p_yes_sync([q])[0] for q in ungrouped(batch)])


def test_the_grpo_prefix_bench_compares_both_caches_in_one_run(tiny_llama, smollm2_tokenizer, tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    tiny_llama.save_pretrained(tmp_path / "tiny")
    smollm2_tokenizer.save_pretrained(tmp_path / "tiny")
    path = Path(__file__).resolve().parents[1] / "bench" / "grpo_prefix.py"
    spec = importlib.util.spec_from_file_location("grpo_prefix", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--model", f"local:{tmp_path / 'tiny'}", "--steps", "1", "--group", "4", "--criteria", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    before, after = (int(line.split(": ")[1].split(" tokens")[0]) for line in lines[1:3])
    assert "instructions only (before)" in lines[1] and "follows the prompt" in lines[2] and after < before
