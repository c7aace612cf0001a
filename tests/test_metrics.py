import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from dmsil import metrics


def mmsa_metrics_top():
    """MMSA's own MetricsTop, loaded from the installed MMSA wheel's file (the package __init__ is not run)."""
    spec = importlib.util.find_spec("MMSA")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("MMSA (the reference implementation) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "utils" / "metricsTop.py"
    module_spec = importlib.util.spec_from_file_location("mmsa_metrics_top", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.MetricsTop("regression")


def test_mosi_hand_worked_case_with_zero_truth():
    true = np.array([-2.0, -0.4, 0.0, 0.0, 1.2, 2.6])
    pred = np.array([-1.4, 0.3, -0.2, 0.5, 1.6, 3.4])
    m = metrics.compute(pred, true, "mosi")
    # Has0: truth >= 0 is positive -> [F, F, T, T, T, T]; preds >= 0 -> [F, T, F, T, T, T]: 4/6 right.
    assert m["Has0_acc_2"] == pytest.approx(4 / 6)
    # Non0 drops the two zero truths: [-2, -0.4, 1.2, 2.6] vs [-1.4, 0.3, 1.6, 3.4]: 3/4 right.
    assert m["Non0_acc_2"] == pytest.approx(3 / 4)
    # Acc7 clips to [-3, 3] and rounds (0.5 -> 0): truth [-2, -0, 0, 0, 1, 3] vs pred [-1, 0, -0, 0, 2, 3] -> 4/6.
    assert m["Mult_acc_7"] == pytest.approx(4 / 6)
    # Acc5 clips to [-2, 2] first: 3.4 -> 2 and 2.6 -> 2 now agree, as before the other three: 4/6.
    assert m["Mult_acc_5"] == pytest.approx(4 / 6)
    assert m["MAE"] == pytest.approx(np.mean([0.6, 0.7, 0.2, 0.5, 0.4, 0.8]))
    assert m["Corr"] == pytest.approx(np.corrcoef(pred, true)[0, 1])


def test_mosi_weighted_f1_matches_definition():
    true = np.array([1.0, 2.0, -1.0, -2.0, 0.5])
    pred = np.array([1.0, -1.0, -1.0, 1.0, 0.2])
    m = metrics.compute(pred, true, "mosei")
    # Non0 classes: truth [P, P, N, N, P], pred [P, N, N, P, P]: P has precision 2/3, recall 2/3; N 1/2, 1/2.
    assert m["Non0_F1_score"] == pytest.approx(3 / 5 * 2 / 3 + 2 / 5 * 1 / 2)


def test_weighted_f1_is_scikit_learns():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    for n, classes in ((7, 2), (50, 2), (40, 3), (9, 5)):
        true, pred = rng.integers(0, classes, n), rng.integers(0, classes, n)
        pred[pred == classes - 1] = 0  # a class in the truth that is never predicted
        assert metrics._weighted_f1(true, pred) == pytest.approx(f1_score(true, pred, average="weighted"), abs=1e-12)
    assert metrics._weighted_f1(np.ones(4, bool), np.zeros(4, bool)) == f1_score([1] * 4, [0] * 4, average="weighted")


def test_rounding_is_half_to_even_like_mmsa():
    # np.round(0.5) == 0 and np.round(1.5) == 2: a prediction of 0.5 is class 0, of 1.5 class 2.
    m = metrics.compute([0.5, 1.5], [0.0, 2.0], "mosi")
    assert m["Mult_acc_7"] == 1.0


def test_sims_bin_edges_are_right_closed():
    # Edge values belong to the lower class: -0.1 is "negative" (-1.01, -0.1], 0.1 is "neutral" (-0.1, 0.1].
    assert list(metrics.sims_class(np.array([-1.0, -0.7, -0.1, 0.0, 0.1, 0.7, 1.0]), 5)) == [0, 0, 1, 2, 2, 3, 4]
    assert list(metrics.sims_class(np.array([-0.1, 0.1, 0.11]), 3)) == [0, 1, 2]
    assert list(metrics.sims_class(np.array([0.0, 0.01]), 2)) == [0, 1]


def test_sims_clips_before_mae():
    m = metrics.compute([3.0, -3.0], [1.0, -0.5], "sims")
    # clipped predictions [1, -1] vs truth [1, -0.5]: MAE 0.25, not 1.75 as unclipped.
    assert m["MAE"] == pytest.approx(0.25)
    assert set(m) == set(metrics.SIMS_KEYS)


def test_key_names_are_mmsas():
    assert set(metrics.compute([0.1, -1.0, 2.0], [0.0, -1.0, 1.0], "mosi")) == set(metrics.MOSI_KEYS)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="equal"):
        metrics.compute([1.0, 2.0], [1.0], "mosi")
    with pytest.raises(ValueError, match="unknown dataset"):
        metrics.compute([1.0], [1.0], "iemocap")


@pytest.mark.parametrize("dataset", ["mosi", "mosei", "sims"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_mmsa_metrics_top_on_random_predictions(dataset, seed):
    reference = mmsa_metrics_top().getMetics(dataset)
    rng = np.random.default_rng(seed)
    bound = 1.0 if dataset == "sims" else 3.0
    n = 500
    # Annotator-style truths on a 0.2 (MOSI) / 0.2 (SIMS) grid, many exact zeros and bin edges.
    true = np.round(rng.uniform(-bound, bound, n) * 5) / 5
    true[rng.choice(n, 40, replace=False)] = 0.0
    pred = np.clip(true + rng.normal(0, 0.6 * bound, n), -1.3 * bound, 1.3 * bound)
    ours = metrics.compute(pred, true, dataset)
    theirs = reference(torch.tensor(pred, dtype=torch.float64), torch.tensor(true, dtype=torch.float64))
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(float(value), abs=1e-4), key


def test_float32_labels_on_the_sims_bin_edges_are_classed_as_mmsa_classes_them():
    """MMSA compares float32 labels with float32 edges: 0.1 stored as float32 (0.10000000149...) is neutral
    there, though in float64 it lies just above 0.1 and would be positive."""
    reference = mmsa_metrics_top().getMetics("sims")
    edges = np.array([-1.0, -0.7, -0.1, 0.0, 0.1, 0.7, 1.0], np.float32)
    true = np.repeat(edges, 3)
    pred = np.tile(edges, 3)[::-1].copy()
    ours = metrics.compute(pred, true, "sims")
    theirs = reference(torch.from_numpy(pred), torch.from_numpy(true))
    for key in ("Mult_acc_2", "Mult_acc_3", "Mult_acc_5", "F1_score"):
        assert ours[key] == pytest.approx(float(theirs[key]), abs=1e-4), key  # MMSA rounds to 4 places
    assert list(metrics.sims_class(np.float32([0.1, -0.1, 0.7]), 5)) == [2, 1, 3]


def test_weighted_mse_counts_each_sample_by_its_weight():
    pred, true = np.array([1.0, 2.0, 4.0]), np.array([0.0, 2.0, 0.0])
    assert metrics.mse(pred, true) == pytest.approx(np.mean((pred - true) ** 2))
    assert metrics.mse(pred, true, [1, 1, 0]) == pytest.approx(0.5)  # the unlabelled sample counts for nothing
    assert metrics.mse(pred, true, [2, 0, 1]) == pytest.approx((2 * 1 + 16) / 3)
    assert metrics.mse(pred, true, [0, 0, 0]) == 0.0


def test_verdicts_auc_is_the_share_of_correctly_ordered_pairs():
    rng = np.random.default_rng(4)
    positive = rng.random(300) < 0.4
    scores = np.round(rng.normal(positive * 0.8, 1.0), 1)  # rounded: ties count half
    pos, neg = scores[positive], scores[~positive]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    result = metrics.verdicts(scores, positive)
    assert result["n"] == 300 and result["auc"] == pytest.approx(pairs)
    assert result["accuracy"] == pytest.approx(np.mean((scores > 0) == positive))
