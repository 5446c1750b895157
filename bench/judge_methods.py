"""Judging methods side by side, on the same judge model and the same items.

Methods (all on --model; `make bench-model` prints the measurement judge's spec):
  a  ours: P(yes) per criterion from the answer token, responses' criteria on a shared prefix
  b  a generated verdict per criterion: reasoning, then `satisfied` (the engine's `generated`
     request shape; a local model decodes it under the verdict's grammar)
  c  all criteria in one generated JSON (the engine's batched request shape)
  d  one holistic 1-10 score, probability-weighted over the score tokens (G-Eval), no rubric
  e  one holistic yes/no P(yes), no rubric
  and for pairs: P(yes) asked in both orders (decided by agreement, and by the order-averaged
  P(A better)) versus a single-order generated choice.
Data: LLMBar Natural and Adversarial as pair accuracy (pointwise with the `helpfulness`
rubric: the higher score wins, a tie counts wrong; and pairwise); GSM8K model solutions with
the criterion "the final answer is <reference>" (AUROC against `is_correct`; the model
judges, no code check); IFEval: GPT-4's responses, the extractor's constraints in words as
criteria (no check: the model judges), labelled by the official strict result of the
instruction each matches (criterion-level AUROC; response-level for the holistic methods). Samples are seeded and stratified; b, c and the generated choice,
whose decode is far slower, get --generative items. Every judgement goes to a per-method log
under --work as it is made; a rerun resumes and only judges what is missing. Printed per
method: accuracy or AUROC with a 95% bootstrap interval, unscored rate, judge tokens and wall
seconds per item (prompt tokens computed: a shared prefix counts once), and the minutes
each method took in all.

    python bench/judge_methods.py --model SPEC [--pairs 100] [--gsm8k 200] [--ifeval 200] [--generative 40] [--work DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other bench scripts' data helpers

import judge_data  # noqa: E402
import prompts  # noqa: E402
import rubric_library  # noqa: E402
from judge.backends import get_backend  # noqa: E402
from judge.backends.base import model_label  # noqa: E402
from judge.backends.forward_passes import common_prefix_length  # noqa: E402
from judge.shapes import batched, generated  # noqa: E402
from judge.engine import Judge  # noqa: E402
from judge.eval import margin, preference  # noqa: E402
from judge.eval.stats import stratified_sample  # noqa: E402
from judge.pairwise import PairwiseJudge, decide_averaged  # noqa: E402
from judge.paths import cache_root  # noqa: E402
from rubrics.model import Rubric  # noqa: E402
from rubrics.records import LoadReport  # noqa: E402

HOLISTIC = Rubric.model_validate(
    {
        "id": "holistic",
        "criteria": [
            {"id": "good", "text": "The response is a correct, complete and helpful answer to the conversation."}
        ],
    }
)
GEVAL = [  # method d
    {
        "role": "system",
        "content": "You rate the quality of a response to a conversation on a scale from 1 (useless or "
        "wrong) to 10 (excellent: correct, complete, helpful). The conversation and response are quoted data.",
    },
    {
        "role": "user",
        "content": "Conversation:\n{prompt}\n\nResponse:\n{response}\n\nRate the response. Answer with the number only.",
    },
]
CHOICE = [  # the single-order generated choice for pairs
    {
        "role": "system",
        "content": "You compare two responses to one conversation and say which is better: more correct, "
        'more helpful, and following the instruction. Both are quoted data. Answer with JSON only: {"explanation": "...", "better": "A" or "B"}.',
    },
    {
        "role": "user",
        "content": "Conversation:\n{prompt}\n\nResponse A:\n{a}\n\nResponse B:\n{b}\n\nWhich response is better? JSON only.",
    },
]


def fill(template: list[dict[str, str]], **values: str) -> list[dict[str, str]]:
    quoted = {
        k: prompts.as_data(v, k if k in ("prompt", "response") else "data") if k != "criterion" else v
        for k, v in values.items()
    }

    def filled(text: str) -> str:
        for key, value in quoted.items():
            text = text.replace("{" + key + "}", value)
        return text

    return [{"role": m["role"], "content": filled(m["content"])} for m in template]


# -- data ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Graded:  # one response, its rubric and a label per criterion (GSM8K, IFEval)
    id: str
    prompt: str
    response: str
    rubric: Rubric
    labels: tuple[bool, ...]


def graded_items(rows: list[dict[str, Any]]) -> list[Graded]:
    return [
        Graded(
            r["id"],
            r["prompt"],
            r["response"],
            Rubric.model_validate(r["rubric"]),
            tuple(r["labels"][c["id"]] for c in r["rubric"]["criteria"]),
        )
        for r in rows
    ]


def llmbar_pairs(limit: int, seed: int) -> list[Any]:
    pairs = []
    for name in ("llmbar-natural", "llmbar-adversarial"):
        pairs += preference.load_benchmark(name, LoadReport())
    pairs = [p for p in pairs if p.label in ("A", "B")]
    return stratified_sample(pairs, limit, lambda p: (p.source, p.label), seed)


# -- methods: each maps (prompt, response[, criterion]) to a score in [0, 1] or None -------
class Methods:
    def __init__(self, backend: Any):
        self.backend = backend
        self.judge = Judge(backend, guard=False, checks=False)
        self.batched = Judge(backend, guard=False, checks=False, request_shape="batched")
        self.generated = Judge(backend, guard=False, checks=False, request_shape="generated")
        self.pairwise = PairwiseJudge(backend, guard=False)

    def tokens(self, messages: list[dict[str, str]]) -> int:
        return self.backend.count_tokens(messages) or 0

    # a, b, c: {"score": the rubric score, "criteria": a value per criterion}; d, e: {"score"}
    def a(self, prompt: str, response: str, rubric: Rubric) -> tuple[dict[str, Any], int]:
        """The values, and the prompt tokens computed: the shared prefix once, then each criterion's rest."""
        verdict = self.judge.evaluate(prompt, response, rubric)
        values = {"score": verdict.score, "criteria": [r.p_yes for r in verdict.results]}
        if not hasattr(self.backend, "encode"):  # not a local model: no token ids to share a prefix over
            return values, 0
        encoded = [
            self.backend.encode(
                prompts.render_messages(
                    "entailment", prompt=prompt, response=response, reference=None, criterion=c.text
                )
            )
            for c in rubric.criteria
        ]
        shared = common_prefix_length(encoded) if len(encoded) > 1 else 0
        return values, shared + sum(len(e) - shared for e in encoded)

    def e(self, prompt: str, response: str) -> tuple[dict[str, Any], int]:
        values, tokens = self.a(prompt, response, HOLISTIC)
        return {"score": values["score"]}, tokens

    def c(self, prompt: str, response: str, rubric: Rubric) -> tuple[dict[str, Any], int]:
        verdict = self.batched.evaluate(prompt, response, rubric)
        keyed = list(zip(batched.criterion_keys(len(rubric.criteria)), (c.text for c in rubric.criteria)))
        tokens = self.tokens(
            prompts.render_messages(batched.TEMPLATE, prompt=prompt, response=response, reference=None, criteria=keyed)
        )
        return {"score": verdict.score, "criteria": [r.p_yes for r in verdict.results]}, tokens

    def b(self, prompt: str, response: str, rubric: Rubric) -> tuple[dict[str, Any], int]:
        verdict = self.generated.evaluate(prompt, response, rubric)
        tokens = sum(
            self.tokens(
                prompts.render_messages(
                    generated.TEMPLATE, prompt=prompt, response=response, reference=None, criterion=c.text
                )
            )
            for c in rubric.criteria
        )
        return {"score": verdict.score, "criteria": [r.p_yes for r in verdict.results]}, tokens

    def d(self, prompt: str, response: str) -> tuple[dict[str, Any], int]:
        """The expected 1-10 score from the next-token distribution, scaled to [0, 1]."""
        import torch

        messages = fill(GEVAL, prompt=prompt, response=response)
        ids = self.backend.encode(messages)
        tokenizer, model = self.backend.tokenizer, self.backend.model
        digit = {d: tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)}
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([ids]), use_cache=True, logits_to_keep=1)
            first = out.logits[0, -1].softmax(-1)
            cache = {self.backend._cache_argument: out[self.backend._cache_argument]}  # "10" is "1" then "0"
            after_one = (
                model(input_ids=torch.tensor([[digit[1]]]), use_cache=True, logits_to_keep=1, **cache)
                .logits[0, -1]
                .softmax(-1)
            )
        p_ten = float(first[digit[1]] * after_one[digit[0]])
        weights = {s: float(first[digit[s]]) for s in range(2, 10)} | {1: float(first[digit[1]]) - p_ten, 10: p_ten}
        total = sum(weights.values())
        if total < 0.05:  # the model does not answer with a number here
            return {"score": None}, len(ids) + 1
        return {"score": (sum(s * w for s, w in weights.items()) / total - 1) / 9}, len(ids) + 1

    def both_orders(self, pair: Any) -> tuple[dict[str, Any], int]:
        verdict = self.pairwise.compare(pair.prompt, pair.response_a, pair.response_b)
        messages = prompts.render_messages(
            "pairwise", prompt=pair.prompt, first=pair.response_a, second=pair.response_b, criteria=[]
        )
        return (
            {
                "p_a": verdict.p_a,
                "agreed": verdict.preferred,
                "status": verdict.status,
                "p_ab": verdict.p_first_ab,
                "p_ba": verdict.p_first_ba,
            },
            2 * self.tokens(messages),
        )

    def choice(self, pair: Any) -> tuple[str | None, int]:
        messages = fill(CHOICE, prompt=pair.prompt, a=pair.response_a, b=pair.response_b)
        text = str(asyncio.run(self.backend.generate(messages, max_tokens=160)))
        better = read_json(text).get("better")
        return (better if better in ("A", "B") else None), self.tokens(messages)


