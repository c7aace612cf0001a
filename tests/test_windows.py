"""The window assembler on its own: no models, no threads, no clock."""

import math

import numpy as np
import pytest

from dmsil.features.asr import Word
from realtime.events import FaceRead, StatusChanged, UtteranceReady, WindowReady
from realtime.modalities import Absence, Reason
from realtime.windows import Assembler, WindowOptions, utterances

FACE = np.ones(4, np.float32)


def words(text: str, start: float, step: float = 0.3) -> list[Word]:
    return [Word(start + i * step, start + i * step + 0.25, w, 0.9) for i, w in enumerate(text.split())]


def sentence_text(ws: list[Word]) -> str:
    return " ".join(w.text for w in ws)


def offline(window=4.0, hop=1.0, **kw) -> Assembler:
    return Assembler(WindowOptions(window, hop, live=False, **kw))


def feed(asm: Assembler, ws: list[Word], until: float, faces: bool = True) -> None:
    """Words and 10 face frames a second up to ``until``; every stream has got there."""
    for w in ws:
        asm.add_word(w)
    if faces:
        for t in np.arange(0.0, until, 0.1):
            asm.add("face", float(t), FACE)
    for stage in ("face", "asr", "acoustic"):
        asm.advance(stage, until)
    asm.saw(until)


def regular(ready):
    return [e.window for e in ready if isinstance(e, WindowReady)]


def said(ready):
    return [e.window for e in ready if isinstance(e, UtteranceReady)]


def test_windows_wait_for_every_stream_and_end_at_the_sources_end():
    asm = offline()
    feed(asm, [], 2.5)
    assert [(w.start, w.end) for w in regular(asm.ready())] == [(0.0, 1.0), (0.0, 2.0)]
    assert asm.ready() == []  # the third window needs every stream past 3.0
    asm.advance("face", 6.0)
    asm.advance("asr", 6.0)
    assert asm.ready() == []  # the acoustic stream is still at 2.5
    feed(asm, [], 5.5)
    for stage in ("face", "asr", "acoustic"):
        asm.finish(stage)
    got = [(w.start, w.end) for w in regular(asm.ready())]
    assert got == [(0.0, 3.0), (0.0, 4.0), (1.0, 5.0), (2.0, 5.5)]  # the last one stops where the file does
    assert asm.finished and asm.ready() == []


def test_utterances_split_at_pauses_and_sentence_ends():
    ws = words("The food was great.", 0.0) + words("But the service", 1.3) + words("was slow", 3.0)
    us = utterances(ws, pause=0.6, known_until=math.inf)
    assert [u.text for u in us] == ["The food was great.", "But the service", "was slow"]
    assert all(u.complete for u in us)
    open_end = utterances(ws, pause=0.6, known_until=3.5)  # "was slow" ends at 3.55: more may follow
    assert not open_end[-1].complete and open_end[0].complete


def test_a_window_scores_whole_utterances_never_a_slice_of_words():
    asm = offline(window=2.0)
    sentence = words("The nurse who looked after my mother was kind and patient.", 0.0)  # 0.0 .. 3.25
    feed(asm, sentence, 6.0)
    by_end = {w.end: w for w in regular(asm.ready())}
    assert by_end[4.0].text == "The nurse who looked after my mother was kind and patient."
    assert by_end[4.0].start == 2.0  # the window reaches back 2 s, its text the whole sentence
    assert by_end[2.0].text == by_end[4.0].text  # offline the rest of the sentence is known
    assert not by_end[2.0].provisional
    assert by_end[4.0].recent == "patient."  # the last hop's words, for the timeline
    assert by_end[6.0].text == ""  # nothing said in 4 .. 6


def test_offline_a_window_waits_for_the_end_of_the_utterance_under_way():
    asm = offline(window=2.0)
    sentence = words("The nurse who looked after my mother was kind and patient.", 0.0)  # 0.0 .. 3.25
    feed(asm, sentence[:7], 2.1)  # heard up to "mother"; the sentence goes on
    assert regular(asm.ready()) == []  # the windows ending at 1 and 2 s wait for the rest of the sentence
    feed(asm, sentence[7:], 3.5)
    assert [w.text for w in regular(asm.ready())] == [sentence_text(sentence)] * 3


def test_live_an_utterance_grows_and_is_provisional_until_it_ends():
    asm = Assembler(WindowOptions(2.0, 1.0, live=True))
    sentence = words("The nurse who looked after my mother was kind and patient.", 0.0)
    for w in sentence[:7]:
        asm.add_word(w)
    asm.advance("asr", 2.1)
    w = regular(asm.ready(now=2.05))[-1]
    assert w.text == "The nurse who looked after my mother" and w.provisional  # what had been said by then
    for x in sentence[7:]:
        asm.add_word(x)
    asm.advance("asr", 4.0)
    w = regular(asm.ready(now=4.0))[-1]
    assert w.text == sentence_text(sentence) and not w.provisional


