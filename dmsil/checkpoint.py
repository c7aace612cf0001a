"""Checkpoints as ``model.safetensors`` + ``config.json`` + ``metrics.json``: no pickle, ever.

A fine-tuned transformers text encoder keeps its architecture config and tokenizer in ``text_encoder/``
beside the weights, so a checkpoint loads without the directory it was trained from. When the encoder is
the packaged all-MiniLM-L6-v2 with its lower layers frozen, only the layers that changed are stored and
the rest is read from the package, checked by hash. ``config.json`` also says, per head, what it was
trained on: a head trained on nothing real is marked untrained and must never be shown as sentiment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from dmsil.calibration import Calibration, to_runtime
from dmsil.config import FeatureSpec, ModelConfig
from dmsil.errors import CheckpointError, DmsilError
from dmsil.model import DMSIL, HEADS, POLARITY
from dmsil.version import __version__

log = logging.getLogger(__name__)

FORMAT = "dmsil-checkpoint"
FORMAT_VERSION = 1
WEIGHTS, CONFIG, METRICS, TEXT_ENCODER = "model.safetensors", "config.json", "metrics.json", "text_encoder"


@dataclass
class HeadProvenance:
    """What one head learned from: ``trained`` False means its output is not sentiment and is never shown."""

    trained: bool
    source: str


def save(
    model: DMSIL,
    out_dir: str | Path,
    features: FeatureSpec | None = None,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    heads: dict[str, HeadProvenance] | None = None,
    half: bool = False,
) -> Path:
    """Write a checkpoint directory; ``extra`` (e.g. the training config) is kept in config.json.

    ``heads`` defaults to every head trained on the data; ``half`` stores float weights as float16.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = model.config.to_dict()
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    base = None
    if model.text_encoder.fine_tuned:
        source = model.config.text_model
        model.text_encoder.transformer.config.save_pretrained(out / TEXT_ENCODER)
        _save_tokenizer(source, out / TEXT_ENCODER)
        config["text_model"] = TEXT_ENCODER
        base = _packaged_base(model)
        if base is not None:
            frozen = frozen_keys(model)
            state = {k: v for k, v in state.items() if k not in frozen}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, str(out / WEIGHTS), metadata={"format": FORMAT})
    heads = heads or {h: HeadProvenance(True, extra.get("data", "") if extra else "") for h in HEADS}
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dmsil_version": __version__,
        "model": config,
        "features": (features or FeatureSpec()).to_dict(),
        "heads": {h: asdict(p) for h, p in heads.items()},
        **({"text_base": base} if base else {}),
        **(extra or {}),
    }
    _write_json(out / CONFIG, document)
    _write_json(out / METRICS, metrics or {})
    return out


def _packaged_base(model: DMSIL) -> dict[str, str] | None:
    """``{name, sha256}`` of the packaged encoder when the model fine-tunes only its top layers, else None."""
    from dmsil.features.text import PACKAGED

    if model.config.text_train_layers is None:
        return None
    here = Path(model.config.text_model).resolve()
    for name, locate in PACKAGED.items():
        try:
            packaged = Path(locate())
        except DmsilError:
            continue
        if here == packaged.resolve():
            return {"name": name, "sha256": sha256(packaged / WEIGHTS)}
    return None


