"""The `rubric` command: parse arguments, call the library, print."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

JUDGE_EPILOG = """\
input lines (JSONL), one item each:
  {"id": "q1", "prompt": "...", "response": "..."}
  prompt may be a list of {"role", "content"} messages; optional fields:
  "rubric" (inline rubric, list of principles, or HealthBench/RaR items),
  "rubric_id" (a rubric in --rubric or in the library), "reference" (reference answer).
  Without "id" an item is named after its line number.

models (--model):
  (none)               the embedded SmolLM2-135M-Instruct: a tiny demo model and a weak judge
  HF_ID or PATH        any causal LM through transformers, e.g. Qwen/Qwen2.5-7B-Instruct
  local:HF_ID_OR_PATH  the same, explicitly
  openai/MODEL         OpenAI (OPENAI_API_KEY); with --base-url any OpenAI-compatible
                       server (vLLM, SGLang, Ollama); repeat --base-url for replicas
  anthropic/MODEL      Anthropic (ANTHROPIC_API_KEY); structured verdicts, no logprobs
  litellm/PROVIDER/MODEL   anything litellm reaches; --router-config for a litellm Router
  fake:yes, fake:no, fake:random[:SEED]   scripted answers, for dry runs (every request
                       shape, batched too); add ?delay=SECONDS to make each call slow
  fake:script:FILE     regex rules (YAML) for P(yes) and generated text, for end-to-end
                       runs of generators without a model (examples/scripted_judge.yaml)
  API options after '?': mode=logprobs|structured, samples, concurrency, rpm, tpm,
  max_retries, timeout, reasks, top_logprobs (1-20), price_in, price_out (USD per 1M
  tokens), api_key_env, chat_template_kwargs (JSON), reasoning, reasoning_tokens;
  e.g. openai/gpt-4.1-mini?rpm=500&price_in=0.4&price_out=1.6

