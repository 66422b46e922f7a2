"""Read a YAML file of settings into a pydantic model: every error names the file and each bad field,
one per line, as the batch, the Sites page and the benchmarks report them."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def load_settings(path: str | Path, model: type[M], error: type[Exception], what: str, extra: dict | None = None) -> M:
    """`model` from the mapping in `path` (with `extra` keys added); `error` names the file and says
    what was wrong, `what` saying what the file is ("site config", "labels")."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as e:
        raise error(f"{path}: cannot read {what} ({e.strerror})") from e
    except yaml.YAMLError as e:
        raise error(f"{path}: not valid YAML ({e})") from e
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    try:
        return model.model_validate(raw | (extra or {}))
    except ValidationError as e:
        lines = [f"  {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg'].removeprefix('Value error, ')}"
                 for err in e.errors()]
        raise error(f"{path}: invalid {what}\n" + "\n".join(lines)) from None
