"""The fused gauge (realtime.fusion, realtime.person): words lead over a face that never changes, speech
the recognizer cannot read counts little, a face is learned before its expression counts."""

import numpy as np
import pytest

from realtime.fusion import FusionOptions
from realtime.person import RunningNeutral


def test_words_lead_over_a_face_that_always_smiles(scored_talk):
    """The talk's face (the astronaut) smiles throughout: read against her own neutral it says nothing,
    and the negative sentence comes out negative."""
    rows = [s for s in scored_talk.rows if s.video is not None]
    assert rows and min(s.video_raw for s in rows) > 1.0, "the face head reads her as happy"
    settled = [s for s in rows if "video" not in s.learning]
    assert settled and max(abs(s.video) for s in settled) < 0.3, [s.video for s in settled]
    negative = [s for s in scored_talk.rows if s.text is not None and s.text < -0.5]
    assert negative and all(s.fused < 0 for s in negative), [(s.text, s.fused) for s in negative]
    positive = [s for s in scored_talk.rows if s.text is not None and s.text > 0.5]
    assert positive and all(s.fused > 0 for s in positive), [(s.text, s.fused) for s in positive]


def test_a_face_is_learned_before_it_counts(scored_talk):
    rows = [s for s in scored_talk.rows if s.video is not None]
    learning = [s for s in rows if "video" in s.learning]
    assert learning and rows[0] is learning[0], "the first windows of a face are still being learned"
    assert [s.confidence["video"] for s in learning] == sorted(s.confidence["video"] for s in learning)
    assert all(s.confidence["video"] < 1 for s in learning)
    assert all(s.confidence["video"] > 0.9 for s in rows[len(learning) :])  # a face in nearly every frame
    from realtime import view

    assert "learning this face" in view.gauges(learning[0])
    assert "learning this face" not in view.gauges(rows[len(learning)])


@pytest.mark.slow
def test_speech_in_a_language_the_recognizer_cannot_read_counts_little(scorer, tmp_path):
    """espeak-ng speaking German to the English recognizer: it writes English-looking words, and says how
    unsure it is of them."""
    from realtime import demo
    from realtime.offline import score_file
    from realtime.pipeline import PipelineOptions

    said = {
        "en": demo.join_speech(["I really loved this film, it was wonderful.",
                                "The food was cold and the waiter was rude."], tmp_path / "en.wav")[0],
        "de": demo.join_speech(["Ich habe diesen Film wirklich geliebt, er war wunderbar.",
                                "Das Essen war kalt und der Kellner war unhöflich."], tmp_path / "de.wav", voice="de")[0],
    }  # fmt: skip
    sure = {}
    for language, wav in said.items():
        rows = score_file(wav, scorer, PipelineOptions(), tmp_path / language, ("csv",), progress=False).rows
        sure[language] = [s.confidence["text"] for s in rows if s.text is not None]
    assert sure["en"] and np.median(sure["en"]) > 0.8, sure
    assert sure["de"] and np.median(sure["de"]) < 0.3, sure


def test_the_rule_weighs_heads_by_confidence_and_words_by_their_opinion():
    rule = FusionOptions()
    assert rule({"text": None, "audio": None, "video": None}, {}) == (None, 0.0)
    # confident words with an opinion outweigh a confident face saying the opposite
    fused, _ = rule({"text": -1.5, "audio": None, "video": 1.5}, {"text": 1.0, "video": 1.0})
    assert fused < 0
    # neutral words: the face leads
    fused, _ = rule({"text": 0.0, "audio": None, "video": 1.5}, {"text": 1.0, "video": 1.0})
    assert fused > 0
    # words that barely lean (a plain statement) are neutral words: the voice leads, with either sign
    for voice in (0.5, -0.5):
        fused, _ = rule({"text": -0.2, "audio": voice, "video": 0.0}, {"text": 1.0, "audio": 1.0, "video": 1.0})
        assert np.sign(fused) == np.sign(voice)
    # words alone (a transcript) keep their own score
    assert rule({"text": -0.2, "audio": None, "video": None}, {"text": 1.0}) == pytest.approx((-0.2, 1.0))
    # words heard with no confidence count for nothing
    assert rule({"text": -2.0, "audio": 1.0, "video": None}, {"text": 0.0, "audio": 1.0}) == (1.0, 1.0)
    opinion = "the food was cold and the waiter was rude"
    assert rule.text_confidence(None, opinion) == 1.0 and rule.text_confidence(0.9, "") == 0.0
    assert rule.text_confidence(rule.unsure, opinion) == 0.0 and rule.text_confidence(0.9, "cold and rude") == 0.5
    assert rule.text_confidence(0.9, "go to the field and go to the field and go to the field") == 0.0


def test_a_running_neutral_is_the_median_of_what_it_saw():
    neutral = RunningNeutral(memory=5, warmup=4)
    readings = [1.8, 1.9, 1.7, 3.0, 1.8, 1.8, 1.8]
    out = [neutral(v) for v in readings]
    assert out[0] == 0.0 and neutral.settled == 1.0
    assert out[3] == pytest.approx(3.0 - np.median(readings[:4]))  # a burst of expression stands out
    assert neutral(2.5, learn=False) == pytest.approx(2.5 - 1.8)
