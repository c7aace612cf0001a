"""Transcripts and subtitles scored directly: the words are known, so only the text head reads them.

* ``.txt``: one utterance per line (blank lines skipped); a row per line, in order, timed by line number
  (line 1 is ``0 .. 1``).
* ``.srt`` and ``.vtt``: one row per cue, its times kept; markup (``<i>``, ``{\\an8}``) is dropped.

A ``Name:`` prefix (a word or two, capitalised, before a colon) or a WebVTT voice tag (``<v Name>``)
becomes the row's speaker, so a transcript of a conversation gets the same ``NAME.speakers.csv`` as a
recording. The rows have text and fused scores only: voice and face say there is no sound or picture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dmsil.errors import DmsilError
from realtime.events import Record, UtteranceScored, WindowScored
from realtime.modalities import Absence, Reason
from realtime.windows import Window

SUFFIXES = (".txt", ".srt", ".vtt")
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_NAME = re.compile(r"^\s*(?:-\s*)?([A-Z][\w'.-]*(?: [A-Z][\w'.-]*)?)\s*:\s+(\S.*)$")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAGS = re.compile(r"<[^>]*>|\{\\[^}]*\}")


class TranscriptError(DmsilError):
    """A transcript that cannot be read: one line naming the file, the line and the problem."""


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    speaker: str | None = None


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def _speaker(text: str) -> tuple[str | None, str]:
    """A voice tag or a ``Name:`` prefix split off the text."""
    voice = _VOICE.search(text)
    if voice:
        return voice.group(1).strip(), " ".join(_TAGS.sub(" ", text).split())
    text = " ".join(_TAGS.sub(" ", text).split())
    named = _NAME.match(text)
    return (named.group(1), named.group(2)) if named else (None, text)


def _lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TranscriptError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if b"\0" in raw[:4096]:
        raise TranscriptError(f"{path}: not a text file")
    try:
        return raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise TranscriptError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def read(path: Path) -> list[Cue]:
    """The cues of a ``.txt``, ``.srt`` or ``.vtt`` file; a :class:`TranscriptError` when there are none or
    a cue's timing cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise TranscriptError(f"{path}: no such file")
    lines, suffix = _lines(path), path.suffix.lower()
    if suffix == ".txt":
        cues = []
        for i, line in enumerate(line for line in lines if line.strip()):
            speaker, said = _speaker(line)
            cues.append(Cue(float(i), float(i + 1), said, speaker))
    else:
        cues = _timed(path, lines, suffix == ".vtt")
    cues = [c for c in cues if c.text]
    if not cues:
        raise TranscriptError(f"{path}: no {'lines' if suffix == '.txt' else 'cues'} to score")
    return cues


def _timed(path: Path, lines: list[str], vtt: bool) -> list[Cue]:
    """SubRip or WebVTT cues: a timing line, then text up to a blank line (numbers and cue ids skipped)."""
    if vtt and not (lines and lines[0].lstrip("\ufeff").startswith("WEBVTT")):
        raise TranscriptError(f"{path}: line 1: a WebVTT file starts with WEBVTT")
    cues: list[Cue] = []
    timing, text = None, []
    for number, line in enumerate([*lines, ""], 1):
        if not line.strip():
            if timing is not None:
                speaker, said = _speaker(" ".join(text))
                cues.append(Cue(*timing, said, speaker))
            timing, text = None, []
            continue
        if timing is not None:
            text.append(line)
            continue
        match = _TIMING.match(line)
        if match:
            g = match.groups()
            timing = (_seconds(*g[:4]), _seconds(*g[4:]))
            if timing[1] < timing[0]:
                raise TranscriptError(f"{path}: line {number}: the cue ends before it starts")
        elif "-->" in line:
            raise TranscriptError(f"{path}: line {number}: cannot read the cue's times ({line.strip()[:60]})")
    return cues


NO_SOUND = Reason(Absence.NO_AUDIO, "a transcript has no sound")
NO_PICTURE = Reason(Absence.NO_VIDEO, "a transcript has no picture")


def windows(cues: list[Cue]) -> list[Window]:
    """One window per cue, its whole text scored (short lines too: "Oh." is an answer in a conversation)."""
    return [
        Window(
            c.start,
            c.end,
            c.text,
            reasons={"audio": NO_SOUND, "video": NO_PICTURE},
            heard=c.text,
            recent=c.text,
            speaker=c.speaker,
        )  # fmt: skip
        for c in cues
    ]


def score(cues: list[Cue], scorer, record: Record, batch: int = 64) -> None:
    """The cues scored by ``scorer`` into ``record``: each as a window row and as an utterance row."""
    people = scorer.people()
    ready = windows(cues)
    for i in range(0, len(ready), batch):
        for s in scorer(ready[i : i + batch], people):
            record(WindowScored(s))
            record(UtteranceScored(s))
