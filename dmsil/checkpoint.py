"""Checkpoints as ``model.safetensors`` + ``config.json`` + ``metrics.json``: no pickle, ever.

A fine-tuned transformers text encoder keeps its architecture config and tokenizer in ``text_encoder/``
beside the weights, so a checkpoint loads without the directory it was trained from.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from dmsil.config import FeatureSpec, ModelConfig
from dmsil.errors import CheckpointError
from dmsil.model import DMSIL

log = logging.getLogger(__name__)

FORMAT = "dmsil-checkpoint"
FORMAT_VERSION = 1
WEIGHTS, CONFIG, METRICS, TEXT_ENCODER = "model.safetensors", "config.json", "metrics.json", "text_encoder"


def save(
    model: DMSIL,
    out_dir: str | Path,
    features: FeatureSpec | None = None,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint directory; ``extra`` (e.g. the training config) is kept in config.json."""
    from dmsil import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = model.config.to_dict()
    if model.text_encoder.fine_tuned:
        source = model.config.text_model
        model.text_encoder.transformer.config.save_pretrained(out / TEXT_ENCODER)
        _save_tokenizer(source, out / TEXT_ENCODER)
        config["text_model"] = TEXT_ENCODER
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS), metadata={"format": FORMAT})
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dmsil_version": __version__,
        "model": config,
        "features": (features or FeatureSpec()).to_dict(),
        **(extra or {}),
    }
    (out / CONFIG).write_text(json.dumps(document, indent=2) + "\n")
    (out / METRICS).write_text(json.dumps(metrics or {}, indent=2) + "\n")
    return out


def _save_tokenizer(source: str | None, dest: Path) -> None:
    if source is None or Path(source).resolve() == dest.resolve():
        return
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(source, local_files_only=True).save_pretrained(dest)


def read_config(ckpt_dir: str | Path) -> dict[str, Any]:
    """The parsed config.json of a checkpoint, checked for format and version."""
    path = Path(ckpt_dir) / CONFIG
    if not Path(ckpt_dir).is_dir():
        raise CheckpointError(f"{ckpt_dir}: no such checkpoint directory")
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (not a dmsil checkpoint directory)")
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a dmsil checkpoint config")
    if int(document.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer dmsil (format {document['format_version']} > {FORMAT_VERSION}); upgrade dmsil"
        )
    return document


def load(ckpt_dir: str | Path, device: str | torch.device = "cpu") -> DMSIL:
    """A ready model (eval mode) from a checkpoint directory, or a one-line :class:`CheckpointError`."""
    ckpt = Path(ckpt_dir)
    document = read_config(ckpt)
    try:
        config = ModelConfig.from_dict(document["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{ckpt / CONFIG}: bad model config ({exc})") from None
    if config.text_model == TEXT_ENCODER:
        config.text_model = str(ckpt / TEXT_ENCODER)
    weights = ckpt / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing")
    try:
        state = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: unreadable safetensors file ({exc})") from None
    model = DMSIL(config, pretrained=False)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatch
        first = str(exc).strip().splitlines()[-1].strip()
        raise CheckpointError(f"{weights}: weights do not match config.json ({first})") from None
    if missing or unexpected:
        raise CheckpointError(
            f"{weights}: weights do not match config.json (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model.to(device).eval()


def features(ckpt_dir: str | Path) -> FeatureSpec:
    return FeatureSpec.from_dict(read_config(ckpt_dir).get("features", {}))
