"""The page's markup and picture, drawn from a real scored talk and real faces (no browser needed)."""

import dataclasses
import re

import numpy as np
import pytest
from skimage import data

from dmsil.features.face import FaceExtractor
from realtime import view
from realtime.modalities import SCORES, Absence, Reason


@pytest.fixture(scope="module")
def scored(scored_talk):
    """The talk scored offline, as the file tab scores an upload (once per session: tests/conftest.py)."""
    return scored_talk


def test_gauges_say_the_score_in_words_and_grey_out_what_is_missing(scored):
    latest = scored.rows[-1]
    markup = view.gauges(latest)
    heads = re.findall(r'<div class="gauge( unavailable)?" data-head="(\w+)"', markup)
    assert [h for _, h in heads] == ["fused", "text", "audio", "video", "arousal"]
    speaking = next(s for s in reversed(scored.rows) if s.audio is not None and s.text is not None)
    markup = view.gauges(speaking)
    for head in SCORES:
        score = view.shown(speaking, head)
        found = re.search(rf'data-head="{head}" data-score="([-\d.]+)".*?<span class="words">([^<]+)<', markup)
        assert found, head
        assert float(found[1]) == pytest.approx(score, abs=1e-3)
        assert found[2].startswith(f"{score:+.2f} {view.verdict(score, head)}")  # never colour alone
    assert re.search(r"(calm|in between|excited)", view.verdict(view.shown(speaking, "arousal"), "arousal"))
    silent = dataclasses.replace(
        latest, audio=None, arousal=None, smooth={}, missing={"audio": Reason(Absence.NO_VOICE)}
    )
    markup = view.gauges(silent)
    for head in ("audio", "arousal"):
        assert re.search(rf'class="gauge unavailable" data-head="{head}".*?unavailable: no voice', markup), head
    waiting = view.gauges(None)
    assert waiting.count("unavailable: waiting for the first window") == len(SCORES)


def test_verdict_edges_and_tints():
    assert [view.verdict(v) for v in (-2.5, -1.0, 0.0, 0.49, 0.5, 1.9, 2.0)] == [
        "strongly negative", "negative", "neutral", "neutral", "positive", "positive", "strongly positive",
    ]  # fmt: skip
    assert [view.verdict(v, "arousal") for v in (-2.5, -1.0, 0.0, 1.0, 2.5)] == [
        "very calm", "calm", "in between", "excited", "very excited",
    ]  # fmt: skip
    assert view.tint(0.3) == view.tint(None)  # the neutral band is grey
    assert view.tint(-2.0).startswith("rgba(200,40,40") and view.tint(2.0).startswith("rgba(30,150,60")
    assert float(view.tint(3.0).split(",")[-1][:-1]) > float(view.tint(1.0).split(",")[-1][:-1])


def test_timeline_draws_every_head_smoothed_and_raw_marks_utterances_and_carries_the_words(scored):
    rows, said = scored.rows, scored.utterances
    markup = view.timeline(rows, said)
    smooth = set(re.findall(r'<path class="smooth" data-head="(\w+)"', markup))
    raw = set(re.findall(r'<path class="raw" data-head="(\w+)"', markup))
    assert smooth == set(SCORES) and {"fused", "text"} <= raw  # the voice (audio, arousal) read too
    assert markup.count('class="utt-span"') == len(said) >= 3
    points = re.findall(r'<div class="tl-pt" style="left:([\d.]+)%;top:([\d.]+)%" data-tip="([^"]*)"></div>', markup)
    assert len(points) == sum(view.shown(s, "fused") is not None for s in rows)
    assert all(0 <= float(x) <= 100 and 0 <= float(y) <= 100 for x, y, _ in points)
    assert any("waiter" in tip.lower() for _, _, tip in points), "hovering shows the words"
    # live, new words bring a result just after the hop's: the older point would lie under it, unhoverable
    close = [rows[3], dataclasses.replace(rows[3], end=rows[3].end + 0.05, recent="and newer words")]
    tips = re.findall(r'class="tl-pt"[^>]*data-tip="([^"]*)"', view.timeline(close))
    assert len(tips) == 1 and "and newer words" in tips[0]
    # the last minute of a long session: only its windows; a very long one is thinned, the newest kept
    shift = float(np.ceil(rows[-1].end))
    long, long_said = (
        [dataclasses.replace(s, start=s.start + k * shift, end=s.end + k * shift) for k in range(200) for s in x]
        for x in (rows, said)
    )
    last_minute = view.timeline(long, long_said, view.SPANS["last minute"])
    assert int(re.search(r'data-windows="(\d+)"', last_minute)[1]) == sum(s.end >= long[-1].end - 60 for s in long)
    whole = view.timeline(long, long_said)
    shown = int(re.search(r'data-windows="(\d+)"', whole)[1])
    assert len(long) > 2 * view.MAX_POINTS and shown <= view.MAX_POINTS + 1
    assert f"{long[-1].end:.1f} s" in whole
    assert whole.count('class="tl-pt"') <= view.MAX_HOVER + 1
    assert whole.count('class="utt-span"') <= 1000 / view.MIN_SPAN_GAP + 1 < len(long_said)
    assert last_minute.count('class="utt-span"') == sum(u.end >= long[-1].end - 60 for u in long_said)


