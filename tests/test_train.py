import json

import numpy as np
import pytest
import torch

from dmsil.alignment import coral_loss
from dmsil.config import AlignmentConfig, ModelConfig, TrainConfig
from dmsil.data.batches import Batcher
from dmsil.data.mmsa import Split
from dmsil.errors import DataError
from dmsil.evaluate import evaluate_model
from dmsil.train import EarlyStopping, LoopState, Recipe, build_optimizer, fit, given_labels, train


def shared_gaps(model, split) -> dict[str, float]:
    batcher = Batcher(split)
    with torch.no_grad():
        out = model(**batcher.inputs(np.arange(len(batcher))))
    return {p: coral_loss(out[f"Shared_{p[0]}"], out[f"Shared_{p[1]}"]).item() for p in ("TA", "TV", "AV")}


@pytest.fixture(scope="module")
def runs(synthetic):
    """The same seed trained with the alignment weight at 0 and at 1 (same architecture)."""
    results = {}
    for weight in (0.0, 1.0):
        cfg = ModelConfig.for_dataset("mosi", text_dim=32, alignment=AlignmentConfig(weights=(weight,)))
        results[weight] = train(synthetic, cfg, TrainConfig(max_epochs=10, seed=1111), progress=False)
    return results


@pytest.mark.slow
def test_training_beats_the_mean_predictor_clearly(synthetic, runs):
    test = synthetic.splits["test"]
    baseline = np.mean(np.abs(test.labels - synthetic.splits["train"].labels.mean()))
    mae = evaluate_model(runs[1.0].model, synthetic, "test", "mosi")["MAE"]
    assert mae < 0.7 * baseline, (mae, baseline)


def test_alignment_term_falls(synthetic, runs):
    aligned, unaligned = runs[1.0], runs[0.0]
    # Within the run: the weighted CORAL term ends below its peak.
    per_epoch = [sum(h.alignment.values()) for h in aligned.history]
    assert per_epoch[-1] < max(per_epoch)
    # Against the same model trained with weight 0: covariances of the shared views are far closer.
    with_align = shared_gaps(aligned.model, synthetic.splits["test"])
    without = shared_gaps(unaligned.model, synthetic.splits["test"])
    assert sum(with_align.values()) < 0.5 * sum(without.values()), (with_align, without)


@pytest.mark.slow
def test_early_stopping_restores_the_best_epoch(synthetic):
    cfg = ModelConfig.for_dataset("mosi", text_dim=32)
    result = train(synthetic, cfg, TrainConfig(max_epochs=30, early_stop=2, seed=3), progress=False)
    best = min(h.valid_mae for h in result.history)
    assert result.best_valid_mae == pytest.approx(best)
    assert len(result.history) < 30, "seed 3 stops early (after 9 epochs here)"
    assert len(result.history) - result.best_epoch == 2
    valid = synthetic.splits["valid"]
    mae = evaluate_model(result.model, synthetic, "valid", "mosi")["MAE"]
    assert mae == pytest.approx(result.best_valid_mae, abs=1e-5)
    assert np.isfinite(valid.labels).all()


def test_optimizer_groups_follow_self_mm():
    model_cfg = ModelConfig(text_dim=32)
    from dmsil.model import DMSIL

    groups = build_optimizer(DMSIL(model_cfg), TrainConfig()).param_groups
    assert sorted((g["lr"], g["weight_decay"]) for g in groups) == [(1e-3, 1e-3), (5e-3, 1e-3), (5e-3, 1e-3)]


def test_cli_trains_seeds_and_writes_summary(trained_dir):
    summary = json.loads((trained_dir / "summary.json").read_text())
    assert set(summary["seeds"]) == {"1111", "1112"}
    assert set(summary["mean"]) >= {"MAE", "Corr", "Has0_acc_2", "Non0_F1_score", "T", "A", "V"}
    for seed in ("1111", "1112"):
        ckpt = trained_dir / f"seed-{seed}"
        assert {p.name for p in ckpt.iterdir()} == {"model.safetensors", "config.json", "metrics.json"}
        config = json.loads((ckpt / "config.json").read_text())
        assert config["train"]["seed"] == int(seed) and config["model"]["alignment"]["pairs"] == ["TA", "TV", "AV"]
        assert config["features"]["source"] == "mmsa-pickle"


