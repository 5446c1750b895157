"""Rubrics: the data model, file formats and (later) the generators."""

from rubrics.interchange import from_healthbench, from_rar, to_healthbench, to_rar
from rubrics.io import RubricFileError, load_rubric, load_rubrics, rubric_file_schema, save_rubrics
from rubrics.model import Criterion, Provenance, Rubric, Theme

__all__ = [
    "Criterion",
    "Provenance",
    "Rubric",
    "RubricFileError",
    "Theme",
    "from_healthbench",
    "from_rar",
    "load_rubric",
    "load_rubrics",
    "rubric_file_schema",
    "save_rubrics",
    "to_healthbench",
    "to_rar",
]
