"""INT8 graphs for ONNX Runtime: dynamic quantization of the MatMuls, after SmoothQuant's smoothing.

Dynamic quantization gives each MatMul input one scale per call. A transformer's activations carry a few
channels tens of times larger than the rest, so that one scale leaves the other channels few levels: quantized
as they are, every MatMul of the default model moved its held-out scores 0.28 on average. SmoothQuant (Xiao et al.,
ICML 2023) divides input channel j by ``s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)`` and multiplies weight row
j by it: the same product in float, with the outliers moved into the weights, which are quantized per output
column. The channel maxima are measured once, on calibration sentences (:func:`activation_ranges`), and kept in
the checkpoint (:data:`SMOOTHING`); a checkpoint without them gets the older recipe (the feed-forward
down-projections left in float, :func:`down_projections`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dmsil.features.cache import staging
from dmsil.model import DMSIL

log = logging.getLogger(__name__)

SMOOTHING = "int8_smoothing.safetensors"
"""The checkpoint file of measured activation ranges (one vector per smoothed Linear, named as in the model)."""
ALPHA = 0.85
"""How much of each outlier moves into the weights. Chosen on the default model's validation sentences (never its
held-out ones) by how far the INT8 scores move from the float ones, mean |change| on 1,500: 0.100 at 0.6, 0.052 at
0.7, 0.046 at 0.75, 0.040 at 0.8, 0.037 at 0.85, 0.047 at 0.9 (``python -m scripts.default_model.held_out --int8
--alphas 0.6,0.7,0.75,0.8,0.85,0.9``)."""


@dataclass(frozen=True)
class Smoothing:
    """Per input channel, the largest |activation| entering each Linear (``ranges``), and :data:`ALPHA`."""

    ranges: dict[str, np.ndarray]
    alpha: float = ALPHA

    def digest(self) -> str:
        """Names the INT8 graph built with these ranges: other ranges, another graph."""
        h = hashlib.sha256(f"{self.alpha:g}".encode())
        for name in sorted(self.ranges):
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.ranges[name], np.float32).tobytes())
        return h.hexdigest()[:10]

    def save(self, ckpt_dir: Path, sentences: int) -> Path:
        from safetensors.numpy import save_file

        path = Path(ckpt_dir) / SMOOTHING
        tensors = {k: np.ascontiguousarray(v, np.float32) for k, v in self.ranges.items()}
        save_file(tensors, str(path), metadata={"alpha": f"{self.alpha:g}", "sentences": str(sentences)})
        return path

    @classmethod
    def of(cls, ckpt_dir: Path) -> Smoothing | None:
        """The checkpoint's ranges, or None where it has none."""
        path = Path(ckpt_dir) / SMOOTHING
        if not path.is_file():
            return None
        from safetensors import safe_open

        with safe_open(str(path), "np") as f:
            return cls({k: f.get_tensor(k) for k in f.keys()}, float((f.metadata() or {}).get("alpha", ALPHA)))


