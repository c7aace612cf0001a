"""ONNX Runtime on CPU, set up for low latency next to the feature extractors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engines.base import EngineUnavailable


def default_threads() -> int:
    """All cores but one, which is left to the extractors (at least one)."""
    return max(1, len(os.sched_getaffinity(0)) - 1)


class OrtEngine:
    name = "onnxruntime"

    def __init__(self, onnx_path: str | Path, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise EngineUnavailable("onnxruntime is not installed") from None
        self.path = Path(onnx_path)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        # Idle pool threads do not spin waiting for the next run: the cores are shared with the extractors
        # (and, in ``python -m engines bench``, with the engine measured next: torch ran 1.45x slower there).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        # The exporter drops inputs the graph does not use (e.g. the text mask with [CLS] pooling).
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {k: np.ascontiguousarray(batch[k]) for k in self.inputs}
        return dict(zip(self.outputs, self.session.run(self.outputs, feed), strict=True))

    def warmup(self) -> None:
        """One run on a small batch shaped from the session's own inputs (ids 1, lengths 8)."""
        feed = {}
        for info in self.session.get_inputs():
            name = info.name
            shape = [d if isinstance(d, int) else (1 if i == 0 else 8) for i, d in enumerate(info.shape)]
            dtype = np.int64 if "int64" in info.type else np.float32
            feed[name] = np.full(shape, 8 if name.endswith("lengths") else 1, dtype)
        self.session.run(None, feed)
