"""The options of `rubric generate`, each with its default and meaning in one place.

``GenerateOptions`` is what commands.generate takes; each option declares its flag
(judge/flags.py: ``--max-tries`` for ``max_tries``, so the CLI and a Python caller share
defaults), and ``INPUT_HELP`` says what each method reads. Kept light: `rubric --help` imports this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from judge.flags import option

METHODS = ("contrastive", "auto", "nuggets", "constraints")
INPUT_HELP = """\
nuggets: --input questions {"id", "question"} and --corpus (a folder of .txt/.md files, or a
  JSONL of {"id", "title", "text"} documents; chunked, searched with BM25). A question with no
  retrieved passage gets no rubric ("no evidence" in the log), never an invented nugget.
constraints: --input instructions {"id", "instruction" | "prompt" | "query"}. Constraints code
  can check (word counts, keywords, JSON, case, ...) become criteria with a check spec that the
  judge decides in code; the model adds content/structure/style constraints (--extract-only:
  no model; sentences the extractor could not parse then become criteria verbatim).
"""


@dataclass(frozen=True)
class GenerateOptions:
    method: str = option(choices=METHODS)
    input: Path = option(
        help="preference pairs, questions (nuggets) or instructions (constraints): .jsonl or a .json list"
    )
    output: Path = option(help="rubrics (.jsonl, .json or .yaml)")
    limit: int | None = option(None, "use only the first N usable pairs")
    tau: float = option(
        0.5,
        "consistency threshold: share of induced pairs judged right (default %(default)s; "
        "contrastive with 0: keep the first rubric without judging it)",
    )
    max_tries: int = option(3, "contrastive: rubrics sampled per pair before rejecting it (default %(default)s)")
    rounds: int = option(3, "auto: propose-evaluate-revise rounds per pair (default %(default)s)")
    max_rubrics: int = option(5, "auto: rubrics proposed per pair (default %(default)s)")
    max_core: int = option(20, "auto: size cap of the core set (default %(default)s)")
    min_gain: float = option(
        0.05, "auto: stop the core set when the coding-rate gain falls below this (default %(default)s)"
    )
    embedding_model: str | None = option(
        None, "auto: sentence-transformers model id or path (default: the bundled all-MiniLM-L6-v2)"
    )
    name: str = option("auto-rubric-general", "auto: id of the general rubric (default %(default)s)")
    corpus: Path | None = option(None, "nuggets: a folder of .txt/.md files or a JSONL of documents")
    passages: int = option(8, "nuggets: passages shown to the model per question (default %(default)s)")
    rerank: bool = option(False, "nuggets: re-rank BM25 hits by embedding similarity (--embedding-model)")
    unweighted: bool = option(False, "nuggets: every nugget weight 1 (default: vital 1, okay 0.5)")
    extract_only: bool = option(
        False, "constraints: no model; only what the extractor finds, plus unparsed sentences verbatim"
    )
    task: str = option(
        "gate",
        "constraints: the criterion asking whether the response does the task, its format aside: 'gate' (a "
        "hard rule weighing as much as the constraints together), 'weight' (a principle of that weight) or "
        "'none' (default %(default)s)",
        choices=["gate", "weight", "none"],
    )
    concurrency: int = option(4, "items worked on at once (default %(default)s)")
    progress: bool | None = option(None, cli=False)  # None: a bar on a terminal (the CLI's --quiet turns it off)
    overwrite: bool = option(False, cli=False)  # the CLI's shared --overwrite
