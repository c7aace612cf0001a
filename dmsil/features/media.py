"""Decoding any ffmpeg-readable file once with PyAV: 16 kHz mono audio and RGB frames on a fixed time grid.

Packets are decoded one by one and a damaged one is skipped, as ffmpeg does, so a recording with a
glitch keeps everything around it (:func:`read`, the one decode path for training and scoring).

Frames are kept at ``video_rate`` per second at most (the nearest decoded frame at or after each grid
time), so a 60 fps phone clip and a 25 fps webcam give the model the same frame spacing. Large frames are
scaled down so the longer side is at most ``max_side``, which is what the face tracker needs.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dmsil.errors import DataError
from dmsil.features.audio import SAMPLE_RATE

log = logging.getLogger(__name__)
VIDEO_RATE = 15.0
"""Face frames per second used for training and live use (a webcam gives at least this many)."""


@dataclass
class Clip:
    path: Path
    audio: np.ndarray | None
    """16 kHz mono float32, or None when the file has no audio stream."""
    frame_times: list[float] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    """RGB uint8 frames at ``frame_times`` (seconds from the start), unless a callback consumed them."""
    duration: float = 0.0
    damage: list[Damage] = field(default_factory=list)
    """Spans that could not be decoded and were skipped."""

    @property
    def has_video(self) -> bool:
        return bool(self.frame_times)


def upright_rgb(frame, width: int | None = None, height: int | None = None) -> np.ndarray:
    """A decoded frame as RGB, turned the way its display rotation says (phone videos are stored sideways
    with a rotation flag; the expression classifier needs faces upright)."""
    rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
    turns = (-round((getattr(frame, "rotation", 0) or 0) / 90)) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


class FrameGrid:
    """Keeps frames on a ``rate`` grid: the first frame at or after each grid time."""

    def __init__(self, rate: float):
        self.step, self.next_t = 1.0 / rate, None

    def keep(self, t: float) -> bool:
        if self.next_t is None:
            self.next_t = t
        if t + 1e-6 < self.next_t:
            return False
        while self.next_t <= t + 1e-6:
            self.next_t += self.step
        return True


def sampled_rgb(frame, max_side: int) -> np.ndarray:
    """A decoded frame as upright RGB, scaled down (to even sides) so its longer side is at most ``max_side``."""
    scale = min(1.0, max_side / max(frame.width, frame.height))
    width, height = int(round(frame.width * scale / 2) * 2), int(round(frame.height * scale / 2) * 2)
    if (width, height) == (frame.width, frame.height):  # asking for the size it has costs 4x (PyAV 18, 640x480)
        return upright_rgb(frame)
    return upright_rgb(frame, width, height)


@dataclass
class Frame:
    t: float
    rgb: np.ndarray


@dataclass
class AudioChunk:
    t: float
    """Time of the first sample."""
    samples: np.ndarray
    """16 kHz mono float32."""


@dataclass
class AudioEnd:
    """The file's audio is over, said while video is still to come (only when the audio runs ahead:
    :attr:`ReadOptions.audio_lead`), so what reads the audio can finish while the video is read."""

    t: float


@dataclass
class Damage:
    """A span of one stream that could not be decoded: its packets were skipped and decoding went on."""

    t: float
    """Where the damage starts (seconds)."""
    end: float
    stream: str
    """``audio`` or ``video``."""


@dataclass(frozen=True)
class ReadOptions:
    video_rate: float = VIDEO_RATE
    max_side: int = 640
    """Frames are scaled down so their longer side is at most this (what the face tracker needs)."""
    max_failures: int = 100
    """Consecutive packets that fail to decode (or reads that fail) before the rest of the file is given up."""
    gap: float = 0.1
    """Audio that resumes this much later than the samples so far is preceded by silence for the gap, so
    lost audio does not pull what follows earlier."""
    video: bool = True
    """False: the audio stream only (the speakers of a recording are read from its sound alone)."""
    audio_lead: float = 0.0
    """Seconds the audio is given out ahead of the video: the file's video packets (compressed, small) are
    held back, up to this many seconds of them, and the audio beside them given out. Offline, the recognizer
    decodes the sound in blocks of 20 s and would otherwise decode its last block alone after the video."""


def read(path: str | Path, options: ReadOptions | None = None) -> Iterator[Frame | AudioChunk | AudioEnd | Damage]:
    """The first video and audio stream of a file, packet by packet in file order (the video held back by
    ``audio_lead``, with :class:`AudioEnd` once the audio is over): :class:`Frame` on the ``video_rate`` grid,
    :class:`AudioChunk` (16 kHz mono, on the file's clock) and, after the fact, :class:`Damage` for each span
    that could not be decoded.

    Like ffmpeg, a packet that fails to decode is skipped and decoding goes on; only ``max_failures`` failures
    in a row end it. A frame stamped past the end the file declares (a damaged timestamp) is skipped too.
    A stream that stops more than a second before its declared end (a cut-off file) is damaged from
    there. The one decode path for training (:func:`decode`), offline scoring and the live file source.
    Raises ``av.error.FFmpegError`` only when the file cannot be opened.
    """
    import av

    opts = options or ReadOptions()
    with av.open(str(path)) as container:
        streams = [*(container.streams.video[:1] if opts.video else ()), *container.streams.audio[:1]]
        start = float(container.start_time or 0) / 1e6
        declared = {s.type: _declared_end(s, container) for s in streams}
        state = _ReadState(opts, [s.type for s in streams], start, max(declared.values(), default=math.inf) + 1.0)
        packets = container.demux(streams)
        lead = opts.audio_lead if len(streams) == 2 else 0.0
        held: deque = deque()
        """Video packets held back, in file order, each with its time (worked out once: a Fraction product)."""
        while state.failures < opts.max_failures:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError:  # a read that fails: ffmpeg resyncs on the next call
                state.failures += 1
                packets = container.demux(streams)
                continue
            if lead and packet.stream.type == "video":
                held.append((_packet_time(packet), packet))
            else:
                yield from state.decoded(packet)
            while held and held[-1][0] - held[0][0] > lead:
                yield from state.decoded(held.popleft()[1])
        if held:
            yield from state.tail()
            yield AudioEnd(state.last["audio"])
        while held and state.failures < opts.max_failures:
            yield from state.decoded(held.popleft()[1])
        yield from state.finish(declared, bool(container.streams.audio))


def _packet_time(packet) -> float:
    """Seconds (a packet without a time, such as the end-of-stream one: 0)."""
    stamp = packet.dts if packet.dts is not None else packet.pts
    return float(stamp * packet.time_base) if stamp is not None and packet.time_base else 0.0


class _ReadState:
    """What :func:`read` tracks while it walks the packets: each stream's clock, its damaged span if one is
    open, the failures in a row, and how much 16 kHz audio has been given out."""

    def __init__(self, opts: ReadOptions, kinds: list[str], start: float, limit: float):
        self.opts, self.limit = opts, limit
        self.grid, self.resample = FrameGrid(opts.video_rate), MonoResampler()
        self.samples_out, self.failures = 0, 0
        self.flushed = False
        """The resampler's tail has been given out."""
        self.last = {kind: start for kind in kinds}
        self.broken: dict[str, float] = {}
        """Stream -> where its current damaged span began."""

    def decoded(self, packet) -> Iterator[Frame | AudioChunk | Damage]:
        """One packet's frames (a failed or partly past-the-end decode counts as a failure and opens damage)."""
        import av

        kind = packet.stream.type
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            frames = None
        good = [f for f in frames or () if f.time is None or f.time <= self.limit]
        if frames is None or len(good) < len(frames):
            self.failures += 1
            self.broken.setdefault(kind, self.last[kind])
        for frame in good:
            self.failures = 0
            t = float(frame.time) if frame.time is not None else self.last[kind]
            lost_since = self.broken.pop(kind, None)
            if lost_since is not None:
                yield Damage(lost_since, t, kind)
            if kind == "video":
                yield from self._video(frame, t)
            else:
                yield from self._audio(frame, t, resumed=lost_since is not None)

    def _video(self, frame, t: float) -> Iterator[Frame]:
        self.last["video"] = max(self.last["video"], t)
        if self.grid.keep(t):
            yield Frame(t, sampled_rgb(frame, self.opts.max_side))

    def _audio(self, frame, t: float, resumed: bool) -> Iterator[AudioChunk]:
        gap = t - self.samples_out / SAMPLE_RATE
        if gap > self.opts.gap and (self.samples_out == 0 or resumed):
            # audio that starts late, or resumes after lost packets: silence keeps it on the clock
            yield AudioChunk(self.samples_out / SAMPLE_RATE, np.zeros(int(gap * SAMPLE_RATE), np.float32))
            self.samples_out += int(gap * SAMPLE_RATE)
        x = self.resample(frame)
        if x.size:
            yield AudioChunk(self.samples_out / SAMPLE_RATE, x)
            self.samples_out += x.size
        self.last["audio"] = self.samples_out / SAMPLE_RATE

    def tail(self) -> Iterator[AudioChunk]:
        """The resampler's last samples (once)."""
        if self.flushed:
            return
        self.flushed = True
        rest = self.resample(None)
        if rest.size:
            yield AudioChunk(self.samples_out / SAMPLE_RATE, rest)
            self.last["audio"] = (self.samples_out + rest.size) / SAMPLE_RATE

    def finish(self, declared: dict[str, float], has_audio: bool) -> Iterator[AudioChunk | Damage]:
        """The resampler's tail, then the damage still open: given up, or a stream that stops short of its end."""
        if has_audio:
            yield from self.tail()
        for kind, end in declared.items():
            if kind not in self.broken and (self.failures >= self.opts.max_failures or end - self.last[kind] > 1.0):
                self.broken[kind] = self.last[kind]  # given up, or the file stops short of its end: the rest is lost
            if kind in self.broken:
                yield Damage(self.broken[kind], max(end if end < math.inf else 0.0, self.last[kind]), kind)


def _declared_end(stream, container) -> float:
    """Where the file says ``stream`` ends (seconds), from the stream's own duration or the container's;
    infinite when neither is known (a live capture, a raw stream)."""
    if stream.duration and stream.time_base:
        return float((stream.start_time or 0) * stream.time_base + stream.duration * stream.time_base)
    if container.duration:
        return float(container.start_time or 0) / 1e6 + container.duration / 1e6
    return math.inf


@dataclass(frozen=True)
class Streams:
    """What a file holds, from its header: the one place that asks."""

    has_audio: bool
    has_video: bool
    duration: float
    """Seconds, as the container declares it (0 when it does not)."""
    text: bool = False
    """A text file that ffmpeg would render as a video of its characters (its ``tty`` demuxer)."""


def probe(path: str | Path) -> Streams:
    """The file's streams and declared length; raises ``av.error.FFmpegError`` when it cannot be opened."""
    import av

    with av.open(str(path)) as container:
        streams = container.streams
        duration = float(container.duration or 0) / 1e6
        return Streams(bool(streams.audio), bool(streams.video), duration, container.format.name == "tty")


def describe_damage(path: str | Path, damage: list[Damage]) -> str:
    """One line for the log: how much of each stream of ``path`` was skipped."""
    lost = {}
    for d in damage:
        lost[d.stream] = lost.get(d.stream, 0.0) + max(0.0, d.end - d.t)
    parts = ", ".join(f"{lost[s]:.2f} s of {s}" for s in sorted(lost))
    return f"{path}: damaged: {len(damage)} span(s) could not be decoded ({parts}); decoding went on past them"


def decode(
    path: str | Path,
    video_rate: float = VIDEO_RATE,
    max_side: int = 640,
    on_frame: Callable[[float, np.ndarray], None] | None = None,
) -> Clip:
    """The file's audio (16 kHz mono) and sampled frames; a one-line :class:`DataError` if it cannot be read.

    With ``on_frame``, each sampled frame is handed to it and not kept (long files stay small in memory).
    Damaged parts are skipped (:func:`read`), listed in ``Clip.damage`` and logged in one line.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    clip, audio = Clip(path, None), []
    try:
        streams = probe(path)
        for item in read(path, ReadOptions(video_rate, max_side)):
            if isinstance(item, Frame):
                clip.frame_times.append(item.t)
                if on_frame is None:
                    clip.frames.append(item.rgb)
                else:
                    on_frame(item.t, item.rgb)
            elif isinstance(item, AudioChunk):
                audio.append(item.samples)
            else:
                clip.damage.append(item)
    except av.error.FFmpegError as exc:
        raise DataError(f"{path}: cannot decode ({exc.strerror or type(exc).__name__})") from None
    if streams.has_audio:
        clip.audio = np.concatenate(audio) if audio else np.zeros(0, np.float32)
    if clip.audio is None and not clip.frame_times:
        raise DataError(f"{path}: no audio or video stream")
    if clip.damage:
        log.warning("%s", describe_damage(path, clip.damage))
    audio_s = 0.0 if clip.audio is None else clip.audio.size / SAMPLE_RATE
    clip.duration = max(streams.duration, audio_s, clip.frame_times[-1] + 1 / video_rate if clip.frame_times else 0.0)
    return clip


class MonoResampler:
    """Decoded audio frames -> 16 kHz mono float32, streaming (FFmpeg's swresample keeps its state across
    frames). The one path from a file's sound to the models: training (:func:`decode`, ``dmsil.prepare``)
    and scoring (``realtime.sources.FileSource``) hear the same samples."""

    def __init__(self):
        self._resampler = None
        self._input: tuple | None = None

    def __call__(self, frame) -> np.ndarray:
        """The samples for ``frame``; ``None`` flushes what the resampler still holds (end of stream).

        A frame in another format, layout or rate than the ones before (a stream that changes them, or a
        damaged frame that claims to) gets a resampler of its own, after the old one is flushed."""
        import av

        out = []
        if frame is not None:
            fmt = (frame.format.name, frame.layout.name, frame.sample_rate)
            if fmt != self._input:
                out += self._resample(None)
                self._resampler, self._input = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE), fmt
        out += self._resample(frame)
        return np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros(0, np.float32)

    def _resample(self, frame) -> list[np.ndarray]:
        if self._resampler is None:
            return []
        return [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
