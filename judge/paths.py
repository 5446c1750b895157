"""Where rubric-judge keeps its on-disk state (cached judgements, converted models)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV = "RUBRIC_JUDGE_CACHE_DIR"


def cache_root() -> Path:
    """$RUBRIC_JUDGE_CACHE_DIR, else the user cache directory."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path(platformdirs.user_cache_dir("rubric-judge"))
