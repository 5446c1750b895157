"""Rubrics as data: the model (model), what a check may say (checks), other projects'
formats and every written form -> Rubric (interchange), files (io), records of data files
(records) and preference pairs (pairs). The ground floor: none of it imports judge/ or the
rubric library; where a row's rubric comes from (the library among others) is
judge/rubric_lookup.py, and the generators, which run models, are judge/generate/."""

from rubrics.interchange import from_healthbench, from_rar, to_healthbench, to_rar, to_rubric
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
    "to_rubric",
]
