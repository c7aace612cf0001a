"""The streaming pipeline: sources -> parallel feature workers -> windows -> engine -> results.

    source readers --Frame--> face stage -----------------\\
                   --AudioChunk--> ASR stage (words) ------+--> Assembler --> Scorer (engine) --> smoothing --> on_result
                   --AudioChunk--> acoustic stage ---------/    (windows.py)

Each stage (:mod:`realtime.stages`, one small protocol) runs in its own thread with a bounded input
queue; the heavy parts (video decoding, Face Mesh, CTranslate2, ONNX Runtime) release the GIL, so the
stages overlap on separate cores. This module only wires and runs things: what each stage extracts is
the stage's business, and which windows and utterances are ready, and what each holds, is decided by
the synchronous :class:`realtime.windows.Assembler`. Offline nothing is dropped; live, under load the oldest video frames
are dropped and counted. A stage that fails is reported in the windows it touches and the rest go on.
Stopping (Ctrl-C, the page's Stop) waits for the threads against one shared deadline.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dmsil.features.asr import ASROptions, Transcriber, load_transcriber
from dmsil.features.audio import SAMPLE_RATE
from dmsil.features.media import VIDEO_RATE
from realtime.modalities import MODALITIES, SOURCE, STREAM
from realtime.scorer import Scorer, Scores
from realtime.smoothing import Smoother
from realtime.sources import AudioChunk, Damage, Frame, SourceError
from realtime.stages import END, AcousticStage, ASRStage, FaceStage, Faults, Stage, run_stage
from realtime.windows import Assembler, Window, WindowOptions

if TYPE_CHECKING:
    from dmsil.features.face import FaceFrame

log = logging.getLogger(__name__)
DAMAGED = "damaged"
"""The reason a modality shows over a part of a file that could not be decoded."""


@dataclass(frozen=True)
class PipelineOptions:
    window: float = 4.0
    """Seconds of context per result (DESIGN: a few seconds)."""
    hop: float = 1.0
    """Seconds between results."""
    live: bool = False
    """Live: score on the clock, drop old video frames under load. Offline: wait for every stage, drop nothing."""
    asr: ASROptions = field(default_factory=lambda: ASROptions(threads=1))
    """One CTranslate2 thread leaves the other cores to the face workers; on 2 cores that was faster
    overall than CTranslate2's own thread count (scripts/bench_realtime.py)."""
    video_queue: int = 8
    """Frames waiting for the face workers; live drops the oldest beyond this, offline waits."""
    face_workers: int = 0
    """Face threads taking turns on the frames (each with its own tracker). 0: one live (15 frames/s
    need a fraction of a core), one per core offline (faces are the slowest stage)."""
    batch: int = 16
    """Offline windows scored per engine call."""
    sequential: bool = False
    """Run the stages one after another (read all, then faces, then ASR, ...): the baseline the parallel
    pipeline is benchmarked against. Offline only; queues are then unbounded."""
    pause: float = 0.6
    """Silence that ends an utterance (:class:`realtime.windows.WindowOptions`)."""
    min_words: int = 3
    """Fewer words are too short to score."""
    smooth: float = 1.0
    """Time constant (s) of the smoothed scores shown beside the raw ones; 0 turns smoothing off. 1 s is
    the shortest that kept the fused score's sign flips inside a sentence under 5%, live and offline
    (scripts/bench_utterances.py); longer ones lag into the next sentence."""
    stop_within: float = 2.0
    """Seconds every thread gets, all together, to end after a stop."""

    def __post_init__(self) -> None:
        WindowOptions(self.window, self.hop)  # checks them
        if self.sequential and self.live:
            raise ValueError("sequential mode is for offline benchmarks only")

    @property
    def windows(self) -> WindowOptions:
        return WindowOptions(self.window, self.hop, self.live, self.pause, self.min_words)


@dataclass
class Stats:
    frames: int = 0
    frames_dropped: int = 0
    audio_seconds: float = 0.0
    windows: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """One line per failure (a file that broke part-way, a worker that raised)."""
    stage_seconds: dict[str, float] = field(default_factory=dict)


