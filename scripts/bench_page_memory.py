"""Which of the live page's updates makes the browser's renderer grow: the page served with parts of
each update held constant, side by side in one run.

    .venv/bin/python scripts/bench_page_memory.py [--minutes 5] [--hold none timeline picture all]

For each variant, ``python -m realtime --camera LONG.mp4`` (the demo talk looped) is served with the
named view functions (``timeline``, ``picture``, ``gauges``, ``utterance_list``; ``all``: every one)
replaced by constant markup, which Gradio leaves alone on an update (its ``gr.HTML`` skips a value equal
to the last). The page is opened in Debian's Chromium and the page renderer's unique memory (USS) is
read after a forced garbage collection at the start and every minute; the slope is MB per minute.
``none`` is the page as shipped. Writes ``scripts/results/bench_page_memory.json``.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_page import looped, open_page, own_chromium, renderer_uss_mb  # noqa: E402

from dmsil.cli import benchmark_parser, setup_logging  # noqa: E402
from engines import KINDS  # noqa: E402

RESULTS = ROOT / "scripts" / "results" / "bench_page_memory.json"
PARTS = ("timeline", "picture", "gauges", "utterance_list")
log = logging.getLogger("bench_page_memory")


def serve_held(held: str, realtime_args: list[str]) -> int:
    """``python -m realtime`` with the ``held`` view functions (comma-separated) returning constant markup."""
    import realtime.__main__
    from realtime import view

    for part in PARTS if held == "all" else [h for h in held.split(",") if h != "none"]:
        setattr(view, part, lambda *args, **kwargs: "<div>held constant</div>")
    return realtime.__main__.main(realtime_args)


def measure(video: Path, held: str, minutes: float) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.pages import Server

    server = Server("--camera", str(video), launcher=(sys.executable, __file__, "serve", held))
    try:
        time.sleep(20)  # models loaded, the first windows scored
        with sync_playwright() as pw:
            browser, page, cdp = open_page(pw, server.url)
            page.wait_for_timeout(20_000)
            t0, samples = time.monotonic(), []
            while True:
                cdp.send("HeapProfiler.collectGarbage")
                page.wait_for_timeout(3_000)
                samples.append(
                    {"s": round(time.monotonic() - t0, 1), "renderer_uss_mb": renderer_uss_mb(own_chromium())}
                )
                log.info("%s %s", held, samples[-1])
                if samples[-1]["s"] >= minutes * 60:
                    break
                page.wait_for_timeout(60_000)
            browser.close()
    finally:
        server.close()
    slope = np.polyfit([s["s"] / 60 for s in samples], [s["renderer_uss_mb"] for s in samples], 1)[0]
    return {"held": held, "minutes": minutes, "samples": samples, "mb_per_min": float(slope)}


def main(argv: list[str] | None = None) -> int:
    p = benchmark_parser(__doc__, RESULTS, KINDS)
    p.add_argument("--minutes", type=float, default=5.0, help="how long each variant's page stays open")
    p.add_argument("--hold", nargs="+", default=["none", "timeline", "picture", "all"],
                   help="variants: none, all, or comma-separated parts of " + ", ".join(PARTS))  # fmt: skip
    p.add_argument("--video", type=Path, default=ROOT / "demo.mp4")
    args = p.parse_args(argv)
    setup_logging(args)
    if not args.video.is_file():
        from realtime import demo

        demo.talk(args.video)
    with tempfile.TemporaryDirectory() as folder:
        long = looped(args.video, (args.minutes + 2) * 60, Path(folder) / "long.mp4")
        report = {"variants": [measure(long, held, args.minutes) for held in args.hold]}
    print(f"{'held constant':>40} {'USS start MB':>13} {'USS end MB':>11} {'MB/min':>7}")
    for v in report["variants"]:
        first, last = v["samples"][0]["renderer_uss_mb"], v["samples"][-1]["renderer_uss_mb"]
        print(f"{v['held']:>40} {first:>13.1f} {last:>11.1f} {v['mb_per_min']:>+7.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        sys.exit(serve_held(sys.argv[2], sys.argv[3:]))
    sys.exit(main())