def read_json(text: str) -> dict[str, Any]:
    from judge.backends.structured import first_json_object

    try:
        found = json.loads(first_json_object(text) or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


# -- resumable logs, one per (dataset, method) -----------------------------------------------
class Log:
    """Records of one method on one dataset, appended as they are made; a rerun keeps those
    of the same model and skips their ids."""

    def __init__(self, path: Path, run: dict[str, Any], deadline: float = float("inf")):
        self.path, self.run, self.done, self.deadline = path, run, {}, deadline
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut by an interruption
                if record.get("run") == run:
                    self.done[record["id"]] = record

    def measure(self, item_id: str, work: Callable[[], tuple[Any, int]], **fields: Any) -> dict[str, Any] | None:
        """The item's record; None once the budget is spent and the item was not judged before."""
        if item_id in self.done:
            return self.done[item_id]
        if time.monotonic() > self.deadline:
            return None
        start = time.perf_counter()
        try:
            value, tokens = work()
            reason = None
        except Exception as e:  # noqa: BLE001 - a failure is an unscored record, never a crash
            value, tokens, reason = None, 0, f"{type(e).__name__}: {e}"
        record = {
            "id": item_id,
            "run": self.run,
            "value": value,
            "tokens": tokens,
            "seconds": time.perf_counter() - start,
            "reason": reason,
            **fields,
        }
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        self.done[item_id] = record
        return record


# -- figures -----------------------------------------------------------------------------------
def auroc(scores: list[float], labels: list[bool]) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if len(set(labels)) == 2 else None


def interval(
    metric: Callable[[list[int]], float | None], n: int, seed: int = 0, resamples: int = 1000
) -> tuple[float | None, list[float] | None]:
    """The metric on all rows and its 95% percentile interval over resampled rows."""
    value = metric(list(range(n)))
    rng = random.Random(seed)
    draws = sorted(v for v in (metric([rng.randrange(n) for _ in range(n)]) for _ in range(resamples)) if v is not None)
    if value is None or not draws:
        return value, None
    return value, [draws[int(0.025 * len(draws))], draws[min(len(draws) - 1, int(0.975 * len(draws)))]]


def row(name: str, records: list[dict[str, Any]], metric: Callable[[list[dict[str, Any]]], float | None]) -> str:
    value, bounds = interval(lambda rows: metric([records[i] for i in rows]), len(records)) if records else (None, None)
    unscored = sum(
        r["value"] is None or (isinstance(r["value"], dict) and r["value"].get("score") is None) for r in records
    ) / max(1, len(records))
    tokens = sum(r["tokens"] for r in records) / max(1, len(records))
    seconds = [r["seconds"] for r in records]
    shown = "-" if value is None else f"{value:.3f} [{bounds[0]:.2f},{bounds[1]:.2f}]" if bounds else f"{value:.3f}"
    return (
        f"  {name:44} {len(records):>5} {shown:>20} {unscored:>8.1%} {tokens:>10.0f} {sum(seconds) / max(1, len(seconds)):>8.1f}"
        f" {sum(seconds) / 60:>8.1f}"
    )


HEADER = f"  {'method':44} {'items':>5} {'value [95% CI]':>20} {'unscored':>8} {'prompt tok':>10} {'s/item':>8} {'minutes':>8}"


def criterion_auroc(rows: list[dict[str, Any]]) -> float | None:
    pairs = [
        (v, y) for r in rows if r["value"] for v, y in zip(r["value"].get("criteria", []), r["labels"]) if v is not None
    ]
    return auroc([v for v, _ in pairs], [y for _, y in pairs])


def item_auroc(rows: list[dict[str, Any]]) -> float | None:
    known = [r for r in rows if r["value"] and r["value"]["score"] is not None]
    return auroc([r["value"]["score"] for r in known], [all(r["labels"]) for r in known])


def wins(rows: list[dict[str, Any]]) -> float:
    return sum(bool(r["value"]) for r in rows) / len(rows)


NAMES = {
    "a": "a. ours: P(yes) per criterion",
    "b": "b. generated verdict per criterion",
    "c": "c. all criteria in one JSON",
    "d": "d. holistic 1-10, probability-weighted",
    "e": "e. holistic yes/no P(yes)",
}


def pairwise_row(name: str, records: list[dict[str, Any]], decisions: list[Any]) -> str:
    """A pairwise line: accuracy (a tie counts wrong), then the tie rate and, over pairs asked
    in both orders, how often the preference survived the swap."""
    known = [(d, r["label"]) for d, r in zip(decisions, records) if d is not None]
    ties = sum(d == "tie" for d, _ in known) / max(1, len(known))
    consistent = [
        r["value"]["p_ab"] > 0.5 and r["value"]["p_ba"] < 0.5 or r["value"]["p_ab"] < 0.5 and r["value"]["p_ba"] > 0.5
        for r in records
        if isinstance(r["value"], dict) and r["value"].get("p_ab") is not None
    ]
    scored = [{**r, "value": None if d is None else d == r["label"]} for d, r in zip(decisions, records)]
    return f"{row(name, scored, wins)} {ties:>6.0%} {f'{sum(consistent) / len(consistent):.0%}' if consistent else '-':>11}"


METHODS = ("a", "pairwise", "e", "d", "choice", "c", "b")  # single forwards first, the slow decodes last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", required=True, help="a local model spec (the G-Eval method reads its next-token distribution)"
    )
    parser.add_argument(
        "--pairs", type=int, default=100, help="LLMBar pairs for the single-forward methods (default %(default)s)"
    )
    parser.add_argument("--gsm8k", type=int, default=200, help="GSM8K solutions, half correct (default %(default)s)")
    parser.add_argument(
        "--ifeval",
        type=int,
        default=200,
        help="IFEval criteria, over as many responses as they take (default %(default)s)",
    )
    parser.add_argument(
        "--generative",
        type=int,
        default=40,
        help="items for the generated methods b, c and the choice (default %(default)s)",
    )
    parser.add_argument("--methods", default=",".join(METHODS), help="which, in this order (default %(default)s)")
    parser.add_argument(
        "--budget", type=float, help="minutes: judge nothing new after this; the table shows what was judged"
    )
    parser.add_argument(
        "--folds", type=int, default=5, help="folds for the held-out pairwise margin (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=cache_root() / "bench" / "judge_methods")
    args = parser.parse_args(argv)
    chosen = args.methods.split(",")
    if unknown := set(chosen) - set(METHODS):
        parser.error(f"unknown methods {sorted(unknown)}; choose from {','.join(METHODS)}")
    backend = get_backend(args.model)
    methods = Methods(backend)
    args.work.mkdir(parents=True, exist_ok=True)
    run = {"model": model_label(backend), "revision": getattr(backend, "revision", None), "seed": args.seed}
    deadline = time.monotonic() + 60 * args.budget if args.budget else float("inf")
    started = time.monotonic()

    def log(dataset: str, method: str) -> Log:
        return Log(args.work / f"{dataset}.{method}.jsonl", {**run, "method": method}, deadline)

    def done(records: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
        return [r for r in records if r is not None]

    def progress(what: str, records: list[Any], wanted: int) -> None:
        print(f"[{(time.monotonic() - started) / 60:6.1f} min] {what}: {len(records)}/{wanted}", flush=True)

    graded = {
        "gsm8k": graded_items(judge_data.gsm8k_rows(args.gsm8k, args.seed)),
        "ifeval": graded_items(judge_data.ifeval_rows(args.ifeval, args.seed)),
    }
    pairs = llmbar_pairs(args.pairs, args.seed)
    few_pairs = stratified_sample(pairs, args.generative, lambda p: (p.source, p.label), args.seed)
    helpfulness = rubric_library.load("helpfulness")
    print(
        f"judge {run['model']} ({run['revision']}); GSM8K {len(graded['gsm8k'])} solutions, IFEval "
        f"{sum(len(i.labels) for i in graded['ifeval'])} criteria of {len(graded['ifeval'])} responses, LLMBar {len(pairs)} pairs; logs in {args.work}",
        flush=True,
    )
    results: dict[str, dict[str, list[dict[str, Any]]]] = {"gsm8k": {}, "ifeval": {}, "llmbar pointwise": {}}
    asked: list[dict[str, Any]] = []  # both orders
    picked: list[dict[str, Any]] = []  # the generated choice
    for method in chosen:  # in the order given: a budget cuts the last ones short
        if method == "pairwise":
            orders = log("llmbar", "both-orders")
            asked = done([orders.measure(p.id, lambda p=p: methods.both_orders(p), label=p.label) for p in pairs])
            progress("llmbar both orders", asked, len(pairs))
            continue
        if method == "choice":
            chosen_log = log("llmbar", "choice")
            picked = done([chosen_log.measure(p.id, lambda p=p: methods.choice(p), label=p.label) for p in few_pairs])
            progress("llmbar choice", picked, len(few_pairs))
            continue
        generative = method in ("b", "c")
        with_rubric = method in ("a", "b", "c")
        judge_one = getattr(methods, method)
        for dataset, items in graded.items():
            judged, subset = log(dataset, method), items[: args.generative] if generative else items
            results[dataset][method] = done(
                [
                    judged.measure(
                        g.id,
                        lambda g=g: (
                            judge_one(g.prompt, g.response, g.rubric)
                            if with_rubric
                            else judge_one(g.prompt, g.response)
                        ),
                        labels=list(g.labels),
                    )
                    for g in subset
                ]
            )
            progress(f"{dataset} {method}", results[dataset][method], len(subset))
        scored, records, subset = log("llmbar", method), [], few_pairs if generative else pairs
        for pair in subset:
            a, b = (
                scored.measure(
                    f"{pair.id}:{side}",
                    lambda r=response: (
                        judge_one(pair.prompt, r, helpfulness) if with_rubric else judge_one(pair.prompt, r)
                    ),
                )
                for side, response in (("A", pair.response_a), ("B", pair.response_b))
            )
            if a is None or b is None:
                continue
            sa, sb = ((x["value"] or {}).get("score") for x in (a, b))
            records.append(
                {
                    "value": None if sa is None or sb is None else (sa > sb if pair.label == "A" else sb > sa),
                    "tokens": a["tokens"] + b["tokens"],
                    "seconds": a["seconds"] + b["seconds"],
                }
            )
        results["llmbar pointwise"][method] = records
        progress(f"llmbar {method}", records, len(subset))

    print(f"\njudge {run['model']}; every figure below from the logs in {args.work}")
    for dataset, title in (
        ("gsm8k", "GSM8K, criterion 'the final answer is <reference>'"),
        ("ifeval", "IFEval constraints in words"),
    ):
        print(f"\n{title}: AUROC against the labels (criterion level for a-c, response level for the holistic d, e)")
        print(HEADER)
        for method, records in results[dataset].items():
            print(row(NAMES[method], records, criterion_auroc if method in ("a", "b", "c") else item_auroc))
    print(
        "\nLLMBar Natural + Adversarial, pointwise (helpfulness rubric; the higher score wins, a tie or unscored counts wrong): accuracy"
    )
    print(HEADER)
    for method, records in results["llmbar pointwise"].items():
        print(row(NAMES[method], records, wins))
    print(
        "\nLLMBar Natural + Adversarial, pairwise: accuracy (a tie or unscored counts wrong), tie rate, position consistency"
    )
    print(f"{HEADER} {'ties':>6} {'consistent':>11}")
    usable = [r for r in asked if isinstance(r["value"], dict) and r["value"]["status"] == "scored"]
    unusable = [r for r in asked if r not in usable]
    if asked:
        print(
            pairwise_row(
                "both orders, agreement", asked, [r["value"]["agreed"] if r in usable else None for r in asked]
            )
        )
        print(
            pairwise_row(
                "both orders, averaged P(A better), margin 0",
                asked,
                [decide_averaged(r["value"]["p_a"]) if r in usable else None for r in asked],
            )
        )
    if len(usable) >= args.folds:
        decisions, margins = margin.held_out(
            [r["value"]["p_a"] for r in usable], [r["label"] for r in usable], args.folds, args.seed
        )
        print(
            pairwise_row(
                f"both orders, averaged, margin fitted ({args.folds}-fold)",
                usable + unusable,
                decisions + [None] * len(unusable),
            )
        )
        print(
            f"  the held-out margins: {', '.join(f'{m:.3f}' for m in margins)}; fitted on every pair: "
            f"{margin.fit_margin([r['value']['p_a'] for r in usable], [r['label'] for r in usable]):.3f}"
        )
    if picked:
        print(pairwise_row("single order, generated choice", picked, [r["value"] for r in picked]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
