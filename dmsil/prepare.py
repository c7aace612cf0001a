"""Turn labelled videos into a feature store with the project's own extractors (like MMSA-FET).

    python -m dmsil.prepare --labels label.csv --raw Raw/ --out STORE [--workers 2] [--asr faster-whisper]

``label.csv`` has ``video_id, clip_id, text, label, mode`` (mode: train/valid/test; optional
``label_T, label_A, label_V``) and each clip is ``Raw/<video_id>/<clip_id>.<ext>`` (any format ffmpeg
reads). Every clip is decoded once; the transcript is the ``text`` column, or ASR where it is empty. A
re-run skips clips already done; bad clips are skipped, listed at the end and in ``STORE/failed.json``.
The store is read by ``python -m dmsil.train --data STORE`` like an MMSA pickle.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import logging
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dmsil import cluster
from dmsil.cli import add_asr_arguments, add_verbosity, asr_options, setup_logging
from dmsil.data.mmsa import SPLITS
from dmsil.data.store import FAILED, FORMAT, META, clip_path, write_clip
from dmsil.errors import DataError, DmsilError
from dmsil.features.asr import ASROptions

log = logging.getLogger(__name__)
REQUIRED = ("video_id", "clip_id", "text", "label", "mode")


@dataclass(frozen=True)
class PrepareOptions:
    text_model: str | None = None
    """Encoder folder for token ids and frozen states; None = the packaged all-MiniLM-L6-v2."""
    text_max_length: int = 50
    asr: ASROptions | None = None


def read_labels(path: Path) -> list[dict]:
    """Rows of label.csv, checked; one-line errors name the file, the line and the problem."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
            rows = []
            for line, raw in enumerate(reader, start=2):
                rows.append(_row(raw, f"{path}:{line}"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 CSV ({exc.reason})") from None
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def _row(raw: dict, where: str) -> dict:
    mode = (raw["mode"] or "").strip().lower()
    if mode not in SPLITS:
        raise DataError(f"{where}: mode {raw['mode']!r} is not one of {', '.join(SPLITS)}")
    row = {"video_id": raw["video_id"].strip(), "clip_id": raw["clip_id"].strip(), "text": (raw["text"] or "").strip()}
    if not row["video_id"] or not row["clip_id"]:
        raise DataError(f"{where}: empty video_id or clip_id")
    row["mode"] = mode
    for key in ("label", "label_T", "label_A", "label_V"):
        value = (raw.get(key) or "").strip()
        try:
            row[key] = float(value) if value else None
        except ValueError:
            raise DataError(f"{where}: {key} {value!r} is not a number") from None
    if row["label"] is None:
        raise DataError(f"{where}: empty label")
    return row


def find_clip(raw_dir: Path, row: dict) -> Path:
    folder = raw_dir / row["video_id"]
    exact = folder / f"{row['clip_id']}.mp4"
    if exact.is_file():
        return exact
    others = sorted(p for p in folder.glob(f"{row['clip_id']}.*") if p.is_file())
    if not others:
        raise DataError(f"{exact}: no such file")
    return others[0]


class ClipProcessor:
    """All extractors, built once per worker process, applied to one clip at a time. Each is built when a
    clip first needs it: a re-run whose only clips left are broken ones loads no model."""

    def __init__(self, options: PrepareOptions):
        self.options = options

    @functools.cached_property
    def acoustic(self):
        from dmsil.features.audio import AcousticExtractor

        return AcousticExtractor()

    @functools.cached_property
    def text(self):
        from dmsil.features.text import TextFeaturizer, TextOptions

        return TextFeaturizer(TextOptions(self.options.text_model, self.options.text_max_length))

    @functools.cached_property
    def asr(self):
        from dmsil.features.asr import load_transcriber

        return load_transcriber(self.options.asr)

    def transcribe(self, audio: np.ndarray | None) -> str:
        if audio is None:
            return ""
        from dmsil.features.audio import SAMPLE_RATE

        return " ".join(w.text for w in self.asr.transcribe(audio, SAMPLE_RATE))

    def __call__(self, path: Path, text: str) -> dict[str, np.ndarray]:
        from dmsil.features.face import FACE_DIM, FaceExtractor
        from dmsil.features.media import decode

        vectors: list[np.ndarray] = []
        with FaceExtractor() as face:  # a new tracker per clip: no tracking state carries over
            clip = decode(path, on_frame=lambda t, rgb: vectors.append(face(rgb).vector))
        video = np.stack(vectors) if vectors else np.zeros((0, FACE_DIM), np.float32)
        audio = self.acoustic(clip.audio) if clip.audio is not None else np.zeros((0, self.acoustic.dim), np.float32)
        source = "label.csv" if text else "asr"
        transcript = text or self.transcribe(clip.audio)
        ids, mask = self.text.tokens([transcript])
        states = self.text.encode(ids, mask)
        return {
            "audio": audio.astype(np.float32),
            "video": video.astype(np.float32),
            "video_present": np.array(bool(len(video)) and bool(video[:, -1].any())),
            "text_states": states[0],
            "text_ids": ids[0],
            "text_mask": mask[0],
            "transcript": np.array(transcript),
            "transcript_source": np.array(source),
            "duration": np.array(clip.duration, dtype=np.float32),
        }


@functools.cache
def _processor(options: PrepareOptions) -> ClipProcessor:
    """One processor (models loaded once) per process and options."""
    return ClipProcessor(options)


def _work(options: PrepareOptions, job: tuple[Path, Path, str]) -> tuple[Path, str | None]:
    """Process one clip (in this process or a worker); returns (output, None) or (output, why it failed)."""
    src, out, text = job
    try:
        write_clip(out, _processor(options)(src, text))
        return out, None
    except DmsilError as exc:
        return out, str(exc)
    except Exception as exc:  # a broken clip must not stop the batch; its reason is reported
        return out, f"{src}: {type(exc).__name__}: {exc}"


def prepare(
    labels: Path, raw_dir: Path, out: Path, options: PrepareOptions, workers: int = 1, ray_address: str | None = None
) -> dict[str, str]:
    """Extract every clip not already in the store; returns {clip: reason} for the clips that failed."""
    from dmsil.features import describe

    rows = read_labels(labels)
    out.mkdir(parents=True, exist_ok=True)
    asr = options.asr or ASROptions()
    spec = describe(options.text_model, options.text_max_length, {"backend": asr.backend, "model": asr.model})
    meta = {"format": FORMAT, "format_version": 1, "labels": str(labels), "features": spec.to_dict(), "rows": rows}
    (out / META).write_text(json.dumps(meta, indent=2) + "\n")
    failed: dict[str, str] = {}
    jobs = []
    for row in rows:
        dest = clip_path(out, row["video_id"], row["clip_id"])
        if dest.is_file():
            continue
        try:
            jobs.append((find_clip(raw_dir, row), dest, row["text"]))
        except DataError as exc:
            failed[f"{row['video_id']}/{row['clip_id']}"] = str(exc)
    log.info(
        "%d clips to extract, %d already done, %d missing", len(jobs), len(rows) - len(jobs) - len(failed), len(failed)
    )
    bar = tqdm(total=len(jobs), desc="prepare", unit="clip", file=sys.stderr)
    work, pool = functools.partial(_work, options), None
    if ray_address and jobs:  # one task per clip over the cluster; each worker process loads the models once
        import ray

        import dmsil.prepare as by_name  # under `python -m` this file is __main__; workers import it by name

        cluster.connect(ray_address)
        task = ray.remote(by_name._work)
        results = cluster.as_completed(task.remote(options, job) for job in jobs)
    elif workers <= 1:
        results = map(work, jobs)
    else:
        pool = ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"))
        results = pool.map(work, jobs)
    for dest, reason in results:
        if reason:
            failed[f"{dest.parent.name}/{dest.stem}"] = reason
        bar.update()
    bar.close()
    if pool is not None:
        pool.shutdown()
    (out / FAILED).write_text(json.dumps(failed, indent=2) + "\n")
    return failed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dmsil.prepare", description="Extract features from labelled videos.")
    p.add_argument("--labels", required=True, help="label.csv: video_id, clip_id, text, label, mode [, label_T/A/V]")
    p.add_argument("--raw", required=True, help="folder with <video_id>/<clip_id>.mp4")
    p.add_argument("--out", required=True, help="feature store folder (re-runs skip finished clips)")
    p.add_argument("--workers", type=int, default=1, help="clips processed in parallel (processes)")
    cluster.add_argument(p)
    p.add_argument("--text-model", help="local transformers folder (default: the packaged all-MiniLM-L6-v2)")
    p.add_argument("--text-max-length", type=int, default=PrepareOptions.text_max_length)
    add_asr_arguments(p, "for clips whose text is empty")
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args, logging.INFO)
    try:
        options = PrepareOptions(args.text_model, args.text_max_length, asr_options(args))
        failed = prepare(Path(args.labels), Path(args.raw), Path(args.out), options, args.workers, args.ray)
    except DmsilError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.ray:
            cluster.shutdown()
    for clip, reason in failed.items():
        log.warning("skipped %s: %s", clip, reason)
    if failed:
        log.warning("%d clip(s) skipped; listed in %s", len(failed), Path(args.out) / FAILED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
