"""Live sessions behind the page: a pipeline run in a background thread, its whole history, and who
gets which session.

With server-side capture there is one camera and one microphone, so every viewer watches the same
session (the page says so), and it stops when the last viewer leaves. With ``--browser`` each visitor
streams their own webcam and microphone into a session of their own (its own pipeline, transcript and
scores, dropped when the page closes); at most ``limit`` run at once, since each costs about a core,
and a visitor beyond that is told to wait and starts as soon as a session ends.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np

from realtime.events import Event, FaceRead, Record
from realtime.outputs import FORMATS, FileResult, write
from realtime.pipeline import Pipeline, PipelineOptions
from realtime.scorer import Scorer, Scores
from realtime.sources import BrowserSource
from realtime.view import jpeg, overlay, timeline_data

log = logging.getLogger(__name__)


class LiveSession:
    """One pipeline run at a time in a background thread, kept from its events (:mod:`realtime.events`);
    the page reads what was kept: every window and utterance of the run (for the whole-session timeline
    and for saving), the statuses that hold, and the newest frame the face reader read."""

    def __init__(self, scorer: Scorer, options: PipelineOptions, make_sources: Callable[[float], list]):
        self.scorer, self.options, self.make_sources = scorer, options, make_sources
        self.record = Record()
        self.face: FaceRead | None = None
        """The newest frame the face reader read, with what it found."""
        self.pipeline: Pipeline | None = None
        self.sources: list = []
        self.error: str | None = None
        self.note: str | None = None
        """Why the session has not started (waiting for a free place)."""
        self.started: datetime | None = None
        self.token = secrets.token_urlsafe(16)
        """The session's part of the addresses its picture and timeline are fetched from (unguessable:
        with ``--browser`` a visitor's picture is their own)."""
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._jpeg: tuple[FaceRead | None, bool, bytes | None] = (None, True, None)
        """The last frame encoded, whether drawn on, and its JPEG."""
        self._timeline: tuple[tuple, dict] = ((), {})
        """(record, windows, utterances, span) and the timeline's data drawn from them."""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def windows(self) -> list[Scores]:
        return self.record.windows

    @property
    def utterances(self) -> list[Scores]:
        return self.record.utterances

    @property
    def latest(self) -> Scores | None:
        windows = self.record.windows
        return windows[-1] if windows else None

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self.record, self.face = Record(), None
            self.error = self.note = None
            clock = time.monotonic()
            try:
                self.sources = self.make_sources(clock)
            except Exception as exc:  # no device at all: shown on the page, the server keeps running
                self.error = str(exc)
                return
            self.started = datetime.now()
            self.pipeline = Pipeline(self.scorer, self.options)
            self._thread = threading.Thread(
                target=self._run, args=(self.pipeline, self.sources, clock), name="live-session", daemon=True
            )
            self._thread.start()

    def _run(self, pipeline: Pipeline, sources: list, clock: float) -> None:
        try:
            pipeline.run(sources, self._keep, clock_start=clock)
        except Exception as exc:  # shown on the page; Start tries again
            log.exception("pipeline stopped")
            self.error = f"pipeline stopped: {type(exc).__name__}: {exc}"

    def _keep(self, event: Event) -> None:
        if isinstance(event, FaceRead):
            self.face = event
        else:
            self.record(event)

    def stop(self) -> None:
        with self._lock:
            self.note = None
            if self.pipeline is not None:
                self.pipeline.stop()
            if self._thread is not None:
                self._thread.join(timeout=5.0)
            self._thread = None

    def push(self, kind: str, data) -> None:
        """A webcam frame (``kind`` "frame": an RGB array) or a microphone chunk ("audio": ``(rate, samples)``)
        from the page, while running."""
        source = next((s for s in self.sources if isinstance(s, BrowserSource)), None)
        if source is None or not self.running or data is None:
            return
        if kind == "frame":
            source.push_frame(data)
        else:
            source.push_audio(*data)

    def status(self) -> str:
        record, windows = self.record, self.options.windows
        parts = [f"engine **{self.scorer.engine.name}**", f"window {windows.window:g} s, hop {windows.hop:g} s"]
        if self.running:
            lat = [s.latency for s in record.windows[-20:] if s.latency is not None]
            if lat:
                parts.append(f"latency {np.median(lat) * 1000:.0f} ms")
            if record.dropped:
                parts.append(f"{record.dropped} video frames dropped under load")
            parts.append("running")
        else:
            parts.append("waiting" if self.note else "stopped")
        parts += list(record.statuses.values())
        for line in (self.note, self.error):
            if line:
                parts.append(line)
        return " · ".join(parts)

    def picture(self, draw_face: bool = True) -> np.ndarray | None:
        """The newest frame the face reader read; with ``draw_face``, its box and landmarks drawn ("no face"
        written on it when it found none)."""
        seen = self.face
        return None if seen is None else overlay(seen.frame.rgb, seen.face, draw_face=draw_face)

    def picture_jpeg(self, draw_face: bool = True) -> bytes | None:
        """:meth:`picture` as JPEG, encoded once per frame read (a page asks every update, and several
        viewers may watch one session)."""
        seen, (was, drawn, data) = self.face, self._jpeg
        if seen is not was or drawn != draw_face:
            rgb = None if seen is None else overlay(seen.frame.rgb, seen.face, draw_face=draw_face)
            data = None if rgb is None else jpeg(rgb)
            self._jpeg = (seen, draw_face, data)
        return data

    def timeline(self, span: float | None = None) -> dict:
        """The timeline's data (:func:`realtime.view.timeline_data`), drawn anew only when a window or an
        utterance has come since."""
        record = self.record
        windows, utterances = list(record.windows), list(record.utterances)
        key, data = self._timeline
        if key[:1] != (record,) or key[1:] != (len(windows), len(utterances), span):
            data = timeline_data(windows, utterances, span)
            self._timeline = ((record, len(windows), len(utterances), span), data)
        return data

    def save(self, out_dir: Path, names: dict[str, str] | None = None) -> list[Path]:
        """The session so far as offline scoring writes a file: CSV (windows, utterances, speakers), JSON,
        PNG; ``names``: what the viewer called the voices (``S1`` -> ``Ann``)."""
        stamp = (self.started or datetime.now()).strftime("%Y%m%d-%H%M%S")

        def named(rows: list[Scores]) -> list[Scores]:
            return [replace(s, speaker=(names or {}).get(s.speaker, s.speaker)) if s.speaker else s for s in rows]

        result = FileResult(Path(f"session-{stamp}"), named(self.record.windows), named(self.record.utterances))
        return write(result, self.scorer, out_dir, FORMATS)


