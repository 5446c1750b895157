"""MkDocs hook: the figures under bench/results/ are served at results/ in the site, so a
page shows a benchmark's own chart (``![...](results/grpo/verifiable.png)``) and not a copy
that can drift from the run that drew it."""

from pathlib import Path

from mkdocs.structure.files import File

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def on_files(files, config, **kwargs):
    for image in sorted(RESULTS.rglob("*.png")):
        relative = image.relative_to(RESULTS.parent).as_posix()  # results/grpo/verifiable.png
        files.append(File(relative, str(RESULTS.parent), config["site_dir"], config["use_directory_urls"]))
    return files
