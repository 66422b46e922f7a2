"""Find the model files named in ``models/manifest.yaml`` on local disk and check their sha256.

Nothing is ever downloaded: a missing or corrupt file is an error that names the file and every
place that was searched.

>>> resolve_model("vehicle_detector")  # doctest: +SKIP
PosixPath('/work/shared/models/yolo11n_int8_openvino_model')
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MANIFEST = PROJECT_ROOT / "models" / "manifest.yaml"


class ModelError(RuntimeError):
    """A model is missing, corrupt or unknown."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: str
    files: dict[str, str]  # file relative to `path` ("" for a single file) -> sha256
    licence: str
    upstream: str


def search_dirs() -> list[Path]:
    """Where models are looked for, in order: $BUSLANE_MODELS, models/, ../shared/models."""
    dirs = []
    if env := os.environ.get("BUSLANE_MODELS"):
        dirs.append(Path(env))
    dirs += [PROJECT_ROOT / "models", PROJECT_ROOT.parent / "shared" / "models"]
    return dirs


def load_manifest(path: Path = MANIFEST) -> dict[str, ModelSpec]:
    raw = yaml.safe_load(path.read_text())
    specs = {}
    for name, entry in raw.items():
        files = entry.get("files") or {"": entry["sha256"]}
        specs[name] = ModelSpec(name, entry["path"], files, entry["licence"], entry["upstream"])
    return specs


@cache
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check(candidate: Path, spec: ModelSpec) -> list[str]:
    """Problems with one candidate location of a model (empty when it is intact)."""
    if not candidate.exists():
        return [f"{candidate}: not found"]
    problems = []
    for rel, want in spec.files.items():
        file = candidate / rel if rel else candidate
        if not file.is_file():
            problems.append(f"{file}: missing")
        elif (got := sha256_file(file)) != want:
            problems.append(f"{file}: corrupt (sha256 {got[:12]}…, expected {want[:12]}…)")
    return problems


def resolve_model(name_or_path: str, dirs: list[Path] | None = None) -> Path:
    """Return the checked local path of a manifest model, or an explicit existing path as given."""
    specs = load_manifest()
    if name_or_path not in specs:
        if Path(name_or_path).exists():
            return Path(name_or_path)
        raise ModelError(
            f"model {name_or_path!r} is neither a name in {MANIFEST} "
            f"({', '.join(sorted(specs))}) nor an existing path"
        )
    spec = specs[name_or_path]
    problems = []
    for d in search_dirs() if dirs is None else dirs:
        found = _check(d / spec.path, spec)
        if not found:
            return d / spec.path
        problems += found
    raise ModelError(
        f"model {spec.name!r} ({spec.path}) is not usable; looked in:\n  " + "\n  ".join(problems)
    )


def model_hashes(name: str) -> dict[str, str]:
    """sha256 of every file of a manifest model, for evidence metadata."""
    spec = load_manifest()[name]
    return {f"{spec.path}/{rel}" if rel else spec.path: sha for rel, sha in spec.files.items()}
