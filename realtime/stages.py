"""The extraction stages and the thread that runs one: frames and audio in, streams of the assembler out.

Every stage implements :class:`Stage`: opened (models loaded) in its own thread, handed one input at a
time, told when the input is over, closed. :func:`run_stage` is the only threaded code: it feeds a stage
from its queue until the input ends or the pipeline stops, times it, and, if the stage dies, says so in
the windows its modalities touch and keeps emptying the queue so no reader blocks. A stage handles its
own per-item failures (one bad frame, one block the recognizer cannot decode) and reports them through
:class:`Faults`, so one bad item costs only the windows it touches.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from dmsil.features.asr import ASROptions, BlockTranscriber, IncrementalTranscriber, Transcriber, Word, load_transcriber
from dmsil.features.audio import SAMPLE_RATE
from dmsil.features.media import VIDEO_RATE
from realtime.modalities import Absence, Reason, of_stage
from realtime.sources import AudioChunk, Frame
from realtime.windows import Assembler

log = logging.getLogger(__name__)
END = object()
"""Put on a stage's queue after the last input."""


class Faults:
    """Failures by stage: the first of each is logged, kept in :attr:`errors` and told to the viewer
    (``on_first(stage, reason)``); the rest are counted."""

    def __init__(self, errors: list[str] | None = None, on_first: Callable[[str, str], None] | None = None) -> None:
        self.errors = [] if errors is None else errors
        """One line per first failure; pass a list to share it (the pipeline's ``stats.errors``)."""
        self.on_first = on_first
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def report(self, stage: str, exc: Exception) -> Reason:
        """Returns the reason the windows show (one line)."""
        reason = f"{stage} failed: {type(exc).__name__}: {exc}".splitlines()[0]
        with self._lock:
            self.counts[stage] = self.counts.get(stage, 0) + 1
            first = self.counts[stage] == 1
            if first:
                self.errors.append(reason)
        if first:
            log.warning("%s (logged once; the pipeline goes on)", reason)
            if self.on_first is not None:
                self.on_first(stage, reason)
        return Reason(Absence.FAILED, reason)


class Stage(Protocol):
    name: str
    """``face``, ``asr`` or ``acoustic``: the assembler stream it fills (:data:`realtime.modalities.STAGE`)."""

    def __enter__(self) -> Stage:
        """Load the models (in the stage's own thread)."""

    def __exit__(self, *exc) -> None:
        """Release them."""

    def push(self, item: Frame | AudioChunk, asm: Assembler) -> None:
        """Extract from one input, add it to the assembler and advance the stream's watermark."""

    def end(self, asm: Assembler) -> None:
        """The input is over (not called on a stop): flush what is buffered, finish the stream."""


class FaceStage:
    """Face Mesh vectors, one per frame (the largest face's, and every face as a sighting for
    :mod:`realtime.faces`); several face stages may take turns on one queue (``index``).
    Live (``preview``), each frame read goes to the assembler with what was found, for the page's picture.
    ``hold``: frames read at 1/``hold`` of ``VIDEO_RATE`` (offline, to save Face Mesh's time) stand for the
    ``hold`` frames the video head sees until the next one, so its input keeps the rate it was trained at."""

    name = "face"

    def __init__(self, faults: Faults, index: int = 0, preview: bool = False, hold: int = 1):
        self.faults, self.index, self.preview, self.hold = faults, index, preview, max(1, hold)

    def __enter__(self) -> FaceStage:
        from dmsil.features.face import FaceExtractor

        self._extractor = FaceExtractor().__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._extractor.__exit__(*exc)

    def push(self, frame: Frame, asm: Assembler) -> None:
        from dmsil.features.face import largest
        from realtime.faces import Sighting

        times = [frame.t + k / VIDEO_RATE for k in range(self.hold)]  # the frames this reading stands for
        try:
            faces = self._extractor.all(frame.rgb)
            found = largest(faces)
            for t in times:
                asm.add("face", t, found.vector)
                asm.add("faces", t, [Sighting(t, f.box, f.look, f.vector, f is found) for f in faces if f.present])
            if self.preview:
                asm.read_face(frame, found)
        except Exception as exc:  # one bad frame: the windows around it say why
            asm.trouble(("video",), frame.t, frame.t + self.hold / VIDEO_RATE, self.faults.report("face", exc))
        asm.advance("face", times[-1], self.index)

    def end(self, asm: Assembler) -> None:
        asm.advance("face", math.inf, self.index)


