"""Transcripts and subtitles scored directly (realtime.transcripts): .txt lines, .srt and .vtt cues, their
speakers, and a text file that is neither media nor a transcript."""

import csv
import json

import pytest

from realtime.transcripts import Cue, TranscriptError, read
from tests.conftest import one_line_errors, run_module

CHAT = """Ross: I got the job, this is the best day of my life!
Rachel: Oh.

Rachel: You did WHAT? That is terrible news for us.
Ross: Yeah, right.
"""
SRT = """1
00:00:01,000 --> 00:00:03,500
<i>I love this place,</i>
it is wonderful.

2
00:00:04,000 --> 00:00:06,000
MONICA: This is the worst dinner ever.
"""
VTT = """WEBVTT

NOTE made by hand

00:01.000 --> 00:03.000
<v Joey>How you doin?

c2
01:00:04.000 --> 01:00:06.500 align:start
<v.loud Phoebe>I hate it, it is awful.</v>
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_lines_and_cues_are_read_with_times_and_speakers(tmp_path):
    assert read(write(tmp_path, "chat.txt", CHAT)) == [
        Cue(0.0, 1.0, "I got the job, this is the best day of my life!", "Ross"),
        Cue(1.0, 2.0, "Oh.", "Rachel"),
        Cue(2.0, 3.0, "You did WHAT? That is terrible news for us.", "Rachel"),
        Cue(3.0, 4.0, "Yeah, right.", "Ross"),
    ]
    assert read(write(tmp_path, "film.srt", SRT)) == [
        Cue(1.0, 3.5, "I love this place, it is wonderful.", None),
        Cue(4.0, 6.0, "This is the worst dinner ever.", "MONICA"),
    ]
    assert read(write(tmp_path, "talk.vtt", VTT)) == [
        Cue(1.0, 3.0, "How you doin?", "Joey"),
        Cue(3604.0, 3606.5, "I hate it, it is awful.", "Phoebe"),
    ]


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("empty.txt", "\n\n", "no lines to score"),
        ("bad.srt", "1\n00:00:01,000 --> 00:00:0x,000\nhello\n", "line 2: cannot read the cue's times"),
        ("backwards.srt", "1\n00:00:05,000 --> 00:00:01,000\nhello\n", "line 2: the cue ends before it starts"),
        ("header.vtt", "00:01.000 --> 00:03.000\nhello\n", "line 1: a WebVTT file starts with WEBVTT"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8 text"),
        ("binary.txt", b"\x00\x01\x02" * 10, "not a text file"),
    ],
)
def test_a_bad_transcript_says_what_is_wrong_and_where(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(TranscriptError, match=problem):
        read(path)


@pytest.mark.slow
def test_transcripts_are_scored_by_the_command_and_other_text_is_refused(tmp_path):
    chat, srt = write(tmp_path, "chat.txt", CHAT), write(tmp_path, "film.srt", SRT)
    notes = write(tmp_path, "notes.nfo", "Meeting notes\n" * 50)  # ffmpeg would render it as a video of text
    out = tmp_path / "out"
    proc = run_module("realtime", "score", "--quiet", str(chat), str(srt), str(notes), "--out", str(out), check=False)
    assert proc.returncode == 1
    errors = one_line_errors(proc.stderr)
    assert errors == [f"error: {notes}: a text file, not a recording (a transcript is scored as .txt, .srt or .vtt)"]
    with (out / "chat.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["transcript"] for r in rows] == [c.text for c in read(chat)]  # a row per line, in order
    assert [r["speaker"] for r in rows] == ["Ross", "Rachel", "Rachel", "Ross"]
    assert float(rows[0]["fused"]) > 1 and float(rows[2]["fused"]) < -1
    assert all(r["fused"] == r["text"] and r["audio"] == r["video"] == "" for r in rows)
    assert [r["text_class"] for r in rows] == ["positive", "neutral", "negative", "neutral"]  # "Oh." states nothing
    document = json.loads((out / "film.json").read_text())
    assert [(w["start"], w["end"]) for w in document["windows"]] == [(1.0, 3.5), (4.0, 6.0)]
    assert [u["text_class"] for u in document["utterances"]] == ["positive", "negative"]
    assert document["windows"][0]["missing"] == {
        "audio": "a transcript has no sound",
        "video": "a transcript has no picture",
    }
    with (out / "chat.speakers.csv").open() as f:
        speakers = {r["speaker"]: r for r in csv.DictReader(f)}
    assert speakers["Ross"]["turns"] == "2" and speakers["Rachel"]["utterances"] == "2"
    assert [speakers["Rachel"][f"{c}_utterances"] for c in ("negative", "neutral", "positive")] == ["1", "1", "0"]
    assert float(speakers["Rachel"]["fused_mean"]) < 0 < float(speakers["Ross"]["fused_max"])
