import numpy as np
import torch

from dmsil.alignment import CovarianceAlignment, coral_loss, covariance
from dmsil.config import AlignmentConfig


def test_covariance_matches_numpy():
    x = torch.randn(40, 6, dtype=torch.float64)
    assert np.allclose(covariance(x).numpy(), np.cov(x.numpy(), rowvar=False))


def test_coral_loss_equals_closed_form():
    torch.manual_seed(0)
    a, b = torch.randn(50, 4, dtype=torch.float64), 2 * torch.randn(50, 4, dtype=torch.float64) + 1
    ca, cb = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    expected = np.sum((ca - cb) ** 2) / (4 * 4**2)
    assert abs(coral_loss(a, b).item() - expected) < 1e-12


def test_coral_loss_is_zero_for_identical_covariances():
    torch.manual_seed(1)
    a = torch.randn(30, 5, dtype=torch.float64)
    # A shifted copy, and a sign-flipped copy, have exactly the same covariance.
    assert coral_loss(a, a + 3.0).item() < 1e-20
    assert coral_loss(a, -a).item() < 1e-20
    assert coral_loss(a, 2 * a).item() > 0


def test_single_sample_batch_gives_zero_not_nan():
    assert coral_loss(torch.randn(1, 3), torch.randn(1, 3)).item() == 0.0


def test_module_weights_each_pair():
    align = CovarianceAlignment(
        AlignmentConfig(pairs=("TA", "AV"), weights=(2.0, 0.5), shared_dim=3), {"T": 4, "A": 2, "V": 5}
    )
    shared = align.project({"T": torch.randn(20, 4), "A": torch.randn(20, 2), "V": torch.randn(20, 5)})
    assert set(shared) == {"T", "A", "V"} and shared["A"].shape == (20, 3)
    losses = align.losses(shared)
    assert torch.allclose(losses["TA"], 2.0 * coral_loss(shared["T"], shared["A"]))
    assert torch.allclose(losses["AV"], 0.5 * coral_loss(shared["A"], shared["V"]))


def test_only_paired_modalities_get_a_projection():
    align = CovarianceAlignment(AlignmentConfig(pairs=("TA",), weights=(1.0,)), {"T": 4, "A": 2, "V": 5})
    assert set(align.projections) == {"T", "A"}