def test_utterances_are_tinted_by_score_with_the_number_beside(scored):
    said = scored.utterances
    markup = view.utterance_list(said)
    items = re.findall(r'<li class="utt" data-score="([-\d.]*)" style="background:([^;]+);[^"]*">'
                       r'<span class="meta">([^<]+)</span>(?:<span class="who" data-speaker="(\w+)"[^>]*>\w+</span> )?'
                       r'([^<]+)</li>', markup)  # fmt: skip
    assert [i[4] for i in items] == [u.transcript for u in said]
    assert [i[3] for i in items] == [u.speaker for u in said] == ["S1"] * len(said)  # one voice: one speaker
    for (score, background, meta, _, _), u in zip(items, said, strict=True):
        assert background == view.tint(u.fused) and float(score) == pytest.approx(u.fused, abs=1e-3)
        assert meta.endswith(f"{u.fused:+.2f} {view.verdict(u.fused)} · words {u.text_class[0]} {u.text_class[1]:.0%}")
    newest_first = view.utterance_list(said, newest_first=True)
    assert newest_first.index(said[-1].transcript) < newest_first.index(said[0].transcript)
    speaking = dataclasses.replace(scored.rows[-1], transcript="and one more thing", provisional=True)
    assert view.utterance_list(said, speaking).rindex("and one more thing") > markup.rindex(said[-1].transcript)
    assert "nothing said yet" in view.utterance_list([])
    many = said * 50  # a long session: the newest utterances, and how many came before
    capped = view.utterance_list(many)
    assert capped.count('<li class="utt" data-score') == view.MAX_UTTERANCES
    assert f"{len(many) - view.MAX_UTTERANCES} earlier utterances" in capped


def _astronaut() -> np.ndarray:
    return np.ascontiguousarray(np.repeat(np.repeat(data.astronaut()[20:280, 120:340], 2, 0), 2, 1))


def test_overlay_draws_the_tracked_face_and_says_no_face():
    picture = _astronaut()
    with FaceExtractor() as faces:
        found = faces(picture)
        empty = faces(np.ascontiguousarray(data.coffee()))
    assert found.present and found.marks is not None and found.marks.shape == (7, 2)
    x0, y0, x1, y1 = found.box
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in found.marks)
    drawn = view.overlay(picture, found)
    box_edge = drawn[y0, x0 + 5 : x1 - 5]
    assert np.all(box_edge == (0, 220, 90)), "the box is drawn on its edge"
    mx, my = found.marks[4].round().astype(int)  # the nose tip
    assert tuple(drawn[my, mx]) == (255, 220, 0)
    plain = view.overlay(picture, found, draw_face=False)
    assert np.array_equal(plain, picture), "toggled off: the picture as the camera gave it"
    assert np.array_equal(view.overlay(picture, None), picture), "no reading yet: nothing written"
    coffee = np.ascontiguousarray(data.coffee())
    said = view.overlay(coffee, empty)
    assert not empty.present
    banner = said[:30, :140]
    assert np.mean(np.all(banner == (40, 40, 40), axis=-1)) > 0.5 and banner.max() > 200  # dark strip, white words
    assert np.array_equal(said[60:], coffee[60:])
