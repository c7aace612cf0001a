"""Export a checkpoint's fusion model to ONNX, check it against PyTorch, cache it beside the checkpoint
(or in the user cache when the checkpoint's folder is read-only, as an installed package's is).

Batch and every sequence length are dynamic axes; masks and lengths are inputs. The file is named by a
hash of the weights, the config and the exporter versions, so a changed checkpoint or torch gets a new one.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from dmsil import checkpoint
from dmsil.features.cache import staging
from dmsil.model import DMSIL
from engines.base import (
    INPUTS,
    WORDLESS_INPUTS,
    FusionModel,
    WordlessModel,
    example_batch,
    parity_tolerance,
    to_torch,
)

log = logging.getLogger(__name__)
OPSET = 17


def cache_key(ckpt_dir: Path) -> str:
    """A hash of the weights, the config and the exporter versions, worked out once per state of the two files
    (an engine asks for both of its graphs, and hashing the default model's weights takes up to 0.1 s)."""
    files = (Path(ckpt_dir) / checkpoint.WEIGHTS, Path(ckpt_dir) / checkpoint.CONFIG)
    return _hashed(tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


@functools.lru_cache(maxsize=16)
def _hashed(files: tuple[tuple[str, int, int], ...]) -> str:
    import onnx

    versions = f"torch {torch.__version__} onnx {onnx.__version__} opset {OPSET}".encode()
    return checkpoint.sha256(*(Path(name) for name, _, _ in files), extra=versions)[:16]


def cache_dir(ckpt_dir: Path) -> Path:
    """``CHECKPOINT/onnx`` where the checkpoint folder is writable, else under the user cache (a read-only install)."""
    if os.access(ckpt_dir, os.W_OK):
        return ckpt_dir / "onnx"
    from dmsil.features.cache import cache_root

    return cache_root() / "onnx" / ckpt_dir.resolve().name


def export_model(model: DMSIL, out: Path, wordless: bool = False) -> Path:
    """Write ``model`` as ONNX with dynamic batch and sequence axes (atomically); ``wordless``: its
    :class:`~engines.base.WordlessModel`, for batches without words."""
    fusion = (WordlessModel if wordless else FusionModel)(model).eval()
    names = WORDLESS_INPUTS if wordless else INPUTS
    sample = to_torch(example_batch(model, batch=2, lengths=(12, 40, 30)), names=names)
    dynamic = {
        "text": {0: "batch", 1: "text_len"},
        "text_mask": {0: "batch", 1: "text_len"},
        "audio": {0: "batch", 1: "audio_len"},
        "audio_lengths": {0: "batch"},
        "video": {0: "batch", 1: "video_len"},
        "video_lengths": {0: "batch"},
    }
    dynamic = {k: v for k, v in dynamic.items() if k in names}
    dynamic.update({k: {0: "batch"} for k in fusion.names})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging(out)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the LSTM batch-size note does not apply: no initial state is exported
        torch.onnx.export(
            fusion,
            tuple(sample),
            str(tmp),
            input_names=list(names),
            output_names=list(fusion.names),
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,
        )
    os.replace(tmp, out)
    return out


def parity(
    model: DMSIL, onnx_path: Path, lengths: tuple[int, int, int] = (50, 500, 375), wordless: bool = False
) -> tuple[float, float]:
    """Max abs difference between ONNX Runtime and eager PyTorch on a random batch of 3 (``wordless``: every text
    mask empty), and what float32 rounding allows there (:func:`engines.base.parity_tolerance`)."""
    from engines.ort_engine import OrtEngine
    from engines.torch_engine import TorchEngine

    batch = example_batch(model, batch=3, lengths=lengths, seed=1)
    if wordless:
        batch["text_mask"][:] = 0
    batch["audio_lengths"][1:] = [lengths[1] // 2, 1]
    batch["video_lengths"][1:] = [lengths[2] // 3, 0]
    ours, ref = OrtEngine(onnx_path, threads=1)(batch), TorchEngine(model)(batch)
    return max(float(np.abs(ours[k] - ref[k]).max()) for k in ref), parity_tolerance(model, ref)


def export(ckpt_dir: str | Path, out: str | Path | None = None, wordless: bool = False) -> Path:
    """The checkpoint as ONNX (reused from the cache when present), parity-checked on a fresh export;
    ``wordless``: the graph without the text encoder, for batches without words (:class:`~engines.base.WordlessModel`)."""
    ckpt_dir = Path(ckpt_dir)
    checkpoint.read_config(ckpt_dir)  # a one-line error for a folder that is not a checkpoint
    name = f"fusion-{cache_key(ckpt_dir)}{'-wordless' if wordless else ''}.onnx"
    target = Path(out) if out else cache_dir(ckpt_dir) / name
    if out is None and target.is_file():
        return target
    model = checkpoint.load(ckpt_dir)
    export_model(model, target, wordless)
    diff, tolerance = parity(model, target, wordless=wordless)
    log.info("exported %s; max abs difference to PyTorch %.2e (float32 allows %.1e)", target, diff, tolerance)
    if diff > tolerance:
        target.unlink()
        raise RuntimeError(f"{target}: ONNX output differs from PyTorch by {diff:.2e} (> {tolerance:.1e})")
    if out is None and not wordless:  # the wordless graph's name extends the whole one's: pruning keeps it
        prune(target)
    return target


def prune(current: Path) -> None:
    """Remove the cached graphs of earlier weights (or an earlier torch) beside ``current``, and their INT8
    copies (:mod:`engines.quantize`): each is the size of the model (440 MB for the default one), and nothing asks for them again."""
    stale = [p for p in current.parent.glob("fusion-*.onnx") if not p.name.startswith(current.stem)]
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log.info("removed %d cached graph(s) of earlier weights from %s", len(stale), current.parent)
