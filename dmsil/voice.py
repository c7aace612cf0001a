"""The voice head: how positive (valence) and how excited (arousal) a voice sounds in a window of speech.

The DMSIL model's own audio branch would need speech labelled with sentiment, which no package carries;
acted emotional speech labels emotions instead (RAVDESS: the recipe in ``scripts/default_model/voice.py``
maps them to valence and arousal by a stated table). So the voice is read by a small head of its own,
shipped as its own file (``voice.safetensors`` + ``voice.json``): a model free of that data (licensed
CC BY-NC-SA) is the same checkpoint without the file.

A window's acoustic frames (eGeMAPS LLDs + MFCCs at 100 Hz, :mod:`dmsil.features.audio`) become one
vector of functionals over its voiced frames (:func:`functionals`); each speaker's vectors are measured
against that speaker's own running average (:class:`SpeakerBaseline`), since voices differ far more
between people than between one person's moods; a small network gives emotion logits, valence and
arousal (:class:`VoiceNet`).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dmsil.errors import DmsilError

WEIGHTS = "voice.safetensors"
CONFIG = "voice.json"
MIN_VOICED = 25
"""Voiced frames (10 ms each) a window needs before its voice is read: a quarter second of voicing."""
FULL_VOICED = 100
"""Voiced frames (one second) from which a window's voice counts fully in the fused score."""
PITCH = "F0semitoneFrom27.5Hz_sma3nz"
LOUDNESS = "Loudness_sma3"
SPREAD = (PITCH, LOUDNESS)
"""Descriptors whose range (20th to 80th percentile) is kept too: how much pitch and loudness move."""
CLIP = 3.0
"""Population spreads beyond which a functional's difference from the speaker's baseline is clipped."""


PERCENTILES = (10, 50, 90)


CONTOUR = ("pitch_slope", "pitch_skew", "loudness_skew", "voiced_run_mean", "voiced_run_std", "pitch_trend",
           "loudness_peak")  # fmt: skip
"""The shape of the window's melody and rhythm (:func:`_contour`): falling or rising pitch, peaks of loudness,
how long voiced stretches last. Added because they lifted happy vs sad and 8-class accuracy on held-out
RAVDESS actors at two seeds (the model card's figures)."""


def functional_names(names: Sequence[str]) -> list[str]:
    """The names of :func:`functionals`' entries, for frames whose columns are ``names``."""
    out = [f"{n}_mean" for n in names] + [f"{n}_std" for n in names]
    out += [f"{n}_range" for n in SPREAD] + [f"{n}_delta" for n in SPREAD] + ["voiced_share"]
    out += [f"{n}_change" for n in names] + [f"{n}_p{p}" for n in SPREAD for p in PERCENTILES]
    return out + ["voicing_onsets", *CONTOUR]


def functionals(frames: np.ndarray, names: Sequence[str]) -> np.ndarray | None:
    """One vector for a window's frames: mean and standard deviation of every descriptor, the range,
    percentiles and mean absolute change of pitch and loudness, the share of active frames that are
    voiced, each descriptor's mean change from one active frame to the next, and voicing onsets per
    second of speech (a syllable rate). Voicing-only descriptors (``*_sma3nz``, zero where unvoiced) are
    taken over voiced frames, the rest over active ones (loudness above a quarter of the window's 95th
    percentile), so pauses do not count as calm; then :data:`CONTOUR`. None when the window holds fewer than
    :data:`MIN_VOICED` voiced frames."""
    x = np.asarray(frames, np.float64)
    if x.ndim != 2 or len(x) == 0:
        return None
    col = {n: i for i, n in enumerate(names)}
    voiced = x[:, col[PITCH]] > 0
    if voiced.sum() < MIN_VOICED:
        return None
    loud = x[:, col[LOUDNESS]]
    active = (loud >= 0.25 * np.percentile(loud, 95)) | voiced
    nz = np.array([n.endswith("_sma3nz") for n in names])
    rows = np.where(nz[None, :], voiced[:, None], active[:, None])
    count = rows.sum(0)
    mean = (x * rows).sum(0) / count
    std = np.sqrt(np.maximum(((x - mean) ** 2 * rows).sum(0) / count, 0.0))
    spread, delta, levels = [], [], []
    for n in SPREAD:
        v = x[voiced if n.endswith("_sma3nz") else active, col[n]]
        p20, p80, *at = np.percentile(v, [20, 80, *PERCENTILES])  # one sort for all of them
        spread.append(p80 - p20)
        delta.append(float(np.mean(np.abs(np.diff(v)))) if len(v) > 1 else 0.0)
        levels.append(at)
    share = voiced.sum() / max(1, active.sum())
    change = np.abs(np.diff(x[active], axis=0)).mean(0) if active.sum() > 1 else np.zeros(len(names))
    onsets = np.sum(np.diff(voiced.astype(int)) == 1) / max(1, active.sum()) * 100
    contour = _contour(x[:, col[PITCH]], voiced, loud[active])
    return np.concatenate([mean, std, spread, delta, [share], change, *levels, [onsets], contour]).astype(np.float32)


