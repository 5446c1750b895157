"""The `rubric` command: parse arguments, call the library, print."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

JUDGE_EPILOG = """\
{help}exit status: 0 all judged; 1 some lines malformed or some criteria unscored;
2 bad arguments or set-up; 130 interrupted.
"""


GENERATE_EPILOG = """\
{layouts}{inputs}exit status: 0 done; 1 some items failed (the model gave no usable rubric) or no rubric was
kept; 2 bad arguments or set-up.
"""


OVERWRITE = {
    "help": "start the output afresh; by default a rerun resumes, and stops if the output holds records made with "
    "other settings or for other input"
}
QUIET = {"help": "no progress bar"}
SINGLE_MODEL = {"action": "store", "help": "model spec as for `rubric judge`; default: the embedded SmolLM2"}


def add_options(parser: argparse.ArgumentParser, options: type, skip: tuple[str, ...] = (), **changed: dict) -> None:
    """The flags an options dataclass declares (judge/flags.py); ``changed[dest]`` updates one
    flag's argparse words for this command; ``skip`` leaves flags out."""
    from judge.flags import flag_specs

    groups: dict[str, argparse._ArgumentGroup] = {}
    taken = {action.dest for action in parser._actions}
    for spec in flag_specs(options):
        if spec.dest in skip:
            continue
        if spec.dest in taken:  # two options classes would read one flag: each must own its own
            raise ValueError(
                f"{options.__name__}.{spec.dest}: the destination is taken by another option of this command"
            )
        target = (
            parser
            if spec.group is None
            else groups.get(spec.group) or groups.setdefault(spec.group, parser.add_argument_group(spec.group))
        )
        arguments = {**spec.arguments, **changed.get(spec.dest, {})}
        if "type" in arguments:
            arguments["type"] = _one_line(arguments["type"])
        target.add_argument(*spec.names, dest=spec.dest, **arguments)


def _one_line(parse):
    """A flag's parser whose OptionError is argparse's one-line usage error naming the flag."""
    from judge.flags import OptionError

    def checked(text: str):
        try:
            return parse(text)
        except OptionError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    checked.__name__ = getattr(parse, "__name__", "value")
    return checked


def options_of(args: argparse.Namespace, options: type, **given):
    """The options dataclass from parsed flags (``given`` adds what the CLI decides itself)."""
    from judge.flags import values_for

    return options(**{**values_for(options, vars(args)), **given})


def add_model_options(parser: argparse.ArgumentParser, *, jury: bool = False) -> None:
    from judge.models import ModelOptions

    add_options(parser, ModelOptions, **({} if jury else {"model": SINGLE_MODEL}))


def models_of(args: argparse.Namespace):
    from judge.models import ModelOptions

    return options_of(args, ModelOptions)


def open_models(args: argparse.Namespace, **api_settings) -> list:
    """The backends --model names; the weak-judge notice, when no model is named, on stderr."""
    from judge.models import open_backends

    return open_backends(models_of(args), on_default=lambda notice: print(notice, file=sys.stderr), **api_settings)