@torch.no_grad()
def activation_ranges(model: DMSIL, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per input channel, the largest |value| entering each token-wise Linear of the text encoder's transformer,
    over the real tokens of ``batches`` (token ids and mask, as :func:`dmsil.features.text.encode` gives them)."""
    encoder = model.text_encoder.transformer
    if encoder is None:
        return {}
    ranges: dict[str, torch.Tensor] = {}
    mask: list[torch.Tensor] = []

    def hook(name: str):
        def record(_module, inputs):
            if inputs[0].shape[:-1] != mask[0].shape:  # a pooler's (one vector a text): not in the exported graph
                return
            x = inputs[0].abs() * mask[0].unsqueeze(-1).to(inputs[0].dtype)
            top = x.reshape(-1, x.shape[-1]).amax(0)
            ranges[name] = torch.maximum(ranges[name], top) if name in ranges else top

        return record

    prefix = next(n for n, m in model.named_modules() if m is encoder)
    handles = [
        module.register_forward_pre_hook(hook(f"{prefix}.{name}"))
        for name, module in encoder.named_modules()
        if isinstance(module, torch.nn.Linear)
    ]
    try:
        for ids, m in batches:
            mask[:] = [torch.from_numpy(np.asarray(m))]
            model.text_encoder(torch.from_numpy(np.asarray(ids)), mask[0])
    finally:
        for handle in handles:
            handle.remove()
    return {k: v.numpy().astype(np.float32) for k, v in ranges.items()}


def module_of(node_name: str) -> str:
    """The model's Linear behind an exported MatMul: ``/model/a/b.0/c/MatMul`` -> ``a.b.0.c``."""
    parts = node_name.strip("/").split("/")
    return ".".join(parts[1:-1])


def smooth(graph, smoothing: Smoothing) -> int:
    """Smooth, in place, each MatMul of ``graph`` (an ONNX ``GraphProto``) whose Linear has ranges: a ``Mul`` by
    ``1/s`` on its input and ``s`` folded into its weight's rows. Returns how many; every range must find its MatMul."""
    from onnx import helper, numpy_helper

    weights = {i.name: i for i in graph.initializer}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    nodes, done = [], set()
    for node in graph.node:
        name = module_of(node.name)
        w = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) > 1 else None
        if w is not None and name in smoothing.ranges and uses[w.name] == 1:
            weight = numpy_helper.to_array(w)
            act = np.clip(smoothing.ranges[name].astype(np.float64), 1e-5, None)
            top = np.clip(np.abs(weight).max(1).astype(np.float64), 1e-5, None)
            s = act**smoothing.alpha / top ** (1 - smoothing.alpha)
            w.CopyFrom(numpy_helper.from_array((weight * s[:, None]).astype(np.float32), w.name))
            inverse = numpy_helper.from_array((1 / s).astype(np.float32), f"{node.name}/smooth_inverse")
            graph.initializer.append(inverse)
            nodes.append(
                helper.make_node("Mul", [node.input[0], inverse.name], [f"{node.name}/smoothed"], f"{node.name}/smooth")
            )
            node.input[0] = f"{node.name}/smoothed"
            done.add(name)
        nodes.append(node)
    if missing := sorted(set(smoothing.ranges) - done):
        raise ValueError(f"{len(missing)} smoothing ranges match no MatMul of the graph, e.g. {missing[0]!r}")
    del graph.node[:]
    graph.node.extend(nodes)
    return len(done)


def down_projections(onnx_path: Path) -> list[str]:
    """MatMuls whose constant weight narrows the width at least twofold: a transformer's feed-forward output.

    Their input is the GELU activation, whose rare large values make one per-tensor activation scale
    too coarse for the rest; quantized without smoothing, they moved the default model's held-out scores
    several times as far as everything else did (``scripts/bench_text_branch.py --checkpoint``).
    """
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    shapes = {i.name: tuple(i.dims) for i in graph.initializer}
    return [
        n.name
        for n in graph.node
        if n.op_type == "MatMul"
        and len(shapes.get(n.input[1], ())) == 2
        and shapes[n.input[1]][0] >= 2 * shapes[n.input[1]][1]
    ]


def quantize(
    onnx_path: Path, smoothing: Smoothing | None = None, per_channel: bool = True, float_down_projections: bool = True
) -> Path:
    """ONNX Runtime's dynamic INT8 quantization of the MatMuls (weights int8 per output channel, activations per
    call), cached beside the float graph. With ``smoothing``, every MatMul, smoothed first; without, the older
    recipes the two switches give (the shipped one keeps the down-projections in float), for the comparison.

    Accuracy is not checked here (no tolerance fits every model): a checkpoint opts in through
    ``runtime.onnx_int8`` once its held-out metrics were measured on the quantized graph.
    """
    if smoothing is not None:
        recipe = f"s{smoothing.digest()}"
    else:
        recipe = f"{'c' if per_channel else 't'}{'f' if float_down_projections else 'q'}"
    out = onnx_path.with_name(onnx_path.stem + f"-int8{recipe}.onnx")
    if out.is_file():
        return out
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, excluded = onnx_path, down_projections(onnx_path) if float_down_projections else []
    if smoothing is not None:
        model = onnx.load(str(onnx_path))
        smoothed = smooth(model.graph, smoothing)
        source, excluded = staging(out, ".smoothed.onnx"), []
        onnx.save(model, str(source))
        log.info("smoothed %d MatMul inputs (alpha %g)", smoothed, smoothing.alpha)
    tmp = staging(out, ".onnx")
    root = logging.getLogger()
    was, root.disabled = root.disabled, True  # it warns on the root logger about optional pre-processing
    try:
        quantize_dynamic(
            str(source),
            str(tmp),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            per_channel=per_channel,
            nodes_to_exclude=excluded,
        )
    finally:
        root.disabled = was
        if source != onnx_path:
            source.unlink(missing_ok=True)
    tmp.replace(out)
    log.info("quantized %s -> %s", onnx_path.name, out.name)
    return out
