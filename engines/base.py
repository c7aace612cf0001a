"""What every engine shares: the fusion model's inputs and outputs, and an example batch.

The fusion model is everything after the feature extractors: text encoder (or the projection of
frozen states), masked LSTMs, alignment projections and the four heads. Engines take numpy in and give
numpy out, so nothing above ``engines`` cares which one runs.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import torch

from dmsil.model import DMSIL, POLARITY

INPUTS = ("text", "text_mask", "audio", "audio_lengths", "video", "video_lengths")
OUTPUTS = ("M", "T", "A", "V")
"""The scores every model gives; :func:`outputs` adds what a model has beyond them."""


def outputs(model: DMSIL) -> tuple[str, ...]:
    """The outputs engines return for ``model``: :data:`OUTPUTS`, and the text's class probabilities ``P``
    where the model reads them (``ModelConfig.polarity``)."""
    return OUTPUTS + ((POLARITY,) if model.polarity is not None else ())


AUTO_ORDER = ("tensorrt", "torch-compile", "onnxruntime", "torch")
"""What ``auto`` tries, in turn: the first that can run here wins."""
ONNX_KINDS = ("onnxruntime", "onnxruntime-fp32", "onnxruntime-int8")
"""``onnxruntime`` runs INT8 where the checkpoint asks for it (``config.json`` ``runtime.onnx_int8``, set when the
held-out metrics were checked to hold); ``onnxruntime-fp32`` always runs the float graph and ``onnxruntime-int8``
always the quantized one (faster, at the accuracy cost the checkpoint's ``metrics.json`` ``int8_check`` reports)."""
KINDS = ("auto", *AUTO_ORDER, *ONNX_KINDS[1:])
"""Every name ``engines.load`` and the ``--engine`` flags accept: the one list of them."""

FLOAT32_EPS = float(np.finfo(np.float32).eps)
ROUNDING_MARGIN = 4
"""How many times the rounding estimate of :func:`float32_tolerance` a correct result may reach: layer norms and
softmaxes can amplify an input's rounding, and CPUs differ in how they vectorise sums and transcendentals."""


class EngineUnavailable(RuntimeError):
    """This engine cannot run here (package missing, no GPU); the message says why in one line."""


class Engine(Protocol):
    name: str

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def warmup(self) -> None: ...


class FusionModel(torch.nn.Module):
    """DMSIL with positional inputs and its :func:`outputs` as a tuple: the form exporters and compilers need."""

    def __init__(self, model: DMSIL):
        super().__init__()
        self.model = model
        self.names = outputs(model)

    def forward(self, text, text_mask, audio, audio_lengths, video, video_lengths):
        out = self.model(text, text_mask, audio, audio_lengths, video, video_lengths)
        return tuple(out[k] for k in self.names)


class WordlessModel(FusionModel):
    """:class:`FusionModel` for batches without words, taking the audio and video inputs only
    (:data:`WORDLESS_INPUTS`): the text encoder is left out (:meth:`dmsil.model.DMSIL.forward` with ``text`` None).

    The scorer reads each window's face and voice apart from its words, in calls whose text masks are all empty.
    At batch 1 such a call cost 28 ms of the default model's 50, almost all of it the encoder's weights read for one
    padding token.
    """

    def forward(self, audio, audio_lengths, video, video_lengths):
        out = self.model(None, None, audio, audio_lengths, video, video_lengths)
        return tuple(out[k] for k in self.names)


WORDLESS_INPUTS = INPUTS[2:]


def wordless(batch: dict[str, np.ndarray]) -> bool:
    """No sample of ``batch`` has a word: :class:`WordlessModel` gives its outputs."""
    return not np.asarray(batch["text_mask"]).any()


def example_batch(model: DMSIL, batch: int = 1, lengths: tuple[int, int, int] = (50, 500, 375), seed: int = 0):
    """A random batch of the model's input shapes (full lengths), as numpy."""
    rng = np.random.default_rng(seed)
    c = model.config
    lt, la, lv = lengths
    if model.text_encoder.fine_tuned:
        vocab = int(model.text_encoder.transformer.config.vocab_size)
        text = rng.integers(1, vocab, size=(batch, lt)).astype(np.int64)
    else:
        text = rng.normal(size=(batch, lt, c.text_dim)).astype(np.float32)
    return {
        "text": text,
        "text_mask": np.ones((batch, lt), np.float32),
        "audio": rng.normal(size=(batch, la, c.audio_dim)).astype(np.float32),
        "audio_lengths": np.full(batch, la, np.int64),
        "video": rng.normal(size=(batch, lv, c.video_dim)).astype(np.float32),
        "video_lengths": np.full(batch, lv, np.int64),
    }


def to_torch(
    batch: dict[str, np.ndarray], device: str | torch.device = "cpu", names: tuple[str, ...] = INPUTS
) -> list[torch.Tensor]:
    return [torch.from_numpy(np.ascontiguousarray(batch[k])).to(device) for k in names]


def float32_tolerance(scale: float, depth: int, width: int) -> float:
    """The largest difference two correct float32 evaluations of one network should show.

    Engines, BLAS builds and CPUs sum in different orders (and approximate exp/erf differently), so each dot
    product of ``width`` terms rounds differently by about ``sqrt(width)`` float32 epsilons of its size (a random
    walk of roundings), and ``depth`` such stages in a row add up. ``scale`` is the size of the values compared.
    A mis-mapped or mis-exported tensor moves outputs by a sizeable fraction of ``scale``, far above this.
    """
    return ROUNDING_MARGIN * FLOAT32_EPS * math.sqrt(width) * depth * scale


def parity_tolerance(model: DMSIL, reference: dict[str, np.ndarray]) -> float:
    """:func:`float32_tolerance` for ``model``'s scores against the eager ``reference``.

    Depth counts every Linear (an upper bound on the longest path: the heads run side by side) plus one per LSTM:
    its gates squash the state each step, so rounding does not compound over time (500 audio steps differed by
    1.5e-8 between ONNX Runtime and torch). Width is the longest dot product. The scale is the scores' largest
    magnitude but at least 1, the order of the hidden activations where the rounding happens.
    """
    linears = [m.in_features for m in model.modules() if isinstance(m, torch.nn.Linear)]
    lstms = [m.input_size + m.hidden_size for m in model.modules() if isinstance(m, torch.nn.LSTM)]
    scale = max(1.0, *(float(np.abs(v).max()) for v in reference.values()))
    return float32_tolerance(scale, len(linears) + len(lstms), max(linears + lstms))
