"""PyTorch engines: eager (the reference) and ``torch.compile`` with CUDA graphs over shape buckets."""

from __future__ import annotations

import logging

import numpy as np
import torch

from dmsil.model import DMSIL
from engines.base import (
    INPUTS,
    WORDLESS_INPUTS,
    EngineUnavailable,
    FusionModel,
    WordlessModel,
    example_batch,
    to_torch,
    wordless,
)

log = logging.getLogger(__name__)


class TorchEngine:
    """Eager PyTorch on any device: the reference every other engine is checked against."""

    name = "torch"

    def __init__(self, model: DMSIL, device: str = "cpu"):
        self.device = torch.device(device)
        self.model = model
        self.fusion = FusionModel(model).to(self.device).eval()
        self.wordless_model = WordlessModel(model)  # the same modules, without the text encoder

    @torch.no_grad()
    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        model, names = (self.wordless_model, WORDLESS_INPUTS) if wordless(batch) else (self.fusion, INPUTS)
        out = model(*to_torch(batch, self.device, names))
        return {k: v.float().cpu().numpy() for k, v in zip(self.fusion.names, out, strict=True)}

    def warmup(self) -> None:
        self(example_batch(self.model))


def bucket(n: int, sizes: tuple[int, ...]) -> int:
    """Smallest bucket that holds n (the largest one when n exceeds them all: the input is then cut)."""
    return next((b for b in sizes if b >= n), sizes[-1])


def pad_to_buckets(
    batch: dict[str, np.ndarray], batches: tuple[int, ...], lengths: dict[str, tuple[int, ...]]
) -> tuple[dict[str, np.ndarray], int]:
    """Zero-pad batch size and each sequence up to its bucket (longer sequences are cut to the largest).

    Returns the padded batch and the real batch size; padded samples have length 0 and an empty mask.
    """
    n = len(batch["audio_lengths"])
    nb = bucket(n, batches)
    padded = {}
    for key in ("text", "audio", "video"):
        x = batch[key]
        size = bucket(x.shape[1], lengths[key])
        y = np.zeros((nb, size, *x.shape[2:]), x.dtype)
        y[:n, : min(size, x.shape[1])] = x[:, :size]
        padded[key] = y
    mask = np.zeros(padded["text"].shape[:2], np.float32)
    mask[:n, : min(mask.shape[1], batch["text_mask"].shape[1])] = batch["text_mask"][:, : mask.shape[1]]
    padded["text_mask"] = mask
    for key, seq in (("audio_lengths", "audio"), ("video_lengths", "video")):
        lengths_out = np.zeros(nb, np.int64)
        lengths_out[:n] = np.minimum(batch[key], padded[seq].shape[1])
        padded[key] = lengths_out
    return padded, n


class CompiledTorchEngine(TorchEngine):
    """``torch.compile(mode="reduce-overhead")`` (CUDA graphs) on an NVIDIA GPU.

    CUDA graphs replay fixed shapes, so batch size and each sequence length are padded up to a few static
    buckets; masks and lengths make the padding invisible to the outputs. Each bucket compiles once.
    """

    name = "torch-compile"
    BATCHES = (1, 2, 4, 8, 16, 32)
    LENGTHS = {"text": (16, 32, 50), "audio": (100, 250, 500, 1000), "video": (30, 75, 150, 375)}

    @staticmethod
    def require() -> None:
        """Raise :class:`EngineUnavailable` without a GPU: asked before the model is built (seconds saved)."""
        if not torch.cuda.is_available():
            raise EngineUnavailable("torch-compile needs a CUDA GPU (CUDA graphs); none is visible")

    def __init__(self, model: DMSIL, device: str = "cuda"):
        self.require()
        super().__init__(model, device)
        self.compiled = torch.compile(self.fusion, mode="reduce-overhead", dynamic=False)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n, top = len(batch["audio_lengths"]), self.BATCHES[-1]
        if n <= top:
            return self._run(batch)
        parts = [self._run({k: v[i : i + top] for k, v in batch.items()}) for i in range(0, n, top)]
        return {k: np.concatenate([p[k] for p in parts]) for k in self.fusion.names}

    @torch.no_grad()
    def _run(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        padded, n = pad_to_buckets(batch, self.BATCHES, self.LENGTHS)
        out = self.compiled(*to_torch(padded, self.device))
        return {k: v[:n].float().cpu().numpy() for k, v in zip(self.fusion.names, out, strict=True)}

    def warmup(self) -> None:
        for _ in range(3):  # reduce-overhead records the graph after a couple of runs
            self(example_batch(self.model))
