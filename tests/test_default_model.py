"""The shipped default model: loads offline, says which heads are trained, and understands negation."""

import json

import numpy as np
import pytest

from dmsil import checkpoint, default_checkpoint
from scripts.default_model.packaged import rotten_tomatoes

POSITIVE = ["It was not bad at all.", "I had my doubts, but I ended up loving it."]
NEGATIVE = ["I wanted to like it, but it never came together.", "It was not good at all."]
NEUTRAL = [
    "The train to Leeds leaves from platform nine at half past four.",
    "Please send the signed form back to the office by Friday.",
    "My cousin is studying chemistry in Lisbon.",
]
CONVERSATION = {  # lines of a conversation, none of them in MELD
    "Thank you so much for the flowers, they are lovely!": "positive",
    "Oh my God, I can't believe you got the job!": "positive",
    "Get out of my apartment, I never want to see you again!": "negative",
    "I'm so sorry about your dad.": "negative",
    "Where did you put the keys?": "neutral",
}


@pytest.fixture(scope="module")
def scorer():
    from realtime.scorer import Scorer

    with pytest.MonkeyPatch.context() as env:  # the hub switched off for this module only
        env.setenv("HF_HUB_OFFLINE", "1")
        yield Scorer(engine="onnxruntime")


def test_provenance_marks_the_model_audio_branch_untrained_and_the_voice_head_licensed():
    from dmsil.voice import VoiceConfig, VoiceHead

    heads = checkpoint.heads(default_checkpoint())
    assert heads["T"].trained and heads["V"].trained and heads["M"].trained
    assert not heads["A"].trained and "voice.safetensors" in heads["A"].source
    assert "not human-labelled" in heads["V"].source
    assert VoiceHead.present(default_checkpoint())
    voice = VoiceConfig.read(default_checkpoint())
    assert "CC BY-NC-SA" in voice.licence and "RAVDESS" in voice.source


def test_held_out_movies_were_not_trained_on():

    recorded = json.loads((default_checkpoint() / "held_out.json").read_text())
    train_movies = {s.movie for s in rotten_tomatoes() if s.split == "train"}
    assert recorded["test_movies"] and not set(recorded["test_movies"]) & train_movies


def test_negation_and_contrast_in_text(scorer):
    from realtime.modalities import Absence
    from realtime.scorer import Window

    scores = scorer([Window(0, 3, t) for t in POSITIVE + NEGATIVE])
    pos, neg = [s.text for s in scores[:2]], [s.text for s in scores[2:]]
    assert min(pos) > 0 > max(neg), (pos, neg)
    for s in scores:
        assert s.audio is None and s.arousal is None and s.missing["audio"].kind == Absence.NO_AUDIO
        assert s.video is None and s.missing["video"].kind == Absence.NO_FACE
        assert s.fused is not None and s.present == ("text",)


def test_neutral_statements_score_near_zero(scorer):
    """Facts are not opinions: never a clear one (the old model gave them +-2), and far quieter on average.

    The per-sentence bound is 1: the retrained model puts "Please send the signed form back to the office
    by Friday." at -0.51, just outside the 0.5 neutral band (a demand reads slightly negative); the ratio
    below is the issue's criterion."""
    neutral = np.abs(scorer.text_scores(NEUTRAL))
    opinion = np.abs(scorer.text_scores(POSITIVE + NEGATIVE))
    assert neutral.max() < 1.0, neutral
    assert neutral.mean() < 0.35 * opinion.mean(), (neutral, opinion)


def test_the_words_class_says_whether_a_line_states_an_opinion_and_which(scorer):
    """The class readout (``scripts/default_model/polarity.py``): opinions, negated and contrasted ones too, on
    their side; facts, requests and questions neutral."""
    lines = {**dict.fromkeys(POSITIVE, "positive"), **dict.fromkeys(NEGATIVE, "negative"),
             **dict.fromkeys(NEUTRAL, "neutral"), **CONVERSATION}  # fmt: skip
    read = scorer.texts(list(lines))
    assert {s.transcript: s.text_class[0] for s in read} == lines
    assert all(sum(s.polarity) == pytest.approx(1.0, abs=1e-5) for s in read)
    assert "MELD train" in checkpoint.read_config(default_checkpoint())["heads"]["P"]["source"]


def test_nothing_present_gives_no_fused_score(scorer):
    from realtime.scorer import Window

    silent = np.zeros((300, len(checkpoint.features(default_checkpoint()).audio_names)), np.float32)
    (s,) = scorer([Window(0, 3, "  ", audio=silent, video=np.zeros((45, 19), np.float32))])
    assert s.fused is None and s.text is None and s.present == ()
    assert {m: str(why) for m, why in s.missing.items()} == {
        "text": "no speech",
        "audio": "no voice",
        "video": "no face",
    }


def test_spoken_sentences_end_to_end(scorer, tmp_path):
    """espeak-ng speech over a real face -> faster-whisper -> face features -> the model."""
    from dmsil.prepare import ClipProcessor, PrepareOptions
    from realtime import demo
    from realtime.scorer import Window

    extract = ClipProcessor(PrepareOptions())
    fused = []
    for i, sentence in enumerate(POSITIVE + NEGATIVE):
        wav = demo.speech(sentence, tmp_path / f"{i}.wav")
        clip = extract(demo.video(tmp_path / f"{i}.mp4", wav, seconds=4.0), "")
        (s,) = scorer([Window(0, 4, str(clip["transcript"]), clip["audio"], clip["video"])])
        assert s.present == ("text", "audio", "video"), s
        fused.append(s.fused)
    assert min(fused[:2]) > max(fused[2:]), fused


def test_model_card_is_its_template_rendered_from_the_checkpoint_files():
    """The committed card is what scripts/default_model/card.py renders from metrics.json and config.json."""
    from scripts.default_model import card

    assert card.render(default_checkpoint()) == (default_checkpoint() / card.CARD).read_text()


def test_the_int8_verdict_is_the_gate_applied_to_two_different_graphs():
    """metrics.json's INT8 check compares the INT8 graph with the float one (a scorer that remembered the float
    graph's scores once compared the float graph with itself), and config.json follows its verdict."""
    from scripts.default_model.held_out import int8_holds

    check = json.loads((default_checkpoint() / "metrics.json").read_text())["int8_check"]
    assert any(v["int8"] != v["fp32"] for v in check["slices"].values())
    assert check["holds"] == int8_holds(check["slices"])
    assert checkpoint.read_config(default_checkpoint())["runtime"]["onnx_int8"] == check["holds"]
    # r is not defined on all-neutral questions and is not compared there; a loss of 0.02 of r anywhere fails
    within = {"trec": {"fp32": {"r": float("nan"), "acc3": 0.99}, "int8": {"r": float("nan"), "acc3": 0.985}},
              "rotten-tomatoes": {"fp32": {"auc": 0.953}, "int8": {"auc": 0.949}}}  # fmt: skip
    assert int8_holds(within)
    assert not int8_holds({**within, "nyt": {"fp32": {"r": 0.81, "acc3": 0.76}, "int8": {"r": 0.79, "acc3": 0.76}}})