def sha256(*paths: Path, extra: bytes = b"") -> str:
    """Hex SHA-256 of the files' bytes in turn, then ``extra``: the one way the project fingerprints files."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                digest.update(block)
    digest.update(extra)
    return digest.hexdigest()


def _resolve_base(ckpt: Path, base: dict[str, str]) -> str:
    """Folder of the packaged encoder a checkpoint builds on, checked to be the very weights it was trained on."""
    from dmsil.features.text import packaged_text_model

    try:
        folder = Path(packaged_text_model(str(base.get("name"))))
    except DmsilError as exc:
        raise CheckpointError(f"{ckpt}: needs {base.get('name')} ({exc})") from None
    if sha256(folder / WEIGHTS) != base.get("sha256"):
        raise CheckpointError(f"{ckpt}: the installed {base.get('name')} differs from the one it was trained on")
    return str(folder)


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


def set_runtime(
    ckpt_dir: str | Path,
    *,
    calibration: dict[str, Calibration] | None = None,
    onnx_int8: bool | None = None,
) -> dict[str, Any]:
    """Record in ``config.json`` ``runtime`` how the app should run a checkpoint, decided after training.

    ``calibration``: the monotone score maps per head (read back by :func:`dmsil.calibration.from_runtime`);
    ``onnx_int8``: whether the INT8 ONNX graph held the held-out metrics (the ``onnxruntime`` engine's
    default). Values left None are kept as they are. Returns the updated section.
    """
    document = read_config(ckpt_dir)
    runtime = document.setdefault("runtime", {})
    if calibration is not None:
        runtime["calibration"] = to_runtime(calibration)
    if onnx_int8 is not None:
        runtime["onnx_int8"] = bool(onnx_int8)
    _write_json(Path(ckpt_dir) / CONFIG, document)
    return runtime


def set_metrics(ckpt_dir: str | Path, key: str, value: Any) -> None:
    """Record one result measured after training (``value``) under ``key`` in ``metrics.json``."""
    path = Path(ckpt_dir) / METRICS
    document = json.loads(path.read_text())
    document[key] = value
    _write_json(path, document)


def _write_json(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


def set_polarity(ckpt_dir: str | Path, weight: np.ndarray, bias: np.ndarray, source: str) -> None:
    """Give a checkpoint the text's class readout (``ModelConfig.polarity``): a linear map from the pooled text
    (``weight`` 3 x width, ``bias`` 3, in :data:`~dmsil.model.POLARITY_CLASSES` order) fitted after training, so
    no other weight changes. ``source`` (what it was fitted on) is kept in ``config.json`` ``heads``."""
    ckpt = Path(ckpt_dir)
    document = read_config(ckpt)
    with safe_open(str(ckpt / WEIGHTS), "pt") as f:
        metadata = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}
    state["polarity.weight"] = torch.from_numpy(np.ascontiguousarray(weight, np.float32))
    state["polarity.bias"] = torch.from_numpy(np.ascontiguousarray(bias, np.float32))
    document["model"]["polarity"] = True
    document.setdefault("heads", {})[POLARITY] = asdict(HeadProvenance(True, source))
    save_file(state, str(ckpt / WEIGHTS), metadata=metadata)
    _write_json(ckpt / CONFIG, document)


def load(ckpt_dir: str | Path, device: str | torch.device = "cpu") -> DMSIL:
    """A ready model (eval mode) from a checkpoint directory, or a one-line :class:`CheckpointError`."""
    ckpt = Path(ckpt_dir)
    document = read_config(ckpt)
    try:
        config = ModelConfig.from_dict(document["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{ckpt / CONFIG}: bad model config ({exc})") from None
    base = document.get("text_base")
    if base:
        config = dataclasses.replace(config, text_model=_resolve_base(ckpt, base))
    elif config.text_model == TEXT_ENCODER:
        config = dataclasses.replace(config, text_model=str(ckpt / TEXT_ENCODER))
    weights = ckpt / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing")
    try:
        state = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: unreadable safetensors file ({exc})") from None
    model = DMSIL(config, pretrained=bool(base))
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatch
        first = str(exc).strip().splitlines()[-1].strip()
        raise CheckpointError(f"{weights}: weights do not match config.json ({first})") from None
    if base:  # the frozen layers come from the package
        frozen = frozen_keys(model)
        missing = [k for k in missing if k not in frozen]
    if missing or unexpected:
        raise CheckpointError(
            f"{weights}: weights do not match config.json (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model.to(device).eval()


def frozen_keys(model: DMSIL) -> set[str]:
    """State-dict keys of the text encoder's frozen parameters (equal to the packaged weights)."""
    if not model.text_encoder.fine_tuned:
        return set()
    return {
        f"text_encoder.transformer.{name}"
        for name, param in model.text_encoder.transformer.named_parameters()
        if not param.requires_grad
    }


def features(ckpt_dir: str | Path) -> FeatureSpec:
    return FeatureSpec.from_dict(read_config(ckpt_dir).get("features", {}))


def heads(ckpt_dir: str | Path) -> dict[str, HeadProvenance]:
    """Per-head provenance; checkpoints written before it existed count every head as trained."""
    stored = read_config(ckpt_dir).get("heads") or {}
    found = {}
    for head in HEADS:
        entry = stored.get(head, {"trained": True, "source": "not recorded"})
        found[head] = HeadProvenance(bool(entry.get("trained", True)), str(entry.get("source", "")))
    return found
