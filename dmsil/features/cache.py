"""Where converted or joined models go: one folder, chosen by the environment (a leaf every extractor may import)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Converted or joined models: ``$DMSIL_CACHE``, else ``$XDG_CACHE_HOME/dmsil``, else ``~/.cache/dmsil``."""
    if os.environ.get("DMSIL_CACHE"):
        return Path(os.environ["DMSIL_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dmsil"