class ASRStage:
    """Words in stream time: live, a rolling buffer decoded every second with its unconfirmed words;
    offline, blocks decoded once."""

    name = "asr"

    def __init__(
        self,
        options: ASROptions,
        live: bool,
        faults: Faults,
        load: Callable[[ASROptions], Transcriber] = load_transcriber,
    ):
        self.options, self.live, self.faults, self.load = options, live, faults, load
        self._first_t: float | None = None
        """Stream time of the transcriber's sample 0."""

    def __enter__(self) -> ASRStage:
        transcriber = self.load(self.options)
        self._asr = IncrementalTranscriber(transcriber) if self.live else BlockTranscriber(transcriber)
        return self

    def __exit__(self, *exc) -> None:
        pass

    def push(self, chunk: AudioChunk, asm: Assembler) -> None:
        if self._first_t is None:
            self._first_t = chunk.t
        try:
            self._add(asm, self._asr.push(chunk.samples, SAMPLE_RATE))
            if self.live:
                asm.set_tentative(self._shift(self._asr.tentative), self._first_t + self._asr.heard_until)
        except Exception as exc:  # the words of that audio are lost; the windows over it say why
            span = self._lost(chunk.t, chunk.t + chunk.samples.size / SAMPLE_RATE)
            asm.trouble(("text",), *span, self.faults.report("asr", exc))
        asm.advance("asr", self._first_t + self._asr.done_until)

    def end(self, asm: Assembler) -> None:
        if self._first_t is not None:
            try:
                self._add(asm, self._asr.flush())
                asm.set_tentative([], math.inf)
            except Exception as exc:
                buffered = getattr(self._asr, "buffered_seconds", 0.0)
                asm.trouble(("text",), *self._lost(asm.seen_until - buffered, math.inf), self.faults.report("asr", exc))
        asm.finish("asr")

    def _shift(self, words: list[Word]) -> list[Word]:
        return [Word(self._first_t + w.start, self._first_t + w.end, w.text, w.probability) for w in words]

    def _add(self, asm: Assembler, words: list[Word]) -> None:
        for w in self._shift(words):
            asm.add_word(w)

    def _lost(self, start: float, end: float) -> tuple[float, float]:
        """The audio whose words a failed decode lost: the block that failed, else the given span."""
        block = getattr(self._asr, "last_block", None)
        return (self._first_t + block[0], self._first_t + block[1]) if block else (start, end)


class AcousticStage:
    """Acoustic frames (for the voice head, or a checkpoint whose audio head was trained), extracted in
    blocks of ``block_s`` seconds: live 1 s, so the gauge follows; offline longer, since each openSMILE
    call costs about 12 ms of its own (19 ms a second of audio in 10 s blocks, 32 ms in 1 s blocks)."""

    name = "acoustic"

    def __init__(self, faults: Faults, block_s: float = 1.0):
        self.faults, self.block_s = faults, block_s
        self._pending: list[np.ndarray] = []
        self._t0: float | None = None

    def __enter__(self) -> AcousticStage:
        from dmsil.features.audio import AcousticExtractor

        self._extractor = AcousticExtractor()
        return self

    def __exit__(self, *exc) -> None:
        pass

    def push(self, chunk: AudioChunk, asm: Assembler) -> None:
        self._t0 = chunk.t if self._t0 is None else self._t0
        self._pending.append(chunk.samples)
        if sum(p.size for p in self._pending) >= self.block_s * SAMPLE_RATE:
            self._block(asm)

    def end(self, asm: Assembler) -> None:
        if self._pending:
            self._block(asm)
        asm.finish("acoustic")

    def _block(self, asm: Assembler) -> None:
        from dmsil.features.audio import FRAME_RATE

        samples, t0 = np.concatenate(self._pending), self._t0
        self._pending = []
        try:
            frames = self._extractor(samples)
        except Exception as exc:
            frames = []
            asm.trouble(("audio",), t0, t0 + samples.size / SAMPLE_RATE, self.faults.report("acoustic", exc))
        for i, f in enumerate(frames):
            asm.add("acoustic", t0 + i / FRAME_RATE, f)
        self._t0 = t0 + samples.size / SAMPLE_RATE
        asm.advance("acoustic", self._t0)


def items(q: queue.Queue, stop: threading.Event) -> Iterator:
    """What arrives on ``q`` until :data:`END` or ``stop``."""
    while not stop.is_set():
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            continue
        if item is END:
            return
        yield item


def run_stage(
    stage: Stage,
    q: queue.Queue,
    asm: Assembler,
    stop: threading.Event,
    faults: Faults,
    timed: Callable[[str, float], None],
) -> None:
    """Feed ``stage`` from ``q`` until its input ends (then :meth:`Stage.end`) or ``stop``; the body of a
    stage's thread. ``timed(stage name, seconds)`` adds up its working time."""
    try:
        with stage:
            for item in items(q, stop):
                start = time.perf_counter()
                stage.push(item, asm)
                timed(stage.name, time.perf_counter() - start)
            if not stop.is_set():
                start = time.perf_counter()
                stage.end(asm)
                timed(stage.name, time.perf_counter() - start)
    except Exception as exc:  # a model that will not load, a bug: its modalities say why, the rest go on
        log.debug("%s stage stopped", stage.name, exc_info=True)
        asm.trouble(of_stage(stage.name), -math.inf, math.inf, faults.report(stage.name, exc))
        asm.finish(stage.name)
        for _ in items(q, stop):
            pass


class SpeakerStage:
    """Live: who is speaking, from the voices (:class:`realtime.speakers.LiveSpeakers`); the assembler
    attributes words and windows to the turns it is given. Offline the whole recording is diarized
    instead, in a thread beside the stages (:meth:`realtime.pipeline.Pipeline.run` ``turns=``)."""

    name = "speaker"

    def __init__(self, faults: Faults, options=None):
        self.faults, self.options = faults, options

    def __enter__(self) -> SpeakerStage:
        from realtime.speakers import LiveSpeakers, diarizer

        diarizer()
        self._speakers = LiveSpeakers(self.options)
        return self

    def __exit__(self, *exc) -> None:
        pass

    def push(self, chunk: AudioChunk, asm: Assembler) -> None:
        try:
            if self._speakers.add(chunk.t, chunk.samples):
                asm.set_turns(self._speakers.turns, self._speakers.until)
        except Exception as exc:  # words are still scored, only not told apart
            self.faults.report(self.name, exc)

    def end(self, asm: Assembler) -> None:
        pass
