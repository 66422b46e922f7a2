"""Where the app finds its database, users file, evidence, site files and footage: environment
variables set by `buslane review` (and by tests), so `streamlit run review_app/app.py` works the same way."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from evidence.settings import ROOT_ENV as EVIDENCE_ENV, default_root as default_evidence_root
from pipeline.users import USERS_ENV, users_path

DB_ENV = "BUSLANE_DB"
DEFAULT_DB = Path("var/demo.duckdb")
SITES_ENV = "BUSLANE_SITES"        # the Sites page's site files
DEFAULT_SITES = Path("sites")
FOOTAGE_ENV = "BUSLANE_FOOTAGE"    # footage the Sites page may draw on and preview
DEFAULT_FOOTAGE = Path("var/footage")

__all__ = ["AppConfig", "DB_ENV", "EVIDENCE_ENV", "FOOTAGE_ENV", "SITES_ENV", "USERS_ENV"]


@dataclass(frozen=True)
class AppConfig:
    db: Path
    users: Path
    evidence_root: Path
    sites_dir: Path = DEFAULT_SITES
    footage_dir: Path = DEFAULT_FOOTAGE

    @classmethod
    def from_env(cls) -> AppConfig:
        return cls(
            db=Path(os.environ.get(DB_ENV) or DEFAULT_DB),
            users=users_path(),
            evidence_root=default_evidence_root(),
            sites_dir=Path(os.environ.get(SITES_ENV) or DEFAULT_SITES),
            footage_dir=Path(os.environ.get(FOOTAGE_ENV) or DEFAULT_FOOTAGE),
        )
