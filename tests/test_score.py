import csv
import json
import re

import pytest

from realtime.outputs import COLUMNS, UTTERANCE_COLUMNS
from tests.conftest import TALK, one_line_errors, run_module


def score(*args):
    return run_module("realtime", "score", "--quiet", *map(str, args), check=False)


def read_csv(path):
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_scores_a_talk_into_csv_json_and_png(talk, scored_batch):
    proc, tmp_path = scored_batch
    assert "Traceback" not in proc.stderr and f"error: {talk['talk']}" not in proc.stderr, proc.stderr
    rows = read_csv(tmp_path / "talk.csv")
    assert tuple(rows[0]) == COLUMNS
    document = json.loads((tmp_path / "talk.json").read_text())
    assert len(document["windows"]) == len(rows) and document["complete"]
    assert float(rows[0]["start"]) == 0.0 and float(rows[0]["end"]) == 1.0
    import soundfile as sf

    assert abs(float(rows[-1]["end"]) - sf.info(str(talk["wav"])).duration) < 0.2
    # a window scores the utterance being spoken; its first words alone are too short to score
    assert all(r["present"] in ("text+video", "text+audio+video") for r in rows if len(r["transcript"].split()) >= 3)
    assert all("text" not in r["present"] for r in rows if len(r["transcript"].split()) < 3)
    assert sum(r["present"] == "text+audio+video" for r in rows) >= len(rows) // 2
    # the voice: read wherever the window holds speech, valence and arousal on -3..3, present together
    voiced = [r for r in rows if "audio" in r["present"]]
    assert len(voiced) >= 0.8 * len(rows), [r["present"] for r in rows]
    assert all(-3 <= float(r["audio"]) <= 3 and -3 <= float(r["arousal"]) <= 3 for r in voiced)
    assert all((r["audio"] == "") == (r["arousal"] == "") for r in rows)
    assert "waiter" in " ".join(r["transcript"] for r in rows).lower()
    assert all(r["fused_smooth"] != "" for r in rows[3:-2]) and rows[-1]["provisional"] == "False"
    assert (tmp_path / "talk.png").stat().st_size > 10_000
    # a row per spoken sentence, in order, with its own scores (the talk: positive, negative, positive); the
    # recognizer may end a sentence early at a full stop it heard in a comma's pause, so one may be two rows
    said = read_csv(tmp_path / "talk.utterances.csv")
    assert tuple(said[0]) == UTTERANCE_COLUMNS and len(TALK) <= len(said) <= 2 * len(TALK)

    def words(text: str) -> set[str]:
        return set(text.lower().replace(",", "").replace(".", "").split())

    sentence_of = [max(range(len(TALK)), key=lambda i: len(words(r["transcript"]) & words(TALK[i]))) for r in said]
    assert sentence_of == sorted(sentence_of) and set(sentence_of) == set(range(len(TALK))), sentence_of
    for i, sentence in enumerate(TALK):
        heard = set().union(*(words(r["transcript"]) for r, j in zip(said, sentence_of, strict=True) if j == i))
        assert len(heard & words(sentence)) >= 4, (heard, sentence)
    scored = [(float(r["text"]) > 0, i != 1) for r, i in zip(said, sentence_of, strict=True) if r["text"]]
    assert len(scored) >= len(TALK) and all(positive == expected for positive, expected in scored), said
    assert [u["transcript"] for u in document["utterances"]] == [r["transcript"] for r in said]


def test_missing_modalities_are_reported(scored_batch):
    proc, out = scored_batch
    assert "Traceback" not in proc.stderr, proc.stderr

    def windows(name):
        return json.loads((out / f"{name}.json").read_text())["windows"]

    middle = windows("voice")[3]  # the audio-only wav, its first sentence whole
    assert middle["present"] == "text+audio" and middle["missing"]["video"] == "no video" and middle["video"] is None
    assert middle["audio"] is not None and middle["arousal"] is not None
    assert all(w["present"] == "video" and w["missing"]["text"] == "no audio" for w in windows("video_only"))
    assert all("video" not in w["present"] and w["missing"]["video"] == "no face" for w in windows("no_face"))
    assert all(w["missing"]["text"] == "no speech" and w["present"] == "video" for w in windows("silent"))
    assert all(w["missing"]["audio"] == "no voice" and w["arousal"] is None for w in windows("silent"))
    assert all(w["missing"]["audio"] == "no audio" for w in windows("video_only"))