def _contour(pitch: np.ndarray, voiced: np.ndarray, loudness: np.ndarray) -> list[float]:
    """:data:`CONTOUR` for a window: pitch's slope (semitones a second) and skew over voiced frames,
    loudness's skew over active frames, voiced stretches' mean and spread of length (seconds), the voiced
    pitch of the second half less the first's, loudness's 99th percentile less its median."""
    f0, seconds = pitch[voiced], np.flatnonzero(voiced) / 100.0
    slope = float(np.polyfit(seconds, f0, 1)[0]) if len(f0) > 2 else 0.0
    edges = np.diff(np.r_[0, voiced.astype(int), 0])
    runs = (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)) / 100.0
    half = len(f0) // 2
    trend = float(f0[half:].mean() - f0[:half].mean()) if half > 2 else 0.0
    peak = float(np.percentile(loudness, 99) - np.median(loudness))
    return [slope, _skew(f0), _skew(loudness), float(runs.mean()), float(runs.std()), trend, peak]


def _skew(v: np.ndarray) -> float:
    s = v.std()
    return float(((v - v.mean()) ** 3).mean() / s**3) if s > 0 else 0.0


@dataclass(frozen=True)
class VoiceConfig:
    """What ``voice.json`` records beside the weights: the inputs, the network's shape, the population
    statistics a speaker's baseline starts from, and where the labels came from."""

    names: list[str]
    """The frame descriptors the functionals are computed from (:class:`~dmsil.features.audio.AcousticExtractor`)."""
    emotions: list[str]
    mean: list[float]
    """Population mean and standard deviation of the functionals (every training speaker's windows)."""
    std: list[float]
    hidden: int = 64
    dropout: float = 0.2
    members: int = 5
    """Networks trained from different seeds whose readings are averaged (steadier on unseen voices)."""
    positions: list[list[float]] = field(default_factory=list)
    """Each emotion's mean (valence, arousal) label in training: the networks' valence and arousal are averaged
    with the emotion probabilities' expected position (held-out happy vs sad AUC 0.853 and 0.855 against 0.837
    and 0.852 for the regression alone, at two seeds), so the two readings of one network check each other.
    Empty: regression alone."""
    centre: list[float] = field(default_factory=lambda: [0.0, 0.0])
    """(valence, arousal) the networks give a voice exactly at its speaker's baseline: subtracted, so a
    speaker's usual voice reads 0 and what is reported is the change from it."""
    prior_windows: float = 3.0
    """How many windows the population statistics weigh in a speaker's baseline: a new voice starts at the
    population's and becomes its own as it speaks."""
    memory: int = 300
    """Windows a speaker's baseline keeps (about five minutes at a one-second hop)."""
    source: str = ""
    licence: str = ""

    @property
    def dim(self) -> int:
        return len(self.mean)

    @classmethod
    def read(cls, folder: Path) -> VoiceConfig:
        return cls(**json.loads((folder / CONFIG).read_text(encoding="utf-8")))

    def write(self, folder: Path) -> None:
        (folder / CONFIG).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


class VoiceNet(nn.Module):
    """Normalised functionals -> emotion logits, valence and arousal (the last two on the -3..3 scale)."""

    def __init__(self, dim: int, emotions: int, hidden: int = 64, dropout: float = 0.2, bound: float = 3.0):
        super().__init__()
        self.bound = bound
        self.trunk = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout))
        self.emotion = nn.Linear(hidden, emotions)
        self.dimensions = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.emotion(h), self.bound * torch.tanh(self.dimensions(h) / self.bound)


