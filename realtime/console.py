"""A quiet console: third-party chatter hidden unless ``--verbose``; our progress bars and errors stay.

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

NOISE = re.compile(
    rb"^(?:[WIE]\d{4} [\d:. ]+\s*\d+ \S+\.cc:\d+\]"  # absl/glog lines from C++
    rb"|WARNING: All log messages before absl::InitializeLog"
    rb"|INFO: Created TensorFlow Lite"
    rb"|INFO: Initialized TensorFlow Lite)"
)


def quiet(verbose: bool = False) -> None:
    """Hide third-party console output for the rest of the process (``verbose`` leaves it all on)."""
    if not verbose:
        _silence()


@functools.cache  # the process has one stderr: filtered once, however often this is asked for
def _silence() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", module=r"(?!dmsil|realtime|engines)")
    for name in ("transformers", "huggingface_hub", "absl", "onnxruntime"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:
        pass
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
