import numpy as np
import pytest
import torch

from dmsil.labels import LabelGenerator, generate_labels, momentum_update, relative_distance


def test_relative_distance_hand_computed():
    pos, neg = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.0])
    f = torch.tensor([[0.5, 0.0]])
    # d_pos = 0.5, d_neg = 1.5 -> delta = (1.5 - 0.5) / 0.5 = 2
    assert torch.allclose(relative_distance(f, pos, neg), torch.tensor([2.0]))


def test_generated_label_matches_both_forms_of_the_equation():
    y_m, delta_f, delta_s = torch.tensor([1.2]), torch.tensor([2.0]), torch.tensor([3.0])
    # Self-MM: y_s = y_m + (delta_s - delta_f) * (y_m + delta_f) / (2 delta_f) = 1.2 + 1 * 3.2 / 4 = 2.0
    assert torch.allclose(generate_labels(y_m, delta_f, delta_s, bound=3.0), torch.tensor([2.0]), atol=1e-6)
    # A modality nearer the negative centre than the fused feature gets a lower label: 1.2 + (-1) * 3.2 / 4 = 0.4
    assert torch.allclose(generate_labels(y_m, delta_f, torch.tensor([1.0]), 3.0), torch.tensor([0.4]), atol=1e-6)


def test_generated_label_is_clamped_to_h():
    # alpha = 50 for both; 0.5*50*0.9 + 0.5*(0.9 + 4.9) = 25.4 and its mirror -25.4, clamped to H = 1.
    out = generate_labels(torch.tensor([0.9, -0.9]), torch.tensor([0.1, -0.1]), torch.tensor([5.0, -5.0]), bound=1.0)
    assert out.tolist() == [1.0, -1.0]


def test_generated_label_keeps_y_m_when_deltas_are_huge():
    # A feature exactly on its centre gives delta ~ 2e8; equal deltas must still return y_m.
    huge = torch.tensor([2e8])
    assert torch.allclose(generate_labels(torch.tensor([2.0]), huge, huge, 3.0), torch.tensor([2.0]))


def test_momentum_update_hand_computed():
    # epoch 3: 2/4 * old + 2/4 * new
    assert momentum_update(torch.tensor(1.0), torch.tensor(3.0), 3).item() == 2.0
    # epoch 1 would take the new label entirely
    assert momentum_update(torch.tensor(1.0), torch.tensor(3.0), 1).item() == 3.0


def test_label_generator_end_to_end_hand_example():
    gen = LabelGenerator(3, {"M": 1, "T": 1, "A": 1, "V": 1}, bound=3.0)
    idx = torch.arange(3)
    gen.init_labels(idx, torch.tensor([2.0, -1.0, 0.0]))
    feats = {k: torch.tensor([[1.0], [-1.0], [0.0]]) for k in ("Feature_f", "Feature_t", "Feature_a", "Feature_v")}
    gen.update_features(feats, idx)
    gen.update_centres()
    # The zero label is neither positive (exclude_zero) nor negative: every centre pair is (+1, -1).
    assert gen.centres["T"][0].item() == 1.0 and gen.centres["T"][1].item() == -1.0
    # Sample 0 (y_m = 2): fused feature 0.5 -> delta_f = (1.5 - 0.5) / 0.5 = 2.
    batch = {
        "Feature_f": torch.tensor([[0.5]]),
        "Feature_t": torch.tensor([[0.0]]),  # delta 0   -> y = 0.5*0*2 + 0.5*(2 + 0 - 2) = 0
        "Feature_a": torch.tensor([[0.5]]),  # delta 2   -> y = 2 (as fused)
        "Feature_v": torch.tensor([[0.8]]),  # delta 8   -> y = 0.5*4*2 + 0.5*(2 + 6) = 8 -> clamped to 3
    }
    gen.update_labels(batch, torch.tensor([0]), epoch=2)
    # Momentum at epoch 2: 1/3 * stored (2) + 2/3 * new.
    assert gen.labels["T"][0].item() == pytest.approx(2 / 3)
    assert gen.labels["A"][0].item() == pytest.approx(2.0)
    assert gen.labels["V"][0].item() == pytest.approx(2 / 3 + 2)
    # Fused labels never move; other samples are untouched.
    assert gen.labels["M"].tolist() == [2.0, -1.0, 0.0]
    assert gen.labels["T"][1:].tolist() == [-1.0, 0.0]
    # Loss weights: 1 for M, tanh(|y_s - y_m|) for a unimodal task.
    assert gen.weights("T", torch.tensor([0])).item() == pytest.approx(float(np.tanh(4 / 3)))
    assert gen.weights("M", idx).tolist() == [1.0, 1.0, 1.0]