class VoiceEnsemble(nn.ModuleList):
    """:class:`VoiceNet` members averaged: emotion probabilities and (valence, arousal), the latter averaged
    with the probabilities' expected position when ``positions`` (emotions x 2) are given."""

    def __init__(self, members: Iterable[VoiceNet], positions: Sequence[Sequence[float]] = ()):
        super().__init__(members)
        self.register_buffer("positions", torch.tensor(positions, dtype=torch.float32).reshape(-1, 2), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outs = [net(x) for net in self]
        probs = torch.stack([torch.softmax(logits, -1) for logits, _ in outs]).mean(0)
        dims = torch.stack([dims for _, dims in outs]).mean(0)
        return probs, (dims + probs @ self.positions) / 2 if len(self.positions) else dims


def ensemble(config: VoiceConfig) -> VoiceEnsemble:
    return VoiceEnsemble(
        (VoiceNet(config.dim, len(config.emotions), config.hidden, config.dropout) for _ in range(config.members)),
        config.positions,
    )


class SpeakerBaseline:
    """One speaker's running average voice: functionals are measured from it, so a voice that is always
    high or always hoarse reads as that person's usual. Until the speaker has said enough it leans on the
    population (``prior_windows`` windows' worth). Differences are scaled by the population's spread, not
    the speaker's, so the small variations of a monotone voice stay small, and clipped at :data:`CLIP`
    spreads, so a voice far from every training voice cannot drive the head beyond what it has seen.
    Not thread-safe: one per speaker per pipeline."""

    def __init__(self, config: VoiceConfig):
        self.config = config
        self._mean = np.asarray(config.mean, np.float64)
        self._std = np.asarray(config.std, np.float64)
        self._seen: deque[np.ndarray] = deque(maxlen=config.memory)

    @property
    def windows(self) -> int:
        """Windows of this speaker's voice the baseline has seen."""
        return len(self._seen)

    def normalise(self, x: np.ndarray, learn: bool = True) -> np.ndarray:
        """``x`` measured against the baseline (after adding it, when ``learn``)."""
        if learn:
            self._seen.append(np.asarray(x, np.float64))
        n, k = len(self._seen), self.config.prior_windows
        mean = (np.sum(self._seen, axis=0) + k * self._mean) / (n + k) if n else self._mean
        return np.clip((x - mean) / np.maximum(self._std, 1e-9), -CLIP, CLIP).astype(np.float32)


@dataclass(frozen=True)
class VoiceReading:
    valence: float
    arousal: float
    emotions: dict[str, float]
    """Emotion -> probability (what the voice sounds like among the acted emotions it was trained on)."""


class VoiceHead:
    """The shipped voice head of a checkpoint folder; :meth:`read` scores normalised functionals."""

    def __init__(self, folder: str | Path):
        from safetensors.torch import load_file

        folder = Path(folder)
        self.config = VoiceConfig.read(folder)
        if self.config.dim != len(functional_names(self.config.names)):
            raise DmsilError(f"{folder / CONFIG}: a voice head for {self.config.dim} functionals, this version "
                             f"computes {len(functional_names(self.config.names))} (retrain it, or pass --no-audio)")  # fmt: skip
        self.net = ensemble(self.config)
        self.net.load_state_dict(load_file(str(folder / WEIGHTS)))
        self.net.eval()

    @staticmethod
    def present(folder: str | Path) -> bool:
        return (Path(folder) / WEIGHTS).is_file() and (Path(folder) / CONFIG).is_file()

    def baseline(self) -> SpeakerBaseline:
        return SpeakerBaseline(self.config)

    def features(self, frames: np.ndarray) -> np.ndarray | None:
        return functionals(frames, self.config.names)

    def voiced_share(self, frames: np.ndarray) -> float:
        """How much voice the window holds, 0 .. 1: full from one second of voiced frames (100 at 100 Hz)."""
        x = np.asarray(frames)
        if x.ndim != 2 or not len(x):
            return 0.0
        return min(1.0, float(np.sum(x[:, self.config.names.index(PITCH)] > 0)) / FULL_VOICED)

    def read(self, normalised: np.ndarray) -> list[VoiceReading]:
        """Readings for a batch of normalised functionals ``(n, dim)``."""
        with torch.no_grad():
            probs, dims = self.net(torch.from_numpy(np.asarray(normalised, np.float32).reshape(-1, self.config.dim)))
        probs, dims = probs.numpy(), dims.numpy() - np.asarray(self.config.centre, np.float32)
        return [
            VoiceReading(float(d[0]), float(d[1]), dict(zip(self.config.emotions, map(float, p), strict=True)))
            for d, p in zip(dims, probs, strict=True)
        ]
