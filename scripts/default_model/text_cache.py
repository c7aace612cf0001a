"""Frozen lower-layer states of a training corpus, computed once and read back batch by batch.

Fine-tuning only the top layers of a 12-layer encoder on a CPU is affordable when the frozen layers run
once per sentence instead of once per sentence per epoch. The states entering the first fine-tuned
layer (:meth:`dmsil.model.TextEncoder.frozen_states`) are stored unpadded in float16 in one file, with
the offsets beside it. Building is resumable: progress is saved as it goes, so an interrupted session
picks up where it stopped. The folder name hashes the encoder, the layer and the texts, so a changed
corpus or encoder never reads stale states.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

log = logging.getLogger(__name__)

BUILD_BATCH = 64
SAVE_EVERY = 20
"""Batches between progress saves while building."""


def cache_key(encoder_name: str, first_layer: int, max_length: int, texts: list[str]) -> str:
    digest = hashlib.sha256(f"{encoder_name}|{first_layer}|{max_length}".encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


class FrozenTextStates:
    """``(states, mask)`` for any subset of ``texts``, padded to the longest in the subset."""

    def __init__(self, folder: Path, ids: np.ndarray, mask: np.ndarray, hidden: int):
        self.folder = folder
        self.lengths = mask.sum(1).astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.hidden = hidden
        self.states = np.lib.format.open_memmap(
            folder / "states.npy", mode="r+" if (folder / "states.npy").exists() else "w+",
            dtype=np.float16, shape=(int(self.offsets[-1]), hidden),
        )  # fmt: skip
        self.ids, self.mask = ids, mask

    @classmethod
    def build(cls, root: Path, key: str, encoder, ids: np.ndarray, mask: np.ndarray) -> FrozenTextStates:
        """Open (and finish computing, if needed) the cache for token ``ids``/``mask`` under ``root/key``."""
        folder = root / key
        folder.mkdir(parents=True, exist_ok=True)
        hidden = int(encoder.transformer.config.hidden_size)
        cache = cls(folder, ids, mask, hidden)
        progress = folder / "progress.json"
        done = json.loads(progress.read_text())["done"] if progress.is_file() else 0
        order = np.argsort(cache.lengths, kind="stable")  # similar lengths together: little padding
        batches = [order[i : i + BUILD_BATCH] for i in range(0, len(order), BUILD_BATCH)]
        if done < len(batches):
            log.info("frozen states: %d of %d batches to compute in %s", len(batches) - done, len(batches), folder)
        bar = tqdm(total=len(batches), initial=done, desc="frozen states", unit="batch", file=sys.stderr)
        for b, idx in enumerate(batches[done:], done + 1):
            width = max(int(cache.lengths[idx].max()), 1)
            states = encoder.frozen_states(torch.from_numpy(ids[idx, :width]), torch.from_numpy(mask[idx, :width]))
            for row, i in enumerate(idx):
                n = cache.lengths[i]
                cache.states[cache.offsets[i] : cache.offsets[i] + n] = states[row, :n].numpy().astype(np.float16)
            bar.update()
            if b % SAVE_EVERY == 0 or b == len(batches):
                cache.states.flush()
                progress.write_text(json.dumps({"done": b}))
        bar.close()
        return cache

    def row(self, i: int) -> np.ndarray:
        """Sentence ``i``'s states, unpadded (float16, (length, hidden))."""
        return self.states[self.offsets[i] : self.offsets[i] + self.lengths[i]]

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Float32 states (len(idx), width, hidden), zero past each sentence's end, and the mask."""
        width = max(int(self.lengths[idx].max()), 1)
        out = np.zeros((len(idx), width, self.hidden), np.float32)
        for row, i in enumerate(idx):
            out[row, : self.lengths[i]] = self.row(i)
        return torch.from_numpy(out), torch.from_numpy(self.mask[idx, :width].copy())


class StackedStates:
    """Several caches read as one index space, so a corpus grown by a new part keeps the states of the rest."""

    def __init__(self, parts: list[FrozenTextStates]):
        self.parts = parts
        self.lengths = np.concatenate([p.lengths for p in parts])
        self.starts = np.cumsum([0] + [len(p.lengths) for p in parts])
        self.hidden = parts[0].hidden

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`FrozenTextStates.batch`, for indices over all parts in order."""
        width = max(int(self.lengths[idx].max()), 1)
        out = np.zeros((len(idx), width, self.hidden), np.float32)
        mask = np.zeros((len(idx), width), self.parts[0].mask.dtype)
        for row, i in enumerate(idx):
            k = int(np.searchsorted(self.starts, i, side="right")) - 1
            part, j = self.parts[k], i - self.starts[k]
            out[row, : part.lengths[j]] = part.row(j)
            mask[row] = part.mask[j, :width]
        return torch.from_numpy(out), torch.from_numpy(mask)
