"""Every modality, declared once: its name, the model head that scores it, the stage and the streams that
carry it, how it is drawn, and why it can be missing.

The rest of the app reads these declarations instead of spelling names of its own: the scorer (which head),
the pipeline (which stage, which source), the outputs (which columns) and the page (which colour). Adding
a modality means a :class:`Modality` here and its stage in :mod:`realtime.stages`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Modality:
    name: str
    """The name in every output (CSV column, JSON key, gauge)."""
    head: str
    """The model head that scores it alone (``engines.base.OUTPUTS``)."""
    stage: str
    """The extraction stage whose stream feeds it (:mod:`realtime.stages`)."""
    stream: str
    """The kind of media stream it is read from: ``audio`` or ``video``."""
    colour: str
    """Its colour on the page and the timeline plot."""
    label: str
    """What a viewer is told it measures."""


TEXT = Modality("text", "T", "asr", "audio", "#1f6fb4", "the words")
AUDIO = Modality("audio", "A", "acoustic", "audio", "#2a9d3a", "the voice")
VIDEO = Modality("video", "V", "face", "video", "#e07b00", "the face")
ALL: tuple[Modality, ...] = (TEXT, AUDIO, VIDEO)
MODALITIES: tuple[str, ...] = tuple(m.name for m in ALL)
BY_NAME: dict[str, Modality] = {m.name: m for m in ALL}


@dataclass(frozen=True)
class Dimension:
    """A second reading of one modality, beside its valence: drawn and written like a score, on its own
    scale (-3 .. 3 from ``low`` to ``high``), and missing whenever its modality is."""

    name: str
    modality: Modality
    colour: str
    label: str
    low: str
    high: str


AROUSAL = Dimension("arousal", AUDIO, "#8e44ad", "how stirred the voice sounds", "calm", "excited")
DIMENSIONS: tuple[Dimension, ...] = (AROUSAL,)
DIMENSION: dict[str, Dimension] = {d.name: d for d in DIMENSIONS}


def modality_of(score: str) -> str:
    """The modality a score name comes from (a dimension's is its modality's; the others are their own)."""
    return DIMENSION[score].modality.name if score in DIMENSION else score


FUSED = Modality("fused", "M", "", "", "#111111", "all of them together")
"""Not a modality of its own: the head that scores them together, drawn beside them."""
SCORES: tuple[str, ...] = (FUSED.name, *MODALITIES, *(d.name for d in DIMENSIONS))
"""The score names every output carries: fused first, then each modality's valence, then the dimensions."""
COLOURS: dict[str, str] = {m.name: m.colour for m in (FUSED, *ALL, *DIMENSIONS)}

SOURCES: dict[str, tuple[str, ...]] = {
    "camera": ("video",),
    "microphone": ("text", "audio"),
    "file": MODALITIES,
    "browser": MODALITIES,
}
"""The modalities each kind of source carries (a lost source makes them unavailable)."""


def of_stage(stage: str) -> tuple[str, ...]:
    """The modalities a stage feeds (a stage that fails makes them unavailable)."""
    return tuple(m.name for m in ALL if m.stage == stage)


def of_stream(stream: str) -> tuple[str, ...]:
    """The modalities a media stream carries (a damaged or absent stream makes them unavailable)."""
    return tuple(m.name for m in ALL if m.stream == stream)


class Absence(StrEnum):
    """Why a modality has no score in a window: the one list of reasons, as the outputs spell them."""

    NO_SPEECH = "no speech"
    """The recognizer heard no words in the window."""
    NO_AUDIO = "no audio"
    """The source has no sound (a silent video, no microphone)."""
    NO_FACE = "no face"
    """The picture holds no readable face."""
    NO_VOICE = "no voice"
    """The window's sound holds too little voiced speech to read a voice from."""
    NO_VIDEO = "no video"
    """The source has no picture (an audio file, no camera)."""
    TOO_SHORT = "too short to score"
    """Fewer words than an opinion needs."""
    DAMAGED = "damaged"
    """A span of the file that could not be decoded."""
    UNTRAINED = "untrained"
    """The checkpoint's head for it was not trained on real data."""
    OFF = "switched off"
    """The user asked for it not to be read (``--no-audio``)."""
    SOURCE = "source"
    """The camera or microphone was lost, or a browser stream sends nothing."""
    FAILED = "failed"
    """A stage or the engine raised."""


DEFAULT_ABSENCE = {"text": Absence.NO_SPEECH, "audio": Absence.NO_AUDIO, "video": Absence.NO_FACE}
"""Why a modality has no data in a window when nothing more precise is known."""
STREAM_ABSENCE = {"audio": Absence.NO_AUDIO, "video": Absence.NO_VIDEO}
"""What a source without that kind of stream says for the modalities it would carry."""


@dataclass(frozen=True)
class Reason:
    """Why a modality is missing: the kind (one of :class:`Absence`) and, where there is one, the words
    that say more (the head's provenance, the lost device, the failure). Shown as the words, else the kind."""

    kind: Absence
    detail: str = ""

    def __str__(self) -> str:
        return self.detail or self.kind.value