The output is appended one line per item as soon as it is judged (each line echoes the
input's "id"; "item_id" is its string form, or line-N when the input has none); rerunning
the same command resumes where an interrupted run stopped. A rerun with another model,
rubric, threshold or input stops and names the difference (--overwrite starts afresh);
one run at a time may write an output (OUTPUT.lock).
exit status: 0 all judged; 1 some lines malformed or some criteria unscored;
2 bad arguments or set-up; 130 interrupted.
"""


GENERATE_EPILOG = """\
input layouts (detected per record):
  {"id", "prompt", "chosen", "rejected"}   or   {"id", "prompt", "responses": [best, ..., worst]}
  LLMBar {"input", "output_1", "output_2", "label": 1|2}
  PandaLM {"instruction", "input", "response1", "response2", "annotator1".."annotator3"} (majority; ties skipped)
  HH-RLHF {"chosen", "rejected"} dialogues (the prompt is the shared dialogue before the last answer)
Records that make no pair (identical or empty responses, missing fields, labels out of range)
are skipped and counted.
nuggets: --input questions {"id", "question"} and --corpus (a folder of .txt/.md files, or a
  JSONL of {"id", "title", "text"} documents; chunked, searched with BM25). A question with no
  retrieved passage gets no rubric ("no evidence" in the log), never an invented nugget.
constraints: --input instructions {"id", "instruction" | "prompt" | "query"}. Constraints code
  can check (word counts, keywords, JSON, case, ...) become criteria with a check spec that the
  judge decides in code; the model adds content/structure/style constraints (--extract-only:
  no model; sentences the extractor could not parse then become criteria verbatim).
exit status: 0 done; 1 some items failed (the model gave no usable rubric) or no rubric was
kept; 2 bad arguments or set-up.
"""


SERVE_EPILOG = """\
our format (POST /score), one item or {"items": [...]}:
  {"id": "r1", "prompt": "...", "response": "...", "rubric": {...} | [principles] | "library-name",
   "reference": "..."}  ->  {"id", "reward", "status", "reason", "score", "criteria": [...]}
  "reward" is null, with "reason", when the item could not be scored.
OpenRLHF (POST /get_reward, pass --remote_rm_url http://HOST:PORT/get_reward):
  {"query": [prompt+response], "prompts": [prompt], "labels": [rubric]}
  ->  {"rewards": [...], "scores": [...], "extra_logs": {"rubric_unscored": [0|1, ...]}}
  the response is the query after its prompt (matched even when OpenRLHF truncated the
  prompt or decoding changed it), without trailing end-of-turn/padding tokens.
Security: --api-key (or RUBRIC_JUDGE_API_KEY) makes every request but GET /health carry
  "Authorization: Bearer KEY"; without it, keep --host on loopback (the default).
Stop with Ctrl-C or SIGTERM: in-flight requests are finished first; a client that leaves
  early has its work cancelled.
"""


def add_model_options(parser: argparse.ArgumentParser, model_help: str = "model spec as for `rubric judge`") -> None:
    """--model, --no-cache and --cache-dir: what make_backend reads."""
    parser.add_argument("--model", help=f"{model_help}; default: the embedded SmolLM2")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the judgement cache")
    parser.add_argument("--cache-dir", type=Path, help="judgement cache directory (default: the user cache dir)")
    api = parser.add_argument_group("API models (openai/, anthropic/, litellm/)")
    api.add_argument("--base-url", action="append", metavar="URL", help="server URL, e.g. http://host:8000/v1; repeat for replicas of one model")
    api.add_argument("--samples", type=int, help="structured verdicts per criterion; P(yes) = share of yes (models without logprobs)")
    api.add_argument("--router-config", type=Path, metavar="FILE", help="litellm Router configuration (YAML with model_list)")


def add_overwrite_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="start the output afresh; by default a rerun resumes, and stops if the output holds records "
                        "made with other settings or for other input")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rubric",
        description="Rubric- and principle-based judging of LLM outputs.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    judge = commands.add_parser(
        "judge",
        help="judge responses against a rubric, writing verdicts as JSONL",
        description="Judge each response of a JSONL file against a rubric's criteria (P(yes) per criterion).",
        epilog=JUDGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    judge.add_argument("--rubric", metavar="FILE|NAME", help="rubric file (JSON, JSONL, YAML) or library rubric name")
    judge.add_argument("--input", required=True, type=Path, help="responses to judge (JSONL)")
    judge.add_argument("--output", required=True, type=Path, help="verdicts (JSONL), appended and resumable")
    add_overwrite_option(judge)
    add_model_options(judge, "model spec (see below)")
    judge.add_argument("--threshold", type=float, default=0.5, help="P(yes) at which a criterion is met (default 0.5)")
    judge.add_argument("--no-gate", action="store_true", help="do not cap the score when a hard rule fails")
    judge.add_argument("--no-guard", action="store_true", help="send content-free responses to the judge too (off: they fail)")
    judge.add_argument("--only-tags", metavar="TAG,...", help="judge only criteria with one of these tags; skip the rest")
    judge.add_argument("--batch-size", type=int, default=32, help="questions per backend call (default 32)")
    judge.add_argument("--concurrency", type=int, help="API models: requests in flight (default 16); local models: batches in flight (default 4)")
    judge.add_argument(
        "--request-shape",
        choices=["per-criterion", "batched"],
        default="per-criterion",
        help="one yes/no request per criterion (P(yes), default) or one request per response labelling every criterion",
    )
    judge.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")

    pairwise = commands.add_parser(
        "pairwise",
        help="which of two responses is better, judged in both orders",
        description="Compare response_a and response_b of each line, asking in both orders; a verdict that flips "
        "with the order is a tie. Lines: {id, prompt, response_a, response_b, criteria?, label?} "
        "(LLMBar's input/output_1/output_2/label work too). Resumable like `rubric judge`.",
    )
    pairwise.add_argument("--input", required=True, type=Path)
    pairwise.add_argument("--output", required=True, type=Path)
    add_overwrite_option(pairwise)
    add_model_options(pairwise)
    pairwise.add_argument("--quiet", action="store_true", help="no progress bar")

    audit = commands.add_parser(
        "audit",
        help="measure a judge's false-positive rate on an attack suite",
        description="Judge master keys, prompt injections, forged verdicts and padded wrong answers as responses to "
        "real questions, with and without each defence, and print the false-positive rates.",
    )
    add_model_options(audit)
    audit.add_argument("--rubric", metavar="FILE|NAME", help="rubric to audit (default: a reference-answer check)")
    audit.add_argument("--questions", type=Path, help="questions with reference answers (JSONL; GSM8K files work)")
    audit.add_argument("--limit", type=int, default=12, help="questions to use (default 12)")
    audit.add_argument("--attacks", type=Path, action="append", default=[], metavar="DIR", help="extra attack files (*.jsonl)")
    audit.add_argument("--threshold", type=float, default=0.5)
    audit.add_argument("--output", type=Path, help="also write the report as JSON")

    augment = commands.add_parser(
        "augment",
        help="write training negatives for a robust judge (Master-RM style)",
        description="Cut each solution to its first sentence and label it not satisfied: negatives that look "
        "like the start of an answer, for training a judge that master keys cannot fool.",
    )
    augment.add_argument("--truncate", action="store_true", required=True, help="first-sentence truncation (the one augmentation so far)")
    augment.add_argument("--input", type=Path, required=True, help="JSONL of {prompt|question, response|solution}, or GSM8K model solutions")
    augment.add_argument("--output", type=Path, required=True, help="negatives as JSONL")

    rubrics = commands.add_parser("rubrics", help="validate, convert and describe rubric files")
    rubric_commands = rubrics.add_subparsers(dest="rubrics_command", required=True, metavar="ACTION")
    validate = rubric_commands.add_parser("validate", help="check rubric files; print what they hold")
    validate.add_argument("files", nargs="+", type=Path)
    convert = rubric_commands.add_parser("convert", help="convert between formats (by file suffix and --to)")
    convert.add_argument("source", type=Path)
    convert.add_argument("target", type=Path)
    convert.add_argument("--from", dest="source_format", default="auto", choices=["auto", "native", "healthbench", "rar"])
    convert.add_argument("--to", dest="target_format", default="native", choices=["native", "healthbench", "rar"])
    schema = rubric_commands.add_parser("schema", help="print the JSON Schema of rubric files")
    schema.add_argument("--output", type=Path, help="write it to a file instead")

    evaluate = commands.add_parser(
        "eval",
        help="measure a judge on labelled preference benchmarks (accuracy, ties, length bias, intervals)",
        description="Judge labelled pairs and report accuracy with 95%% bootstrap intervals, judge ties, position "
        "consistency (pairwise) or equal scores (pointwise), and accuracy split by whether the better response is "
        "the longer one. Per-pair records go to OUTPUT.pairs.jsonl as they are judged; rerunning resumes.",
    )
    evaluate.add_argument("--benchmark", action="append", required=True, metavar="NAME|FILE",
                          help="llmbar, llmbar-natural, llmbar-adversarial, mt-bench, faireval, llmeval2, pandalm, "
                          "hh-rlhf-harmless, or a file of labelled pairs; repeatable")
    evaluate.add_argument("--mode", choices=["pairwise", "pointwise", "graded", "scored"], default="pairwise",
                          help="pairwise: compare the two, both orders (default); pointwise: score each with --rubric; "
                          "graded: HealthBench-style rows, each response graded with its own rubric (points, tags); "
                          "scored: 1-5 score rubrics (prometheus-vicuna, prometheus-mt-bench, biggen) against reference grades")
    evaluate.add_argument("--rubric", metavar="FILE|NAME", default="helpfulness", help="pointwise: the rubric (default helpfulness)")
    add_model_options(evaluate)
    evaluate.add_argument("--limit", type=int, help="at most N pairs per benchmark, stratified by source and label")
    evaluate.add_argument("--seed", type=int, default=0, help="sampling and bootstrap seed")
    evaluate.add_argument("--data-dir", type=Path, help="a local copy of the benchmark data (DATASET/FILE under it), looked at before $RUBRIC_JUDGE_DATA; "
                          "otherwise named benchmarks are downloaded (sha256-checked) into the user cache")
    evaluate.add_argument("--output", required=True, type=Path, help="results (JSON)")
    add_overwrite_option(evaluate)
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")

    report = commands.add_parser(
        "report",
        help="write a self-contained HTML report of verdicts (JSONL) or eval results (JSON)",
        description="One HTML file, no external assets: summary, score histogram, per-criterion pass rates, "
        "unscored reasons and the worst items (verdicts); accuracy tables with intervals, position consistency "
        "and the length-bias split (eval results).",
    )
    report.add_argument("source", type=Path, help="verdicts from `rubric judge` (.jsonl) or results from `rubric eval` (.json)")
    report.add_argument("-o", "--output", type=Path, required=True, help="the HTML file to write")

    generate = commands.add_parser(
        "generate",
        help="generate rubrics: from preference pairs (contrastive, auto), from retrieved passages (nuggets), from instructions (constraints)",
        description="Generate rubrics from preference pairs. contrastive: one rubric (hard rules + principles) per "
        "pair, kept only if judging the pair with it reproduces the label (both orders). auto: per-pair rubrics by "
        "propose-evaluate-revise, a compact core set by coding-rate selection, organised into one general "
        "Theme-Tips rubric (written first) followed by the per-pair rubrics. nuggets: Search-Gen-V nugget rubrics "
        "from passages of a corpus. constraints: ACE-RL constraint rubrics, code-checkable constraints checked in code. "
        "Progress goes to OUTPUT.log.jsonl; "
        "rerunning the same command resumes.",
        epilog=GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    generate.add_argument("--method", choices=["contrastive", "auto", "nuggets", "constraints"], required=True)
    generate.add_argument("--input", required=True, type=Path, help="preference pairs, questions (nuggets) or instructions (constraints): .jsonl or a .json list")
    generate.add_argument("--output", required=True, type=Path, help="rubrics (.jsonl, .json or .yaml)")
    add_overwrite_option(generate)
    add_model_options(generate)
    generate.add_argument("--limit", type=int, help="use only the first N usable pairs")
    generate.add_argument("--tau", type=float, default=0.5, help="consistency threshold: share of induced pairs judged right (default 0.5)")
    generate.add_argument("--max-tries", type=int, default=3, help="contrastive: rubrics sampled per pair before rejecting it (default 3)")
    generate.add_argument("--rounds", type=int, default=3, help="auto: propose-evaluate-revise rounds per pair (default 3)")
    generate.add_argument("--max-rubrics", type=int, default=5, help="auto: rubrics proposed per pair (default 5)")
    generate.add_argument("--max-core", type=int, default=20, help="auto: size cap of the core set (default 20)")
    generate.add_argument("--min-gain", type=float, default=0.05, help="auto: stop the core set when the coding-rate gain falls below this")
    generate.add_argument("--embedding-model", help="auto: sentence-transformers model id or path (default: the bundled all-MiniLM-L6-v2)")
    generate.add_argument("--name", default="auto-rubric-general", help="auto: id of the general rubric")
    generate.add_argument("--corpus", type=Path, help="nuggets: a folder of .txt/.md files or a JSONL of documents")
    generate.add_argument("--passages", type=int, default=8, help="nuggets: passages shown to the model per question (default 8)")
    generate.add_argument("--rerank", action="store_true", help="nuggets: re-rank BM25 hits by embedding similarity (--embedding-model)")
    generate.add_argument("--unweighted", action="store_true", help="nuggets: every nugget weight 1 (default: vital 1, okay 0.5)")
    generate.add_argument("--extract-only", action="store_true", help="constraints: no model; only what the extractor finds, plus unparsed sentences verbatim")
    generate.add_argument("--concurrency", type=int, default=4, help="items worked on at once (default 4)")
    generate.add_argument("--quiet", action="store_true", help="no progress bar")

    serve = commands.add_parser(
        "serve",
        help="serve rubric rewards over HTTP for RL trainers (OpenRLHF --remote_rm_url, verl, your own)",
        description="Serve rubric rewards over HTTP, micro-batching concurrent requests into engine calls. "
        "POST /score (our format), POST /get_reward (OpenRLHF --remote_rm_url), GET /health, GET /metrics.",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--rubric", metavar="FILE|NAME", help="default rubric for requests that name none")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    add_model_options(serve)
    batching = serve.add_argument_group("micro-batching")
    batching.add_argument("--max-batch", type=int, default=32, help="items per engine call (default 32; 1 turns batching off)")
    batching.add_argument("--max-wait-ms", type=float, default=10.0, help="how long a lone item waits for company (default 10)")
    batching.add_argument("--slots", type=int, default=4, help="engine calls in flight (default 4)")
    batching.add_argument("--batch-size", type=int, default=64, help="questions per backend call (default 64)")
    batching.add_argument("--request-shape", choices=["per-criterion", "batched"], default="per-criterion")
    shaping = serve.add_argument_group("reward shaping")
    shaping.add_argument("--score", choices=["soft", "hard"], default="soft", help="weights times P(yes) (soft) or times met (hard)")
    shaping.add_argument("--gate", action="store_true", help="a failed hard rule caps the reward at --gate-cap")
    shaping.add_argument("--gate-cap", type=float, default=0.0)
    shaping.add_argument("--length-limit", type=int, help="characters at which the full overlong penalty applies")
    shaping.add_argument("--length-buffer", type=int, default=1000, help="characters before the limit over which it grows")
    shaping.add_argument("--length-coef", type=float, default=0.5, help="the full penalty (default 0.5)")
    limits = serve.add_argument_group("requests")
    limits.add_argument("--max-request-mb", type=float, default=4.0, help="largest request body (default 4 MB)")
    limits.add_argument("--unscored-reward", type=float, default=0.0, help="OpenRLHF rows that could not be scored get this (flagged in extra_logs)")
    limits.add_argument("--openrlhf-labels", choices=["rubric", "reference"], default="rubric", help="what OpenRLHF's labels hold")
    limits.add_argument("--graceful-timeout", type=float, default=60.0, help="seconds to finish in-flight requests on shutdown")
    limits.add_argument("--max-criteria-per-item", type=int, default=256, help="criteria in one item's rubric (default 256; more: 422)")
    limits.add_argument("--max-criteria", type=int, default=16384, help="criteria over one request's items (default 16384; more: 413)")
    limits.add_argument("--strip-token", action="append", default=[], metavar="TOKEN",
                        help="OpenRLHF: another special token to strip from the end of responses (repeatable; "
                        "common end-of-turn and padding tokens are stripped already)")
    limits.add_argument("--api-key", default=os.environ.get("RUBRIC_JUDGE_API_KEY"),
                        help="require 'Authorization: Bearer KEY' on every request but /health (default $RUBRIC_JUDGE_API_KEY)")

    library = commands.add_parser("library", help="the curated rubrics that ship with rubric-judge")
    library_commands = library.add_subparsers(dest="library_command", required=True, metavar="ACTION")
    library_commands.add_parser("list", help="list library rubrics")
    show = library_commands.add_parser("show", help="print one library rubric")
    show.add_argument("name")
    return parser


def run_judge(args: argparse.Namespace) -> int:
    from judge.engine import Judge
    from judge.models import calls_in_flight
    from judge.runs.files import judge_file
    from rubrics.sources import RubricSource
    from judge.runs.summary import format_summary

    if not args.input.is_file():
        return fail(f"{args.input}: no such input file")
    rubrics = RubricSource.from_option(args.rubric)
    backend = make_backend(args, concurrency=args.concurrency)
    chunks_in_flight = calls_in_flight(backend, args.batch_size, args.concurrency)
    tags = set(args.only_tags.split(",")) if args.only_tags else None
    judge = Judge(
        backend,
        threshold=args.threshold,
        gate=not args.no_gate,
        guard=not args.no_guard,
        include=(lambda c: bool(tags & set(c.tags))) if tags else None,
        batch_size=args.batch_size,
        concurrency=chunks_in_flight,
        request_shape=args.request_shape.replace("-", "_"),
    )
    summary = judge_file(judge, args.input, args.output, rubrics, progress=False if args.quiet else None,
                         overwrite=args.overwrite, settings={"only_tags": sorted(tags) if tags else None})
    if summary.items == 0:
        return fail(f"{args.input}: no item to judge" + (f" ({summary.malformed_lines} malformed lines)" if summary.malformed_lines else ""))
    if tags and summary.judged_criteria == 0:
        print(f"rubric: --only-tags {args.only_tags} matched no criterion of any rubric: nothing was judged", file=sys.stderr)
        return EXIT_FAILURES
    if not args.quiet:
        print(f"model: {judge.model_label}  threshold: {args.threshold}  request shape: {args.request_shape}  verdicts: {args.output}")
        print(format_summary(summary))
        if (usage := getattr(backend, "usage", None)) is not None:
            print(f"API usage: {usage.describe()}")
    return EXIT_OK if summary.ok else EXIT_FAILURES


def run_pairwise(args: argparse.Namespace) -> int:
    from judge.pairwise import PairwiseJudge
    from judge.runs.files import compare_file

    if not args.input.is_file():
        return fail(f"{args.input}: no such input file")
    judge = PairwiseJudge(make_backend(args))
    summary = compare_file(judge, args.input, args.output, progress=False if args.quiet else None, overwrite=args.overwrite)
    preferred = summary["preferred"]
    print(f"model: {judge.model_label}  verdicts: {args.output}")
    print(f"pairs: {summary['pairs']} ({summary['judged_now']} judged now); preferred A {preferred['A']}, "
          f"B {preferred['B']}, tie {preferred['tie']} (of which {summary['position_flips']} flipped with the order)")
    print(f"unscored: {summary['unscored']}; malformed input lines: {summary['malformed_lines']}")
    if summary["accuracy"] is not None:
        print(f"accuracy against labels: {summary['accuracy']:.3f} over {summary['labelled']} labelled pairs (a tie counts as wrong)")
    return EXIT_OK if not (summary["unscored"] or summary["malformed_lines"]) else EXIT_FAILURES


def run_audit(args: argparse.Namespace) -> int:
    from judge.audit import suite
    from rubrics.sources import RubricSource

    rubric = RubricSource.from_option(args.rubric).default if args.rubric else suite.REFERENCE_RUBRIC
    if rubric is None:
        return fail(f"{args.rubric} holds several rubrics; audit one at a time")
    questions = suite.load_questions(args.questions, args.limit)
    attacks = suite.load_attacks(args.attacks)
    report = suite.run_audit(make_backend(args), questions, attacks, rubric=rubric, threshold=args.threshold)
    print(suite.format_report(report))
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from judge.eval.report import build_report

    if not args.source.is_file():
        return fail(f"{args.source}: no such file")
    args.output.write_text(build_report(args.source), encoding="utf-8")
    print(f"report: {args.output}")
    return EXIT_OK


def run_eval(args: argparse.Namespace) -> int:
    from judge.eval.run import EvalSettings, run_eval

    settings = EvalSettings(
        benchmarks=args.benchmark, mode=args.mode, output=args.output, rubric=args.rubric, limit=args.limit, seed=args.seed,
        data_dir=args.data_dir, overwrite=args.overwrite, progress=False if args.quiet else None,
    )
    outcome = run_eval(settings, make_backend(args), say=lambda m: print(m, file=sys.stderr), warn=lambda m: print(f"warning: {m}", file=sys.stderr))
    for heading, table in outcome.tables:
        print(f"\n{heading}")
        print(table)
    unit = "pair" if args.mode in ("pairwise", "pointwise") else "example"
    print(f"\nresults: {args.output}; per-{unit} records: {outcome.log_path}")
    return EXIT_FAILURES if outcome.failed else EXIT_OK


def run_generate(args: argparse.Namespace) -> int:
    from rubrics.generate.commands import GenerateOptions, generate

    fields = GenerateOptions.__dataclass_fields__
    options = GenerateOptions(**{k: v for k, v in vars(args).items() if k in fields and k != "progress"},
                              progress=False if args.quiet else None)
    report = generate(options, lambda: make_backend(args), say=lambda m: print(m, file=sys.stderr))
    print("\n".join(report.lines))
    return EXIT_OK if report.ok else EXIT_FAILURES


def run_serve(args: argparse.Namespace) -> int:
    from judge.engine import Judge
    from judge.rl.scorer import RewardScorer
    from judge.rl.openrlhf import SPECIAL_TOKENS
    from judge.rl.server import ServerConfig, is_loopback, serve
    from judge.rl.shaping import Shaping

    shaping = Shaping(
        score=args.score, gate=args.gate, gate_cap=args.gate_cap,
        length_limit=args.length_limit, length_buffer=args.length_buffer, length_coef=args.length_coef,
    )
    config = ServerConfig(
        max_batch=args.max_batch, max_wait=args.max_wait_ms / 1000, slots=args.slots,
        max_request_bytes=int(args.max_request_mb * 2**20), unscored_reward=args.unscored_reward,
        openrlhf_labels=args.openrlhf_labels, max_criteria_per_item=args.max_criteria_per_item, max_criteria=args.max_criteria,
        api_key=args.api_key or None, strip_tokens=(*SPECIAL_TOKENS, *args.strip_token),
    )
    if not args.api_key and not is_loopback(args.host):
        print(f"rubric serve: warning: listening on {args.host} without --api-key: anyone who can reach it can use "
              "the judge (set --api-key or RUBRIC_JUDGE_API_KEY)", file=sys.stderr)
    backend = make_backend(args)
    judge = Judge(backend, batch_size=args.batch_size, concurrency=args.slots, request_shape=args.request_shape.replace("-", "_"))
    scorer = RewardScorer(judge, rubric=args.rubric, shaping=shaping)
    serve(scorer, config, args.host, args.port, graceful_timeout=args.graceful_timeout, on_listen=lambda host, port: print(
        f"rubric serve: listening on http://{host}:{port} (model {judge.model_label}; micro-batching up to "
        f"{config.max_batch} items, {args.max_wait_ms:g} ms, {config.slots} calls in flight)", file=sys.stderr, flush=True))
    print("rubric serve: stopped", file=sys.stderr)
    return EXIT_OK


def make_backend(args: argparse.Namespace, **api_settings):
    """The backend named by --model (judge.models.open_backend), the weak-judge notice on stderr."""
    from judge.models import open_backend

    given = {"base_url": args.base_url, "samples": args.samples, "router_config": str(args.router_config) if args.router_config else None}
    return open_backend(args.model, cache=not args.no_cache, cache_dir=args.cache_dir, api_options=given, api_settings=api_settings,
                        on_default=lambda notice: print(notice, file=sys.stderr))


def run_augment(args: argparse.Namespace) -> int:
    from judge.audit.augment import truncated_negatives

    count = 0
    with args.output.open("w", encoding="utf-8") as handle:
        for record in truncated_negatives(args.input):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    print(f"wrote {count} first-sentence negatives to {args.output}")
    return EXIT_OK


def run_rubrics(args: argparse.Namespace) -> int:
    from rubrics.checks import validate_checks
    from rubrics.io import load_rubrics, rubric_file_schema, save_rubrics

    if args.rubrics_command == "validate":
        for path in args.files:
            for rubric in load_rubrics(path):
                try:
                    validate_checks(rubric)
                except ValueError as e:
                    raise ValueError(f"{path}: {e}") from None
                pitfalls = sum(c.is_pitfall for c in rubric.criteria)
                print(f"{path}: {rubric.id}: {len(rubric.criteria)} criteria ({pitfalls} pitfalls), positive weight {rubric.positive_weight:g}")
        return EXIT_OK
    if args.rubrics_command == "convert":
        rubrics = load_rubrics(args.source, args.source_format)
        save_rubrics(rubrics, args.target, args.target_format)
        print(f"wrote {len(rubrics)} rubric(s) to {args.target}")
        return EXIT_OK
    text = json.dumps(rubric_file_schema(), indent=2)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return EXIT_OK


def run_library(args: argparse.Namespace) -> int:
    import rubric_library

    if args.library_command == "list":
        for name in rubric_library.names():
            rubric = rubric_library.load(name)
            print(f"{name:24} {len(rubric.criteria):3} criteria  {textwrap.shorten(rubric.description or '', 80)}")
        return EXIT_OK
    print(rubric_library.path_of(args.name).read_text(encoding="utf-8"), end="")
    return EXIT_OK


def fail(message: str) -> int:
    print(f"rubric: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def show_library_messages() -> None:
    """The library reports through the "rubric" loggers; the CLI shows them on stderr as plain lines."""
    import logging

    class ToStderr(logging.Handler):  # whatever sys.stderr is when a message comes
        def emit(self, record: logging.LogRecord) -> None:
            print(self.format(record), file=sys.stderr)

    logger = logging.getLogger("rubric")
    if not logger.handlers:
        logger.addHandler(ToStderr())
        logger.setLevel(logging.INFO)
        logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    show_library_messages()
    from judge.backends import BackendError, BackendFatalError, BackendUnavailable
    from judge.backends.default_model import DefaultModelMissing
    from rubric_library import UnknownRubricError
    from rubrics.io import RubricFileError

    from rubrics.records import message_of
    from judge.runs.log import OutputBusy

    handlers = {"judge": run_judge, "pairwise": run_pairwise, "audit": run_audit, "augment": run_augment, "rubrics": run_rubrics, "library": run_library, "serve": run_serve, "generate": run_generate, "eval": run_eval, "report": run_report}
    try:
        return handlers[args.command](args)
    except BackendFatalError as e:
        return fail(f"{e}; verdicts written so far are kept, rerun the same command to resume")
    except BrokenPipeError:  # the reader went away (`rubric library list | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (RubricFileError, UnknownRubricError, BackendUnavailable, BackendError, DefaultModelMissing, ValueError, OutputBusy) as e:
        return fail(message_of(e))
    except OSError as e:  # a path mistake (a directory, no permission, no such file): one line naming the path
        where = f"{e.filename}: " if e.filename else ""
        return fail(f"{where}{e.strerror or message_of(e)}")
    except KeyboardInterrupt:
        print("interrupted: verdicts written so far are kept; rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
