"""Third-party data by name: local copies first, else a checked download into the user cache.

The registry (``datasets.yaml`` beside this file) is data: each dataset's upstream
repository and pinned commit, licence, and per file its upstream path and sha256; each
benchmark's files and eval mode. A file ``DATASET/FILE`` is looked up in order:

1. ``data_dir`` (``--data-dir``), then ``$RUBRIC_JUDGE_DATA``: folders laid out as
   ``DATASET/FILE`` (an offline machine or CI points these at a local copy);
2. the user cache (``$RUBRIC_JUDGE_CACHE_DIR``/data, or the platform's cache dir), where
3. a download from the upstream repository at its pinned commit lands after its sha256
   matched (pooch does the fetching and the check).

Offline, step 3 fails with a :class:`DataUnavailable` that names the URL and both ways of
providing the file.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from judge.paths import cache_root

ENV_DATA = "RUBRIC_JUDGE_DATA"
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


class DataUnavailable(FileNotFoundError):
    """A registered file is neither in a local copy nor downloadable; the message says how to provide it."""


@dataclass(frozen=True)
class DataFile:
    dataset: str
    name: str
    sha256: str
    url: str | None  # None: no upstream file (provide a local copy)
    licence: str

    @property
    def relative(self) -> str:
        return f"{self.dataset}/{self.name}"


@dataclass(frozen=True)
class Benchmark:
    name: str
    mode: str  # "pairs" (pairwise / pointwise) or "scored" (1-5 score rubrics)
    files: tuple[str, ...]  # DATASET/FILE


@cache
def _registry() -> dict:
    with open(Path(__file__).with_name("datasets.yaml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def data_file(relative: str) -> DataFile:
    """The registry entry of ``DATASET/FILE``."""
    dataset, _, name = relative.partition("/")
    entry = _registry()["datasets"].get(dataset)
    if entry is None or name not in entry["files"]:
        raise KeyError(f"{relative!r} is not a registered data file")
    spec = entry["files"][name]
    url = RAW_URL.format(repo=entry["repo"], commit=entry["commit"], path=spec["path"]) if "repo" in entry else None
    return DataFile(dataset, name, spec["sha256"], url, entry["licence"])


def benchmarks(mode: str | None = None) -> dict[str, Benchmark]:
    """Registered benchmarks by name (of one eval mode, if given)."""
    found = {
        name: Benchmark(name, spec["mode"], tuple(spec["files"])) for name, spec in _registry()["benchmarks"].items()
    }
    return {n: b for n, b in found.items() if mode is None or b.mode == mode}


def cache_dir() -> Path:
    return cache_root() / "data"


def local_roots(data_dir: str | Path | None = None) -> list[Path]:
    """Where local copies are looked for, in order: ``data_dir``, then ``$RUBRIC_JUDGE_DATA``."""
    roots = [Path(data_dir)] if data_dir else []
    if os.environ.get(ENV_DATA):
        roots.append(Path(os.environ[ENV_DATA]))
    return roots


def find_local(relative: str, data_dir: str | Path | None = None) -> Path | None:
    """A local copy of ``DATASET/FILE`` (data_dir, $RUBRIC_JUDGE_DATA, the download cache), or None."""
    for root in [*local_roots(data_dir), cache_dir()]:
        if (root / relative).is_file():
            return root / relative
    return None


def how_to_provide(relative: str) -> str:
    return f"set {ENV_DATA} or --data-dir to a folder holding {relative}"


def locate(relative: str, data_dir: str | Path | None = None, *, download: bool = True) -> Path:
    """The path of ``DATASET/FILE``: a local copy, or downloaded (sha256 checked) into the cache."""
    entry = data_file(relative)
    found = find_local(relative, data_dir)
    if found is not None:
        return found
    if entry.url is None or not download:
        where = f"; upstream: {entry.url}" if entry.url else " (it has no upstream file to download)"
        raise DataUnavailable(f"{relative}: no local copy; {how_to_provide(relative)}{where}")
    return fetch(entry, cache_dir())


def fetch(entry: DataFile, root: Path) -> Path:
    """Download one registered file into ``root/DATASET/FILE``, refusing a checksum mismatch."""
    import pooch

    if not sys.stderr.isatty():  # its "Downloading ..." line is for people watching
        pooch.get_logger().setLevel("WARNING")
    try:
        path = pooch.retrieve(
            entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=entry.name,
            path=root / entry.dataset,
            progressbar=sys.stderr.isatty(),
        )
    except Exception as e:  # noqa: BLE001 - offline, HTTP error or checksum mismatch: one clear message
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataUnavailable(
            f"{entry.relative}: could not download {entry.url} ({detail}); {how_to_provide(entry.relative)}"
        ) from e
    return Path(path)
