"""Spoken copies: real espeak-ng speech through the app's packaged recognizer, cached and read back."""

from scripts.default_model.sentences import Sentence
from scripts.default_model.spoken import SpokenCopies

SENTENCE = "The waiter was friendly and the soup was wonderful."


def test_copies_are_heard_cached_and_keep_the_target(tmp_path):
    path = tmp_path / "copies.jsonl"
    SpokenCopies(path).make([(SENTENCE, "en-gb", 160)], models=("tiny.en",))
    copies = SpokenCopies(path)  # read back from the file alone
    assert SENTENCE in copies and len(copies) == 1
    heard = copies.copies[SENTENCE].heard
    said = set(SENTENCE.lower().rstrip(".").split())
    assert len(said & set(heard.lower().replace(".", "").replace(",", "").split())) >= len(said) // 2, heard
    rows = [Sentence(SENTENCE, 2.1, "vader-amazon", "train", "p1"), Sentence("never spoken", -1.0, "x", "train")]
    if heard != SENTENCE:  # a copy heard word for word adds nothing and is skipped
        (copy,) = copies.sentences(rows, weight=0.5)
        assert (copy.text, copy.target, copy.source, copy.split, copy.weight) == (
            heard,
            2.1,
            "vader-amazon/asr",
            "train",
            0.5,
        )
    else:
        assert copies.sentences(rows) == []
    # making again does no work for a sentence already there
    SpokenCopies(path).make([(SENTENCE, "en-us", 150)], models=("tiny.en",))
    assert len(path.read_text().splitlines()) == 1
