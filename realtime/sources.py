"""Where frames and sound come from, behind one timestamped interface.

Every source yields :class:`Frame` (RGB at most ``VIDEO_RATE`` per second) and :class:`AudioChunk`
(16 kHz mono float32) items stamped in seconds on one clock: file time for a file, time since the
pipeline started for a camera or a microphone. A source that cannot open raises :class:`SourceError`
(one line: which device or file, and why); one that fails while running yields a :class:`SourceStatus`
saying so (and another, with ``text=None``, once it is back), retries where that makes sense, and
otherwise ends. The page's browser source lives here too (:class:`BrowserSource`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmsil.errors import DmsilError
from dmsil.features.audio import SAMPLE_RATE, to_mono_16k
from dmsil.features.media import (
    VIDEO_RATE,
    AudioChunk,
    AudioEnd,
    Damage,
    Frame,
    FrameGrid,
    ReadOptions,
    describe_damage,
    probe,
    read,
)

log = logging.getLogger(__name__)
MEDIA_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp", ".ts",
                  ".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus", ".wma")  # fmt: skip
"""The file types a folder is searched for and the page accepts (any ffmpeg-readable file can be named)."""


@dataclass
class SourceStatus:
    """A source's trouble (``text``), or ``None`` once it is well again: yielded in its stream."""

    t: float
    text: str | None


class SourceError(DmsilError):
    """A camera, microphone or file that cannot be read; the message names it and says why."""


class FileSource:
    """Any ffmpeg-readable file, demuxed in order; audio-only and video-only files are fine.

    ``pace=True`` releases items no faster than real time (a file standing in for a live camera + mic);
    ``loops`` plays it that many times back to back on one clock (0: until stopped), for soak runs.
    Damaged packets are skipped as ffmpeg does and reported as :class:`Damage` items (and in ``damage``).
    """

    name = "file"

    def __init__(
        self,
        path: str | Path,
        pace: bool = False,
        loops: int = 1,
        video_rate: float = VIDEO_RATE,
        max_side: int = 640,
        audio_lead: float = 0.0,
    ):
        import av

        self.path = Path(path)
        self.pace, self.loops, self.video_rate, self.max_side = pace, loops, video_rate, max_side
        self.audio_lead = audio_lead
        """Seconds the audio is read ahead of the video (:attr:`dmsil.features.media.ReadOptions.audio_lead`)."""
        self._stop = threading.Event()
        self.status: str | None = None
        self.damage: list[Damage] = []
        """The spans of the file that could not be decoded (known once a pass is over)."""
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise SourceError(f"{self.path}: is a directory")
        if self.path.stat().st_size == 0:
            raise SourceError(f"{self.path}: empty file")
        try:
            streams = probe(self.path)
        except av.error.FFmpegError as exc:
            raise SourceError(
                f"{self.path}: not a readable media file ({exc.strerror or type(exc).__name__})"
            ) from None
        if streams.text:
            raise SourceError(
                f"{self.path}: a text file, not a recording (a transcript is scored as .txt, .srt or .vtt)"
            )
        self.has_audio, self.has_video, self.duration = streams.has_audio, streams.has_video, streams.duration
        if not (self.has_audio or self.has_video):
            raise SourceError(f"{self.path}: no audio or video stream")

    def __iter__(self) -> Iterator[Frame | AudioChunk]:
        """The file once, or ``loops`` times back to back on one clock (0: until stopped)."""
        start = time.monotonic()
        k = 0
        while not self._stop.is_set() and (self.loops == 0 or k < self.loops):
            offset = k * self.duration
            for item in self._once():
                if isinstance(item, AudioEnd) and k + 1 != self.loops:  # another pass follows
                    continue
                item.t += offset
                if isinstance(item, Damage):
                    item.end += offset
                if self.pace:
                    wait = start + item.t - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                if self._stop.is_set():
                    return
                yield item
            k += 1

    def stop(self) -> None:
        self._stop.set()

    def _once(self) -> Iterator[Frame | AudioChunk | Damage]:
        """One pass over the file (:func:`dmsil.features.media.read`: damaged packets skipped and reported)."""
        import av

        damage: list[Damage] = []
        try:
            for item in read(self.path, ReadOptions(self.video_rate, self.max_side, audio_lead=self.audio_lead)):
                if isinstance(item, Damage):
                    damage.append(item)
                yield item
        except av.error.FFmpegError as exc:  # opened a moment ago, unreadable now (replaced, unmounted)
            self.status = f"{self.path}: cannot decode ({exc.strerror or type(exc).__name__})"
            raise SourceError(self.status) from None
        except SourceError:
            raise
        except Exception as exc:  # anything else while decoding: the file names itself in the reason
            raise SourceError(f"{self.path} failed: {type(exc).__name__}: {exc}") from None
        if damage and not self.damage:
            log.warning("%s", describe_damage(self.path, damage))
        self.damage = self.damage or damage


