"""What a judged GRPO batch runs through the judge, with the held prefix following the
prompt (as shipped) and holding the judge instructions only (before), side by side.

A GRPO batch holds each prompt's completions together (TRL repeats a prompt
``num_generations`` times), so every completion of a group shares the judge instructions
*and* the prompt. The batch: ``--prompts`` prompts of the recipe's held-out kind (long
instructions, like IFEval's) x ``--group`` completions x ``--criteria`` criteria, judged
in one call per prompt group as in a step, over several steps. Printed per configuration:
tokens run through the model over the batch's unique tokens (each distinct token prefix
counted once: what a judge that never recomputed anything would run), seconds per step, and
the ratio of the two configurations in one run.

    python bench/grpo_prefix.py [--model SPEC] [--steps 3] [--prompts 2] [--group 8] [--criteria 3]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import prompts  # noqa: E402
from judge.backends.base import YesNoQuestion  # noqa: E402
from judge.backends.forward_passes import InstructionCache, common_prefix_length  # noqa: E402
from judge.models import open_backend  # noqa: E402

PROMPTS = [
    "Write a short story about a lighthouse keeper who finds a message in a bottle. Your entire response "
    "should be in English and in all lowercase letters. Do not use any commas. End your response with the "
    "exact phrase 'Is there anything else I can help with?'",
    "Explain to a curious child why the sky is blue, in three short paragraphs separated by the markdown "
    "divider ***. Wrap your entire response with double quotation marks and include the keywords 'light' "
    "and 'scatter'.",
    "Give me a recipe for bread that a beginner can follow at home. Answer with at most 120 words, use "
    "exactly 4 bullet points in markdown, and make sure the word 'knead' appears at least twice.",
    "Describe the water cycle for a school newsletter. Your answer must contain a title wrapped in double "
    "angular brackets, such as <<poem of joy>>, and must not mention the words 'rain' or 'cloud'.",
]
CRITERIA = [
    "Whatever its form, the response does what the request asks.",
    "The response is written entirely in lowercase letters.",
    "The response ends with the exact phrase the request names.",
    "The response includes every keyword the request names.",
]


class InstructionsOnly(InstructionCache):
    """The held prefix as before: learnt once from two responses' common start, cut back when
    a prompt changes, never grown to the next prompt (so each completion recomputes it)."""

    def reusable(self, prefix, compute, crop):  # type: ignore[no-untyped-def]
        held = len(self.ids) if self.ids and prefix[: len(self.ids)] == self.ids else 0
        if not held and self._previous:
            shared = common_prefix_length([prefix, self._previous])
            if shared >= self.min_length:
                self.ids, self.cache, held = prefix[:shared], compute(prefix[:shared], None), shared
        self._previous = prefix
        return (held, copy.deepcopy(self.cache)) if held else (0, None)


def steps(n_steps: int, n_prompts: int, group: int, criteria: int) -> list[list[list[YesNoQuestion]]]:
    """Per step, per prompt group: the questions of its completions (distinct each step)."""
    out = []
    for step in range(n_steps):
        calls = []
        for p in range(n_prompts):
            prompt = PROMPTS[(step * n_prompts + p) % len(PROMPTS)]
            calls.append(
                [
                    YesNoQuestion(
                        tuple(
                            prompts.render_messages(
                                "entailment",
                                prompt=prompt,
                                response=f"completion {step}.{k}: a lighthouse keeper named Ada walked out at dawn "
                                f"and found {k + 2} bottles on the rocks; one held a map. is there anything else?",
                                criterion=c,
                                reference=None,
                            )
                        ),
                        group=f"{step}-{p}-{k}",
                    )
                    for k in range(group)
                    for c in CRITERIA[:criteria]
                ]
            )
        out.append(calls)
    return out


def unique_tokens(sequences: list[list[int]]) -> int:
    return len({tuple(s[: i + 1]) for s in sequences for i in range(len(s))})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a local model spec (default: the embedded SmolLM2)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--criteria", type=int, default=3)
    args = parser.parse_args(argv)
    backend = open_backend(args.model, cache=False)
    batches = steps(args.steps, args.prompts, args.group, args.criteria)
    unique = sum(unique_tokens([backend.encode(q.messages) for call in calls for q in call]) for calls in batches)
    print(
        f"judge {backend.model_id}; {args.steps} steps of {args.prompts} prompts x {args.group} completions x "
        f"{args.criteria} criteria; unique tokens {unique}"
    )
    results = {}
    for name, store in (("instructions only (before)", InstructionsOnly), ("follows the prompt", InstructionCache)):
        backend.instructions = store(backend.min_shared_prefix)
        backend.p_yes_sync(steps(1, 1, 2, 1)[0][0])  # the instructions, learnt as in a running job
        start_tokens, seconds = backend.tokens_computed, []
        for calls in batches:
            started = time.perf_counter()
            for call in calls:
                backend.p_yes_sync(call)
            seconds.append(time.perf_counter() - started)
        tokens = backend.tokens_computed - start_tokens
        results[name] = (tokens, statistics.median(seconds))
        print(
            f"  {name}: {tokens} tokens run, {tokens / unique:.2f}x unique; {statistics.median(seconds):.2f} s a step"
        )
    (before_tokens, before_s), (after_tokens, after_s) = results.values()
    print(f"  follows the prompt / before: tokens {after_tokens / before_tokens:.2f}x, time {after_s / before_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
