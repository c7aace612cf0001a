"""Decoding any ffmpeg-readable file once with PyAV: 16 kHz mono audio and RGB frames on a fixed time grid.

Frames are kept at ``video_rate`` per second at most (the nearest decoded frame at or after each grid
time), so a 60 fps phone clip and a 25 fps webcam give the model the same frame spacing. Large frames are
scaled down so the longer side is at most ``max_side``, which is what the face tracker needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dmsil.errors import DataError
from dmsil.features.audio import SAMPLE_RATE

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
    return upright_rgb(frame, width, height)


def iter_frames(container, stream, video_rate: float, max_side: int) -> Iterator[tuple[float, np.ndarray]]:
    """(time, RGB frame) pairs on a ``video_rate`` grid from a PyAV video stream."""
    grid = FrameGrid(video_rate)
    for frame in container.decode(stream):
        t = float(frame.time) if frame.time is not None else 0.0
        if grid.keep(t):
            yield t, sampled_rgb(frame, max_side)


def decode(
    path: str | Path,
    video_rate: float = VIDEO_RATE,
    max_side: int = 640,
    on_frame: Callable[[float, np.ndarray], None] | None = None,
) -> Clip:
    """The file's audio (16 kHz mono) and sampled frames; a one-line :class:`DataError` if it cannot be read.

    With ``on_frame``, each sampled frame is handed to it and not kept (long files stay small in memory).
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    clip = Clip(path, None)
    try:
        with av.open(str(path)) as container:
            if container.streams.audio:
                clip.audio = _decode_audio(container, container.streams.audio[0])
            if container.streams.video:
                container.seek(0)
                for t, rgb in iter_frames(container, container.streams.video[0], video_rate, max_side):
                    clip.frame_times.append(t)
                    if on_frame is None:
                        clip.frames.append(rgb)
                    else:
                        on_frame(t, rgb)
            duration = float(container.duration or 0) / 1e6
    except av.error.FFmpegError as exc:
        raise DataError(f"{path}: cannot decode ({exc.strerror or type(exc).__name__})") from None
    if clip.audio is None and not clip.frame_times:
        raise DataError(f"{path}: no audio or video stream")
    audio_s = 0.0 if clip.audio is None else clip.audio.size / SAMPLE_RATE
    clip.duration = max(duration, audio_s, clip.frame_times[-1] + 1 / video_rate if clip.frame_times else 0.0)
    return clip


class MonoResampler:
    """Decoded audio frames -> 16 kHz mono float32, streaming (FFmpeg's swresample keeps its state across
    frames). The one path from a file's sound to the models: training (:func:`decode`, ``dmsil.prepare``)
    and scoring (``realtime.sources.FileSource``) hear the same samples."""

    def __init__(self):
        import av

        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)

    def __call__(self, frame) -> np.ndarray:
        """The samples for ``frame``; ``None`` flushes what the resampler still holds (end of stream)."""
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros(0, np.float32)


def _decode_audio(container, stream) -> np.ndarray:
    """All audio of a stream as 16 kHz mono (:class:`MonoResampler`)."""
    resample = MonoResampler()
    chunks = [resample(frame) for frame in container.decode(stream)]
    chunks.append(resample(None))
    return np.concatenate(chunks)
