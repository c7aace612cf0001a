"""What every engine shares: the fusion model's inputs and outputs, and an example batch.

The fusion model is everything after the feature extractors: text encoder (or the projection of
frozen states), masked LSTMs, alignment projections and the four heads. Engines take numpy in and give
numpy out, so nothing above ``engines`` cares which one runs.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from dmsil.model import DMSIL

INPUTS = ("text", "text_mask", "audio", "audio_lengths", "video", "video_lengths")
OUTPUTS = ("M", "T", "A", "V")


class EngineUnavailable(RuntimeError):
    """This engine cannot run here (package missing, no GPU); the message says why in one line."""


class Engine(Protocol):
    name: str

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def warmup(self) -> None: ...


class FusionModel(torch.nn.Module):
    """DMSIL with positional inputs and the four scores as a tuple: the form exporters and compilers need."""

    def __init__(self, model: DMSIL):
        super().__init__()
        self.model = model

    def forward(self, text, text_mask, audio, audio_lengths, video, video_lengths):
        out = self.model(text, text_mask, audio, audio_lengths, video, video_lengths)
        return tuple(out[k] for k in OUTPUTS)


def example_batch(model: DMSIL, batch: int = 1, lengths: tuple[int, int, int] = (50, 500, 375), seed: int = 0):
    """A random batch of the model's input shapes (full lengths), as numpy."""
    rng = np.random.default_rng(seed)
    c = model.config
    lt, la, lv = lengths
    if model.text_encoder.fine_tuned:
        vocab = int(model.text_encoder.transformer.config.vocab_size)
        text = rng.integers(1, vocab, size=(batch, lt)).astype(np.int64)
    else:
        text = rng.normal(size=(batch, lt, c.text_dim)).astype(np.float32)
    return {
        "text": text,
        "text_mask": np.ones((batch, lt), np.float32),
        "audio": rng.normal(size=(batch, la, c.audio_dim)).astype(np.float32),
        "audio_lengths": np.full(batch, la, np.int64),
        "video": rng.normal(size=(batch, lv, c.video_dim)).astype(np.float32),
        "video_lengths": np.full(batch, lv, np.int64),
    }


def to_torch(batch: dict[str, np.ndarray], device: str | torch.device = "cpu") -> list[torch.Tensor]:
    return [torch.from_numpy(np.ascontiguousarray(batch[k])).to(device) for k in INPUTS]
