"""Run a trained dmsil checkpoint fast, behind one interface: ``engines.load(checkpoint, kind)``.

Kinds: ``tensorrt`` (NVIDIA GPU with TensorRT), ``torch-compile`` (CUDA graphs on a GPU), ``onnxruntime``
(CPU), ``torch`` (eager reference). ``auto`` takes the first that can run here, in that order, and logs
the choice and every fallback reason once. Every engine maps numpy inputs to ``{"M","T","A","V"}``, plus
``"P"`` (the text's class probabilities) for a checkpoint that has them (:func:`engines.base.outputs`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from engines.base import AUTO_ORDER, INPUTS, KINDS, ONNX_KINDS, OUTPUTS, Engine, EngineUnavailable

log = logging.getLogger(__name__)


def build(kind: str, ckpt: Path, threads: int | None) -> Engine:
    from dmsil import checkpoint

    if kind == "torch":
        import torch

        from engines.torch_engine import TorchEngine

        return TorchEngine(checkpoint.load(ckpt), "cuda" if torch.cuda.is_available() else "cpu")
    if kind == "torch-compile":
        from engines.torch_engine import CompiledTorchEngine

        CompiledTorchEngine.require()  # before loading: on a CPU, "auto" would build the model for nothing
        return CompiledTorchEngine(checkpoint.load(ckpt))
    from engines.onnx_export import cache_key, export

    if kind in ONNX_KINDS:
        from engines.ort_engine import OrtEngine
        from engines.quantize import Smoothing, quantize

        onnx_path = export(ckpt)
        asked = checkpoint.read_config(ckpt).get("runtime", {}).get("onnx_int8", False)
        int8 = kind == "onnxruntime-int8" or (kind == "onnxruntime" and asked)
        graph = quantize(onnx_path, Smoothing.of(ckpt)) if int8 else onnx_path
        return OrtEngine(graph, threads, wordless_path=export(ckpt, wordless=True))
    if kind == "tensorrt":
        from engines.trt_engine import TensorRTEngine, import_tensorrt

        import_tensorrt()  # fail fast, before exporting anything
        onnx_path = export(ckpt)
        return TensorRTEngine(onnx_path, onnx_path.parent, cache_key(ckpt))
    raise ValueError(f"unknown engine {kind!r}: use one of {', '.join(KINDS)}")


def load(checkpoint_dir: str | Path, kind: str = "auto", threads: int | None = None) -> Engine:
    """An engine for the checkpoint; ``kind="auto"`` falls back along TensorRT, torch-compile, ONNX Runtime, torch."""
    ckpt = Path(checkpoint_dir)
    if kind != "auto":
        engine = build(kind, ckpt, threads)
        log.info("engine: %s", engine.name)
        return engine
    reasons = []
    for candidate in AUTO_ORDER:
        try:
            engine = build(candidate, ckpt, threads)
        except EngineUnavailable as exc:
            reasons.append(f"{candidate}: {exc}")
            continue
        log.info("engine: %s%s", engine.name, f" (skipped {'; '.join(reasons)})" if reasons else "")
        return engine
    raise EngineUnavailable("; ".join(reasons))


__all__ = ["AUTO_ORDER", "INPUTS", "KINDS", "OUTPUTS", "Engine", "EngineUnavailable", "load"]
