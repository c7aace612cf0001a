"""Training sentences as the app hears them: spoken by espeak-ng, transcribed by the app's own recognizer.

Live, the text head never sees the words that were said, only the recognizer's guess: dropped words, a
missing "not", "spotless" heard as "partless", no punctuation, lower case. Copies of training sentences
passed through real speech synthesis and real recognition teach the head those errors, while keeping the
target of the sentence that was said. Making them needs espeak-ng and minutes of CPU, so they are cached
in a committed JSON-lines file (one ``{"text", "heard", "voice", "speed", "asr"}`` per line) that
training reads back without either.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from dmsil.features.asr import ASROptions, Transcriber, load_transcriber
from dmsil.features.audio import SAMPLE_RATE
from dmsil.features.media import decode
from scripts.default_model.sentences import Sentence

VOICES = ("en-us+m3", "en-gb", "en-us+f2", "en-gb-scotland", "en-029", "en-us+m7")
"""espeak-ng voices for training copies; the spoken benchmark uses others (en-us, en-gb-x-rp, en-us+f3)."""


@dataclass
class SpokenCopy:
    text: str
    heard: str
    voice: str
    speed: int
    asr: str


def hear(text: str, voice: str, speed: int, transcriber: Transcriber) -> str:
    """What ``transcriber`` makes of ``text`` spoken by espeak-ng (``voice`` at ``speed`` words per minute)."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True, capture_output=True
        )
        audio = decode(wav).audio  # the app's own decoder: 16 kHz mono
    return " ".join(w.text.strip() for w in transcriber.transcribe(audio, SAMPLE_RATE)).strip()


class SpokenCopies:
    """The committed file of spoken copies: read, and appended to one line per sentence (resumable)."""

    def __init__(self, path: Path):
        self.path = path
        self.copies: dict[str, SpokenCopy] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                if line.strip():
                    c = SpokenCopy(**json.loads(line))
                    self.copies[c.text] = c

    def __len__(self) -> int:
        return len(self.copies)

    def __contains__(self, text: str) -> bool:
        return text in self.copies

    def make(self, jobs: list[tuple[str, str, int]], models: tuple[str, ...] = ("tiny.en", "base")) -> None:
        """Speak and transcribe each ``(text, voice, speed)`` not yet in the file, taking ``models`` in turn."""
        transcribers = {m: load_transcriber(ASROptions(model=m, threads=1)) for m in models}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            for i, (text, voice, speed) in enumerate(j for j in jobs if j[0] not in self.copies):
                model = models[i % len(models)]
                c = SpokenCopy(text, hear(text, voice, speed, transcribers[model]), voice, speed, model)
                self.copies[text] = c
                out.write(json.dumps(c.__dict__) + "\n")
                out.flush()

    def sentences(self, rows: list[Sentence], weight: float = 1.0) -> list[Sentence]:
        """A heard copy of each of ``rows`` that has one (and was heard as words), with its target and split."""
        out = []
        for r in rows:
            c = self.copies.get(r.text)
            if c and c.heard and c.heard != r.text:
                out.append(replace(r, text=c.heard, source=f"{r.source}/asr", weight=r.weight * weight, binary=0))
        return out
