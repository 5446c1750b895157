"""GRPO with rubric rewards: TRL's GRPOTrainer, the policy rewarded by `rubric_reward`.

Three arms (examples/grpo/README.md):
- ``--arm verifiable``: each prompt's code-checked constraints (from `rubric generate --method
  constraints`), decided in code: the reward is the truth. Criteria that code cannot decide
  (the task criterion, sentences the extractor left to a model) are skipped.
- ``--arm task-gated``: the same constraints decided in code, and the rubric's task criterion
  (does the response do what the request asks, its format aside?) judged by ``--judge``, a
  hard rule with the reward gate on: meeting the format without the task earns nothing.
- ``--arm judged``: the same rubrics with their checks removed, so a model judge (``--judge``)
  decides what code could; the code-checked truth is logged beside it (reward weight 0) on
  the same completions, with the share the guard decided and the completions' length.

Every arm trains with the same schedule: a constant learning rate (an arm stopped early is
the same run so far, not one whose rate had already decayed), a KL term to the starting
policy (``--beta``), ``--generations`` completions per prompt and ``--max-length`` tokens,
long enough for an end phrase or a closing quotation mark. The reward's hack monitors
(judge/rl/monitors.py) are logged with every step.

Every step is appended to RUN/steps.jsonl (rewards, length, the completions' features:
Markdown, filler, repetition) and its completions with their rewards to RUN/completions.jsonl;
a checkpoint is kept every ``--save-every`` steps and a rerun of the same command continues
from the last one.

    python examples/grpo/train.py --prompts train.jsonl --rubrics train.rubrics.jsonl --out RUN \\
        [--arm verifiable|task-gated|judged] [--judge SPEC] [--no-guard] [--no-view] [--calibration FILE] \\
        [--reward-server URL] [--steps 200] [--policy PATH] [--device cpu|cuda|auto]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from judge.build import JudgeOptions
from judge.engine import GUARD_DECIDED
from judge.extras import require
from judge.rl import Shaping, rubric_reward
from rubrics.io import load_rubrics
from rubrics.records import completion_text

sys.path.insert(0, str(Path(__file__).parent))
from features import features, summary  # noqa: E402

CODE_JUDGE = "fake:no"  # the verifiable arm's criteria are all decided in code; the model is never asked


def unchecked(rubric: Any) -> Any:
    """The rubric with its code checks removed: a model judge then decides every criterion."""
    criteria = [
        c.model_copy(update={"check": None, "tags": [t for t in c.tags if t != "checked-in-code"]})
        for c in rubric.criteria
    ]
    return rubric.model_copy(update={"criteria": criteria})


class Recorded:
    """A reward function that keeps the batch's completion texts, for the step log."""

    def __init__(self, reward: Any):
        self.reward = reward
        self.__name__ = reward.__name__
        self.texts: list[str] = []

    def __call__(self, prompts: Any, completions: Any, **columns: Any) -> list[float | None]:
        self.texts = [completion_text(c) for c in completions]
        return self.reward(prompts, completions, **columns)


def flagged(reward: Any) -> list[bool]:
    """Per completion: whether the guard decided it without asking the judge."""
    return [
        r.verdict is not None and any((c.reason or "").startswith(GUARD_DECIDED) for c in r.verdict.results)
        for r in reward.last_rewards
    ]