def test_a_window_holds_the_utterance_being_spoken_not_the_ones_before():
    said = words("First it rained.", 0.0) + words("Then the bus was late.", 1.5) + words("I got soaked.", 3.5)
    asm = offline(window=10.0)
    feed(asm, said, 5.0)
    assert regular(asm.ready())[-1].text == "I got soaked."
    wider = offline(window=10.0, context=2)
    feed(wider, said, 5.0)
    assert regular(wider.ready())[-1].text == "Then the bus was late. I got soaked."


def test_too_few_words_are_shown_but_not_scored():
    asm = offline()
    feed(asm, words("but it", 0.2), 2.0)
    w = regular(asm.ready())[-1]
    assert w.text == "" and w.heard == "but it"
    assert w.reasons["text"].kind is Absence.TOO_SHORT and str(w.reasons["text"]).startswith("too short")


def test_a_late_word_lands_in_time_order():
    asm = offline(window=5.0)
    feed(asm, words("we loved", 0.0) + words("view", 1.2), 1.0)
    asm.add_word(Word(0.65, 0.9, "the", 0.9))  # decoded after "view"
    feed(asm, [], 4.0)
    assert regular(asm.ready())[-1].text == "we loved the view"


def test_a_modality_that_disappears_and_returns_says_why_only_while_gone():
    asm = offline(window=1.0)
    lost = Reason(Absence.SOURCE, "camera 0: lost; retrying every 2 s")
    asm.trouble(("video",), 2.0, 3.0, lost)
    feed(asm, [], 5.0)
    reasons = {w.end: w.reasons.get("video") for w in regular(asm.ready())}
    assert reasons[3.0] == lost and str(reasons[3.0]) == "camera 0: lost; retrying every 2 s"
    assert reasons[2.0] is None and reasons[5.0] is None


def test_a_reported_status_is_one_event_and_the_reason_of_its_modalities_while_it_lasts():
    asm = offline(window=1.0)
    feed(asm, [], 2.0)
    asm.status("camera", ("video",), "camera 0: lost; retrying every 2 s")
    asm.status("camera", ("video",), "camera 0: lost; retrying every 2 s")  # the same again: no new event
    events = asm.ready()
    assert [e for e in events if isinstance(e, StatusChanged)] == [
        StatusChanged("camera", ("video",), "camera 0: lost; retrying every 2 s")
    ]
    assert all(w.reasons["video"].kind is Absence.SOURCE for w in regular(events))
    asm.status("camera", ("video",), None)
    feed(asm, [], 4.0)
    events = asm.ready()
    assert [e for e in events if isinstance(e, StatusChanged)] == [StatusChanged("camera", ("video",), None)]
    assert all("video" not in w.reasons for w in regular(events))


def test_the_newest_face_read_is_handed_out_once():
    from realtime.sources import Frame

    asm = offline()
    rgb = np.zeros((4, 4, 3), np.uint8)
    asm.read_face(Frame(0.2, rgb), "second")
    asm.read_face(Frame(0.1, rgb), "first")  # another face thread, behind: not newer
    assert [(e.frame.t, e.face) for e in asm.ready() if isinstance(e, FaceRead)] == [(0.2, "second")]
    assert [e for e in asm.ready() if isinstance(e, FaceRead)] == []


def test_a_damaged_span_marks_a_modality_only_where_it_covers_most_of_the_window():
    asm = offline(window=2.0)
    damaged = Reason(Absence.DAMAGED)
    asm.trouble(("video",), 3.0, 3.2, damaged, share=0.5)  # a few frames: the window still has enough
    asm.trouble(("text", "audio"), 5.5, 8.0, damaged, share=0.5)
    feed(asm, [], 9.0, faces=False)
    reasons = {w.end: w.reasons for w in regular(asm.ready())}
    assert "video" not in reasons[4.0]
    assert "text" not in reasons[6.0] and reasons[7.0]["text"] == reasons[8.0]["audio"] == damaged


def test_each_complete_utterance_is_offered_once_over_its_own_span():
    asm = offline()
    feed(asm, words("The soup was wonderful.", 0.5) + words("The bill was not.", 2.5), 3.0)
    first = said(asm.ready())
    assert [w.text for w in first] == ["The soup was wonderful."]  # the second is still being said
    assert first[0].start == 0.5 and first[0].end == pytest.approx(1.65) and len(first[0].video) == 12
    feed(asm, [], 6.0)
    later = said(asm.ready())
    assert [w.text for w in later] == ["The bill was not."]
    asm.prune()
    feed(asm, [], 9.0)
    assert said(asm.ready()) == []


