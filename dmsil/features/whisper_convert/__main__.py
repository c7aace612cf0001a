"""``python -m dmsil.features.whisper_convert CT2_DIR OUT.pt``: convert a CTranslate2 Whisper folder once, by hand.

Apart from the library so that the converter, which ``dmsil.features.asr`` loads models through, does not import
``dmsil.cli`` (which imports ``asr`` for its flags).
"""

from __future__ import annotations

import argparse
import logging
import sys

from dmsil.cli import add_verbosity, setup_logging
from dmsil.errors import DmsilError
from dmsil.features.whisper_convert import convert


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m dmsil.features.whisper_convert",
        description="Convert a CTranslate2 Whisper model folder into an openai-whisper .pt checkpoint.",
    )
    p.add_argument("ct2_dir", help="folder with model.bin and config.json (e.g. a faster-whisper model)")
    p.add_argument("out", help="checkpoint file to write, e.g. tiny.en.pt")
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args, logging.INFO)
    try:
        convert(args.ct2_dir, args.out)
    except (DmsilError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
