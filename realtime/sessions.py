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
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np

from dmsil.features.audio import SAMPLE_RATE, to_mono_16k
from realtime.pipeline import Pipeline, PipelineOptions
from realtime.score import FORMATS, FileResult, write
from realtime.scorer import Scorer, Scores
from realtime.sources import AudioChunk, Frame
from realtime.view import overlay

log = logging.getLogger(__name__)


class BrowserSource:
    """Frames and sound pushed from the page (``--browser``), stamped on the pipeline's clock on arrival."""

    name = "browser"
    has_audio = has_video = True
    STALE_S = 5.0
    """A stream silent this long is reported as stopped (frames come every 0.1 s, sound every 0.5 s)."""

    def __init__(self, clock_start: float):
        self.start = clock_start
        self._queue: queue.Queue = queue.Queue(maxsize=200)
        self._stop = threading.Event()
        self._arrived: dict[str, float] = {}
        """When the last frame ("camera") and sound ("microphone") came, on the monotonic clock."""

    @property
    def status(self) -> str | None:
        """What the page should tell its visitor about their streams: a camera or microphone that has
        sent nothing (the visitor has not pressed its button, or the browser refused it) or has stopped."""
        now, problems = time.monotonic(), []
        # Gradio 6.31 sometimes leaves a stream silent that was started at once with the other (measured:
        # 6 of 11 runs with both started within 50 ms on a busy machine); pressing its buttons again mends it
        for device, button in (("camera", "its capture button"), ("microphone", "Record, or Stop then Record")):
            last = self._arrived.get(device)
            if last is None:
                problems.append(f"nothing from your {device} yet (press {button})")
            elif now - last > self.STALE_S:
                problems.append(f"your {device} stopped sending {now - last:.0f} s ago")
        return "; ".join(problems) or None

    def push_frame(self, rgb: np.ndarray) -> None:
        self._arrived["camera"] = now = time.monotonic()
        self._offer(Frame(now - self.start, np.ascontiguousarray(rgb[..., :3])))

    def push_audio(self, sr: int, samples: np.ndarray) -> None:
        self._arrived["microphone"] = now = time.monotonic()
        x = samples.astype(np.float32) / 32768.0 if samples.dtype == np.int16 else samples.astype(np.float32)
        x = to_mono_16k(x, sr)
        self._offer(AudioChunk(now - self.start - x.size / SAMPLE_RATE, x))

    def _offer(self, item) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            pass  # the pipeline is stopped or far behind: the page must never block

    def stop(self) -> None:
        self._stop.set()

    def __iter__(self):
        while not self._stop.is_set():
            try:
                yield self._queue.get(timeout=0.2)
            except queue.Empty:
                continue


class LiveSession:
    """One pipeline run at a time in a background thread; the page reads its state. Keeps every window
    and utterance of the run, for the whole-session timeline and for saving."""

    def __init__(self, scorer: Scorer, options: PipelineOptions, make_sources: Callable[[float], list]):
        self.scorer, self.options, self.make_sources = scorer, options, make_sources
        self.windows: list[Scores] = []
        self.utterances: list[Scores] = []
        self.pipeline: Pipeline | None = None
        self.sources: list = []
        self.error: str | None = None
        self.note: str | None = None
        """Why the session has not started (waiting for a free place)."""
        self.started: datetime | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def latest(self) -> Scores | None:
        return self.windows[-1] if self.windows else None

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self.windows, self.utterances = [], []
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

    def _keep(self, s: Scores) -> None:
        (self.utterances if s.kind == "utterance" else self.windows).append(s)

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
        p = self.pipeline
        parts = [
            f"engine **{self.scorer.engine.name}**",
            f"window {self.options.window:g} s, hop {self.options.hop:g} s",
        ]
        if self.running and p is not None:
            lat = p.stats.latencies[-20:]
            if lat:
                parts.append(f"latency {np.median(lat) * 1000:.0f} ms")
            if p.stats.frames_dropped:
                parts.append(f"{p.stats.frames_dropped} video frames dropped under load")
            parts.append("running")
        else:
            parts.append("waiting" if self.note else "stopped")
        for source in self.sources:
            if getattr(source, "status", None):
                parts.append(source.status)
        if p is not None and p.stats.errors:
            parts.append(p.stats.errors[-1])
        for line in (self.note, self.error):
            if line:
                parts.append(line)
        return " · ".join(parts)

    def picture(self, draw_face: bool = True) -> np.ndarray | None:
        """The newest camera picture; with ``draw_face``, the newest frame the face reader read, with its
        box and landmarks drawn ("no face" written on it when it found none)."""
        p = self.pipeline
        if p is None or p.latest_frame is None:
            return None
        seen = p.latest_face
        if seen is None:
            return p.latest_frame
        frame, found = seen
        if draw_face:
            return overlay(frame.rgb, found)
        return overlay(p.latest_frame, found, draw_face=False)

    def save(self, out_dir: Path) -> list[Path]:
        """The session so far as offline scoring writes a file: CSV (windows, utterances), JSON, PNG."""
        stamp = (self.started or datetime.now()).strftime("%Y%m%d-%H%M%S")
        result = FileResult(Path(f"session-{stamp}"), list(self.windows), list(self.utterances))
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
