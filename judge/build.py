"""The one function that builds a judge or a jury from ``JudgeOptions`` (judge/options.py)
and backends. Every door builds its judge here, so the same options give the same verdict
through each of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from judge.backends.base import Backend
from judge.engine import Judge
from judge.jury import Jury
from judge.options import SHAPES, JudgeOptions

__all__ = ["SHAPES", "JudgeOptions", "build_judge"]


def build_judge(options: JudgeOptions, backends: Backend | Sequence[Backend]) -> Judge | Jury:
    """The judge ``options`` describe over one backend; over several, a jury of such judges."""
    many = list(backends) if isinstance(backends, Sequence) else [backends]
    if len(many) == 1:
        return Judge(many[0], options)
    if options.calibration is not None:
        raise ValueError(
            "--calibration is fitted for one judge; a jury takes none (calibrate each model, or judge without)"
        )
    return Jury([Judge(backend, options) for backend in many], options.jury)
