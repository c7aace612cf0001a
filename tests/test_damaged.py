"""Damaged recordings keep their good parts: a seeded fuzz corpus made from the test talk, scored by the CLI."""

import json
import subprocess

import numpy as np
import pytest

from realtime import demo
from tests.conftest import run_module


@pytest.fixture(scope="module")
def source(talk, tmp_path_factory):
    """The talk's first two sentences (7.4 s), its streams copied as they are: damage needs no longer file."""
    out = tmp_path_factory.mktemp("source") / "two_sentences.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(talk["talk"]), "-t", "7.4", "-c", "copy", str(out)],
                   check=True)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def corpus(source, tmp_path_factory):
    return demo.damaged_copies(source, tmp_path_factory.mktemp("damaged"), seed=7)


@pytest.fixture(scope="module")
def scored(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("damaged-scores")
    proc = run_module("realtime", "score", *map(str, corpus.values()), "--out", str(out), "--format", "json", "--quiet",
                      check=False)  # fmt: skip
    return proc, out


@pytest.mark.slow
def test_no_damaged_file_gives_a_traceback(scored, corpus):
    proc, _ = scored
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert all(any(str(p) in e for p in corpus.values()) for e in errors), errors


@pytest.mark.parametrize("name", ["flips", "many_flips", "zeroed", "cut", "header", "stream_flips", "audio_only",
                                  "video_only"])  # fmt: skip
def test_what_ffmpeg_decodes_is_scored(scored, corpus, name):
    proc, out = scored
    path = corpus[name]
    reference = demo.ffmpeg_seconds(path)
    result = out / f"{path.stem}.json"
    if reference == 0:  # ffmpeg cannot read it either: one line naming the file
        assert not result.exists() and f"error: {path}" in proc.stderr
        return
    document = json.loads(result.read_text())
    assert document["error"] is None, document["error"]
    got = demo.recovered_seconds(document["windows"])
    assert got >= 0.9 * reference, (name, got, reference, document["damaged"])
    for span in document["damaged"]:
        assert span["stream"] in ("audio", "video") and 0 <= span["start"] <= span["end"]


def test_the_damage_is_said_once_per_file(scored, corpus):
    proc, out = scored
    document = json.loads((out / f"{corpus['zeroed'].stem}.json").read_text())
    streams = {d["stream"] for d in document["damaged"]}
    assert streams == {"audio", "video"}, "a zeroed 20 kB block in the middle hits both streams"
    assert proc.stderr.count(f"{corpus['zeroed']}: damaged:") == 1


def test_a_damaged_file_that_was_scored_is_no_error(scored, corpus):
    """Only the files ffmpeg itself cannot read are errors (and make the exit status 1): a damaged file
    that was scored is said to be damaged, and counts as scored."""
    proc, out = scored
    unreadable = {name for name, path in corpus.items() if demo.ffmpeg_seconds(path) == 0}
    named = {name for name, path in corpus.items() if f"error: {path}" in proc.stderr}
    assert named == unreadable and proc.returncode == (1 if unreadable else 0), proc.stderr
    assert f"{corpus['many_flips']}: damaged:" in proc.stderr and (out / "many_flips.json").exists()


def test_after_a_damaged_block_the_sound_stays_on_the_clock(corpus, source):
    from dmsil.features.audio import SAMPLE_RATE
    from dmsil.features.media import decode

    clean, damaged = decode(source), decode(corpus["zeroed"])
    assert damaged.damage and abs(damaged.audio.size - clean.audio.size) < 0.05 * SAMPLE_RATE
    after = max(d.end for d in damaged.damage) + 0.5
    i, n = int(after * SAMPLE_RATE), 2 * SAMPLE_RATE
    a = clean.audio[i : i + n]
    assert np.std(a) > 0.01, "speech there to compare"
    lags = range(-SAMPLE_RATE // 2, SAMPLE_RATE // 2, 4)  # +-0.5 s; the lost 0.8 s would show as a lag
    corr = [np.corrcoef(a, damaged.audio[i + lag : i + lag + n])[0, 1] for lag in lags]
    best = int(np.argmax(corr))
    assert corr[best] > 0.95 and abs(lags[best]) <= 0.01 * SAMPLE_RATE  # on the clock to within 10 ms
    # the pictures lost are those of the damaged span it reports, not more (two frames' slack at its edges)
    lost = sum(d.end - d.t for d in damaged.damage if d.stream == "video")
    assert 0 < lost < 2.0
    rate = len(clean.frame_times) / clean.duration
    assert len(damaged.frame_times) >= len(clean.frame_times) - rate * lost - 2
