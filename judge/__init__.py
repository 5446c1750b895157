"""The judge: the core (engine, pairwise, verdict, scoring, nuggets, hardening, cache, aio, checks/ and
models.open_backend) over backends/, with the apps above it: runs/ (resumable file runs),
eval/ (benchmarks and eval modes), audit/ (robustness), rl/ (rewards for trainers).
docs/architecture.md draws the layers."""

import importlib.util
from pathlib import Path


def _refuse_shadowed_siblings() -> None:
    """Our top-level names are plain words (prompts, rubrics): a user's own prompts.py in the
    current folder would be imported in place of ours and fail later with a puzzling
    AttributeError. Say so now, naming the file."""
    home = Path(__file__).resolve().parent.parent
    for name in ("prompts", "rubrics", "rubric_library"):
        spec = importlib.util.find_spec(name)
        where = Path(spec.origin).resolve() if spec is not None and spec.origin else None
        if where is None or where.parent.parent != home or where.name != "__init__.py":
            raise ImportError(
                f"{where or name} shadows rubric-judge's {name!r} package (it comes earlier on sys.path, "
                f"often from the current folder): rename or move it, or run from another folder"
            )


_refuse_shadowed_siblings()

# The public API, one import away (the docs import from here): models, the options a judge
# is built from, the engine and its verdicts, juries, pairwise judging, the cache.
from judge.backends import get_backend  # noqa: E402
from judge.backends.fake import FakeBackend  # noqa: E402
from judge.models import open_backend  # noqa: E402
from judge.options import JudgeOptions  # noqa: E402
from judge.engine import Judge, JudgeItem  # noqa: E402
from judge.build import build_judge  # noqa: E402
from judge.jury.panel import Jury  # noqa: E402
from judge.pairwise import PairwiseJudge  # noqa: E402
from judge.cache import CachedBackend  # noqa: E402
from judge.calibration import Calibration  # noqa: E402
from judge.verdict import CriterionResult, Verdict  # noqa: E402

__all__ = [
    "CachedBackend",
    "Calibration",
    "CriterionResult",
    "FakeBackend",
    "Judge",
    "JudgeItem",
    "JudgeOptions",
    "Jury",
    "PairwiseJudge",
    "Verdict",
    "build_judge",
    "get_backend",
    "open_backend",
]
