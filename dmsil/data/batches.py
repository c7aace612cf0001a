"""Turning a :class:`Split` into model-ready tensor batches.

Each batch is cut to its longest valid sequence: the masked LSTMs read each sample's last valid frame,
so trailing padding only costs time (MOSI pads audio to 500 frames).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from dmsil.data.mmsa import Split
from dmsil.errors import DataError
from dmsil.features.text import tokenize

log = logging.getLogger(__name__)


class Batcher:
    """Batches of one split for a model that reads either precomputed text states or token ids."""

    def __init__(self, split: Split, text_model: str | Path | None = None, max_length: int = 50, where: str = "data"):
        self.split = split
        if text_model is None:
            if split.text is None:
                raise DataError(f"{where}: no precomputed 'text' features; pass a text model to read 'text_bert'")
            self.text, self.text_mask = split.text, split.text_mask
        elif split.raw_text:
            self.text, self.text_mask = tokenize(split.raw_text, text_model, max_length)
        elif split.text_ids is not None:
            log.warning("%s: no raw_text; using the pickle's own token ids, which assume its tokenizer", where)
            self.text, self.text_mask = split.text_ids, split.text_mask
        else:
            raise DataError(f"{where}: a text model needs 'raw_text' or 'text_bert', the file has neither")

    def __len__(self) -> int:
        return len(self.split)

    def inputs(self, indexes: np.ndarray) -> dict[str, torch.Tensor]:
        """The six model inputs for these samples, trimmed to the longest valid sequence of each."""
        s = self.split
        text_mask = self.text_mask[indexes]
        lt = max(1, int(text_mask.sum(1).max())) if len(indexes) else 1
        la = max(1, int(s.audio_lengths[indexes].max()))
        lv = max(1, int(s.vision_lengths[indexes].max()))
        return {
            "text": torch.from_numpy(np.ascontiguousarray(self.text[indexes, :lt])),
            "text_mask": torch.from_numpy(np.ascontiguousarray(text_mask[:, :lt])),
            "audio": torch.from_numpy(np.ascontiguousarray(s.audio[indexes, :la])),
            "audio_lengths": torch.from_numpy(s.audio_lengths[indexes]),
            "video": torch.from_numpy(np.ascontiguousarray(s.vision[indexes, :lv])),
            "video_lengths": torch.from_numpy(s.vision_lengths[indexes]),
        }

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: np.random.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        """(sample indexes, inputs) pairs covering the split once."""
        for idx in self.order(batch_size, shuffle, generator):
            yield torch.from_numpy(idx), self.inputs(idx)

    def order(
        self, batch_size: int, shuffle: bool = False, generator: np.random.Generator | None = None
    ) -> list[np.ndarray]:
        """The sample indexes of each batch, covering the split once."""
        order = np.arange(len(self))
        if shuffle:
            (generator or np.random.default_rng()).shuffle(order)
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
