import numpy as np

from dmsil.calibration import Calibration, from_runtime, to_runtime


def test_isotonic_map_undoes_a_shrunk_scale_and_stays_monotone():
    rng = np.random.default_rng(0)
    truth = rng.uniform(-3, 3, 4000)
    raw = 0.5 * truth + rng.normal(0, 0.1, truth.size)  # a head that under-states every rating by half
    m = Calibration.fit(raw, truth)
    assert np.all(np.diff(m.x) > 0) and np.all(np.diff(m.y) >= 0)
    probe = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert np.allclose(m(probe), 2 * probe, atol=0.2)
    assert m(100.0) == m.y[-1] and m(-100.0) == m.y[0]  # clamped, never extrapolated


def test_maps_round_trip_through_the_runtime_block():
    m = Calibration.fit(np.linspace(-2, 2, 50), np.linspace(-3, 3, 50))
    again = from_runtime({"runtime": {"calibration": to_runtime({"T": m})}})
    assert again["T"] == m
    assert from_runtime({}) == {}
