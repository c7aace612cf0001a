"""Acoustic frame features: eGeMAPS low-level descriptors (openSMILE) plus MFCCs (torchaudio), 100 frames/s.

eGeMAPS is the affective-computing standard set (pitch, jitter, shimmer, loudness, HNR, formants and
spectral shape); MFCCs add the spectral envelope. Every frame k covers the audio from k * 10 ms, so the
two sets line up frame by frame. All audio is first brought to 16 kHz mono, whatever its rate and channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SAMPLE_RATE = 16000
FRAME_RATE = 100.0
"""Frames per second of every acoustic feature (10 ms hop, as COVAREP in CMU-MOSI)."""
N_MFCC = 13


def to_mono_16k(audio: np.ndarray, sr: int) -> np.ndarray:
    """float32 mono at 16 kHz from ``(samples,)`` or ``(samples, channels)`` audio at any rate.

    Integer PCM is scaled to [-1, 1]; channels are averaged; resampling is torchaudio's
    band-limited sinc (``torchaudio.functional.resample``).
    """
    x = np.asarray(audio)
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    x = x.astype(np.float32, copy=False)
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise ValueError(f"audio must be (samples,) or (samples, channels), got shape {x.shape}")
    if sr != SAMPLE_RATE and x.size:
        import torchaudio.functional as AF

        x = AF.resample(torch.from_numpy(np.ascontiguousarray(x)), int(sr), SAMPLE_RATE).numpy()
    return np.ascontiguousarray(x, dtype=np.float32)


@dataclass(frozen=True)
class AcousticOptions:
    n_mfcc: int = N_MFCC


def _egemaps_lld():
    """openSMILE's eGeMAPS low-level descriptors. Its settings object (audobject) names its own class by
    looking up which installed distribution provides the ``opensmile`` module, and the lookup reads the file
    lists of every installed package: 1.2 s of each start-up. That one answer is known, so it is given."""
    import audobject.core.utils
    import opensmile

    known = getattr(audobject.core.utils, "PACKAGES_DISTRIBUTIONS", None)
    if isinstance(known, dict) and "opensmile" not in known:
        audobject.core.utils.PACKAGES_DISTRIBUTIONS = {**known, "opensmile": ["opensmile"]}
    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.LowLevelDescriptors
    )


class AcousticExtractor:
    """16 kHz mono audio -> (frames, 25 eGeMAPS LLDs + n_mfcc MFCCs) at 100 frames/s.

    Audio shorter than one analysis window (25 ms) gives zero frames. Not thread-safe: one per thread.
    """

    def __init__(self, options: AcousticOptions | None = None):
        import torchaudio

        self.options = options or AcousticOptions()
        self._smile = _egemaps_lld()
        self._mfcc = torchaudio.transforms.MFCC(
            sample_rate=SAMPLE_RATE,
            n_mfcc=self.options.n_mfcc,
            melkwargs={"n_fft": 400, "win_length": 400, "hop_length": 160, "n_mels": 40, "center": False},
        )
        self.names = tuple(self._smile.feature_names) + tuple(f"mfcc{i}_torchaudio" for i in range(self.options.n_mfcc))

    @property
    def dim(self) -> int:
        return len(self.names)

    def __call__(self, audio16k: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(audio16k, dtype=np.float32)
        if x.size < 400:
            return np.zeros((0, self.dim), dtype=np.float32)
        lld = self._smile.process_signal(x, SAMPLE_RATE).to_numpy(dtype=np.float32)
        with torch.no_grad():
            mfcc = self._mfcc(torch.from_numpy(x)).T.numpy()
        n = min(len(lld), len(mfcc))
        out = np.concatenate([lld[:n], mfcc[:n]], axis=1)
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
