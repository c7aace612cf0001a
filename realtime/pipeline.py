"""The streaming pipeline: sources -> parallel feature workers -> windows -> engine -> events.

    source readers --Frame--> face stage -----------------\\
                   --AudioChunk--> ASR stage (words) ------+--> Assembler --> Scorer (engine) --> smoothing --> on_event
                   --AudioChunk--> acoustic stage ---------/    (windows.py)                                 (events.py)

Each stage (:mod:`realtime.stages`, one small protocol) runs in its own thread with a bounded input
queue; the heavy parts (video decoding, Face Mesh, CTranslate2, ONNX Runtime) release the GIL, so the
stages overlap on separate cores. This module only moves data: what each stage extracts is the stage's
business; which windows and utterances are ready, and what each holds, is decided by the synchronous
:class:`realtime.windows.Assembler`, which every thread talks to through its methods only. What comes out
is one stream of typed events (:mod:`realtime.events`), handed to ``on_event`` from the thread that called
:meth:`Pipeline.run`. Offline nothing is dropped; live, under load the oldest video frames are dropped and
counted. A stage that fails is reported in the windows it touches and the rest go on. Stopping (Ctrl-C,
the page's Stop) waits for the threads against one shared deadline.
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

from dmsil.features.asr import ASROptions, Transcriber, load_transcriber
from dmsil.features.audio import SAMPLE_RATE
from dmsil.features.media import VIDEO_RATE
from realtime.events import Event, UtteranceReady, UtteranceScored, WindowReady, WindowScored
from realtime.modalities import MODALITIES, SOURCES, STREAM_ABSENCE, Absence, Reason, of_stage, of_stream
from realtime.scorer import Scorer, Scores
from realtime.smoothing import Smoother
from realtime.sources import AudioChunk, AudioEnd, Damage, Frame, SourceError, SourceStatus
from realtime.speakers import SpeakerOptions, Turn
from realtime.stages import END, AcousticStage, ASRStage, FaceStage, Faults, SpeakerStage, Stage, run_stage
from realtime.windows import Assembler, Window, WindowOptions

log = logging.getLogger(__name__)
OFFLINE_POLL_S = 0.05
"""Offline, seconds between looks for windows to score (live: 0.01). Each look costs about 0.5 ms of the
GIL-holding thread; at 5 ms apart that was 0.9 s of CPU on a 100 s talk, taken from the stages."""
OFFLINE_ACOUSTIC_BLOCK_S = 10.0
"""Seconds of audio per acoustic extraction offline (live: 1 s); see :class:`realtime.stages.AcousticStage`."""


@dataclass(frozen=True)
class PipelineOptions:
    windows: WindowOptions = field(default_factory=WindowOptions)
    """Window length, hop, live or offline, and how utterances are cut (:class:`realtime.windows.WindowOptions`)."""
    asr: ASROptions = field(default_factory=lambda: ASROptions(threads=1))
    """One CTranslate2 thread leaves the other cores to the face workers; on 2 cores that was faster
    overall than CTranslate2's own thread count (scripts/bench_realtime.py)."""
    video_queue: int = 8
    """Frames waiting for the face workers; live drops the oldest beyond this, offline waits."""
    face_rate: float = VIDEO_RATE / 3
    """Offline, frames a second the faces are read at (:func:`realtime.offline.score_file`'s source); each
    reading stands for the frames until the next, so the video head still sees ``VIDEO_RATE`` a second.
    Face Mesh is the slowest stage. On 30 face photos cut every 2 s (windows spread sd 1.1), one face worker,
    the face head's window scores against the full rate's: at 7.5/s r 0.998, mean change 0.051, at most 0.30;
    at 5/s r 0.998, 0.060, 0.26; at 3.75/s r 0.996, 0.067, 0.32 (``scripts/bench_realtime.py
    --only-face-rate``); a third of the rate saves a third of Face Mesh's time. Live reads every frame the
    camera gives."""
    audio_lead: float = 30.0
    """Offline, seconds a file's audio is read ahead of its video (:func:`realtime.offline.score_file`'s source):
    the recognizer's 20 s blocks are then decoded while the faces are still being read, not the last one
    alone after them."""
    face_workers: int = 1
    """Face threads taking turns on the frames, each with its own Face Mesh and tracker (0: one per core).
    One: Face Mesh runs a thread pool of its own, and a second worker only added threads contending for 2
    cores (scoring a 100 s talk: 10.8-10.9 s against 11.1-11.3 s warm, 13.3 s against 13.9 s for the first
    file) while each tracker saw every other frame."""
    batch: int = 16
    """Offline windows scored per engine call."""
    sequential: bool = False
    """Run the stages one after another (read all, then faces, then ASR, ...): the baseline the parallel
    pipeline is benchmarked against. Offline only; queues are then unbounded."""
    smooth: float = 1.0
    """Time constant (s) of the smoothed scores shown beside the raw ones; 0 turns smoothing off. 1 s is
    the shortest that kept the fused score's sign flips inside a sentence under 5%, live and offline
    (scripts/bench_utterances.py); longer ones lag into the next sentence."""
    stop_within: float = 2.0
    """Seconds every thread gets, all together, to end after a stop."""
    speakers: SpeakerOptions | None = field(default_factory=SpeakerOptions)
    """Tell the voices apart (:mod:`realtime.speakers`); None: everyone heard is one speaker."""

    def __post_init__(self) -> None:
        if self.sequential and self.live:
            raise ValueError("sequential mode is for offline benchmarks only")
        if not self.smooth >= 0:
            raise ValueError(f"--smooth must be 0 (off) or a positive time constant in seconds (got {self.smooth})")

    @property
    def live(self) -> bool:
        """Live: score on the clock, drop old video frames under load. Offline: wait for every stage, drop nothing."""
        return self.windows.live

    @classmethod
    def make(cls, live: bool = False, **windows) -> PipelineOptions:
        """Default options, live or offline, with window fields changed (``window=``, ``hop=``, ...)."""
        return cls(WindowOptions(live=live, **windows))


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
    buffered: list[int] = field(default_factory=list)
    """Items the assembler held after each pruning: flat on a long stream, never the whole of it."""


