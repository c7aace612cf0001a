import json

from tests.conftest import run_module


def test_evaluate_json_has_fused_top_level_and_heads(trained_dir, synthetic_path):
    proc = run_module("dmsil.evaluate", str(trained_dir / "seed-1111"), "--data", str(synthetic_path), "--json")
    result = json.loads(proc.stdout)
    assert {
        "Has0_acc_2",
        "Has0_F1_score",
        "Non0_acc_2",
        "Non0_F1_score",
        "Mult_acc_5",
        "Mult_acc_7",
        "MAE",
        "Corr",
    } <= set(result)
    for m in "TAV":
        assert "MAE" in result[m] and result[m]["truth"] == "regression_labels"
    stored = json.loads((trained_dir / "seed-1111" / "metrics.json").read_text())
    assert abs(stored["MAE"] - result["MAE"]) < 1e-6


def test_evaluate_table_over_seeds(trained_dir, synthetic_path):
    proc = run_module("dmsil.evaluate", str(trained_dir), "--data", str(synthetic_path), "--split", "valid")
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "mean over 2 seeds"
    assert lines[1].split() == ["metric", "M", "T", "A", "V"]
    assert any(line.startswith("MAE") for line in lines)


def test_evaluate_refuses_mismatched_features(trained_dir, tmp_path):
    other = tmp_path / "other.pkl"
    run_module(
        "dmsil.data.synthetic", "--out", str(other), "--n", "60", "--dims", "32,7,20", "--max-lengths", "10,20,20"
    )
    proc = run_module("dmsil.evaluate", str(trained_dir / "seed-1111"), "--data", str(other), check=False)
    assert proc.returncode == 1 and "do not match the checkpoint" in proc.stderr and "Traceback" not in proc.stderr


def test_sentences_scored_together_get_the_scores_each_gets_alone():
    """score_texts batches sentences by length and cuts each batch to its longest: every sentence must still
    get back its own score, in the order given."""
    import numpy as np

    from dmsil import checkpoint, default_checkpoint
    from dmsil.evaluate import score_texts

    model = checkpoint.load(default_checkpoint())
    texts = ["The waiter was rude and the food was cold.", "Lovely!", "", "I did not expect to enjoy it, but I did.",
             "The meeting has been moved to Wednesday.", "Awful."]  # fmt: skip
    together = score_texts(model, texts, batch_size=4)
    alone = [score_texts(model, [t])["T"][0] for t in texts]
    assert np.allclose(together["T"], alone, atol=1e-4), (together["T"], alone)
    assert together["T"][0] < 0 < together["T"][1]
