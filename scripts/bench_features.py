"""Throughput of every feature extractor on this machine, one table and a JSON file.

    .venv/bin/python scripts/bench_features.py [--json-out FILE]

ASR: real-time factor (processing seconds per second of audio; < 1 is faster than real time) for each
backend and packaged model on ~12 s of espeak-ng speech. Face: ms per 640x480 frame for Face Mesh in
tracking (video) and static (detection every frame) mode, pinned to one core, and the FER2013
classifier per face crop. Acoustic: eGeMAPS + MFCC real-time factor. Text: encoder ms per sentence.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from dmsil.cli import add_verbosity, setup_logging
from dmsil.features import versions
from dmsil.features.asr import ASROptions, load_transcriber
from dmsil.features.audio import SAMPLE_RATE, AcousticExtractor, to_mono_16k

SENTENCES = (
    "I wanted to like this film, but it never came together. "
    "The actors were wonderful and the music was lovely. "
    "Still, the ending felt rushed and I left disappointed."
)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_asr(audio: np.ndarray, repeats: int) -> dict[str, float]:
    seconds = audio.size / SAMPLE_RATE
    out = {}
    for backend in ("openai-whisper", "faster-whisper"):  # after CTranslate2's, torch's whisper ran 10x slower
        for model in ("tiny.en", "base"):
            tr = load_transcriber(ASROptions(backend=backend, model=model, language="en"))
            tr.transcribe(audio, SAMPLE_RATE)  # warm-up
            out[f"{backend} {model}"] = median_time(lambda tr=tr: tr.transcribe(audio, SAMPLE_RATE), repeats) / seconds
    return out


def bench_face(repeats: int) -> dict[str, float]:
    from dmsil.features.face import ExpressionClassifier, FaceExtractor, FaceOptions
    from realtime.demo import face_frames

    frames = face_frames(repeats + 10)
    out = {}
    for name, options in (
        ("tracking, 1 face", FaceOptions(max_faces=1)),
        ("tracking, up to 4 faces", FaceOptions()),
        ("tracking, up to 4, detector every frame", FaceOptions(look_every=1)),  # MediaPipe's own way
        ("static (detection every frame)", FaceOptions(static_image_mode=True)),
    ):
        with FaceExtractor(options) as face:
            for f in frames[:10]:
                face(f)
            start = time.perf_counter()
            for f in frames[10:]:
                face(f)
            out[name] = (time.perf_counter() - start) / repeats * 1000
    classifier = ExpressionClassifier()
    crop = np.random.default_rng(0).integers(0, 255, (120, 120), dtype=np.uint8)
    classifier(crop)
    out["expression classifier per face"] = median_time(lambda: classifier(crop), repeats) * 1000
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="ASR / text repeats (face: 100 frames per mode x this / 3)")
    p.add_argument("--json-out", default=str(Path(__file__).parent / "results" / "bench_features.json"))
    add_verbosity(p)
    args = p.parse_args()
    setup_logging(args, logging.WARNING)
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the budget states
    torch.set_num_threads(1)  # its pool was sized to every core at import: two threads on one core spin (40x)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "talk.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), SENTENCES], check=True)
        raw, sr = sf.read(wav, dtype="float32")
    audio = to_mono_16k(raw, sr)
    seconds = audio.size / SAMPLE_RATE
    acoustic = AcousticExtractor()
    from dmsil.features.text import TextFeaturizer

    text = TextFeaturizer()
    sentence = SENTENCES.split(". ")[0]
    text.states([sentence])
    report = {
        "cores": 1,
        "audio_seconds": seconds,
        "versions": versions(),
        "face_ms_per_frame_640x480": bench_face(max(100, 100 * args.repeats // 3)),
        "acoustic_rtf": median_time(lambda: acoustic(audio), args.repeats * 3) / seconds,
        "text_encoder_ms_per_sentence": median_time(lambda: text.states([sentence]), args.repeats * 10) * 1000,
    }
    report["asr_rtf"] = bench_asr(audio, args.repeats)  # last: the recognizers' threads slowed what came after
    print(f"\nFeature extractors on one core ({seconds:.1f} s of espeak-ng speech; 640x480 frames)")
    print(f"{'extractor':<44}{'figure':>12}  unit")
    for name, rtf in report["asr_rtf"].items():
        print(f"{'ASR ' + name:<44}{rtf:>12.3f}  real-time factor")
    for name, ms in report["face_ms_per_frame_640x480"].items():
        unit = "ms/face" if "classifier" in name else f"ms/frame ({1000 / ms:.0f} fps)"
        print(f"{'face ' + name:<44}{ms:>12.2f}  {unit}")
    print(f"{'acoustic eGeMAPS + MFCC':<44}{report['acoustic_rtf']:>12.4f}  real-time factor")
    print(f"{'text encoder (all-MiniLM-L6-v2)':<44}{report['text_encoder_ms_per_sentence']:>12.1f}  ms/sentence")
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.json_out}")


if __name__ == "__main__":
    main()
