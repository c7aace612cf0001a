"""What a modality is, in one place: its name, the model head that scores it, the stage that extracts it,
the sources that carry it, and what to say when it is missing."""

from __future__ import annotations

MODALITIES = ("text", "audio", "video")
HEAD = {"text": "T", "audio": "A", "video": "V"}
"""The model head (``engines.base.OUTPUTS``) that scores each modality alone."""
FUSED = "M"
"""The head that scores them together."""
STAGE = {"text": "asr", "audio": "acoustic", "video": "face"}
"""The extraction stage whose stream feeds each modality."""
ABSENT = {"text": "no speech", "audio": "no audio", "video": "no face"}
"""Why a modality has no score when nothing better is known."""
SOURCE = {
    "camera": ("video",),
    "microphone": ("text", "audio"),
    "file": ("text", "audio", "video"),
    "browser": ("text", "audio", "video"),
}
"""The modalities each kind of source carries (a lost source makes them unavailable)."""
STREAM = {"video": ("video",), "audio": ("text", "audio")}
"""The modalities a file's video or audio stream carries (a damaged span makes them unavailable)."""


def of_stage(stage: str) -> tuple[str, ...]:
    return tuple(m for m in MODALITIES if STAGE[m] == stage)