def rows(prompts: Path, rubrics: dict[str, Any], judged: bool) -> dict[str, list[Any]]:
    """The training dataset: the prompt as a chat turn, its rubric inline (checks removed when judged)."""
    columns: dict[str, list[Any]] = {"prompt": [], "rubric": [], "truth": []}
    for line in prompts.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rubric = rubrics[f"constraints-{row['id']}"]
        columns["prompt"].append([{"role": "user", "content": row["prompt"]}])
        columns["rubric"].append((unchecked(rubric) if judged else rubric).model_dump_json(exclude_defaults=True))
        columns["truth"].append(rubric.model_dump_json(exclude_defaults=True))
    return columns


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=Path, required=True)
    parser.add_argument(
        "--rubrics", type=Path, required=True, help="the prompts' rubrics (rubric generate --method constraints)"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--arm", choices=["verifiable", "task-gated", "judged"], default="verifiable")
    parser.add_argument(
        "--judge", help="task-gated and judged arms: the judge model spec (default: the embedded SmolLM2)"
    )
    parser.add_argument("--no-guard", action="store_true", help="judged arm: the content-free guard off")
    parser.add_argument("--no-view", action="store_true", help="judged arm: the normalised view off")
    parser.add_argument(
        "--calibration", type=Path, help="judged arm: apply this calibration of the judge (from `rubric calibrate`)"
    )
    parser.add_argument(
        "--reward-server",
        metavar="URL",
        help="score through a running `rubric serve` (started with the arm's judge: --model fake:no "
        "--only-tags checked-in-code for the verifiable arm) instead of in this process",
    )
    parser.add_argument("--policy", help="a transformers model folder (default: the embedded SmolLM2)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--save-every", type=int, default=25)
    parser.add_argument("--generations", type=int, default=8, help="completions per prompt (GRPO group)")
    parser.add_argument("--prompts-per-step", type=int, default=1)
    parser.add_argument(
        "--max-length", type=int, default=128, help="completion tokens (an end phrase or a closing quote must fit)"
    )
    parser.add_argument("--learning-rate", type=float, default=1e-5, help="constant, the same in every arm")
    parser.add_argument("--beta", type=float, default=0.04, help="the KL term's weight (0: none)")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto", help="auto: cuda if there is one")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    # TRL 1.16 still calls transformers' gradient_checkpointing names, deprecated in favour of activation_checkpointing
    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.* is deprecated", category=FutureWarning)

    require("data", "datasets", purpose="the training dataset")
    try:
        import trl
    except ModuleNotFoundError:
        raise SystemExit("train.py: GRPO training needs TRL: pip install 'trl>=1.0'") from None
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    from judge.backends import default_model

    policy_path = args.policy or str(default_model.ensure_converted())
    rubrics = {r.id: r for r in load_rubrics(args.rubrics)}
    judged = args.arm == "judged"
    dataset = Dataset.from_dict(rows(args.prompts, rubrics, judged)).shuffle(seed=args.seed)
    options = JudgeOptions(guard=not args.no_guard, view=not args.no_view, calibration=args.calibration)
    shaping = None
    if args.arm == "verifiable":  # code decides: what it cannot is skipped, never left to the stand-in judge
        options = JudgeOptions(guard=not args.no_guard, view=False, only_tags=frozenset({"checked-in-code"}))
    elif args.arm == "task-gated":  # the task criterion judged, the rest in code; failing the task earns nothing
        shaping = Shaping(gate=True)
    if args.reward_server:  # the server's own flags decide how it judges
        reward = Recorded(rubric_reward(args.reward_server, name="rubric_reward"))
    else:
        judge = CODE_JUDGE if args.arm == "verifiable" else args.judge
        reward = Recorded(rubric_reward(judge, name="rubric_reward", judge_options=options, shaping=shaping))
    rewards, weights = [reward], [1.0]
    truth = None
    if judged:  # the truth on the same completions, logged and not optimised
        truth = rubric_reward(CODE_JUDGE, rubric_column="truth", name="truth", judge_options=JudgeOptions(guard=False))
        rewards.append(truth)
        weights.append(0.0)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "run.json").write_text(
        json.dumps(
            {
                "policy": policy_path,
                "arm": args.arm,
                "judge": (args.judge or "embedded SmolLM2-135M-Instruct") if args.arm != "verifiable" else "code",
                "generations": args.generations,
                "max_length": args.max_length,
                "learning_rate": args.learning_rate,
                "lr_scheduler": "constant",
                "beta": args.beta,
                "guard": not args.no_guard,
                "view": not args.no_view,
                "calibration": str(args.calibration) if args.calibration else None,
                "reward_server": args.reward_server,
                "steps": args.steps,
                "seed": args.seed,
                "prompts": str(args.prompts),
                "rubrics": str(args.rubrics),
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    log = open(args.out / "steps.jsonl", "a", encoding="utf-8")
    samples = open(args.out / "completions.jsonl", "a", encoding="utf-8")

    class StepLog(TrainerCallback):
        def on_log(self, _args: Any, state: Any, _control: Any, logs: dict[str, Any] | None = None, **_: Any) -> None:
            if not logs or "rewards/rubric_reward/mean" not in logs:
                return
            record = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
            guard = flagged(reward.reward)
            record["guard_flagged"] = sum(guard) / max(1, len(guard))
            record.update(summary(reward.texts))
            log.write(json.dumps(record) + "\n")
            log.flush()
            judge_values = [r.value for r in reward.reward.last_rewards]
            true_values = [r.value for r in truth.last_rewards] if truth else judge_values
            for text, value, true, guarded in zip(reward.texts, judge_values, true_values, guard):
                row = {"step": state.global_step, "completion": text, "reward": value, "truth": true}
                samples.write(json.dumps({**row, "guard_flagged": guarded, **features(text)}) + "\n")
            samples.flush()

    config = trl.GRPOConfig(
        output_dir=str(args.out),
        per_device_train_batch_size=args.generations * args.prompts_per_step,
        num_generations=args.generations,
        max_completion_length=args.max_length,
        max_steps=args.steps,
        learning_rate=args.learning_rate,
        lr_scheduler_type="constant",
        beta=args.beta,
        logging_steps=1,
        save_strategy="steps",
        save_steps=args.save_every,
        report_to="none",
        use_cpu=args.device == "cpu" or (args.device == "auto" and not _cuda()),
        bf16=False,
        seed=args.seed,
        reward_weights=weights,
        disable_tqdm=not sys.stderr.isatty(),
    )
    trainer = trl.GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(policy_path),
        reward_funcs=rewards,
        args=config,
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(policy_path),
        callbacks=[StepLog()],
    )
    resume = any(args.out.glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    trainer.save_model(str(args.out / "final"))
    log.close()
    samples.close()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
