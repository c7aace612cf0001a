"""The streaming pipeline: sources -> parallel feature workers -> windows -> engine -> results.

    source readers --Frame--> face worker -----------------\\
                   --AudioChunk--> ASR worker (words) ------+--> window assembler --> Scorer (engine) --> on_result
                   --AudioChunk--> acoustic worker ---------/

Each worker is a thread with a bounded input queue; the heavy parts (video decoding, Face Mesh,
CTranslate2, ONNX Runtime) release the GIL, so the stages overlap on separate cores. Windows end every
``hop`` seconds and reach back ``window`` seconds (shorter at the start). Offline, a window is scored
once every stream has been processed past its end, and nothing is dropped. Live, a window is scored as
soon as the clock passes its end, with what has arrived; under load the oldest video frames are dropped
and counted. A modality with nothing in the window is masked and reported, never filled with zeros.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from dmsil.features.asr import ASROptions, BlockTranscriber, IncrementalTranscriber, Word, load_transcriber
from dmsil.features.audio import SAMPLE_RATE
from dmsil.features.media import VIDEO_RATE
from realtime.scorer import Scorer, Scores, Window
from realtime.sources import AudioChunk, Frame, SourceError

log = logging.getLogger(__name__)
_END = object()
MODALITY_NAMES = ("text", "audio", "video")
SOURCE_MODALITIES = {
    "camera": ("video",),
    "microphone": ("text", "audio"),
    "file": ("text", "audio", "video"),
    "browser": ("text", "audio", "video"),
}


@dataclass
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

    def __post_init__(self) -> None:
        if not (self.window > 0 and self.hop > 0):
            raise ValueError(f"window and hop must be positive (got {self.window}, {self.hop})")
        if self.sequential and self.live:
            raise ValueError("sequential mode is for offline benchmarks only")


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


class _Stream:
    """Items produced by one stage, kept in time order, and how far every producer of the stage has got.

    A stage may have several workers taking from one FIFO queue; the stage's watermark is the lowest
    time any of them has finished, so everything at or before it is in.
    """

    def __init__(self, producers: int = 1):
        self.times: list[float] = []
        self.values: list[object] = []
        self.done = [-math.inf] * producers
        self.lock = threading.Lock()

    @property
    def until(self) -> float:
        return min(self.done)

    def add(self, t: float, item: object) -> None:
        with self.lock:
            i = bisect.bisect_right(self.times, t)
            self.times.insert(i, t)
            self.values.insert(i, item)

    def advance(self, t: float, producer: int = 0) -> None:
        self.done[producer] = max(self.done[producer], t)

    def finish(self) -> None:
        self.done = [math.inf] * len(self.done)

    def take(self, start: float, end: float) -> list:
        with self.lock:
            return self.values[bisect.bisect_left(self.times, start) : bisect.bisect_left(self.times, end)]

    def prune(self, before: float) -> None:
        with self.lock:
            keep = bisect.bisect_left(self.times, before)
            del self.times[:keep], self.values[:keep]

    def __len__(self) -> int:
        return len(self.times)


class Pipeline:
    """Runs sources through the workers and calls ``on_result`` with each window's :class:`Scores`."""

    def __init__(self, scorer: Scorer, options: PipelineOptions | None = None):
        self.scorer = scorer
        self.options = options or PipelineOptions()
        self.stats = Stats()
        self.queues: dict[str, queue.Queue] = {}
        """The stage input queues, by name (their ``qsize()`` shows a stage falling behind)."""
        self.latest_frame: np.ndarray | None = None
        """The newest camera picture (RGB), for a preview."""
        self._stop = threading.Event()
        workers = self.options.face_workers or (1 if self.options.live else len(os.sched_getaffinity(0)))
        self._face_workers = max(1, workers)
        self._face_stream, self._words, self._acoustic = _Stream(self._face_workers), _Stream(), _Stream()
        self._timers: dict[str, float] = {}
        self._faults: dict[str, int] = {}
        self._troubles: list[tuple[float, float, tuple[str, ...], str]] = []
        self._timer_lock = threading.Lock()

    def stop(self) -> None:
        """Ask every thread to finish (Ctrl-C, the UI's stop button); :meth:`run` returns soon after."""
        self._stop.set()

    def _time(self, stage: str, seconds: float) -> None:
        with self._timer_lock:
            self._timers[stage] = self._timers.get(stage, 0.0) + seconds

    def run(self, sources: Iterable, on_result: Callable[[Scores], None], clock_start: float | None = None) -> Stats:
        """Process until every source ends (or :meth:`stop`); returns the statistics."""
        sources = list(sources)
        self._sources = sources
        opts = self.options
        self._clock = clock_start if clock_start is not None else time.monotonic()
        has_video = any(s.has_video for s in sources)
        has_audio = any(s.has_audio for s in sources)
        self._reasons = {}
        if not has_video:
            self._reasons["video"] = "no video"
        if not has_audio:
            self._reasons.update(text="no audio", audio="no audio")
        size = 0 if opts.sequential else opts.video_queue
        video_q: queue.Queue = queue.Queue(maxsize=size)
        audio_qs: list[queue.Queue] = []
        threads = []
        if has_video:
            threads += [self._thread(f"face-{i}", self._face_worker, video_q, i) for i in range(self._face_workers)]
        else:
            self._face_stream.finish()
        if has_audio:
            asr_q: queue.Queue = queue.Queue(maxsize=0 if opts.sequential else 200)
            audio_qs.append(asr_q)
            threads.append(self._thread("asr", self._asr_worker, asr_q))
            if "audio" in self.scorer.needed:
                ac_q: queue.Queue = queue.Queue(maxsize=0 if opts.sequential else 200)
                audio_qs.append(ac_q)
                threads.append(self._thread("acoustic", self._acoustic_worker, ac_q))
            else:
                self._acoustic.finish()
        else:
            self._words.finish()
            self._acoustic.finish()
        readers = [
            threading.Thread(
                target=self._read,
                args=(s, video_q if has_video else None, audio_qs),
                name=f"read-{s.name}",
                daemon=True,
            )
            for s in sources
        ]
        self._open_readers = len(readers)
        self._seen_end = 0.0
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
            for t in readers + threads:
                t.join(timeout=5.0)
            alive = [t.name for t in readers + threads if t.is_alive()]
            if alive:
                log.warning("threads still running after stop: %s", alive)
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
                elif isinstance(item, AudioChunk):
                    self.stats.audio_seconds += item.samples.size / SAMPLE_RATE
                    for q in audio_qs:
                        self._put(q, item, drop_oldest=False)
                t = item.t
                span = item.samples.size / SAMPLE_RATE if isinstance(item, AudioChunk) else 1.0 / VIDEO_RATE
                self._seen_end = max(self._seen_end, item.t + span)
        except Exception as exc:  # a broken source must not take the pipeline down: its modalities say why
            reason = str(exc) if isinstance(exc, SourceError) else f"{source.name} failed: {type(exc).__name__}: {exc}"
            reason = f"{reason.splitlines()[0]} (after {t:.1f} s)"
            self.stats.errors.append(reason)
            log.warning("%s", reason)
            self._trouble(SOURCE_MODALITIES.get(source.name, MODALITY_NAMES), t, math.inf, reason)
        finally:
            with self._reader_lock:
                self._open_readers -= 1
                last = self._open_readers == 0
            if last:  # every source has ended: tell the workers
                if video_q is not None:
                    for _ in range(self._face_workers):  # one end mark per face worker
                        self._put(video_q, _END, drop_oldest=False)
                for q in audio_qs:
                    self._put(q, _END, drop_oldest=False)

    # -- workers -----------------------------------------------------------------------------------

    def _thread(self, name: str, worker: Callable, q: queue.Queue, *args) -> threading.Thread:
        """A worker thread that, if it dies (a model that will not load, a bug), says so in the windows,
        lets the windows go on without its stage, and keeps emptying its queue so no reader blocks."""
        stage = name.split("-")[0]
        stream = {"face": self._face_stream, "asr": self._words, "acoustic": self._acoustic}[stage]
        modalities = {"face": ("video",), "asr": ("text",), "acoustic": ("audio",)}[stage]

        def run() -> None:
            try:
                worker(q, *args)
            except Exception as exc:
                log.debug("%s worker stopped", name, exc_info=True)
                self._trouble(modalities, -math.inf, math.inf, self._fault(stage, exc))
                stream.finish()
                for _ in self._items(q):
                    pass

        return threading.Thread(target=run, name=name, daemon=True)

    def _items(self, q: queue.Queue):
        while not self._stop.is_set():
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                return
            yield item

    def _face_worker(self, q: queue.Queue, index: int) -> None:
        from dmsil.features.face import FaceExtractor

        with FaceExtractor() as face:
            for frame in self._items(q):
                start = time.perf_counter()
                try:
                    self._face_stream.add(frame.t, face(frame.rgb).vector)
                except Exception as exc:  # one bad frame: logged once, the windows around it say why
                    self._trouble(("video",), frame.t, frame.t + 1 / VIDEO_RATE, self._fault("face", exc))
                self._face_stream.advance(frame.t, index)
                self._time("face", time.perf_counter() - start)
        self._face_stream.advance(math.inf, index)

    def _transcriber(self):
        return load_transcriber(self.options.asr)

    def _asr_worker(self, q: queue.Queue) -> None:
        transcriber = self._transcriber()
        if self.options.live:
            asr = IncrementalTranscriber(transcriber)
        else:
            asr = BlockTranscriber(transcriber)
        first_t = None
        for chunk in self._items(q):
            if first_t is None:
                first_t = chunk.t  # stream time of the transcriber's sample 0
            start = time.perf_counter()
            try:
                self._add_words(asr.push(chunk.samples, SAMPLE_RATE), first_t)
            except Exception as exc:  # the words of that audio are lost; the windows over it say why
                span = self._lost_span(asr, first_t, chunk.t, chunk.t + chunk.samples.size / SAMPLE_RATE)
                self._trouble(("text",), *span, self._fault("asr", exc))
            self._time("asr", time.perf_counter() - start)
            if not self.options.live:
                self._words.advance(first_t + asr.done_until)
        if first_t is not None and not self._stop.is_set():
            start = time.perf_counter()
            try:
                self._add_words(asr.flush(), first_t)
            except Exception as exc:
                span = self._lost_span(asr, first_t, self._seen_end - getattr(asr, "buffered_seconds", 0.0), math.inf)
                self._trouble(("text",), *span, self._fault("asr", exc))

            self._time("asr", time.perf_counter() - start)
        self._words.finish()

    @staticmethod
    def _lost_span(asr, offset: float, start: float, end: float) -> tuple[float, float]:
        """The audio whose words a failed decode lost: the block that failed, else the given span."""
        block = getattr(asr, "last_block", None)
        return (offset + block[0], offset + block[1]) if block else (start, end)

    def _add_words(self, words: list[Word], offset: float) -> None:
        for w in words:
            self._words.add(offset + (w.start + w.end) / 2, w.text)

    def _acoustic_worker(self, q: queue.Queue) -> None:
        """Acoustic frames in 1-second blocks (only for checkpoints whose audio head was trained)."""
        from dmsil.features.audio import FRAME_RATE, AcousticExtractor

        extractor = AcousticExtractor()
        pending, t0 = [], None
        for chunk in self._items(q):
            t0 = chunk.t if t0 is None else t0
            pending.append(chunk.samples)
            if sum(p.size for p in pending) >= SAMPLE_RATE:
                t0 = self._acoustic_block(extractor, np.concatenate(pending), t0, FRAME_RATE)
                pending = []
        if pending and t0 is not None:
            self._acoustic_block(extractor, np.concatenate(pending), t0, FRAME_RATE)
        self._acoustic.finish()

    def _acoustic_block(self, extractor, samples: np.ndarray, t0: float, rate: float) -> float:
        start = time.perf_counter()
        try:
            frames = extractor(samples)
        except Exception as exc:
            frames = []
            self._trouble(("audio",), t0, t0 + samples.size / SAMPLE_RATE, self._fault("acoustic", exc))
        for i, f in enumerate(frames):
            self._acoustic.add(t0 + i / rate, f)
        self._time("acoustic", time.perf_counter() - start)
        t_end = t0 + samples.size / SAMPLE_RATE
        self._acoustic.advance(t_end)
        return t_end

    # -- windows -----------------------------------------------------------------------------------

    def _watermark(self) -> float:
        return min(self._face_stream.until, self._words.until, self._acoustic.until)

    def _done(self) -> bool:
        return self._watermark() == math.inf

    def _assemble(self, on_result: Callable[[Scores], None]) -> None:
        opts = self.options
        k = 1
        while not self._stop.is_set():
            ready: list[Window] = []
            finished = False
            while len(ready) < (1 if opts.live else opts.batch):
                end, done = k * opts.hop, self._done()
                if done and end - opts.hop >= self._seen_end - 0.1:  # no sliver window at the very end
                    finished = True
                    break
                if opts.live and not done and time.monotonic() - self._clock < end:
                    break
                if not opts.live and self._watermark() < end:
                    break
                ready.append(self._window(max(0.0, end - opts.window), min(end, self._seen_end) if done else end))
                k += 1
            if ready:
                self._score(ready, on_result)
                continue
            if finished:
                return
            time.sleep(0.01 if opts.live else 0.005)

    def _score(self, ready: list[Window], on_result: Callable[[Scores], None]) -> None:
        opts = self.options
        start = time.perf_counter()
        try:
            scored = self.scorer(ready)
        except Exception as exc:  # one bad batch must not end the stream: its windows say why, the next try again
            reason = self._fault("engine", exc)
            scored = [
                Scores(
                    w.start,
                    w.end,
                    w.transcript,
                    None,
                    None,
                    None,
                    None,
                    (),
                    dict.fromkeys(MODALITY_NAMES, reason),
                    recent=w.recent,
                )
                for w in ready
            ]
        self._time("engine", time.perf_counter() - start)
        now = time.monotonic() - self._clock
        for s in scored:
            if opts.live:
                s.latency = max(0.0, now - s.end)
                self.stats.latencies.append(s.latency)
            self.stats.windows += 1
            on_result(s)
        cutoff = ready[-1].end + opts.hop - opts.window
        for stream in (self._face_stream, self._words, self._acoustic):
            stream.prune(cutoff)

    def _fault(self, stage: str, exc: Exception) -> str:
        """Log a stage's failure once (then count it); returns the one-line reason shown in the windows."""
        reason = f"{stage} failed: {type(exc).__name__}: {exc}".splitlines()[0]
        with self._timer_lock:
            self._faults[stage] = self._faults.get(stage, 0) + 1
            first = self._faults[stage] == 1
        if first:
            log.warning("%s (logged once; the pipeline goes on)", reason)
            self.stats.errors.append(reason)
        return reason

    def _trouble(self, modalities: tuple[str, ...], start: float, end: float, reason: str) -> None:
        with self._timer_lock:
            self._troubles.append((start, end, modalities, reason))
            del self._troubles[:-100]  # bounded: only the recent ones can still touch a window

    def _current_reasons(self, start: float, end: float) -> dict[str, str]:
        """Static reasons (no video stream, ...), then a stage's failure inside the window, then a source's
        live trouble (camera lost)."""
        reasons = dict(self._reasons)
        with self._timer_lock:
            for t0, t1, modalities, reason in self._troubles:
                if t0 < end and t1 > start:
                    reasons.update(dict.fromkeys(modalities, reason))
        for source in self._sources:
            status = getattr(source, "status", None)
            if status:
                for modality in SOURCE_MODALITIES.get(source.name, ()):
                    reasons[modality] = status
        return reasons

    def _window(self, start: float, end: float) -> Window:
        words = self._words.take(start, end)
        recent = self._words.take(max(start, end - self.options.hop), end)
        faces = self._face_stream.take(start, end)
        acoustic = self._acoustic.take(start, end)
        return Window(
            start,
            end,
            " ".join(words),
            np.stack(acoustic) if acoustic else None,
            np.stack(faces) if faces else None,
            " ".join(recent),
            self._current_reasons(start, end),
        )