def test_live_windows_follow_the_clock_and_new_words_come_at_once():
    asm = Assembler(WindowOptions(4.0, 1.0, live=True))
    assert asm.ready(now=0.9) == []  # nothing said, no window due
    asm.add_word(Word(0.1, 0.4, "Lovely", 0.9))
    early = regular(asm.ready(now=0.95))  # a new word: a result now, not at the next hop
    assert [(w.end, w.heard, w.provisional) for w in early] == [(0.95, "Lovely", True)]
    assert asm.ready(now=0.97) == []  # nothing new since
    assert [w.end for w in regular(asm.ready(now=1.05))] == [1.0]  # the regular window still comes


def test_live_scores_words_heard_but_not_yet_confirmed():
    asm = Assembler(WindowOptions(4.0, 1.0, live=True))
    for w in words("The staff were", 0.0):
        asm.add_word(w)
    asm.set_tentative(words("really helpful.", 0.9), heard_until=1.6)
    due, w = regular(asm.ready(now=1.7))  # the window due at 1.0, then one right now for the new words
    assert due.end == 1.0 and w.end == 1.7
    assert w.text == "The staff were really helpful." and w.provisional
    assert said(asm.ready(now=5.0)) == []  # rows wait for confirmed words
    asm.set_tentative([], heard_until=2.0)
    for x in words("really helpful.", 0.9):
        asm.add_word(x)
    asm.advance("asr", 3.0)
    rows = said(asm.ready(now=5.0))
    assert [u.text for u in rows] == ["The staff were really helpful."]


def test_pruning_keeps_the_words_of_an_utterance_still_open():
    asm = offline(window=2.0)
    long_one = words(" ".join(["word"] * 20), 0.0)  # 0 .. 6 s without a pause or a sentence end
    feed(asm, long_one[:15], 4.5)
    asm.ready()
    asm.prune()
    feed(asm, long_one[15:], 9.0)
    utterance = said(asm.ready())
    assert len(utterance) == 1 and len(utterance[0].text.split()) == 20


def test_an_utterance_goes_to_its_speaker_and_live_waits_until_the_voices_are_told_apart():
    from realtime.speakers import Turn
    from realtime.windows import SPEAKER_WAIT

    asm = Assembler(WindowOptions(4.0, 1.0, live=True))
    for w in words("i love this so much. you are wrong about it.", 0.0):  # no pause between the two speakers
        asm.add_word(w)
    asm.advance("asr", 4.0)
    asm.set_turns([Turn(0.0, 1.5, "S1")], until=2.0)  # the voices are told apart up to 2 s only
    assert [w.speaker for w in said(asm.ready(now=4.0))] == ["S1"]
    asm.set_turns([Turn(0.0, 1.5, "S1"), Turn(1.5, 3.0, "S2")], until=4.0)
    second = said(asm.ready(now=5.0))
    assert [(w.speaker, w.heard) for w in second] == [("S2", "you are wrong about it.")]
    assert asm.window(0.0, 1.4).speaker == "S1" and asm.window(2.0, 3.0).speaker == "S2"
    # a speaker stage that stopped telling voices apart holds an utterance back SPEAKER_WAIT seconds at most
    for w in words("and another thing here.", 5.0):
        asm.add_word(w)
    asm.advance("asr", 7.0)
    assert said(asm.ready(now=8.0)) == []
    assert [w.heard for w in said(asm.ready(now=7.0 + SPEAKER_WAIT))] == ["and another thing here."]


def test_a_face_reading_held_past_a_cut_is_not_a_face_of_the_next_window():
    """Offline each face reading stands for several frames (``face_hold``); the reading made just before a
    cut, held two frames past it, must not make the face before the cut one of the next window's faces.
    And a frame exactly at a window's edge is named like the others (it was once skipped)."""
    from dmsil.features.face import FACE_FEATURE_NAMES
    from realtime.faces import Sighting

    rng = np.random.default_rng(0)
    looks = [rng.normal(size=576) / 24 for _ in range(2)]
    boxes = [(0, 0, 100, 100), (300, 0, 400, 100)]
    vector = np.zeros(len(FACE_FEATURE_NAMES), np.float32)

    def faces(hold: int, start: float) -> dict[str, int]:
        asm = Assembler(WindowOptions(4.0, 1.0, live=False), face_hold=hold)
        for i in range(2, 8 * 15, hold):  # one reading every ``hold`` frames of 15 a second
            who = 0 if i <= 29 else 1  # the last reading before the cut, frame 29 (1.93 s), holds frames 30, 31
            for k in range(hold):
                t = (i + k) / 15
                asm.add("face", t, vector)
                asm.add("faces", t, [Sighting(t, boxes[who], looks[who], vector, True)])
        for stage in ("face", "asr", "acoustic"):
            asm.finish(stage)
        asm.saw(8.0)
        windows = {w.start: w for w in regular(asm.ready())}
        return {name: len(v) for name, v in windows[start].faces.items()}

    assert len(faces(3, 2.0)) == 1
    assert len(faces(1, 2.0)) == 1  # read every frame: the face before the cut is not held over it
    # every frame's faces are named, those at a window's edge (every whole second) too
    assert faces(3, 3.0) == faces(1, 3.0) == {"F2": 60}
