"""Reading MMSA-format pickles (CMU-MOSI, CMU-MOSEI, CH-SIMS as the MMSA toolkit ships them).

An MMSA pickle is a dict with ``train``/``valid``/``test``, each holding ``text`` (N x L x 768 BERT
states) and/or ``text_bert`` (N x 3 x L: ids, mask, segments), ``audio``, ``vision``, their
``*_lengths``, ``regression_labels`` (plus ``regression_labels_T/A/V`` for SIMS), ``id`` and ``raw_text``.

Pickle runs code while loading: only files the user names are read, never anything found on its own.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dmsil.config import FeatureSpec
from dmsil.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
STANDARD_DIMS = {"mosi": (768, 5, 20), "mosei": (768, 74, 35), "sims": (768, 33, 709)}


@dataclass
class Split:
    """One split as arrays; ``text`` or ``text_ids`` (or both) is present."""

    labels: np.ndarray
    audio: np.ndarray
    audio_lengths: np.ndarray
    vision: np.ndarray
    vision_lengths: np.ndarray
    text: np.ndarray | None = None
    text_ids: np.ndarray | None = None
    text_mask: np.ndarray | None = None
    ids: list[str] = field(default_factory=list)
    raw_text: list[str] = field(default_factory=list)
    unimodal_labels: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class MMSAData:
    path: Path
    splits: dict[str, Split]
    features: FeatureSpec | None = None
    """How the features were made, when known (a feature store knows; a pickle does not)."""

    @property
    def dims(self) -> tuple[int, int, int]:
        """(text, audio, video) feature sizes; text is 0 when only token ids are present."""
        s = self.splits["train"]
        return (s.text.shape[2] if s.text is not None else 0, s.audio.shape[2], s.vision.shape[2])


def _array(split: dict, key: str, where: str, ndim: int) -> np.ndarray:
    try:
        value = np.asarray(split[key])
    except Exception as exc:  # a ragged list, an object that is not an array
        raise DataError(f"{where}: '{key}' is not an array ({exc})") from None
    if value.ndim != ndim:
        raise DataError(f"{where}: '{key}' should have {ndim} dimensions, has shape {value.shape}")
    return value


def _frames(split: dict, key: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Frame features (NaN/inf cleaned as MMSA does) and valid lengths (full length when absent)."""
    x = _array(split, key, where, 3).astype(np.float32)
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    length_key = f"{key}_lengths"
    if length_key in split:
        lengths = np.asarray(split[length_key]).astype(np.int64).reshape(-1)
        if lengths.shape[0] != x.shape[0]:
            raise DataError(f"{where}: '{length_key}' has {lengths.shape[0]} entries for {x.shape[0]} samples")
        if lengths.size and (lengths.min() < 0 or lengths.max() > x.shape[1]):
            raise DataError(f"{where}: '{length_key}' out of range [0, {x.shape[1]}]")
    else:
        lengths = np.full(x.shape[0], x.shape[1], dtype=np.int64)
    return x, lengths


def _split(raw: object, where: str) -> Split:
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a dict of arrays, found {type(raw).__name__}")
    missing = [k for k in ("audio", "vision", "regression_labels") if k not in raw]
    if "text" not in raw and "text_bert" not in raw:
        missing.append("text or text_bert")
    if missing:
        raise DataError(f"{where}: missing key(s) {', '.join(missing)}")
    labels = np.asarray(raw["regression_labels"], dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(labels)):
        raise DataError(f"{where}: 'regression_labels' has NaN or infinite values")
    audio, audio_lengths = _frames(raw, "audio", where)
    vision, vision_lengths = _frames(raw, "vision", where)
    split = Split(labels, audio, audio_lengths, vision, vision_lengths)
    if "text" in raw:
        split.text = np.nan_to_num(_array(raw, "text", where, 3).astype(np.float32))
    if "text_bert" in raw:
        bert = _array(raw, "text_bert", where, 3)
        if bert.shape[1] != 3:
            raise DataError(f"{where}: 'text_bert' should be N x 3 x L (ids, mask, segments), has {bert.shape}")
        split.text_ids, split.text_mask = bert[:, 0].astype(np.int64), bert[:, 1].astype(np.float32)
    elif split.text is not None:
        split.text_mask = (np.abs(split.text).sum(-1) > 0).astype(np.float32)
    if split.text is not None and split.text_mask.shape != split.text.shape[:2]:
        raise DataError(f"{where}: 'text_bert' mask {split.text_mask.shape} does not match 'text' {split.text.shape}")
    split.ids = [str(i) for i in raw.get("id", range(len(labels)))]
    split.raw_text = [str(t) for t in raw.get("raw_text", [])]
    for m in "TAV":
        if f"regression_labels_{m}" in raw:
            split.unimodal_labels[m] = np.asarray(raw[f"regression_labels_{m}"], dtype=np.float32).reshape(-1)
    counts = {
        "regression_labels": len(labels),
        "audio": len(audio),
        "vision": len(vision),
        "text": None if split.text is None else len(split.text),
        "text_bert": None if split.text_ids is None else len(split.text_ids),
        "id": len(split.ids),
        "raw_text": len(split.raw_text) or None,
        **{f"regression_labels_{m}": len(v) for m, v in split.unimodal_labels.items()},
    }
    sizes = {k: n for k, n in counts.items() if n is not None}
    if len(set(sizes.values())) > 1:
        raise DataError(f"{where}: sample counts differ between keys: {sizes}")
    return split


def load_mmsa(path: str | Path, dataset: str | None = None) -> MMSAData:
    """Load and validate an MMSA pickle; every problem is a one-line :class:`DataError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with path.open("rb") as f:
            raw = pickle.load(f)  # noqa: S301 - the user named this MMSA pickle; see the module docstring
    except Exception as exc:
        raise DataError(f"{path}: not a readable MMSA pickle ({type(exc).__name__}: {exc})") from None
    data = from_dict(raw, path)
    if dataset in STANDARD_DIMS and data.dims[0] and data.dims != STANDARD_DIMS[dataset]:
        log.warning(
            "%s: feature dims %s differ from the standard %s ones %s", path, data.dims, dataset, STANDARD_DIMS[dataset]
        )
    return data


def from_dict(raw: object, path: str | Path) -> MMSAData:
    """Validate an in-memory MMSA dict (as unpickled); ``path`` names it in errors."""
    path = Path(path)
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a dict with {', '.join(SPLITS)}, found {type(raw).__name__}")
    missing = [s for s in SPLITS if s not in raw]
    if missing:
        raise DataError(f"{path}: missing split(s) {', '.join(missing)} (has {', '.join(map(str, raw))})")
    data = MMSAData(path, {name: _split(raw[name], f"{path} [{name}]") for name in SPLITS})
    _check_dims(data)
    return data


def _check_dims(data: MMSAData) -> None:
    """Every split must share the train split's feature sizes and text form."""
    train = data.splits["train"]
    for name, s in data.splits.items():
        for key, a, b in (("audio", s.audio, train.audio), ("vision", s.vision, train.vision)):
            if a.shape[2] != b.shape[2]:
                raise DataError(f"{data.path} [{name}]: '{key}' has {a.shape[2]} features, train has {b.shape[2]}")
        if (s.text is None) != (train.text is None) or (s.text_ids is None) != (train.text_ids is None):
            raise DataError(f"{data.path} [{name}]: text keys differ from the train split")
        if s.text is not None and s.text.shape[2] != train.text.shape[2]:
            raise DataError(
                f"{data.path} [{name}]: 'text' has {s.text.shape[2]} features, train has {train.text.shape[2]}"
            )
