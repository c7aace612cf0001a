"""Shared fixtures (media and datasets made once per session by the project's own code), and how a test
asks for a tool it needs."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers share two cores: each computes on one thread, and so do the commands it starts (torch,
    # CTranslate2 and OpenMP read this). Threads beyond the cores make OpenMP's spinning waits fight: a
    # training fixture took 78 s that way with another process busy, 13 s alone.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import torch

from dmsil.data.mmsa import MMSAData, load_mmsa

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

SMALL = ["--dims", "32,5,20", "--max-lengths", "24,80,60"]
REQUIRE_TOOLS = os.environ.get("DMSIL_REQUIRE_TOOLS") == "1"
"""Set by CI (``.ci/run``): a tool that scripts/setup.sh installs must be there, so its absence fails the
run loudly instead of skipping tests silently. Elsewhere a missing tool skips the tests that need it."""


def _missing(what: str) -> None:
    message = f"{what} is missing (scripts/setup.sh installs it)"
    if REQUIRE_TOOLS:
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """The module, or (see :data:`REQUIRE_TOOLS`) a failure in CI and a skip elsewhere."""
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"Python module {name}")


def require_program(name: str) -> Path:
    """The program's path on PATH, or (see :data:`REQUIRE_TOOLS`) a failure in CI and a skip elsewhere."""
    found = shutil.which(name)
    if found is None:
        _missing(f"program {name}")
    return Path(found)