class Pipeline:
    """Runs sources through the stages and calls ``on_result`` with each window's and utterance's :class:`Scores`."""

    def __init__(
        self,
        scorer: Scorer,
        options: PipelineOptions | None = None,
        load_transcriber: Callable[[ASROptions], Transcriber] = load_transcriber,
    ):
        self.scorer = scorer
        self.options = options or PipelineOptions()
        self.load_transcriber = load_transcriber
        """Makes the recognizer (in the ASR stage's thread) from ``options.asr``."""
        self.stats = Stats()
        self.faults = Faults(self.stats.errors)
        self.queues: dict[str, queue.Queue] = {}
        """The stage input queues, by name (their ``qsize()`` shows a stage falling behind)."""
        self.latest_frame: np.ndarray | None = None
        """The newest camera picture (RGB), for a preview."""
        self.latest_face: tuple[Frame, FaceFrame] | None = None
        """The newest frame the face reader has read, with what it found there (box, landmarks)."""
        self._stop = threading.Event()
        workers = self.options.face_workers or (1 if self.options.live else len(os.sched_getaffinity(0)))
        self._face_workers = max(1, workers)
        self.assembler = Assembler(self.options.windows, self._face_workers)
        self._smoother = Smoother(self.options.smooth)
        self._timers: dict[str, float] = {}
        self._timer_lock = threading.Lock()

    def _saw(self, frame: Frame, found: FaceFrame) -> None:
        latest = self.latest_face
        if latest is None or frame.t >= latest[0].t:  # face threads take turns: keep the newest
            self.latest_face = (frame, found)

    def stop(self) -> None:
        """Ask every thread to finish (Ctrl-C, the UI's stop button); :meth:`run` returns soon after."""
        self._stop.set()

    def _time(self, stage: str, seconds: float) -> None:
        with self._timer_lock:
            self._timers[stage] = self._timers.get(stage, 0.0) + seconds

    def run(self, sources: Iterable, on_result: Callable[[Scores], None], clock_start: float | None = None) -> Stats:
        """Process until every source ends (or :meth:`stop`); returns the statistics."""
        sources = list(sources)
        opts, asm = self.options, self.assembler
        asm.sources = sources
        self._clock = clock_start if clock_start is not None else time.monotonic()
        has_video = any(s.has_video for s in sources)
        has_audio = any(s.has_audio for s in sources)
        if not has_video:
            asm.reasons["video"] = "no video"
        if not has_audio:
            asm.reasons.update(text="no audio", audio="no audio")
        unbounded = opts.sequential
        video_q: queue.Queue = queue.Queue(maxsize=0 if unbounded else opts.video_queue)
        audio_qs: list[queue.Queue] = []
        stages: list[tuple[Stage, queue.Queue]] = []
        if has_video:
            stages += [(FaceStage(self.faults, i, self._saw), video_q) for i in range(self._face_workers)]
        else:
            asm.finish("face")
        wanted = {"asr": True, "acoustic": "audio" in self.scorer.needed}
        for stage in (ASRStage(opts.asr, opts.live, self.faults, self.load_transcriber), AcousticStage(self.faults)):
            if has_audio and wanted[stage.name]:
                q: queue.Queue = queue.Queue(maxsize=0 if unbounded else 200)
                audio_qs.append(q)
                stages.append((stage, q))
            else:
                asm.finish(stage.name)
        threads = [
            threading.Thread(target=run_stage, args=(stage, q, asm, self._stop, self.faults, self._time),
                             name=f"{stage.name}-{i}", daemon=True)
            for i, (stage, q) in enumerate(stages)
        ]  # fmt: skip
        readers = [
            threading.Thread(target=self._read, args=(s, video_q if has_video else None, audio_qs),
                             name=f"read-{s.name}", daemon=True)
            for s in sources
        ]  # fmt: skip
        self._open_readers = len(readers)
        self._reader_lock = threading.Lock()
        self.queues = {"video": video_q, **{f"audio-{i}": q for i, q in enumerate(audio_qs)}}
        if opts.sequential:
            for t in readers + threads:
                t.start()
                t.join()
        else:
            for t in threads + readers:
                t.start()
        try:
            self._assemble(on_result)
        finally:
            self.stop()
            for s in sources:
                if hasattr(s, "stop"):
                    s.stop()
            deadline = time.monotonic() + opts.stop_within  # one deadline for all: never a wait per thread
            for t in readers + threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
            alive = [t.name for t in readers + threads if t.is_alive()]
            if alive:  # daemon threads: they cannot keep the process alive
                log.warning("threads still running %.1f s after stop: %s", opts.stop_within, alive)
        self.stats.stage_seconds = dict(self._timers)
        return self.stats

    # -- producers ---------------------------------------------------------------------------------

    def _put(self, q: queue.Queue, item, drop_oldest: bool) -> None:
        """Offline: wait for room (never drop). Live: never wait; a full queue loses its oldest item."""
        while not self._stop.is_set():
            if drop_oldest:
                try:
                    q.put_nowait(item)
                    return
                except queue.Full:
                    try:
                        q.get_nowait()
                        self.stats.frames_dropped += 1
                    except queue.Empty:
                        pass
                continue
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                pass

    def _read(self, source, video_q: queue.Queue | None, audio_qs: list[queue.Queue]) -> None:
        t = 0.0
        try:
            for item in source:
                if self._stop.is_set():
                    break
                if isinstance(item, Frame) and video_q is not None:
                    self.stats.frames += 1
                    self.latest_frame = item.rgb
                    self._put(video_q, item, drop_oldest=self.options.live)
                elif isinstance(item, Damage):  # skipped as undecodable: the windows mostly inside it say so
                    self.assembler.trouble(STREAM[item.stream], item.t, item.end, DAMAGED, share=0.5)
                    continue
                elif isinstance(item, AudioChunk):
                    self.stats.audio_seconds += item.samples.size / SAMPLE_RATE
                    for q in audio_qs:
                        self._put(q, item, drop_oldest=False)
                t = item.t
                span = item.samples.size / SAMPLE_RATE if isinstance(item, AudioChunk) else 1.0 / VIDEO_RATE
                self.assembler.seen_end = max(self.assembler.seen_end, item.t + span)
        except Exception as exc:  # a broken source must not take the pipeline down: its modalities say why
            reason = str(exc) if isinstance(exc, SourceError) else f"{source.name} failed: {type(exc).__name__}: {exc}"
            reason = f"{reason.splitlines()[0]} (after {t:.1f} s)"
            self.stats.errors.append(reason)
            log.warning("%s", reason)
            self.assembler.trouble(SOURCE.get(source.name, MODALITIES), t, math.inf, reason)
        finally:
            with self._reader_lock:
                self._open_readers -= 1
                last = self._open_readers == 0
            if last:  # every source has ended: tell the workers
                if video_q is not None:
                    for _ in range(self._face_workers):  # one end mark per face worker
                        self._put(video_q, END, drop_oldest=False)
                for q in audio_qs:
                    self._put(q, END, drop_oldest=False)

    # -- windows -----------------------------------------------------------------------------------

    def _assemble(self, on_result: Callable[[Scores], None]) -> None:
        opts, asm = self.options, self.assembler
        while not self._stop.is_set():
            now = time.monotonic() - self._clock
            ready = asm.ready(now if opts.live else None, limit=1 if opts.live else opts.batch)
            if ready:
                self._score(ready, on_result)
                asm.prune()
                continue
            if asm.finished:
                return
            time.sleep(0.01 if opts.live else 0.005)

    def _score(self, ready: list[Window], on_result: Callable[[Scores], None]) -> None:
        start = time.perf_counter()
        try:
            scored = self.scorer(ready)
        except Exception as exc:  # one bad batch must not end the stream: its windows say why, the next try again
            reason = self.faults.report("engine", exc)
            scored = [Scores.failed(w, reason) for w in ready]
        self._time("engine", time.perf_counter() - start)
        now = time.monotonic() - self._clock
        for s in scored:
            if s.kind == "window":
                if self.options.live:
                    s.latency = max(0.0, now - s.end)
                    self.stats.latencies.append(s.latency)
                self.stats.windows += 1
                self._smoother(s)
            on_result(s)
