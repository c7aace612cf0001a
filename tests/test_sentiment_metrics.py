"""Sentence-level metrics on the MOSI scale: checked against values worked out by hand."""

import numpy as np
import pytest

from dmsil import metrics


def test_graded_counts_the_neutral_band_and_loudness():
    true = np.array([2.0, -1.0, 0.2, -0.3])
    pred = np.array([1.5, 0.4, 0.1, -0.6])
    m = metrics.graded(pred, true)
    # classes: truth (+, -, 0, 0); prediction (+, 0, 0, -): two of four right
    assert m["acc3"] == pytest.approx(0.5)
    assert m["mean_abs_neutral"] == pytest.approx((0.1 + 0.6) / 2)
    assert m["mean_abs_opinion"] == pytest.approx((1.5 + 0.4) / 2)
    assert m["mae"] == pytest.approx((0.5 + 1.4 + 0.1 + 0.3) / 4)
    assert m["r"] == pytest.approx(np.corrcoef(pred, true)[0, 1])


def test_reliability_bins_the_truth():
    true = np.array([-2.5, -2.2, 0.0, 0.1, 2.9])
    pred = np.array([-2.0, -1.0, 0.3, -0.1, 3.0])
    rows = metrics.reliability(pred, true)
    assert [(r["lo"], r["n"]) for r in rows] == [(-3, 2), (-0.5, 2), (2, 1)]
    assert rows[0]["pred"] == pytest.approx(-1.5) and rows[0]["truth"] == pytest.approx(-2.35)
    by_score = metrics.reliability(pred, true, by="score")
    assert [(r["lo"], r["n"]) for r in by_score] == [(-2, 1), (-1, 1), (-0.5, 2), (2, 1)]
    assert by_score[0]["truth"] == pytest.approx(-2.5) and by_score[0]["pred"] == pytest.approx(-2.0)
