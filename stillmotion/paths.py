"""Where stillmotion keeps its data when nobody says: the user's XDG data dir, not the working
directory (so starting from elsewhere finds the same database and keys)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "STILLMOTION_DATA_DIR"


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/stillmotion`, else `~/.local/share/stillmotion` (XDG ignores relative values)."""
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "stillmotion"