def test_given_labels_with_gaps():
    """A NaN given label means "no label": zero weight, never a NaN in the loss."""
    split = Split(
        labels=np.zeros(3, np.float32),
        audio=np.zeros((3, 1, 2), np.float32),
        audio_lengths=np.zeros(3, np.int64),
        vision=np.zeros((3, 1, 2), np.float32),
        vision_lengths=np.zeros(3, np.int64),
        unimodal_labels={"T": np.array([1.5, np.nan, -2.0], np.float32)},
    )
    (t,) = given_labels(split, ("T",), "x").values()
    labels, weights = t.batch(torch.arange(3))
    assert labels.tolist() == [1.5, 0.0, -2.0] and weights.tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(DataError, match="regression_labels_V"):
        given_labels(split, ("V",), "x")


def test_the_trailing_partial_accumulation_group_is_dropped_as_mmsa_drops_it(synthetic, runs):
    n = len(synthetic.splits["train"].labels)
    batches = -(-n // TrainConfig().batch_size)
    assert batches % TrainConfig().update_every, "a partial group at the end of each epoch (the case under test)"
    assert {h.steps for h in runs[1.0].history} == {batches // TrainConfig().update_every}
    cfg = ModelConfig.for_dataset("mosi", text_dim=32)
    stepped = train(synthetic, cfg, TrainConfig(max_epochs=1, step_partial_group=True), progress=False)
    assert stepped.history[0].steps == -(-batches // TrainConfig().update_every)


class Scripted(Recipe):
    """A recipe whose validation losses are given, so what is tested is the loop's own decisions."""

    valid_name = "valid_mse"

    def __init__(self, losses: list[float]):
        self.losses, self.epoch, self.kept, self.ended = losses, 0, [], []

    def train_epoch(self, epoch: int) -> dict:
        self.epoch = epoch
        return {"train_loss": 10.0 - epoch}

    def validate(self) -> float:
        return self.losses[self.epoch - 1]

    def keep_best(self, epoch: int) -> None:
        self.kept.append(epoch)

    def end_epoch(self, state: LoopState) -> None:
        self.ended.append(state.epoch)


def test_fit_stops_after_patience_epochs_without_gain_and_resumes_where_it_stopped():
    losses = [3.0, 2.0, 2.0, 2.5, 1.0]  # epoch 3 only ties epoch 2: no gain
    recipe = Scripted(losses)
    state = fit(recipe, EarlyStopping(max_epochs=5, patience=2))
    assert [h["epoch"] for h in state.history] == [1, 2, 3, 4] and recipe.ended == [1, 2, 3, 4]
    assert (state.epoch, state.best_epoch, state.best_valid, recipe.kept) == (4, 2, 2.0, [1, 2])
    assert list(state.history[0]) == ["epoch", "train_loss", "valid_mse", "seconds"]
    assert [h["valid_mse"] for h in state.history] == losses[:4]
    # a finished run resumed runs nothing; one resumed after epoch 2 with more patience reaches epoch 5's gain
    again = fit(Scripted(losses), EarlyStopping(5, 2), state)
    assert again.history == state.history and again is not state
    resumed = Scripted(losses)
    after_two = LoopState(2, 2, 2.0, state.history[:2])
    state = fit(resumed, EarlyStopping(5, 3), after_two)
    assert [h["epoch"] for h in state.history] == [1, 2, 3, 4, 5] and (state.best_epoch, state.best_valid) == (5, 1.0)
    assert resumed.kept == [5] and resumed.ended == [3, 4, 5]