def test_bad_files_in_a_batch(scored_batch):
    proc, out = scored_batch
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = one_line_errors(proc.stderr)
    assert len(errors) == 4, proc.stderr  # the broken files, each once; none for the files that lack a modality
    for name in ("empty.mp4", "random.mp4", "truncated.mp4", "missing.mp4"):
        assert sum(name in e for e in errors) == 1, (name, errors)
    assert len(read_csv(out / "good.csv")) == 4


def test_a_stream_broken_off_half_way_keeps_what_was_decoded(scored_batch):
    proc, out = scored_batch
    assert "Traceback" not in proc.stderr
    rows = read_csv(out / "cut.csv")
    assert 2 <= float(rows[-1]["end"]) < 9 and any(r["present"] for r in rows[:3])


def test_bad_arguments(talk, tmp_path):
    proc = score(talk["talk"], "--format", "xml")
    assert proc.returncode == 2 and one_line_errors(proc.stderr)
    proc = run_module("realtime", "--camera", "97", "--mic", "none", "--no-ui", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert one_line_errors(proc.stderr) == ["error: no camera and no microphone could be opened"]


@pytest.mark.slow
@pytest.mark.live
def test_live_from_a_file_backed_camera(talk):
    proc = run_module("realtime", "--camera", str(talk["talk"]), "--no-ui", check=False)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if re.search(r"\btext\+(audio\+)?video\b", line)]
    # on a machine this busy or busier live recognition may lag the talk's pace: a third of the windows at least
    assert len(lines) >= 3 and "wonderful" in proc.stdout, proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_ctrl_c_and_sigterm_stop_the_live_app_cleanly(talk, name):
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime", "--camera", str(talk["talk"]), "--no-ui"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # started as a shell starts a background job: SIGINT ignored, which Python would keep
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    for line in proc.stdout:  # wait until the first window is printed
        if re.match(r"\s*[\d.]+-\s*[\d.]+ ", line):
            break
    assert proc.poll() is None, "still streaming when interrupted"
    proc.send_signal(getattr(signal, name))
    _, stderr = proc.communicate(timeout=60)
    # "stopped" is written only when the signal, not the talk's end (about 11 s), stopped it; how fast it
    # stops is scripts/bench_shutdown.py's to measure, not a test's on a busy machine
    assert proc.returncode == 0
    assert "Traceback" not in stderr
    assert "stopped" in stderr  # what the command had to say was written before it exited


@pytest.mark.slow
@pytest.mark.parametrize("signals", [("SIGINT",), ("SIGTERM",), ("SIGINT", "SIGINT")])
def test_an_interrupted_score_writes_what_it_scored(talk, tmp_path, signals):
    """Ctrl-C or SIGTERM while a file is scored: the file is read no further, what was read is scored and
    written, one line says where it stopped, and the exit status is 130; a second signal stops at once,
    still writing what was scored. Never a traceback."""
    import os
    import signal
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "realtime", "score", str(talk["talk"]), "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = b""
    while b"talk.mp4:" not in seen:  # the progress bar: the file is being scored
        chunk = os.read(proc.stderr.fileno(), 4096)
        assert chunk, seen.decode()
        seen += chunk
    for name in signals:
        proc.send_signal(getattr(signal, name))
    out, err = proc.communicate(timeout=300)
    stdout, stderr = out.decode(), (seen + err).decode(errors="replace")
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    errors = one_line_errors(stderr)
    assert len(errors) == 1 and "talk.mp4: interrupted, " in errors[0], errors
    written = re.search(r"\((\d+) windows before it written\)", errors[0])
    if written:  # what was scored is on disk, and the command says where
        assert len(read_csv(tmp_path / "talk.csv")) == int(written.group(1)) and "talk.csv" in stdout


