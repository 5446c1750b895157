"""Our top-level names are plain words: a user's own module of the same name is named, not obeyed."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_users_prompts_py_beside_a_notebook_is_named_at_import(tmp_path):
    (tmp_path / "prompts.py").write_text("GREETING = 'hello'\n")  # the user's own file, in the current folder
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the installed package, as a user has it
    shadowed = subprocess.run(
        [sys.executable, "-c", "from judge import Judge"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert shadowed.returncode == 1
    assert shadowed.stderr.strip().splitlines()[-1] == (
        f"ImportError: {tmp_path / 'prompts.py'} shadows rubric-judge's 'prompts' package (it comes earlier on sys.path, "
        "often from the current folder): rename or move it, or run from another folder"
    )
    (tmp_path / "prompts.py").unlink()
    fine = subprocess.run(
        [sys.executable, "-c", "from judge import Judge; print(Judge.__name__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert fine.returncode == 0 and fine.stdout.strip() == "Judge"