class CameraSource:
    """OpenCV ``VideoCapture``: a device index, a device path, a URL, or a video file played at its own pace.

    A device that stops delivering is reported in ``status`` and reopened every ``retry_s`` seconds until
    :meth:`stop`; a file or URL that ends ends the source.
    """

    name = "camera"
    has_audio, has_video = False, True

    def __init__(self, spec: int | str, clock_start: float, video_rate: float = VIDEO_RATE, retry_s: float = 2.0):
        self.spec, self.start, self.retry_s = spec, clock_start, retry_s
        self.is_file = isinstance(spec, str) and Path(spec).is_file()
        self.video_rate = video_rate
        self.status: str | None = None
        self._stop = threading.Event()
        self._cap = self._open()

    def _open(self):
        import cv2

        cap = cv2.VideoCapture(self.spec)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"camera {self.spec}: cannot be opened (no such device, file or stream)")
        return cap

    def stop(self) -> None:
        self._stop.set()

    def __iter__(self) -> Iterator[Frame | SourceStatus]:
        import cv2

        grid = FrameGrid(self.video_rate)
        fps = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
        file_start = time.monotonic()
        n = 0
        while not self._stop.is_set():
            ok, bgr = self._cap.read() if self._cap is not None else (False, None)
            if not ok:
                if self.is_file or isinstance(self.spec, str) and "://" in self.spec:
                    return
                if not self.status:
                    self.status = f"camera {self.spec}: lost; retrying every {self.retry_s:g} s"
                    log.warning(self.status)
                    yield SourceStatus(time.monotonic() - self.start, self.status)
                self._reopen()
                continue
            if self.status:
                log.info("camera %s: back", self.spec)
                self.status = None
                yield SourceStatus(time.monotonic() - self.start, None)
            if self.is_file:  # play at the file's own pace
                n += 1
                wait = file_start + n / fps - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            t = time.monotonic() - self.start
            if grid.keep(t):
                yield Frame(t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if self._cap is not None:
            self._cap.release()

    def _reopen(self) -> None:
        """After ``retry_s``, try the device again (``_cap`` stays None while it cannot be opened)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        if self._stop.wait(self.retry_s):
            return
        try:
            self._cap = self._open()
        except SourceError:
            self._cap = None


class MicSource:
    """A microphone through ``sounddevice`` at 16 kHz mono; an error mid-stream is reported and reopened."""

    name = "microphone"
    has_audio, has_video = True, False

    def __init__(self, device: int | str | None, clock_start: float, block_s: float = 0.1, retry_s: float = 2.0):
        self.device, self.start, self.block, self.retry_s = device, clock_start, int(SAMPLE_RATE * block_s), retry_s
        self.status: str | None = None
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=100)
        self._stream = self._open()

    def _open(self):
        try:
            import sounddevice as sd
        except OSError as exc:  # PortAudio library missing
            raise SourceError(f"microphone: sound system unavailable ({exc})") from None
        try:
            stream = sd.InputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="float32",
                device=self.device,
                blocksize=self.block,
                callback=self._callback,
            )
            stream.start()
        except Exception as exc:  # PortAudioError, ValueError for a bad device
            raise SourceError(f"microphone {self.device if self.device is not None else '(default)'}: {exc}") from None
        return stream

    def _callback(self, data, frames, when, flags) -> None:
        t = time.monotonic() - self.start - frames / SAMPLE_RATE
        try:
            self._queue.put_nowait(AudioChunk(t, data[:, 0].copy()))
        except queue.Full:
            pass  # the consumer is gone or stuck: never block the audio thread

    def stop(self) -> None:
        self._stop.set()

    def __iter__(self) -> Iterator[AudioChunk | SourceStatus]:
        while not self._stop.is_set():
            try:
                yield self._queue.get(timeout=0.5)
                continue
            except queue.Empty:
                pass
            if self._stream is not None and self._stream.active:
                continue
            if not self.status:
                self.status = f"microphone {self.device}: stream stopped; retrying every {self.retry_s:g} s"
                log.warning(self.status)
                yield SourceStatus(time.monotonic() - self.start, self.status)
            if self._stop.wait(self.retry_s):
                break
            try:
                self._stream = self._open()
                self.status = None
                yield SourceStatus(time.monotonic() - self.start, None)
            except SourceError:
                self._stream = None
        if self._stream is not None:
            self._stream.close()


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
        for device in ("camera", "microphone"):  # each has a Record button that turns into Stop while streaming
            last = self._arrived.get(device)
            if last is None:
                problems.append(f"nothing from your {device} yet (press Record, or Stop then Record)")
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

    def __iter__(self) -> Iterator[Frame | AudioChunk | SourceStatus]:
        """What the page pushed, and a :class:`SourceStatus` whenever :attr:`status` changes (checked at
        least every 0.2 s)."""
        said: str | None = None
        while not self._stop.is_set():
            status = self.status
            if status != said:
                said = status
                yield SourceStatus(time.monotonic() - self.start, status)
            try:
                yield self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
