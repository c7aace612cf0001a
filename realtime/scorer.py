"""Windows of extracted features -> the four sentiment scores, with every missing modality said why.

A modality reaches the model only when it has data in the window *and* its head was trained on real data
(``checkpoint.heads``); otherwise it is masked (length 0, empty text mask), its score is ``None`` and the
reason is reported (a :class:`~realtime.modalities.Reason`: "no speech", "no face", or the head's
provenance, e.g. "not trained in the default model"). The fused score is ``None`` when no trained modality is present: never a number made of zeros.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dmsil import calibration, checkpoint
from dmsil.config import FeatureSpec, ModelConfig
from dmsil.data.store import pad_frames
from dmsil.features import normalize, require_computable, resolve_text_model
from realtime.modalities import ALL, DEFAULT_ABSENCE, FUSED, MODALITIES, Absence, Reason
from realtime.windows import Window

log = logging.getLogger(__name__)


@dataclass
class Scores:
    start: float
    end: float
    transcript: str
    fused: float | None
    text: float | None
    audio: float | None
    video: float | None
    present: tuple[str, ...]
    """Modalities that had data and a trained head, i.e. that reached the model."""
    missing: dict[str, Reason] = field(default_factory=dict)
    """Modality -> why it has no score."""
    latency: float | None = None
    """Live: seconds from the window's end to its result."""
    recent: str = ""
    """The words of the window's last hop."""
    provisional: bool = False
    """The text's last utterance was still being spoken."""
    smooth: dict[str, float | None] = field(default_factory=dict)
    """Live smoothed scores by name (``fused``, ``text``, ...), beside the raw ones (:mod:`realtime.smoothing`)."""

    @classmethod
    def failed(cls, w: Window, reason: Reason) -> Scores:
        """A window that could not be scored: every modality says why."""
        return cls(w.start, w.end, w.text or w.heard, None, None, None, None, (), dict.fromkeys(MODALITIES, reason),
                   recent=w.recent, provisional=w.provisional)  # fmt: skip


def usable_checkpoint(ckpt_dir: str | Path | None = None) -> tuple[Path, FeatureSpec]:
    """The checkpoint folder (the shipped default model when none is named) and its feature description,
    or a one-line error when this app cannot compute the features it was trained on."""
    from dmsil import default_checkpoint

    ckpt = Path(ckpt_dir) if ckpt_dir else default_checkpoint()
    spec = checkpoint.features(ckpt)
    require_computable(spec, str(ckpt))
    return ckpt, spec


class Scorer:
    """Builds engine batches from windows and reads the scores back. Pipelines may share one (the page's
    visitors do): calls take turns, since a tokenizer must not be entered from two threads at once."""

    def __init__(self, ckpt_dir: str | Path | None = None, engine: str = "auto", threads: int | None = None):
        import engines

        self.ckpt, self.spec = usable_checkpoint(ckpt_dir)
        document = checkpoint.read_config(self.ckpt)
        self.config = ModelConfig.from_dict(document["model"])
        self.heads = checkpoint.heads(self.ckpt)
        self.calibration = calibration.from_runtime(document)
        self.untrained = {m.name: self.heads[m.head].source for m in ALL if not self.heads[m.head].trained}
        """Modality -> the provenance of its untrained head (shown as why it has no score)."""
        self._text = self._text_input()
        self.engine = engines.load(self.ckpt, engine, threads)
        self.engine.warmup()
        self._lock = threading.Lock()

    @property
    def needed(self) -> tuple[str, ...]:
        """Modalities worth extracting: those whose head was trained."""
        return tuple(m for m in MODALITIES if m not in self.untrained)

    def _text_input(self):
        """Token ids for a fine-tuned encoder, or frozen states from the encoder the features came from."""
        from dmsil.features.text import TextFeaturizer, TextOptions, encode

        if self.config.text_model:
            from transformers import AutoTokenizer

            folder = self.ckpt / checkpoint.TEXT_ENCODER
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            return lambda texts: encode(tokenizer, texts, self.config.text_max_length)
        featurizer = TextFeaturizer(TextOptions(resolve_text_model(self.spec.text_model), self.spec.text_max_length))
        return featurizer.states

    def __call__(self, windows: list[Window]) -> list[Scores]:
        if not windows:
            return []
        with self._lock:
            return self._score(windows)

    def _score(self, windows: list[Window]) -> list[Scores]:
        use = [self._present(w) for w in windows]
        texts = [w.text if "text" in u else "" for w, u in zip(windows, use, strict=True)]
        text, text_mask = self._text(texts)
        width = max(1, int(text_mask.sum(1).max()))  # dynamic padding: trailing pad tokens cost time only
        batch = {"text": text[:, :width], "text_mask": text_mask[:, :width]}
        for name, dim in (("audio", self.config.audio_dim), ("video", self.config.video_dim)):
            frames = [
                normalize(np.asarray(getattr(w, name), np.float32), self.spec.normalization.get(name))
                if name in u
                else np.zeros((0, dim), np.float32)
                for w, u in zip(windows, use, strict=True)
            ]
            batch[name], batch[f"{name}_lengths"] = pad_frames(frames, dim)
        out = self.engine(batch)
        return [
            self._scores(w, u, {k: float(v[i]) for k, v in out.items()})
            for i, (w, u) in enumerate(zip(windows, use, strict=True))
        ]

    def text_scores(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """The text head's score for each sentence on its own (no audio, no face), through the engine."""
        out: list[float | None] = []
        for i in range(0, len(texts), batch):
            out += [s.text for s in self([Window(0.0, 0.0, t) for t in texts[i : i + batch]])]
        return np.array([np.nan if v is None else v for v in out], np.float64)

    def _present(self, w: Window) -> set[str]:
        have = set()
        if w.text.strip():
            have.add("text")
        if w.audio is not None and len(w.audio):
            have.add("audio")
        if w.video is not None and len(w.video) and np.any(np.asarray(w.video)[:, -1] > 0):
            have.add("video")
        return have - set(self.untrained)

    def _scores(self, w: Window, use: set[str], out: dict[str, float]) -> Scores:
        out = {h: float(self.calibration[h](v)) if h in self.calibration else v for h, v in out.items()}
        missing = {m: self._why_missing(w, m) for m in MODALITIES if m not in use}
        per = {m.name: out[m.head] if m.name in use else None for m in ALL}
        present = tuple(m for m in MODALITIES if m in use)
        return Scores(
            w.start,
            w.end,
            w.text or w.heard,
            out[FUSED.head] if present else None,
            per["text"],
            per["audio"],
            per["video"],
            present,
            missing,
            recent=w.recent,
            provisional=w.provisional,
        )

    def _why_missing(self, w: Window, modality: str) -> Reason:
        if modality in self.untrained:
            return Reason(Absence.UNTRAINED, self.untrained[modality])
        return w.reasons.get(modality) or Reason(DEFAULT_ABSENCE[modality])
