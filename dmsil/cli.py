"""What the project's command lines share: how chatty they are, and the speech-recognition flags.

Every entry point (``dmsil-train``, ``dmsil-live``, ...; see ``[project.scripts]``) calls
:func:`add_verbosity` and :func:`setup_logging` once, so ``-v``/``-q`` and the log format are the same
everywhere; the programs that transcribe take their ASR flags from :func:`add_asr_arguments`, and those
that score pick the engine with :func:`add_engine_argument`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from dmsil.features.asr import BACKENDS, ASROptions

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def add_verbosity(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="log every step (and third-party output)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars; only warnings and errors unless -v")


def add_options(p: argparse.ArgumentParser, options: type) -> None:
    """One flag per field of the dataclass ``options``, with its default (``--x``/``--no-x`` for booleans),
    so a recipe's options and its command line cannot drift apart."""
    import dataclasses

    for f in dataclasses.fields(options):
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(f.default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            p.add_argument(flag, type=type(f.default), default=f.default)


def options_parser(prog: str, doc: str, options: type) -> argparse.ArgumentParser:
    """A recipe's command line: its docstring's first paragraph, a flag per option, ``-v``/``-q``."""
    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    add_options(p, options)
    add_verbosity(p)
    return p


def options_from(args: argparse.Namespace, options: type):
    """The dataclass ``options`` built from the flags :func:`add_options` added."""
    import dataclasses

    return options(**{f.name: getattr(args, f.name) for f in dataclasses.fields(options)})


def run_recipe(prog: str, doc: str, options: type, run, argv: list[str] | None = None) -> int:
    """A recipe's ``main``: its options from the command line, then ``run(options)``; a :class:`DmsilError`
    (missing data, a bad file) is one logged line and exit status 1."""
    from dmsil.errors import DmsilError

    args = options_parser(prog, doc, options).parse_args(argv)
    setup_logging(args)
    try:
        run(options_from(args, options))
    except DmsilError as exc:
        logging.getLogger(prog.split()[-1]).error("%s", exc)
        return 1
    return 0


def setup_logging(args: argparse.Namespace, default: int = logging.INFO) -> None:
    """The root logger for one program: ``-v`` everything from INFO up (also with ``-q``, which then only
    hides progress bars), ``-q`` warnings only, else ``default``."""
    level = logging.INFO if args.verbose else logging.WARNING if args.quiet else default
    logging.basicConfig(level=level, format=FORMAT, datefmt="%H:%M:%S", force=True)


def add_engine_argument(p: argparse.ArgumentParser, kinds: Sequence[str] = ()) -> None:
    """``--engine``, its choices ``kinds``: the caller passes ``engines.KINDS``, where the names are spelled once
    (``dmsil`` never imports ``engines``). Without them any name passes here and ``engines.load`` refuses it."""
    listed = f": {', '.join(kinds)}" if kinds else " (engines.KINDS lists them)"
    p.add_argument("--engine", default="auto", choices=kinds or None, help=f"how the model runs{listed}")


def add_device_argument(p: argparse.ArgumentParser, default: str = "auto") -> None:
    from dmsil import devices

    p.add_argument("--device", default=default, help=f"{devices.CHOICES} (auto: CUDA when present)")


def add_asr_arguments(p: argparse.ArgumentParser, purpose: str = "speech recognition") -> None:
    defaults = ASROptions()
    p.add_argument("--asr", choices=BACKENDS, default=defaults.backend, help=f"{purpose}: backend")
    p.add_argument("--asr-model", default=defaults.model, help="tiny.en, base, or a local model path")
    p.add_argument("--language", help="spoken language for ASR (default: detect; .en models: English)")


def asr_options(args: argparse.Namespace, **fixed) -> ASROptions:
    """The :class:`ASROptions` the flags of :func:`add_asr_arguments` ask for, with ``fixed`` settings; a
    model that is not there is a :class:`~dmsil.errors.DmsilError` now (:meth:`ASROptions.check`)."""
    options = ASROptions(backend=args.asr, model=args.asr_model, language=args.language, **fixed)
    options.check()
    return options


def benchmark_parser(doc: str, out: Path, engine_kinds: Sequence[str] = ()) -> argparse.ArgumentParser:
    """A benchmark script's parser: its docstring's first paragraph as the description, ``--engine`` (choices
    ``engine_kinds``, i.e. ``engines.KINDS``), ``--out`` (where its results go) and ``-v``/``-q``; the script adds
    its own flags."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_engine_argument(p, engine_kinds)
    p.add_argument("--out", type=Path, default=out, help=f"where the results go (default: {out})")
    add_verbosity(p)
    return p