class Pipeline:
    """Runs sources through the stages and hands each event (:mod:`realtime.events`) to ``on_event``."""

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
        self.queues: dict[str, queue.Queue] = {}
        """The stage input queues, by name (their ``qsize()`` shows a stage falling behind)."""
        self._stop = threading.Event()
        workers = self.options.face_workers or len(os.sched_getaffinity(0))
        self._face_workers = max(1, workers)
        self._smoother = Smoother(self.options.smooth)
        self._timers: dict[str, float] = {}
        self._timer_lock = threading.Lock()

    def stop(self) -> None:
        """Ask every thread to finish (Ctrl-C, the UI's stop button); :meth:`run` returns soon after."""
        self._stop.set()

    def _time(self, stage: str, seconds: float) -> None:
        with self._timer_lock:
            self._timers[stage] = self._timers.get(stage, 0.0) + seconds

    def run(
        self, sources: Iterable, on_event: Callable[[Event], None], clock_start: float | None = None,
        turns: list[Turn] | Callable[[], list[Turn]] | None = None, cut: threading.Event | None = None,
    ) -> Stats:  # fmt: skip
        """Process until every source ends (or :meth:`stop`), handing every event to ``on_event`` from this
        thread; returns the statistics. ``turns``: who speaks when, known before, or a function that finds
        them (a recording diarized whole), run in a thread of its own beside the stages while the windows
        wait for it; live, a speaker stage finds them as it goes. Once ``cut`` is set (Ctrl-C during
        ``realtime score``), reading stops where it is and what was read is still scored: the stages finish
        their queues, and the windows no longer wait for a diarization still under way (they have no
        speaker)."""
        sources = list(sources)
        self._clock = clock_start if clock_start is not None else time.monotonic()
        has = {"video": any(s.has_video for s in sources), "audio": any(s.has_audio for s in sources)}
        absent = {m: Reason(STREAM_ABSENCE[k]) for k, there in has.items() if not there for m in of_stream(k)}
        hold = self._hold(sources)
        asm = Assembler(self.options.windows, self._face_workers, absent, face_hold=hold)
        faults = Faults(
            self.stats.errors, on_first=lambda stage, why: asm.note(stage, of_stage(stage) or MODALITIES, why)
        )
        self._faults = faults
        self._people = self.scorer.people()
        stages, video_q, audio_qs = self._stages(asm, faults, has, hold)
        threads = [
            threading.Thread(target=run_stage, args=(stage, q, asm, self._stop, faults, self._time),
                             name=f"{stage.name}-{i}", daemon=True)
            for i, (stage, q) in enumerate(stages)
        ]  # fmt: skip
        diarizing = None
        if callable(turns):
            asm.expect("speaker")
            diarizing = threading.Thread(target=self._diarize, args=(turns, asm), name="speaker", daemon=True)
            threads.append(diarizing)
        elif turns:
            asm.set_turns(turns)
        readers = [
            threading.Thread(target=self._read, args=(s, asm, video_q, audio_qs), name=f"read-{s.name}", daemon=True)
            for s in sources
        ]
        self._open_readers = len(readers)
        self._reader_lock = threading.Lock()
        for t in readers + threads if self.options.sequential else threads + readers:
            t.start()
            if self.options.sequential:
                t.join()
        try:
            self._assemble(asm, on_event, sources, cut)
        finally:
            # a diarization under way when the input was cut is not waited for (a daemon thread: it cannot
            # keep the process alive)
            cutting = cut is not None and cut.is_set()
            self._end(sources, [t for t in readers + threads if not (cutting and t is diarizing)])
        self.stats.stage_seconds = dict(self._timers)
        return self.stats

    def _stages(
        self, asm: Assembler, faults: Faults, has: dict[str, bool], hold: int
    ) -> tuple[list[tuple[Stage, queue.Queue]], queue.Queue | None, list[queue.Queue]]:
        """The stages this run needs, each with its input queue; the streams of the others are finished."""
        opts = self.options
        size = 0 if opts.sequential else opts.video_queue
        video_q: queue.Queue | None = queue.Queue(maxsize=size) if has["video"] else None
        stages: list[tuple[Stage, queue.Queue]] = []
        if video_q is not None:
            stages += [(FaceStage(faults, i, opts.live, hold), video_q) for i in range(self._face_workers)]
        else:
            asm.finish("face")
        audio_qs: list[queue.Queue] = []
        wanted = {"asr": True, "acoustic": "audio" in self.scorer.needed}
        acoustic = AcousticStage(faults, block_s=1.0 if opts.live else OFFLINE_ACOUSTIC_BLOCK_S)
        speakers = SpeakerStage(faults, opts.speakers)
        wanted["speaker"] = opts.live and opts.speakers is not None
        for stage in (ASRStage(opts.asr, opts.live, faults, self.load_transcriber), acoustic, speakers):
            if has["audio"] and wanted[stage.name]:
                audio_qs.append(queue.Queue(maxsize=0 if opts.sequential else 200))
                stages.append((stage, audio_qs[-1]))
            else:
                asm.finish(stage.name)
        self.queues = {**({"video": video_q} if video_q else {}), **{f"audio-{i}": q for i, q in enumerate(audio_qs)}}
        return stages, video_q, audio_qs

    @staticmethod
    def _hold(sources: list) -> int:
        """Frames of ``VIDEO_RATE`` each face reading stands for: the sources' slowest video rate."""
        rates = [getattr(s, "video_rate", VIDEO_RATE) for s in sources if s.has_video]
        return max(1, round(VIDEO_RATE / min(rates))) if rates else 1

    def _end(self, sources: list, threads: list[threading.Thread]) -> None:
        """Stop the sources and every thread, against one deadline for all (never a wait per thread)."""
        self.stop()
        for s in sources:
            if hasattr(s, "stop"):
                s.stop()
        deadline = time.monotonic() + self.options.stop_within
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in threads if t.is_alive()]
        if alive:  # daemon threads: they cannot keep the process alive
            log.warning("threads still running %.1f s after stop: %s", self.options.stop_within, alive)

    @staticmethod
    def _cut(sources: list, asm: Assembler) -> None:
        """Stop reading: the stages drain what was read and the windows stop waiting for the speakers."""
        for s in sources:
            if hasattr(s, "stop"):
                s.stop()
        asm.finish("speaker")

    def _diarize(self, find: Callable[[], list[Turn]], asm: Assembler) -> None:
        """The body of the offline speaker thread: the turns found (none when that fails: one speaker)."""
        start = time.perf_counter()
        try:
            asm.set_turns(find())
        except Exception as exc:  # words are still scored, only not told apart
            self._faults.report("speaker", exc)
        finally:
            asm.finish("speaker")
            self._time("speaker", time.perf_counter() - start)

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

    def _read(self, source, asm: Assembler, video_q: queue.Queue | None, audio_qs: list[queue.Queue]) -> None:
        t = 0.0
        try:
            for item in source:
                if self._stop.is_set():
                    break
                t = self._route(item, source, asm, video_q, audio_qs)
        except Exception as exc:  # a broken source must not take the pipeline down: its modalities say why
            reason = str(exc) if isinstance(exc, SourceError) else f"{source.name} failed: {type(exc).__name__}: {exc}"
            reason = f"{reason.splitlines()[0]} (after {t:.1f} s)"
            self.stats.errors.append(reason)
            log.warning("%s", reason)
            carried = SOURCES.get(source.name, MODALITIES)
            asm.trouble(carried, t, math.inf, Reason(Absence.SOURCE, reason))
            asm.note(source.name, carried, reason)
        finally:
            with self._reader_lock:
                self._open_readers -= 1
                last = self._open_readers == 0
            if last:  # every source has ended: tell the workers (one end mark per face worker)
                for q in [video_q] * (self._face_workers if video_q is not None else 0) + audio_qs:
                    self._put(q, END, drop_oldest=False)

    def _route(self, item, source, asm: Assembler, video_q: queue.Queue | None, audio_qs: list[queue.Queue]) -> float:
        """One item of a source to where it goes; returns its time."""
        if isinstance(item, SourceStatus):  # a camera lost or back, a browser stream silent
            asm.status(source.name, SOURCES.get(source.name, MODALITIES), item.text)
            return item.t
        if isinstance(item, AudioEnd):  # read ahead of the video: the audio stages finish now
            for q in audio_qs:
                self._put(q, END, drop_oldest=False)
            return item.t
        if isinstance(item, Damage):  # skipped as undecodable: the windows mostly inside it say so
            asm.trouble(of_stream(item.stream), item.t, item.end, Reason(Absence.DAMAGED), share=0.5)
            return item.t
        if isinstance(item, Frame) and video_q is not None:
            self.stats.frames += 1
            self._put(video_q, item, drop_oldest=self.options.live)
        elif isinstance(item, AudioChunk):
            self.stats.audio_seconds += item.samples.size / SAMPLE_RATE
            for q in audio_qs:
                self._put(q, item, drop_oldest=False)
        span = (
            item.samples.size / SAMPLE_RATE
            if isinstance(item, AudioChunk)
            else 1.0 / getattr(source, "video_rate", VIDEO_RATE)
        )
        asm.saw(item.t + span)
        return item.t

    # -- events ------------------------------------------------------------------------------------

    def _assemble(
        self, asm: Assembler, on_event: Callable[[Event], None], sources: list, cut: threading.Event | None
    ) -> None:
        opts = self.options
        reading = True
        held: list[Event] = []
        """Offline, events held until ``batch`` windows are ready (or the input is over): each engine call costs
        about 30 ms whatever its size (2.4 ms more a window), and windows that came one or two at a time made
        33 calls of a 100 s talk."""
        while not self._stop.is_set():
            if reading and cut is not None and cut.is_set():
                self._cut(sources, asm)
                reading = False
            now = time.monotonic() - self._clock
            events = asm.ready(now if opts.live else None, limit=1 if opts.live else opts.batch)
            held += events
            if held and (opts.live or asm.done or sum(isinstance(e, WindowReady) for e in held) >= opts.batch):
                self._deliver(held, on_event, asm)
                held = []
            if events:
                continue
            if asm.finished:
                return
            time.sleep(0.01 if opts.live else OFFLINE_POLL_S)
        self._deliver(held, on_event, asm)

    def _deliver(self, events: list[Event], on_event: Callable[[Event], None], asm: Assembler) -> None:
        """``events`` to ``on_event``, the ready windows and utterances among them scored in one engine call."""
        ready = [e.window for e in events if isinstance(e, WindowReady | UtteranceReady)]
        for event in self._score(events, ready) if ready else events:
            on_event(event)
        if ready:  # a status or the face preview (15 a second live) frees nothing: no pruning for them
            asm.prune()
            self.stats.buffered.append(asm.buffered())

    def _score(self, events: list[Event], ready: list[Window]) -> list[Event]:
        """The ``ready`` windows and utterances of ``events`` scored in one engine call; the other events as
        they were."""
        start = time.perf_counter()
        try:
            scored = iter(self.scorer(ready, self._people))
        except Exception as exc:  # one bad batch must not end the stream: its windows say why, the next try again
            why = self._faults.report("engine", exc)
            scored = iter([Scores.failed(w, why) for w in ready])
        self._time("engine", time.perf_counter() - start)
        now = time.monotonic() - self._clock
        out: list[Event] = []
        for event in events:
            if isinstance(event, UtteranceReady):
                out.append(UtteranceScored(next(scored)))
            elif isinstance(event, WindowReady):
                out.append(WindowScored(self._finish(next(scored), now), self.stats.frames_dropped))
            else:
                out.append(event)
        return out

    def _finish(self, s: Scores, now: float) -> Scores:
        """A regular window's latency (live) and smoothed scores."""
        if self.options.live:
            s.latency = max(0.0, now - s.end)
            self.stats.latencies.append(s.latency)
        self.stats.windows += 1
        return self._smoother(s)
