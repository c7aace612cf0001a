"""ONNX Runtime on CPU, set up for low latency next to the feature extractors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engines.base import EngineUnavailable, wordless


def default_threads() -> int:
    """All cores but one, which is left to the extractors (at least one)."""
    return max(1, len(os.sched_getaffinity(0)) - 1)


class OrtEngine:
    """One ONNX graph on ONNX Runtime's CPU provider; with ``wordless_path``, a second graph without the text
    encoder (:class:`engines.base.WordlessModel`) runs the batches that have no words."""

    name = "onnxruntime"

    def __init__(self, onnx_path: str | Path, threads: int | None = None, wordless_path: str | Path | None = None):
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

        def session(path: str | Path):
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        self.session = session(onnx_path)
        self.wordless_session = session(wordless_path) if wordless_path is not None else None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = self.wordless_session if self.wordless_session is not None and wordless(batch) else self.session
        # The exporter drops inputs the graph does not use (e.g. the text mask with [CLS] pooling).
        feed = {i.name: np.ascontiguousarray(batch[i.name]) for i in session.get_inputs()}
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, feed), strict=True))

    def warmup(self) -> None:
        """One run of each graph on a small batch shaped from the session's own inputs (ids 1, lengths 8)."""
        for session in (self.session, self.wordless_session):
            if session is None:
                continue
            feed = {}
            for info in session.get_inputs():
                name = info.name
                shape = [d if isinstance(d, int) else (1 if i == 0 else 8) for i, d in enumerate(info.shape)]
                dtype = np.int64 if "int64" in info.type else np.float32
                feed[name] = np.full(shape, 8 if name.endswith("lengths") else 1, dtype)
            session.run(None, feed)
