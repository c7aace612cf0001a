"""TensorRT on NVIDIA GPUs, built from the exported ONNX (TensorRT 10/11 Python API).

Not run on any machine of this project: TensorRT cannot be installed here (PyPI's TensorRT libraries
are stubs that download from NVIDIA's own index). ``python -m engines bench`` prints its parity against
PyTorch where TensorRT and a GPU exist.

The engine is built once per (model hash, GPU, TensorRT version) and cached as a ``.plan`` file: an
optimization profile covers batch 1-32 and the sequence lengths seen in training; FP16 is requested the
TensorRT 10 way where the GPU has fast FP16 (builder flag; strongly typed networks keep the ONNX types).
Inputs and outputs live in device buffers that are reused while shapes allow.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engines.base import EngineUnavailable

log = logging.getLogger(__name__)
PROFILE = {  # input -> (min, opt, max) shapes, batch first; feature sizes are filled in from the ONNX
    "text": ((1, 1), (1, 50), (32, 128)),
    "text_mask": ((1, 1), (1, 50), (32, 128)),
    "audio": ((1, 1), (1, 500), (32, 3000)),
    "audio_lengths": ((1,), (1,), (32,)),
    "video": ((1, 1), (1, 150), (32, 900)),
    "video_lengths": ((1,), (1,), (32,)),
}


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError:
        raise EngineUnavailable(
            "TensorRT is not installed (it cannot be installed from PyPI here; install NVIDIA's wheels)"
        ) from None
    import torch

    if not torch.cuda.is_available():
        raise EngineUnavailable("TensorRT needs an NVIDIA GPU; none is visible")
    return trt, torch


def build_plan(onnx_path: Path, plan_path: Path, fp16: bool = True) -> Path:
    """Parse the ONNX, set the optimization profile (and FP16), serialize the engine to ``plan_path``."""
    trt, _ = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"{onnx_path}: TensorRT cannot parse it: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    if fp16 and builder.platform_has_fast_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        tail = tuple(tensor.shape)[len(PROFILE[tensor.name][0]) :]
        shapes = [s + tail for s in PROFILE[tensor.name]]
        profile.set_shape(tensor.name, *shapes)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"{onnx_path}: TensorRT could not build an engine")
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    plan_path.write_bytes(bytes(serialized))
    return plan_path


class TensorRTEngine:
    name = "tensorrt"

    def __init__(self, onnx_path: str | Path, cache_dir: str | Path, model_hash: str, fp16: bool = True):
        trt, torch = import_tensorrt()
        self._torch = torch
        gpu = torch.cuda.get_device_name(0).replace(" ", "_")
        plan = Path(cache_dir) / f"fusion-{model_hash}-{gpu}-trt{trt.__version__}{'-fp16' if fp16 else ''}.plan"
        if not plan.is_file():
            log.info("building TensorRT engine %s (once)", plan)
            build_plan(Path(onnx_path), plan, fp16)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(plan.read_bytes())
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self._buffers: dict[str, object] = {}

    def _buffer(self, name: str, shape: tuple[int, ...], dtype) -> object:
        """A device tensor for ``name``, reused while it is large enough."""
        torch = self._torch
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < int(np.prod(shape)) or buf.dtype != dtype:
            buf = torch.empty(int(np.prod(shape)), dtype=dtype, device="cuda")
            self._buffers[name] = buf
        return buf[: int(np.prod(shape))].view(shape)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        with torch.cuda.stream(self.stream):
            for name in self.inputs:
                host = torch.from_numpy(np.ascontiguousarray(batch[name]))
                dev = self._buffer(name, tuple(host.shape), host.dtype)
                dev.copy_(host, non_blocking=True)
                self.context.set_input_shape(name, tuple(host.shape))
                self.context.set_tensor_address(name, dev.data_ptr())
            outputs = {}
            for name in self.outputs:
                shape = tuple(self.context.get_tensor_shape(name))
                out = self._buffer(name, shape, torch.float32)
                self.context.set_tensor_address(name, out.data_ptr())
                outputs[name] = out
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execution failed")
        self.stream.synchronize()
        return {k: v.float().cpu().numpy() for k, v in outputs.items()}

    def warmup(self) -> None:
        """One run at the profile's optimal shapes (values are ones: shapes are what matters)."""
        import tensorrt as trt

        feed = {}
        for name in self.inputs:
            opt = PROFILE[name][1]
            tail = tuple(self.engine.get_tensor_shape(name))[len(opt) :]
            feed[name] = np.ones(opt + tail, dtype=trt.nptype(self.engine.get_tensor_dtype(name)))
        self(feed)
