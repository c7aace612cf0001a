"""Where converted or joined models go: one folder, chosen by the environment (a leaf every extractor may import)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def cache_root() -> Path:
    """Converted or joined models: ``$DMSIL_CACHE``, else ``$XDG_CACHE_HOME/dmsil``, else ``~/.cache/dmsil``."""
    if os.environ.get("DMSIL_CACHE"):
        return Path(os.environ["DMSIL_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dmsil"


def staging(path: Path, suffix: str = ".tmp") -> Path:
    """A name beside ``path`` that is this process's own: a file written there and then renamed onto ``path``
    (:func:`os.replace`) is never seen half-written, and two processes making the same file at once (the
    first runs after an install, parallel test workers) do not rename each other's away."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{suffix}")
