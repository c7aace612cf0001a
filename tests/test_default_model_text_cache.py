"""Fine-tuning from cached frozen states gives exactly what the full encoder gives, for both packaged encoders."""

import numpy as np
import pytest
import torch

from dmsil.config import ModelConfig
from dmsil.features.text import MINILM, MPNET, encode, packaged_text_model
from dmsil.model import DMSIL
from scripts.default_model.text_cache import FrozenTextStates, StackedStates, cache_key

SENTENCES = [
    "The nurse stayed late to explain everything.",
    "It broke.",
    "The bus to the airport leaves every twenty minutes from platform four, next to the ticket office.",
]


@pytest.fixture(scope="module", params=[MINILM, MPNET])
def model(request):
    torch.manual_seed(0)
    config = ModelConfig(audio_dim=4, video_dim=3, text_model=packaged_text_model(request.param), text_pooling="mean",
                         text_train_layers=2)  # fmt: skip
    return DMSIL(config).eval(), request.param


def tokens(model, texts):
    from transformers import AutoTokenizer

    return encode(AutoTokenizer.from_pretrained(model.config.text_model), texts, 32)


def test_from_frozen_equals_the_full_forward(model):
    m, _ = model
    ids, mask = tokens(m, SENTENCES)
    ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
    with torch.no_grad():
        full = m.text_encoder(ids, mask)
        split = m.text_encoder.from_frozen(m.text_encoder.frozen_states(ids, mask), mask)
    assert torch.allclose(full, split, atol=1e-5)
    assert m.text_encoder.first_trained_layer == len(m.text_encoder.transformer.encoder.layer) - 2


def test_cache_builds_resumably_and_reads_back_unpadded(model, tmp_path):
    m, name = model
    ids, mask = tokens(m, SENTENCES)
    key = cache_key(name, m.text_encoder.first_trained_layer, 32, SENTENCES)
    assert key != cache_key(name, m.text_encoder.first_trained_layer, 32, SENTENCES[:2])
    cache = FrozenTextStates.build(tmp_path, key, m.text_encoder, ids, mask)
    states, got_mask = cache.batch(np.array([2, 1]))
    assert states.shape[1] == int(mask[2].sum()) and got_mask[1].sum() == mask[1].sum()
    with torch.no_grad():
        direct = m.text_encoder.frozen_states(torch.from_numpy(ids[[2, 1]]), torch.from_numpy(mask[[2, 1]]))
    n = int(mask[1].sum())
    assert torch.allclose(states[1, :n], direct[1, :n], atol=2e-2)  # stored in float16
    assert (states[1, n:] == 0).all()
    # reopening a finished cache computes nothing and reads the same values
    again = FrozenTextStates.build(tmp_path, key, m.text_encoder, ids, mask)
    assert torch.equal(again.batch(np.array([2, 1]))[0], states)


def test_stacked_caches_read_as_one_corpus(model, tmp_path):
    m, name = model
    first, second = SENTENCES[:2], SENTENCES[2:]
    parts = []
    for texts in (first, second):
        ids, mask = tokens(m, texts)
        key = cache_key(name, m.text_encoder.first_trained_layer, 32, texts)
        parts.append(FrozenTextStates.build(tmp_path, key, m.text_encoder, ids, mask))
    ids, mask = tokens(m, SENTENCES)
    whole = FrozenTextStates.build(tmp_path, "whole", m.text_encoder, ids, mask)
    stacked = StackedStates(parts)
    idx = np.array([len(SENTENCES) - 1, 0, 2])
    states, got_mask = stacked.batch(idx)
    want, want_mask = whole.batch(idx)
    assert torch.equal(got_mask, want_mask)
    assert torch.allclose(states, want, atol=2e-2)