def build_parser() -> argparse.ArgumentParser:
    from judge.audit.options import AuditOptions
    from judge.build import JudgeOptions
    from judge.eval.options import CalibrateFlags, Decision, EvalSettings
    from judge.rl.config import SERVE_HELP, ServeOptions
    from judge.runs.options import JUDGE_HELP, RunOptions
    from judge.generate.options import INPUT_HELP, GenerateOptions
    from rubrics.pairs import LAYOUTS_HELP

    parser = argparse.ArgumentParser(prog="rubric", description="Rubric- and principle-based judging of LLM outputs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    judge = commands.add_parser(
        "judge",
        help="judge responses against a rubric, writing verdicts as JSONL",
        description="Judge each response of a JSONL file against a rubric's criteria (P(yes) per criterion).",
        epilog=JUDGE_EPILOG.replace("{help}", JUDGE_HELP),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(judge, RunOptions)
    add_options(judge, JudgeOptions)
    add_model_options(judge, jury=True)

    pairwise = commands.add_parser(
        "pairwise",
        help="which of two responses is better, judged in both orders",
        description="Compare response_a and response_b of each line, asking in both orders; a verdict that flips "
        "with the order is a tie. Lines: {id, prompt, response_a, response_b, criteria?, label?} "
        "(LLMBar's input/output_1/output_2/label work too). Resumable like `rubric judge`.",
    )
    pairwise.add_argument("--input", required=True, type=Path)
    pairwise.add_argument("--output", required=True, type=Path)
    add_options(pairwise, Decision)
    pairwise.add_argument("--overwrite", action="store_true", **OVERWRITE)
    add_model_options(pairwise)
    pairwise.add_argument("--quiet", action="store_true", **QUIET)

    audit = commands.add_parser(
        "audit",
        help="measure a judge's false-positive rate on an attack suite",
        description="Judge master keys, prompt injections, forged verdicts and padded wrong answers as responses to "
        "real questions, with and without each defence, and print the false-positive rates.",
    )
    add_model_options(audit)
    add_options(audit, AuditOptions)

    augment = commands.add_parser(
        "augment",
        help="write training negatives for a robust judge (Master-RM style)",
        description="Cut each solution to its first sentence and label it not satisfied: negatives that look "
        "like the start of an answer, for training a judge that master keys cannot fool.",
    )
    augment.add_argument(
        "--truncate", action="store_true", required=True, help="first-sentence truncation (the one augmentation so far)"
    )
    augment.add_argument(
        "--input",
        type=Path,
        required=True,
        help="JSONL of {prompt|question, response|solution}, or GSM8K model solutions",
    )
    augment.add_argument("--output", type=Path, required=True, help="negatives as JSONL")

    rubrics = commands.add_parser("rubrics", help="validate, convert and describe rubric files")
    rubric_commands = rubrics.add_subparsers(dest="rubrics_command", required=True, metavar="ACTION")
    validate = rubric_commands.add_parser("validate", help="check rubric files; print what they hold")
    validate.add_argument("files", nargs="+", type=Path)
    convert = rubric_commands.add_parser("convert", help="convert between formats (by file suffix and --to)")
    convert.add_argument("source", type=Path)
    convert.add_argument("target", type=Path)
    convert.add_argument(
        "--from", dest="source_format", default="auto", choices=["auto", "native", "healthbench", "rar"]
    )
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
    add_options(evaluate, EvalSettings)
    evaluate.add_argument("--quiet", action="store_true", **QUIET)
    add_options(evaluate, Decision)
    add_model_options(evaluate, jury=True)
    add_options(evaluate, JudgeOptions, skip=tuple(f for f in JudgeOptions.__dataclass_fields__ if f != "jury"))
    evaluate.add_argument("--overwrite", action="store_true", **OVERWRITE)

    calibrate = commands.add_parser(
        "calibrate",
        help="fit a calibration of a judge's P(yes) on your labels (Platt or isotonic, a threshold, held-out figures)",
        description="Fit a map from P(yes) to calibrated probabilities on labelled verdicts (globally, and per criterion "
        "where labels allow) and a threshold; figures before and after on held-out folds. `--calibration FILE` applies it.",
    )
    add_options(calibrate, CalibrateFlags)
    calibrate.add_argument("--quiet", action="store_true", **QUIET)
    add_model_options(calibrate)
    calibrate.add_argument("--overwrite", action="store_true", **OVERWRITE)

    from judge.train.options import TrainOptions

    train = commands.add_parser(
        "train-judge",
        help="train a local judge on your labels: a probe on its hidden state, or the model fine-tuned (full or LoRA)",
        description="Turn labelled rows (and code checks, and negatives that keep the form and drop the task) into "
        "the engine's own yes/no questions and train the --model on them. Prints the model spec that judges with the result.",
    )
    add_options(train, TrainOptions)
    train.add_argument("--quiet", action="store_true", **QUIET)
    add_model_options(train)
    train.add_argument("--overwrite", action="store_true", **OVERWRITE)

    report = commands.add_parser(
        "report",
        help="write a self-contained HTML report of verdicts (JSONL) or eval results (JSON)",
        description="One HTML file, no external assets: summary, score histogram, per-criterion pass rates, "
        "unscored reasons and the worst items (verdicts); accuracy tables with intervals, position consistency "
        "and the length-bias split (eval results).",
    )
    report.add_argument(
        "source", type=Path, help="verdicts from `rubric judge` (.jsonl) or results from `rubric eval` (.json)"
    )
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
        epilog=GENERATE_EPILOG.replace("{layouts}", LAYOUTS_HELP).replace("{inputs}", INPUT_HELP),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(generate, GenerateOptions)
    generate.add_argument("--overwrite", action="store_true", **OVERWRITE)
    add_model_options(generate)
    generate.add_argument("--quiet", action="store_true", **QUIET)

    serve = commands.add_parser(
        "serve",
        help="serve rubric rewards over HTTP for RL trainers (OpenRLHF --remote_rm_url, verl, your own)",
        description="Serve rubric rewards over HTTP, micro-batching concurrent requests into engine calls. "
        "POST /score (our format), POST /get_reward (OpenRLHF --remote_rm_url), GET /health, GET /metrics.",
        epilog=SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(serve, jury=True)
    add_options(serve, ServeOptions)
    add_options(serve, JudgeOptions)

    library = commands.add_parser("library", help="the curated rubrics that ship with rubric-judge")
    library_commands = library.add_subparsers(dest="library_command", required=True, metavar="ACTION")
    library_commands.add_parser("list", help="list library rubrics")
    show = library_commands.add_parser("show", help="print one library rubric")
    show.add_argument("name")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rubric-judge")
    except PackageNotFoundError:
        return "unknown (not installed)"


def run_judge(args: argparse.Namespace) -> int:
    from judge.build import JudgeOptions
    from judge.runs.command import judge_command
    from judge.runs.options import RunOptions

    run, judging = options_of(args, RunOptions), options_of(args, JudgeOptions)
    outcome = judge_command(run, judging, models_of(args))
    summary = outcome.summary
    if summary.items == 0:
        return fail(
            f"{run.input}: no item to judge"
            + (f" ({summary.malformed_lines} malformed lines)" if summary.malformed_lines else "")
        )
    if judging.only_tags and summary.judged_criteria == 0:
        print(
            f"rubric: --only-tags {','.join(sorted(judging.only_tags))} matched no criterion of any rubric: nothing was judged",
            file=sys.stderr,
        )
        return EXIT_FAILURES
    if not run.quiet:
        print(outcome.report(run, judging))
    return EXIT_OK if summary.ok else EXIT_FAILURES


def run_pairwise(args: argparse.Namespace) -> int:
    from judge.pairwise import PairwiseJudge
    from judge.runs.files import compare_file
    from judge.runs.summary import format_comparison

    if not args.input.is_file():
        return fail(f"{args.input}: no such input file")
    judge = PairwiseJudge(open_models(args)[0], decision=args.decision, margin=args.margin)
    summary = compare_file(
        judge, args.input, args.output, progress=False if args.quiet else None, overwrite=args.overwrite
    )
    print(f"model: {judge.model_label}  verdicts: {args.output}")
    print(format_comparison(summary))
    return EXIT_OK if not (summary["unscored"] or summary["malformed_lines"]) else EXIT_FAILURES


def run_audit(args: argparse.Namespace) -> int:
    from judge.audit import suite
    from judge.audit.options import AuditOptions, audit
    from judge.rubric_lookup import RubricSource

    options = options_of(args, AuditOptions)
    rubric = RubricSource.from_option(options.rubric).default if options.rubric else suite.REFERENCE_RUBRIC
    if rubric is None:
        return fail(f"{options.rubric} holds several rubrics; audit one at a time")
    try:
        options.check()  # before the model loads
    except ValueError as e:
        return fail(str(e))
    text, report = audit(options, open_models(args)[0], rubric)
    print(text)
    if options.output:
        lines = options.output.suffix.lower() in (".jsonl", ".ndjson")  # one record a line, as JSON lines are read
        text = json.dumps(report) if lines else json.dumps(report, indent=2)
        options.output.write_text(text + "\n", encoding="utf-8")
    if options.summary:
        from judge.audit.summary import summarise

        options.summary.write_text(json.dumps(summarise(report), indent=2) + "\n", encoding="utf-8")
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from judge.eval.report import build_report

    if not args.source.is_file():
        return fail(f"{args.source}: no such file")
    args.output.write_text(build_report(args.source), encoding="utf-8")
    print(f"report: {args.output}")
    return EXIT_OK


def run_eval(args: argparse.Namespace) -> int:
    from judge.eval.options import EvalSettings
    from judge.eval.run import run_eval

    settings = options_of(args, EvalSettings, progress=False if args.quiet else None)
    outcome = run_eval(
        settings,
        open_models(args),
        say=lambda m: print(m, file=sys.stderr),
        warn=lambda m: print(f"warning: {m}", file=sys.stderr),
    )
    for heading, table in outcome.tables:
        print(f"\n{heading}")
        print(table)
    unit = "pair" if settings.mode in ("pairwise", "pointwise") else "example"
    print(f"\nresults: {settings.output}; per-{unit} records: {outcome.log_path}")
    return EXIT_FAILURES if outcome.failed else EXIT_OK


def run_calibrate(args: argparse.Namespace) -> int:
    from judge.build import JudgeOptions, build_judge
    from judge.eval.calibrate import CalibrateOptions, calibrate, format_report
    from judge.eval.options import CalibrateFlags

    options = CalibrateOptions.from_flags(
        options_of(args, CalibrateFlags), overwrite=args.overwrite, progress=False if args.quiet else None
    )
    calibration = calibrate(
        options, lambda: build_judge(JudgeOptions(), open_models(args)), say=lambda m: print(m, file=sys.stderr)
    )
    print(format_report(calibration))
    print(f"calibration: {options.output} (apply it with --calibration {options.output})")
    return EXIT_OK


def run_train_judge(args: argparse.Namespace) -> int:
    from judge.models import ModelOptions, open_backend
    from judge.train.command import train_judge
    from judge.train.options import TrainOptions

    options = options_of(args, TrainOptions, progress=False if args.quiet else None, overwrite=args.overwrite)
    models = options_of(args, ModelOptions)
    spec = models.model[0] if models.model else "local:default"
    record = train_judge(
        options, lambda: open_backend(spec, cache=False), spec, say=lambda m: print(m, file=sys.stderr)
    )
    print(f"trained ({record['method']}, {record['train_seconds']} s): {options.output}/{'judge.json'}")
    print(f"judge with it: --model '{record['model']}'")
    return EXIT_OK


def run_generate(args: argparse.Namespace) -> int:
    from judge.generate.commands import generate
    from judge.generate.options import GenerateOptions

    options = options_of(args, GenerateOptions, progress=False if args.quiet else None, overwrite=args.overwrite)
    report = generate(options, lambda: open_models(args)[0], say=lambda m: print(m, file=sys.stderr))
    print("\n".join(report.lines))
    return EXIT_OK if report.ok else EXIT_FAILURES


def run_serve(args: argparse.Namespace) -> int:
    from judge.build import JudgeOptions
    from judge.rl.config import ServeOptions
    from judge.rl.listen import serve_command

    serve_command(options_of(args, ServeOptions), options_of(args, JudgeOptions), models_of(args))
    return EXIT_OK


def run_augment(args: argparse.Namespace) -> int:
    from judge.audit.augment import write_negatives

    print(f"wrote {write_negatives(args.input, args.output)} first-sentence negatives to {args.output}")
    return EXIT_OK


def run_rubrics(args: argparse.Namespace) -> int:
    from rubrics.io import describe_rubric_file, load_rubrics, rubric_file_schema, save_rubrics

    if args.rubrics_command == "validate":
        from judge.hardening.surface import SURFACE_ONLY, surface_only

        for path in args.files:
            print("\n".join(describe_rubric_file(path, lambda r: [SURFACE_ONLY] if surface_only(r) else [])))
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

    text = (
        "\n".join(rubric_library.listing()) + "\n"
        if args.library_command == "list"
        else rubric_library.path_of(args.name).read_text(encoding="utf-8")
    )
    print(text, end="")
    return EXIT_OK


def fail(message: str) -> int:
    from judge.runs.console import printable

    print(f"rubric: error: {printable(message)}", file=sys.stderr)
    return EXIT_USAGE


def show_library_messages() -> None:
    """The library reports through the "rubric" loggers; the CLI shows them on stderr as plain lines."""
    import logging

    from judge.runs.console import printable

    class ToStderr(logging.Handler):  # whatever sys.stderr is when a message comes
        def emit(self, record: logging.LogRecord) -> None:
            print(printable(self.format(record)), file=sys.stderr)

    logger = logging.getLogger("rubric")
    if not logger.handlers:
        logger.addHandler(ToStderr())
        logger.setLevel(logging.INFO)
        logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    from judge.runs.console import survive_closed_readers

    survive_closed_readers()  # a reader that leaves (`| head`) never ends a run
    args = build_parser().parse_args(argv)
    show_library_messages()
    from judge.backends import BackendError, BackendFatalError, BackendUnavailable
    from judge.backends.default_model import DefaultModelMissing
    from rubric_library import UnknownRubricError
    from rubrics.io import RubricFileError
    from rubrics.records import message_of
    from judge.runs.log import OutputBusy

    handlers = {
        "judge": run_judge,
        "pairwise": run_pairwise,
        "audit": run_audit,
        "augment": run_augment,
        "rubrics": run_rubrics,
        "library": run_library,
        "serve": run_serve,
        "generate": run_generate,
        "eval": run_eval,
        "calibrate": run_calibrate,
        "train-judge": run_train_judge,
        "report": run_report,
    }
    try:
        return handlers[args.command](args)
    except BackendFatalError as e:
        return fail(f"{e}; verdicts written so far are kept, rerun the same command to resume")
    except (
        RubricFileError,
        UnknownRubricError,
        BackendUnavailable,
        BackendError,
        DefaultModelMissing,
        ValueError,
        OutputBusy,
        ModuleNotFoundError,
    ) as e:  # an optional extra missing: its install hint
        return fail(message_of(e))
    except OSError as e:  # a path mistake (a directory, no permission, no such file): one line naming the path
        where = f"{e.filename}: " if e.filename else ""
        return fail(f"{where}{e.strerror or message_of(e)}")
    except KeyboardInterrupt:
        print("interrupted: verdicts written so far are kept; rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