class Sessions:
    """Who gets which :class:`LiveSession`: one shared by every viewer (``shared``, server-side capture),
    or one per browser session, at most ``limit`` running at once."""

    def __init__(self, make_session: Callable[[], LiveSession], shared: bool, limit: int):
        if limit < 1:
            raise ValueError(f"the session limit must be at least 1, got {limit}")
        self.make_session, self.limit = make_session, limit
        self.shared: LiveSession | None = make_session() if shared else None
        """The one session every viewer watches (server-side capture), else None."""
        self._sessions: dict[str, LiveSession] = {}
        self._waiting: list[str] = []
        self._lock = threading.Lock()

    def get(self, key: str) -> LiveSession:
        """The viewer's session (made on first use); also starts a waiting one whose turn has come."""
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = self.shared or self.make_session()
            turn = key in self._waiting and self._waiting[0] == key and self._running() < self.limit
            if turn:
                self._waiting.remove(key)
        if turn:
            session.start()
        return session

    def by_token(self, token: str) -> LiveSession | None:
        """The session whose :attr:`LiveSession.token` this is (None: no such session, or it has ended)."""
        with self._lock:
            known = [*self._sessions.values(), *([self.shared] if self.shared else [])]
        return next((s for s in known if secrets.compare_digest(s.token, token)), None)

    def _running(self) -> int:
        return len({id(s) for s in self._sessions.values() if s.running})

    def start(self, key: str) -> LiveSession:
        """Starts the viewer's session, or queues it (with a note saying so) when ``limit`` are running."""
        session = self.get(key)
        with self._lock:
            full = self.shared is None and not session.running and self._running() >= self.limit
            if full and key not in self._waiting:
                self._waiting.append(key)
            if full:
                ahead = self._waiting.index(key)
                session.note = (
                    f"all {self.limit} live sessions are in use (--max-sessions): you are "
                    + (f"number {ahead + 1} in line" if ahead else "next")
                    + "; this page starts by itself when one ends"
                )
        if not full:
            session.start()
        return session

    def stop(self, key: str) -> LiveSession:
        session = self.get(key)
        with self._lock:
            if key in self._waiting:
                self._waiting.remove(key)
        session.stop()
        return session

    def leave(self, key: str) -> None:
        """The page closed: a visitor's own session is stopped and dropped; the shared one stops when its
        last viewer has gone."""
        with self._lock:
            session = self._sessions.pop(key, None)
            if key in self._waiting:
                self._waiting.remove(key)
            last = session is not None and all(s is not session for s in self._sessions.values())
        if session is not None and last:
            session.stop()

    def running(self) -> int:
        with self._lock:
            return self._running()

    def close(self) -> None:
        with self._lock:
            sessions = {id(s): s for s in [*self._sessions.values(), *([self.shared] if self.shared else [])]}
            self._sessions.clear()
        for session in sessions.values():
            session.stop()