def run_module(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m <args>`` as a user would, capturing its output."""
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def one_line_errors(stderr: str) -> list[str]:
    """The ``error: ...`` lines a command wrote (each user mistake is one)."""
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def made_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name``, filled by ``build`` once per test run. With pytest-xdist (``./scripts/test.sh``
    runs two workers) the first worker to ask builds it under a lock and the others reuse it, so a fixture
    that trains or renders media costs its time once, not once per worker."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this run's folder, shared by its workers
    root = base / name
    with FileLock(str(base / f"{name}.lock")):
        if not (root / ".built").exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            build(root)
            (root / ".built").touch()
    return root


@pytest.fixture(scope="session")
def synthetic_path(tmp_path_factory) -> Path:
    def build(root: Path) -> None:
        run_module("dmsil.data.synthetic", "--out", str(root / "synthetic.pkl"), "--n", "900", "--seed", "7", *SMALL)

    return made_once(tmp_path_factory, "synthetic", build) / "synthetic.pkl"


@pytest.fixture(scope="session")
def synthetic(synthetic_path) -> MMSAData:
    return load_mmsa(synthetic_path)


@pytest.fixture(scope="session")
def trained_dir(synthetic_path, tmp_path_factory) -> Path:
    """A checkpoint trained by the real CLI for a few epochs (two seeds)."""

    def build(root: Path) -> None:
        args = ["--data", str(synthetic_path), "--out", str(root / "run"), "--epochs", "2", "--seeds", "1111,1112"]
        run_module("dmsil.train", *args, "--quiet")

    return made_once(tmp_path_factory, "trained", build) / "run"


LABELLED = [
    # video_id, clip_id, spoken sentence, label, mode, write the text into label.csv?, face?
    ("vid1", "c1", "I really loved this movie, it was wonderful.", 2.0, "train", True, True),
    ("vid1", "c2", "This was a terrible and boring film.", -2.0, "train", True, True),
    ("vid1", "c3", "The story was fine, nothing special.", 0.0, "train", False, True),
    ("vid2", "c1", "What a great performance, I enjoyed it.", 1.6, "train", True, False),
    ("vid2", "c2", "I hated the ending, it was awful.", -1.8, "valid", True, True),
    ("vid2", "c3", "It was pretty good overall.", 1.0, "valid", True, True),
    ("vid4", "c1", "The acting was bad and dull.", -1.4, "test", True, True),
    ("vid4", "c2", "A brilliant and moving story.", 2.2, "test", True, True),
]


@pytest.fixture(scope="session")
def labelled_set(tmp_path_factory) -> Path:
    """An MMSA-FET layout (label.csv + Raw/<video>/<clip>.mp4) of real speech and faces, plus one corrupt clip."""
    return made_once(tmp_path_factory, "labelled", _labelled_set)


@pytest.fixture(scope="session")
def prepared(labelled_set, tmp_path_factory) -> tuple[Path, str]:
    """``labelled_set`` prepared once by the real CLI in two workers: the store and what prepare logged."""

    def build(root: Path) -> None:
        labels, raw = str(labelled_set / "label.csv"), str(labelled_set / "Raw")
        proc = run_module("dmsil.prepare", "--labels", labels, "--raw", raw, "--out", str(root / "store"),
                          "--workers", "2")  # fmt: skip
        (root / "stderr.txt").write_text(proc.stderr)

    root = made_once(tmp_path_factory, "prepared", build)
    return root / "store", (root / "stderr.txt").read_text()


def _labelled_set(root: Path) -> None:
    from realtime import demo as media

    lines = ["video_id,clip_id,text,label,mode"]
    for video_id, clip_id, sentence, label, mode, with_text, face in LABELLED:
        folder = root / "Raw" / video_id
        folder.mkdir(parents=True, exist_ok=True)
        wav = media.speech(sentence, root / f"{video_id}_{clip_id}.wav")
        media.video(folder / f"{clip_id}.mp4", wav, seconds=4.0, with_face=face)
        text = f'"{sentence}"' if with_text else ""
        lines.append(f"{video_id},{clip_id},{text},{label},{mode}")
    (root / "Raw" / "vid3").mkdir()
    (root / "Raw" / "vid3" / "c0.mp4").write_bytes(np.random.default_rng(0).bytes(20000))
    lines.append("vid3,c0,Random bytes.,0.4,train")
    (root / "label.csv").write_text("\n".join(lines) + "\n")


TALK = [
    "I really loved this film, it was wonderful.",
    "The food was cold and the waiter was rude.",
    "Honestly, it was a great day.",
]


TALK_FILES = {
    "wav": "talk.wav", "talk": "talk.mp4", "video_only": "video_only.mp4", "no_face": "no_face.mp4",
    "silent": "silent.mp4", "truncated": "truncated.mp4", "random": "random.mp4", "empty": "empty.mp4",
    "cut_stream": "cut.ts",
}  # fmt: skip


@pytest.fixture(scope="session")
def talk(tmp_path_factory) -> dict[str, Path]:
    """A generated talk (espeak-ng sentences over the moving astronaut) and its broken or partial variants."""
    root = made_once(tmp_path_factory, "talk", _talk)
    return {name: root / file for name, file in TALK_FILES.items()}


def _talk(root: Path) -> None:
    import soundfile as sf

    from realtime import demo

    wav, _ = demo.join_speech(TALK, root / "talk.wav")
    seconds = sf.info(str(wav)).duration
    media = {"wav": wav, "talk": demo.video(root / "talk.mp4", wav, seconds)}
    media["video_only"] = demo.video(root / "video_only.mp4", None, 4.0)
    media["no_face"] = demo.video(root / "no_face.mp4", wav, seconds, with_face=False)
    sf.write(root / "silence.wav", np.zeros(16000 * 4, np.float32), 16000)
    media["silent"] = demo.video(root / "silent.mp4", root / "silence.wav", 4.0)
    data = media["talk"].read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])  # ffmpeg writes the moov index last: now gone
    media["truncated"] = root / "truncated.mp4"
    (root / "random.mp4").write_bytes(np.random.default_rng(1).bytes(50_000))
    media["random"] = root / "random.mp4"
    (root / "empty.mp4").write_bytes(b"")
    media["empty"] = root / "empty.mp4"
    ts = root / "talk.ts"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(media["talk"]), "-c", "copy", str(ts)], check=True)
    (root / "cut.ts").write_bytes(ts.read_bytes()[: ts.stat().st_size // 2])  # a stream broken off half-way
    media["cut_stream"] = root / "cut.ts"
    assert {k: p.name for k, p in media.items()} == TALK_FILES


@pytest.fixture(scope="session")
def scorer():
    """The shipped default model through ONNX Runtime, loaded once for every test that scores."""
    from realtime.scorer import Scorer

    return Scorer(engine="onnxruntime")


@pytest.fixture(scope="session")
def scored_talk(talk, scorer, tmp_path_factory):
    """The talk scored offline once, as ``realtime score`` and the page's file tab score a file (its CSV,
    JSON and PNG written): for the tests that read a scored recording rather than test the scoring."""
    from realtime.offline import score_file
    from realtime.outputs import FORMATS
    from realtime.pipeline import PipelineOptions

    out = tmp_path_factory.mktemp("scored")
    return score_file(talk["talk"], scorer, PipelineOptions(), out, FORMATS, progress=False)


@pytest.fixture(scope="session")
def scored_batch(talk, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """One ``realtime score`` of a batch as users send them, run once for every test that reads what the
    command wrote (the model loads once): the talk; files that each lack a modality; a stream broken off
    half-way; a folder holding broken files and a good one; a path that does not exist. The process (its
    exit status and output) and the output folder, in all formats."""

    def build(root: Path) -> None:
        folder = root / "in"
        folder.mkdir()
        for name in ("empty", "random", "truncated"):
            (folder / f"{name}.mp4").write_bytes(talk[name].read_bytes())
        (folder / "good.mp4").write_bytes(talk["video_only"].read_bytes())
        shutil.copy(talk["wav"], root / "voice.wav")  # the talk's sound alone, under a stem of its own
        files = [
            talk["talk"],
            root / "voice.wav",
            *(talk[n] for n in ("video_only", "no_face", "silent", "cut_stream")),
        ]
        proc = run_module("realtime", "score", "--quiet", *map(str, files), str(folder), str(root / "missing.mp4"),
                          "--out", str(root / "out"), check=False)  # fmt: skip
        for stream in ("stdout", "stderr"):
            (root / f"{stream}.txt").write_text(getattr(proc, stream))
        (root / "returncode.txt").write_text(str(proc.returncode))

    root = made_once(tmp_path_factory, "scored_batch", build)
    read = {s: (root / f"{s}.txt").read_text() for s in ("stdout", "stderr", "returncode")}
    return subprocess.CompletedProcess([], int(read["returncode"]), read["stdout"], read["stderr"]), root / "out"


@pytest.fixture(autouse=True)
def _one_torch_thread_per_worker():
    """Each test starts at its worker's thread count: a library that changes torch's (numba's OpenMP layer,
    first started by openai-whisper's word timing, sets every core) would slow the worker's later tests by
    spinning waits on the busy cores (training in-process took 58 s instead of 10 that way)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_collection_modifyitems(config, items) -> None:
    """Slow tests first: with two workers the long ones then overlap the many short ones instead of running
    alone at the end of the run (the order within each group is kept)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
