"""The feature store that ``dmsil.prepare`` writes and ``dmsil.train`` / ``dmsil.evaluate`` read.

    STORE/meta.json          format, the FeatureSpec, and every label.csv row (id, text, labels, split)
    STORE/clips/<video>/<clip>.npz   one clip's audio (frames x 38) and video (frames x 19) features,
                                     frozen text states, token ids/mask, transcript (no pickle inside)
    STORE/failed.json        clips that could not be used, with the reason

Loading pads each split, computes the normalization statistics over the training frames, normalizes
every split with them, and hands them on (in ``MMSAData.features``) to the checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

import numpy as np

from dmsil.config import FeatureSpec
from dmsil.data.mmsa import SPLITS, MMSAData, Split
from dmsil.errors import DataError
from dmsil.features import normalize

log = logging.getLogger(__name__)

FORMAT = "dmsil-feature-store"
META, FAILED, CLIPS = "meta.json", "failed.json", "clips"


def is_store(path: str | Path) -> bool:
    return (Path(path) / META).is_file()


def clip_path(store: Path, video_id: str, clip_id: str) -> Path:
    return store / CLIPS / video_id / f"{clip_id}.npz"


def write_clip(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Atomically (temp file, then rename), so an interrupted run never leaves a half clip behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def read_meta(store: Path) -> dict:
    try:
        meta = json.loads((store / META).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{store / META}: unreadable ({exc})") from None
    if meta.get("format") != FORMAT:
        raise DataError(f"{store / META}: not a dmsil feature store")
    return meta


def frame_stats(frames: list[np.ndarray], dim: int) -> dict[str, list[float]]:
    """Mean and std per dimension over all frames (std floored so constant features stay finite)."""
    x = np.concatenate(frames) if frames else np.zeros((0, dim), np.float32)
    if len(x) == 0:
        return {"mean": [0.0] * dim, "std": [1.0] * dim}
    x = x.astype(np.float64)
    return {"mean": x.mean(0).tolist(), "std": np.maximum(x.std(0), 1e-6).tolist()}


def pad_frames(seqs: list[np.ndarray], dim: int) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    out = np.zeros((len(seqs), max(1, int(lengths.max(initial=0))), dim), dtype=np.float32)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out, lengths


def load_store(store: str | Path) -> MMSAData:
    """An MMSAData view of a prepared store: normalized, padded splits and the FeatureSpec with statistics."""
    store = Path(store)
    meta = read_meta(store)
    spec = FeatureSpec.from_dict(meta["features"])
    clips: dict[str, list[tuple[dict, dict]]] = {s: [] for s in SPLITS}
    missing = 0
    for row in meta["rows"]:
        path = clip_path(store, row["video_id"], row["clip_id"])
        if not path.is_file():
            missing += 1
            continue
        with np.load(path, allow_pickle=False) as z:
            clips[row["mode"]].append((row, {k: z[k] for k in z.files}))
    if missing:
        log.warning("%s: %d labelled clips have no features (see %s)", store, missing, store / FAILED)
    empty = [s for s, c in clips.items() if not c]
    if empty:
        raise DataError(f"{store}: no prepared clips in split(s) {', '.join(empty)}")
    da, dv = len(spec.audio_names), len(spec.video_names)
    normalization = {
        "audio": frame_stats([z["audio"] for _, z in clips["train"]], da),
        "video": frame_stats([z["video"] for _, z in clips["train"] if z["video_present"]], dv),
    }
    spec = dataclasses.replace(spec, normalization=normalization)
    splits = {}
    for name, items in clips.items():
        audio, audio_lengths = pad_frames([normalize(z["audio"], spec.normalization["audio"]) for _, z in items], da)
        video_seqs = [
            normalize(z["video"], spec.normalization["video"]) if z["video_present"] else z["video"][:0]
            for _, z in items
        ]
        vision, vision_lengths = pad_frames(video_seqs, dv)
        split = Split(
            labels=np.array([r["label"] for r, _ in items], dtype=np.float32),
            audio=audio,
            audio_lengths=audio_lengths,
            vision=vision,
            vision_lengths=vision_lengths,
            text=np.stack([z["text_states"] for _, z in items]),
            text_ids=np.stack([z["text_ids"] for _, z in items]),
            text_mask=np.stack([z["text_mask"] for _, z in items]),
            ids=[f"{r['video_id']}$_${r['clip_id']}" for r, _ in items],
            raw_text=[str(z["transcript"]) for _, z in items],
        )
        for m in "TAV":
            if all(r.get(f"label_{m}") is not None for r, _ in items):
                split.unimodal_labels[m] = np.array([r[f"label_{m}"] for r, _ in items], dtype=np.float32)
        splits[name] = split
    return MMSAData(store, splits, features=spec)
