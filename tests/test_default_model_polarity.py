"""The text classes' recipe measures what the app runs: its pooled text, readout and band are the engine's."""

import numpy as np
import pytest
import torch

from dmsil import checkpoint, default_checkpoint
from scripts.default_model.polarity import SLICE_LOSS, band_classes, choose, pooled_text
from scripts.default_model.sentences import three_class

SAID = [
    "I loved every minute of it, the food was wonderful.",
    "The service was slow and the room was cold.",
    "The meeting moved to Thursday at ten.",
    "Yeah, right.",
]


def test_the_recipe_reads_the_pooled_text_as_the_app_does(scorer):
    model = checkpoint.load(default_checkpoint())
    x = pooled_text(model, SAID)
    read = scorer.texts(SAID)
    with torch.no_grad():
        readout = torch.softmax(model.polarity(torch.from_numpy(x)), -1).numpy()
    np.testing.assert_allclose(readout, [s.polarity for s in read], atol=1e-4)
    assert list(band_classes(model, x, default_checkpoint())) == list(three_class([s.text for s in read]))


def fit(f1: float, worst: float) -> dict:
    return {"meld_dev_weighted_f1": f1, "worst_source_vs_band": worst}


def test_the_best_dev_fit_that_keeps_every_other_source_is_chosen(caplog):
    kept, lost = fit(0.64, -SLICE_LOSS / 2), fit(0.66, -3 * SLICE_LOSS)
    assert choose([lost, kept, fit(0.63, 0.02)]) is kept
    assert choose([lost, fit(0.65, -2 * SLICE_LOSS)])["meld_dev_weighted_f1"] == pytest.approx(0.65)  # none kept
    assert "loses least" in caplog.text


def test_a_run_warm_started_from_the_shipped_model_leaves_its_classes_behind():
    """``train.py --warm-start``: the new encoder gets the start's weights but not its classes, which were
    fitted to the old encoder (``polarity.py`` fits them again)."""
    import dataclasses

    from dmsil.model import DMSIL
    from scripts.default_model.train import warm_start

    shipped = checkpoint.load(default_checkpoint())
    model = DMSIL(dataclasses.replace(shipped.config, polarity=False))
    warm_start(model, default_checkpoint())
    assert model.polarity is None and shipped.polarity is not None
    assert torch.equal(model.heads["T"].layer_3.weight, shipped.heads["T"].layer_3.weight)
