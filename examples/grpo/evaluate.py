"""Held-out evaluation of a policy: greedy answers to the held-out prompts, judged with `rubric judge`.

Writes RUN/answers.jsonl (one row per prompt, its rubric named by id) and RUN/verdicts.jsonl
(the verdicts of `rubric judge` on the code-checked constraints only, so the truth: what the
extractor left to a model is skipped, and a prompt with no code-checked constraint is left
out), and prints the
prompt-level pass rate (every constraint met) and the mean reward (the verdict's score).

    python examples/grpo/evaluate.py --policy PATH --prompts heldout.jsonl --rubrics heldout.rubrics.jsonl --out DIR
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def answers(policy: str, prompts: list[dict], max_length: int, batch: int = 8) -> list[str]:
    """Greedy completions of the chat-formatted prompts, ``batch`` at a time."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(policy, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(policy).eval()
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p["prompt"]}], tokenize=False, add_generation_prompt=True
        )
        for p in prompts
    ]
    out: list[str] = []
    for start in range(0, len(texts), batch):
        encoded = tokenizer(texts[start : start + batch], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            generated = model.generate(
                **encoded, max_new_tokens=max_length, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        out += tokenizer.batch_decode(generated[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
    return [text.strip() for text in out]


def evaluate(policy: str, prompts_path: Path, rubrics: Path, out: Path, max_length: int = 48) -> dict[str, float]:
    prompts = [json.loads(line) for line in prompts_path.read_text(encoding="utf-8").splitlines()]
    out.mkdir(parents=True, exist_ok=True)
    rows = [
        {"id": p["id"], "prompt": p["prompt"], "response": r, "rubric_id": f"constraints-{p['id']}"}
        for p, r in zip(prompts, answers(policy, prompts, max_length))
    ]
    (out / "answers.jsonl").write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
    )
    return score_answers(out, rubrics)


def score_answers(out: Path, rubrics: Path) -> dict[str, float]:
    """Judge out/answers.jsonl on the code-checked criteria alone (the rest, the task criterion
    and what the extractor left to a model, are skipped: with a stand-in judge they would count
    as failed, and a prompt with one could never pass), and summarise."""
    rubric = Path(sys.executable).parent / "rubric"
    subprocess.run(
        [
            str(rubric),
            "judge",
            "--model",
            "fake:no",
            "--only-tags",
            "checked-in-code",
            "--rubric",
            str(rubrics),
            "--input",
            str(out / "answers.jsonl"),
            "--output",
            str(out / "verdicts.jsonl"),
            "--overwrite",
            "--quiet",
        ],
        check=False,
    )
    verdicts = [json.loads(line) for line in (out / "verdicts.jsonl").read_text(encoding="utf-8").splitlines()]
    verdicts = [v for v in verdicts if any(r["status"] == "scored" for r in v["results"])]
    passed = {v["id"]: all(r["met"] for r in v["results"] if r["status"] == "scored") for v in verdicts}
    scores = {v["id"]: v["score"] or 0.0 for v in verdicts}
    summary = {
        "n": len(verdicts),
        "pass_rate": sum(passed.values()) / len(passed),
        "mean_reward": sum(scores.values()) / len(scores),
    }
    (out / "per_prompt.json").write_text(json.dumps({"passed": passed, "score": scores}), encoding="utf-8")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", required=True)
    parser.add_argument("--prompts", type=Path, required=True)
    parser.add_argument("--rubrics", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-length", type=int, default=48)
    args = parser.parse_args()
    print(json.dumps(evaluate(args.policy, args.prompts, args.rubrics, args.out, args.max_length)))


if __name__ == "__main__":
    main()