def test_a_file_cut_once_scoring_began_is_written_and_says_so(talk, scorer, tmp_path):
    import threading

    from realtime.offline import score_file
    from realtime.pipeline import PipelineOptions

    cut = threading.Event()
    result = score_file(talk["talk"], scorer, PipelineOptions(), tmp_path, ("csv", "json"), progress=False,
                        on_progress=lambda done, total: cut.set(), cut=cut)  # fmt: skip
    assert result.rows and result.error.startswith(f"{talk['talk']}: interrupted, scored up to "), result.error
    assert len(read_csv(tmp_path / "talk.csv")) == len(result.rows)
    assert json.loads((tmp_path / "talk.json").read_text())["windows"]


def test_a_file_scorer_keeps_one_recognizer_for_all_its_files(talk, tmp_path):
    from dataclasses import replace

    from realtime.offline import FileScorer
    from realtime.pipeline import PipelineOptions

    files = FileScorer(None, "onnxruntime", PipelineOptions(), tmp_path, ("csv",))
    kept = files.load_transcriber(files.options.asr)
    assert files.load_transcriber(files.options.asr) is kept  # each file's pipeline gets the one loaded at start
    assert files.load_transcriber(replace(files.options.asr, beam_size=1)) is not kept  # other options: their own
    first, second = files(talk["talk"]), files(talk["no_face"])
    assert first.error is None and second.error is None and first.windows == second.windows > 5
    said = [r["transcript"] for r in read_csv(tmp_path / "no_face.utterances.csv")]
    assert any("loved" in t.lower() for t in said)


def test_the_console_is_quiet_unless_verbose(talk, tmp_path, scored_batch):
    noise = ("W0000", "Loading weights", "XNNPACK", "absl::InitializeLog")
    quiet, _ = scored_batch  # faces were read there, too
    assert not [n for n in noise if n in quiet.stderr], quiet.stderr
    loud = score(talk["silent"], "--out", tmp_path, "--format", "csv", "-v")  # a face: MediaPipe speaks
    assert loud.returncode == 0 and "XNNPACK" in loud.stderr


def test_the_timeline_picture_labels_each_utterance_under_its_span_without_overlap(scored_talk):
    """The talk's utterances ten times over (110 s): each label is its utterance's own words, in order,
    starting where it starts, and no two labels overlap (every window's last words, labelled at its end,
    did on a long file)."""
    import dataclasses

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from realtime.outputs import FileResult, figure

    talk = scored_talk.rows[-1].end
    shift = lambda s, k: dataclasses.replace(s, start=s.start + k * talk, end=s.end + k * talk)  # noqa: E731
    long = FileResult(scored_talk.path, [shift(s, k) for k in range(10) for s in scored_talk.rows],
                      [shift(s, k) for k in range(10) for s in scored_talk.utterances])  # fmt: skip
    fig = figure(long)
    renderer = FigureCanvasAgg(fig).get_renderer()
    labels = [t for t in fig.axes[1].texts if t.get_text()]
    assert len(labels) >= 10, [t.get_text() for t in labels]
    starts = {round(u.start, 3): u.transcript for u in long.utterances}
    for label in labels:
        said = starts[round(label.get_position()[0], 3)].split()
        shown = label.get_text().replace("\n", " ").removesuffix(" …").split()
        assert shown and shown[:-1] == said[: len(shown) - 1] and said[len(shown) - 1].startswith(shown[-1].rstrip("…"))
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
    assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:], strict=False)), [
        (a.x1, b.x0) for a, b in zip(boxes, boxes[1:], strict=False) if a.x1 > b.x0
    ]
