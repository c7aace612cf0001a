"""Face clips for the video head: packaged photos moved across a canvas, labelled by the expression teacher.

No package carries faces labelled with sentiment, so the FER2013 expression classifier labels them
(:func:`scripts.default_model.packaged.expression_valence`): a teacher's reading of a facial expression,
stated as such in the model card, never human-labelled sentiment.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm

from dmsil.features.face import FACE_DIM, FACE_FEATURE_NAMES, FaceExtractor
from scripts.default_model.options import DefaultOptions
from scripts.default_model.packaged import expression_valence, face_images, face_split

log = logging.getLogger(__name__)
EXPR = slice(FACE_FEATURE_NAMES.index("expr_angry"), FACE_FEATURE_NAMES.index("expr_neutral") + 1)
PRESENT = FACE_FEATURE_NAMES.index("face_present")
CANVAS = (480, 640)


@dataclass
class FaceClip:
    face: str
    split: str
    frames: np.ndarray
    """(n, FACE_DIM) raw face features at VIDEO_RATE."""
    teacher: float


def _place(image: np.ndarray, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """``n`` 640x480 frames of one photo drifting across a plain background, scaled, turned and relit."""
    h, w = CANVAS
    small = min(image.shape[:2]) < 100  # the 25x25 LFW crops are the face alone; the others show more
    side = rng.uniform(170, 260) if small else rng.uniform(300, 420)
    scale = side / max(image.shape[:2])
    face = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        face = face[:, ::-1]
    angle = rng.uniform(-12, 12)
    gain, bias = rng.uniform(0.75, 1.25), rng.uniform(-25, 25)
    background = rng.integers(40, 215)
    fh, fw = face.shape[:2]
    start = np.array([rng.uniform(0, w - fw), rng.uniform(0, h - fh)])
    end = np.clip(start + rng.normal(0, 30, 2), 0, [w - fw, h - fh])
    frames = []
    for t in np.linspace(0.0, 1.0, n):
        x, y = (start + t * (end - start) + rng.normal(0, 1.5, 2)).astype(int)
        x, y = int(np.clip(x, 0, w - fw)), int(np.clip(y, 0, h - fh))
        canvas = np.full((h, w, 3), background, np.uint8)
        canvas[y : y + fh, x : x + fw] = face
        turn = cv2.getRotationMatrix2D((x + fw / 2, y + fh / 2), angle + rng.normal(0, 1), 1.0)
        canvas = cv2.warpAffine(canvas, turn, (w, h), borderValue=(int(background),) * 3)
        frames.append(np.clip(canvas.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8))
    return frames


def face_clips(opts: DefaultOptions) -> list[FaceClip]:
    """Teacher-labelled face feature clips: ``clips_per_face`` per training photo, 2 per held-out photo."""
    rng = np.random.default_rng(opts.seed)
    blank = np.zeros(FACE_DIM, np.float32)
    clips = []
    faces = face_images()
    jobs = [(name, image, face_split(name)) for name, image in faces]
    total = sum(opts.clips_per_face if split == "train" else 2 for *_, split in jobs)
    bar = tqdm(total=total, desc="face clips", unit="clip", file=sys.stderr)
    for name, image, split in jobs:
        for _ in range(opts.clips_per_face if split == "train" else 2):
            n = int(rng.integers(20, 61))  # 1.3 to 4 s at 15 Hz, the live window lengths
            frames = _place(image, rng, n)
            gone = np.zeros(n, bool)
            if rng.random() < 0.25:  # the face leaves the picture for a while
                k = int(rng.integers(n // 5, n // 2))
                s = int(rng.integers(0, n - k))
                gone[s : s + k] = True
            with FaceExtractor() as extractor:
                vectors = np.stack([blank if g else extractor(f).vector for f, g in zip(frames, gone, strict=True)])
            seen = vectors[:, PRESENT] > 0
            bar.update()
            if seen.sum() < 3:
                log.warning("%s: face found in only %d of %d frames; clip dropped", name, seen.sum(), n)
                continue
            teacher = float(expression_valence(vectors[seen, EXPR].mean(0)))
            clips.append(FaceClip(name, split, vectors, teacher))
    bar.close()
    return clips


def cached_face_clips(opts: DefaultOptions) -> list[FaceClip]:
    """:func:`face_clips`, kept in ``work`` so an interrupted run does not run the face reader again."""
    path = opts.work / f"face_clips-{opts.seed}-{opts.clips_per_face}.npz"
    if path.is_file():
        z = np.load(path)
        meta = json.loads(str(z["meta"]))
        return [FaceClip(m["face"], m["split"], z[f"f{i}"], m["teacher"]) for i, m in enumerate(meta)]
    clips = face_clips(opts)
    opts.work.mkdir(parents=True, exist_ok=True)
    meta = json.dumps([{"face": c.face, "split": c.split, "teacher": c.teacher} for c in clips])
    np.savez(path, meta=meta, **{f"f{i}": c.frames for i, c in enumerate(clips)})
    return clips
