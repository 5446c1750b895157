"""The prompt sets of the GRPO recipe: a training set we generate, a held-out set from IFEval.

Training (``train.jsonl``): everyday topics x short writing tasks x one to three constraints
that code can check, each constraint phrased in our own words (several phrasings per kind,
none of them IFEval's). Held-out (``heldout.jsonl``): IFEval's own prompts whose every
instruction is of a kind the training set teaches and can be met in a short answer (no word
minimum above 40), so both their topics and their phrasings are ones training never saw;
a training topic that appears in any held-out prompt is dropped. Seeded: the same command
writes the same files.

    python examples/grpo/make_prompts.py --out DIR [--train 400] [--seed 0] [--data-dir DIR]

IFEval is found by name (judge/eval/datasets.yaml): a local copy under ``--data-dir`` or
``RUBRIC_JUDGE_DATA``, else downloaded once (sha256-checked) into the user cache.

The rubrics are not written here: `rubric generate --method constraints` extracts them from
these prompts (see examples/grpo/README.md).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

TOPICS = [
    "autumn leaves",
    "a bicycle ride",
    "baking bread",
    "a busy market",
    "a city park",
    "coffee",
    "a desert night",
    "a family dinner",
    "a favourite book",
    "a first job",
    "a garden",
    "a hiking trail",
    "homework",
    "a lighthouse",
    "a long train journey",
    "a mountain lake",
    "moving house",
    "a museum visit",
    "a neighbour's dog",
    "an old photograph",
    "a picnic",
    "a power cut",
    "public libraries",
    "rain on a window",
    "a road trip",
    "a school bus",
    "a snowy morning",
    "a street musician",
    "a summer storm",
    "sunflowers",
    "a swimming pool",
    "a thunderstorm",
    "a tidy desk",
    "a village fair",
    "walking to work",
    "a winter coat",
    "a wooden boat",
    "a birthday cake",
    "a chess game",
    "a farm",
    "fresh strawberries",
    "a quiet beach",
    "a morning routine",
    "a lost umbrella",
    "a kite",
    "a football match",
    "a bakery",
    "a camping trip",
    "a clock tower",
    "a fishing trip",
    "an orchard",
    "a paper boat",
    "a rooftop view",
    "a bus stop",
    "a candle",
    "a tea party",
]
TASKS = [
    "Write a short note about {t}.",
    "Describe {t}.",
    "Tell me about {t}.",
    "Write a few lines about {t}.",
    "Share a thought about {t}.",
    "Give a short description of {t}.",
]
END_PHRASES = ["That is all for now.", "Thanks for reading.", "The end.", "Have a nice day."]
KEYWORDS = ["light", "quiet", "green", "warm", "small", "morning", "water", "friend"]
# kind -> (phrasings in our words, the parameter each takes)
PHRASINGS = {
    "lowercase": [
        "Use only lowercase letters.",
        "Write everything in small letters, no capitals at all.",
        "Keep every letter lowercase.",
    ],
    "capital": ["Write the whole answer in capital letters.", "Use uppercase letters only."],
    "no_comma": ["Do not use any commas.", "Avoid commas completely.", "Commas are not allowed."],
    "word_limit": ["Answer in fewer than {n} words.", "Keep it under {n} words.", "Use less than {n} words."],
    "end_phrase": ['End with the exact phrase "{p}"', 'Finish your answer with the words "{p}"'],
    "keyword": ["Include the word {k}.", "Make sure to include the word {k}.", "Use the word {k} somewhere."],
    "forbidden": ["Do not use the word {k}.", "Never use the word {k}."],
    "quotation": ["Put the whole answer inside double quotation marks.", "Wrap everything you write in double quotes."],
}
CONFLICTS = [{"lowercase", "capital"}, {"keyword", "forbidden"}]
HELD_OUT_KINDS = {
    "change_case:english_lowercase",
    "change_case:english_capital",
    "punctuation:no_comma",
    "startend:end_checker",
    "startend:quotation",
    "keywords:existence",
    "keywords:forbidden_words",
    "length_constraints:number_words",
}
MAX_WORDS_ASKED = 40  # a word minimum above this cannot be met in the short completions of the recipe


def constraint(kind: str, rng: random.Random, used: set[str]) -> str:
    text = rng.choice(PHRASINGS[kind])
    word = rng.choice([k for k in KEYWORDS if k not in used])
    used.add(word)
    return text.format(n=rng.choice([15, 20, 25, 30, 40]), p=rng.choice(END_PHRASES), k=word)


def training_prompts(count: int, topics: list[str], seed: int) -> list[dict[str, object]]:
    rng, rows, seen = random.Random(seed), [], set()
    while len(rows) < count:
        kinds = rng.sample(sorted(PHRASINGS), rng.choice([1, 2, 2, 3]))
        if any(pair <= set(kinds) for pair in CONFLICTS):
            continue
        used: set[str] = set()
        prompt = " ".join([rng.choice(TASKS).format(t=rng.choice(topics)), *(constraint(k, rng, used) for k in kinds)])
        if prompt not in seen:
            seen.add(prompt)
            rows.append({"id": f"train-{len(rows):04d}", "prompt": prompt, "kinds": sorted(kinds)})
    return rows


def held_out_prompts(input_data: Path) -> list[dict[str, object]]:
    rows = []
    for line in input_data.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        kinds, kwargs = row["instruction_id_list"], row["kwargs"]
        if not all(kind in HELD_OUT_KINDS for kind in kinds):
            continue
        if any(
            k == "length_constraints:number_words"
            and a.get("relation") == "at least"
            and a["num_words"] > MAX_WORDS_ASKED
            for k, a in zip(kinds, kwargs)
        ):
            continue
        rows.append({"id": f"ifeval-{row['key']}", "prompt": row["prompt"], "kinds": kinds})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", help="a folder holding ifeval/input_data.jsonl (default: RUBRIC_JUDGE_DATA, else downloaded)"
    )
    parser.add_argument("--ifeval", type=Path, help="an IFEval folder (input_data.jsonl) given directly")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.ifeval is not None:
        input_data = args.ifeval / "input_data.jsonl"
    else:
        from judge.eval import datasets

        input_data = datasets.locate("ifeval/input_data.jsonl", args.data_dir)
    held_out = held_out_prompts(input_data)
    text = " ".join(str(row["prompt"]).lower() for row in held_out)
    topics = [t for t in TOPICS if not re.search(r"\b" + re.escape(t.split()[-1]) + r"\b", text)]
    train = training_prompts(args.train, topics, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("heldout", held_out)):
        with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    print(
        f"train: {len(train)} prompts on {len(topics)} of {len(TOPICS)} topics (the rest appear in held-out prompts); "
        f"held-out: {len(held_out)} IFEval prompts -> {args.out}"
    )


if __name__ == "__main__":
    main()
