"""What a running pipeline tells the app, as typed events flowing one way.

The assembler (:mod:`realtime.windows`) turns what the stages extracted into :class:`WindowReady` and
:class:`UtteranceReady`, and what the sources and stages reported into :class:`StatusChanged` and
:class:`FaceRead`; the pipeline scores the ready ones into :class:`WindowScored` and
:class:`UtteranceScored` and hands every event, in order, from one thread, to its consumer: the terminal
(``--no-ui``), the page's :class:`~realtime.sessions.LiveSession` and offline scoring all read the same
events, and none of them reaches into the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dmsil.features.face import FaceFrame
    from realtime.scorer import Scores
    from realtime.sources import Frame
    from realtime.windows import Window


@dataclass(frozen=True)
class WindowReady:
    """A window every stream has passed (offline) or the clock has (live): ready to score."""

    window: Window


@dataclass(frozen=True)
class UtteranceReady:
    """A complete utterance over its own span, offered once: ready to score (the per-utterance rows)."""

    window: Window


@dataclass(frozen=True)
class WindowScored:
    """A regular window's scores, raw and smoothed (every hop, and live also when new words arrive)."""

    scores: Scores
    dropped: int = 0
    """Video frames dropped under load so far in this run (live only)."""


@dataclass(frozen=True)
class UtteranceScored:
    """One complete utterance's scores: its text alone, fused with the frames of its own span."""

    scores: Scores


@dataclass(frozen=True)
class StatusChanged:
    """A source or a stage has trouble (``status``) or is well again (``None``): a camera lost, a browser
    stream silent, a stage's first failure. The modalities it carries show the status as their reason."""

    source: str
    """The source (``camera``, ``microphone``, ``file``, ``browser``) or the stage (``face``, ``asr``,
    ``acoustic``, ``engine``) it is about."""
    modalities: tuple[str, ...]
    status: str | None


@dataclass(frozen=True)
class FaceRead:
    """The newest frame the face reader has read, with what it found there (box, landmarks): the preview."""

    frame: Frame
    face: FaceFrame


Event = WindowReady | UtteranceReady | WindowScored | UtteranceScored | StatusChanged | FaceRead


@dataclass
class Record:
    """What a run produced, kept from its events: the windows and utterances in order, and the statuses
    that hold now. Offline scoring, a saved live session and the tests keep their results in one."""

    windows: list[Scores] = field(default_factory=list)
    utterances: list[Scores] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    """Source or stage -> its trouble now."""
    dropped: int = 0

    def __call__(self, event: Event) -> None:
        match event:
            case WindowScored(scores, dropped):
                self.windows.append(scores)
                self.dropped = dropped
            case UtteranceScored(scores):
                self.utterances.append(scores)
            case StatusChanged(source, _, None):
                self.statuses.pop(source, None)
            case StatusChanged(source, _, status):
                self.statuses[source] = status
