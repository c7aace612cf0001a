"""The terminal: one line per event for ``--no-ui`` (:class:`Lines`), and a quiet console (third-party
chatter hidden unless ``--verbose``; our progress bars and errors stay).

The ``--no-ui`` line keeps its layout, because people pipe it into scripts: the time span first, then the
smoothed scores (fused first), the raw fused score, the modalities present, the latency, the transcript.

MediaPipe and TensorFlow Lite write their own log lines (absl ``W0000 ...``, "Created TensorFlow Lite
XNNPACK delegate") straight to file descriptor 2 from C++, where Python's logging cannot reach them.
So file descriptor 2 is pointed at a pipe that a thread reads, dropping those lines and passing the rest
on; Python's own ``sys.stderr`` (progress bars, one-line errors, warnings we log) writes to the real
terminal directly, unbuffered by that thread. transformers' "Loading weights" bars and library warnings
are switched off at their source.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import threading
import warnings
from typing import TYPE_CHECKING, TextIO

from realtime.events import Event, UtteranceScored, WindowScored
from realtime.modalities import SCORES

if TYPE_CHECKING:
    from realtime.pipeline import PipelineOptions
    from realtime.scorer import Scorer, Scores

NOISE = re.compile(
    rb"^(?:[WIE]\d{4} [\d:. ]+\s*\d+ \S+\.cc:\d+\]"  # absl/glog lines from C++
    rb"|WARNING: All log messages before absl::InitializeLog"
    rb"|INFO: Created TensorFlow Lite"
    rb"|INFO: Initialized TensorFlow Lite)"
)


def words(s: Scores) -> str:
    """`` (neutral 84%)``: the words' likeliest class, where the model reads it."""
    return " ({} {:.0%})".format(*s.text_class) if s.text_class is not None else ""


def _fmt(x: float | None, width: int = 6) -> str:
    return f"{'n/a':>{width}}" if x is None else f"{x:+{width}.2f}"


WIDTHS = {k: max(6, len(k)) for k in SCORES}
"""Each score's column width: its name fits above it."""


class Lines:
    """Prints each scored window and utterance of a live run as one line on ``out``; statuses and failures
    are logged (stderr), so the lines stay what scripts parse."""

    def __init__(self, out: TextIO):
        self.out = out

    def header(self, scorer: Scorer, options: PipelineOptions) -> None:
        untrained = ", ".join(f"{m}: {why}" for m, why in scorer.untrained.items())
        w = options.windows
        self._print(
            f"engine {scorer.engine.name}; window {w.window:g} s, hop {w.hop:g} s"
            + (f"; {untrained}" if untrained else "")
        )
        self._print("smoothed scores (raw fused beside them); '...': the utterance is still being spoken")
        names = " ".join(f"{k:>{WIDTHS[k]}}" for k in SCORES)
        self._print(f"{'time':>11} {names} {'raw':>6}  {'present':<16}{'latency':>8}  transcript")

    def __call__(self, event: Event) -> None:
        match event:
            case WindowScored(s):
                smooth = " ".join(_fmt(s.smooth.get(k), WIDTHS[k]) for k in SCORES)
                self._print(
                    f"{s.start:5.1f}-{s.end:5.1f} {smooth} {_fmt(s.fused)}  {'+'.join(s.present) or '-':<16}"
                    f"{s.latency or 0:7.2f}s  {s.transcript[-60:]}{'...' if s.provisional else ''}"
                )
            case UtteranceScored(s):
                self._print(
                    f"{s.start:5.1f}-{s.end:5.1f} utterance: text {_fmt(s.text)}{words(s)} fused {_fmt(s.fused)}  "
                    f"{s.speaker + ': ' if s.speaker else ''}{s.transcript}"
                )

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def quiet(verbose: bool = False) -> None:
    """Hide third-party console output for the rest of the process (``verbose`` leaves it all on)."""
    if not verbose:
        _silence()


@functools.cache  # the process has one stderr: filtered once, however often this is asked for
def _silence() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers' bars read it too
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers is imported
    warnings.filterwarnings("ignore", module=r"(?!dmsil|realtime|engines)")
    for name in ("transformers", "huggingface_hub", "absl", "onnxruntime"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:  # imported already: told directly (importing it here was 0.4 s of a start-up)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    _filter_native_stderr()


def _filter_native_stderr() -> None:
    try:
        terminal = os.dup(2)
        read, write = os.pipe()
    except OSError:  # no usable stderr (a daemon): nothing to filter
        return
    sys.stderr.flush()
    sys.stderr = os.fdopen(terminal, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
    os.dup2(write, 2)
    os.close(write)
    for handler in logging.getLogger().handlers:  # handlers made before now hold the old stream
        if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "fileno", None):
            handler.setStream(sys.stderr)

    def pump() -> None:
        with os.fdopen(read, "rb") as lines:
            for line in lines:
                if not NOISE.match(line):
                    os.write(terminal, line)

    threading.Thread(target=pump, name="stderr-filter", daemon=True).start()
