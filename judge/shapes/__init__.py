"""Request shapes: how the engine asks a model about the criteria code did not decide.

Each shape implements one small protocol the engine calls: ``plan`` records an item's
requests on its ``Prepared`` (yes/no questions in ``asked``, generated requests in
``requests``), ``render`` gives the largest request for fitting the response into the
context window, and ``answer`` asks the model for a whole chunk of items and writes their
results. ``SHAPES`` is the table ``Judge(request_shape=...)`` picks from.
"""

from __future__ import annotations

from judge.shapes.base import Shape
from judge.shapes.batched import Batched
from judge.shapes.generated import Generated
from judge.shapes.per_criterion import PerCriterion

SHAPES: dict[str, Shape] = {shape.name: shape for shape in (PerCriterion(), Generated(), Batched())}

__all__ = ["SHAPES", "Batched", "Generated", "PerCriterion", "Shape"]
