"""Whether the live page grows in the browser over an hour, and which of its updates make it grow: the
page served as shipped, or with parts of each update held constant, side by side in one run.

    .venv/bin/python scripts/bench_page_memory.py [--minutes 60] [--hold none gauges,utterance_list all]

For each variant, ``python -m realtime --camera LONG.mp4`` (the demo talk looped) is served with the
named view functions (``gauges``, ``utterance_list``; ``all``: both) replaced by constant markup, which
Gradio leaves alone on an update (its ``gr.HTML`` skips a value equal to the last); the picture and the
timeline are constant markup already, drawn by the page script from their own addresses. The page is
opened in Debian's Chromium and the page renderer's unique memory (USS) is read after a forced garbage
collection at the start and every minute; the slope after the first minute is MB per minute. The CPU
time of the server and of the renderer over the run is divided by the page's updates (one a second).
``none`` is the page as shipped. Writes ``scripts/results/bench_page_memory.json``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import psutil  # noqa: E402
from bench_page import cpu_seconds, looped, open_page, own_chromium, renderer_uss_mb  # noqa: E402

from dmsil.cli import benchmark_parser, setup_logging  # noqa: E402
from engines import KINDS  # noqa: E402

RESULTS = ROOT / "scripts" / "results" / "bench_page_memory.json"
PARTS = ("gauges", "utterance_list")
log = logging.getLogger("bench_page_memory")


def serve_held(held: str, realtime_args: list[str]) -> int:
    """``python -m realtime`` with the ``held`` view functions (comma-separated) returning constant markup."""
    import realtime.__main__
    from realtime import view

    for part in PARTS if held == "all" else [h for h in held.split(",") if h != "none"]:
        setattr(view, part, lambda *args, **kwargs: "<div>held constant</div>")
    return realtime.__main__.main(realtime_args)


def plain(video: Path, held: str, minutes: float) -> dict:
    """The page in Chromium as a visitor opens it, with no DevTools attached (which keeps every fetched
    response's body in the renderer for its network panel): no forced collection, so the slope is of the
    memory Chromium itself keeps, sampled every minute."""
    from tests.pages import Server

    server = Server("--camera", str(video), launcher=(sys.executable, __file__, "serve", held))
    try:
        time.sleep(20)  # models loaded, the first windows scored
        with tempfile.TemporaryDirectory() as profile:
            chromium = subprocess.Popen(["/usr/bin/chromium", "--headless=new", "--no-sandbox", "--window-size=1280,1100",
                                         f"--user-data-dir={profile}", server.url],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            time.sleep(20)
            result = watch(server, f"{held}, no DevTools", minutes, collect=lambda: None, wait=time.sleep)
            chromium.terminate()
            chromium.wait(timeout=30)
    finally:
        server.close()
    return result


def watch(server, held: str, minutes: float, collect: Callable[[], None], wait: Callable[[float], None]) -> dict:
    """The page renderer's unique memory every minute for ``minutes`` (``collect()`` before each sample),
    then its slope after the first minute and the CPU of server and renderer per update (one a second)."""
    renderer = max((p for p in own_chromium() if "--type=renderer" in p.cmdline()),
                   key=lambda p: p.memory_full_info().uss)  # fmt: skip
    server_proc = psutil.Process(server.proc.pid)
    cpu0 = (cpu_seconds(server_proc), cpu_seconds(renderer))
    t0, samples = time.monotonic(), []
    while True:
        collect()
        samples.append({"s": round(time.monotonic() - t0, 1), "renderer_uss_mb": renderer_uss_mb(own_chromium())})
        log.info("%s %s", held, samples[-1])
        if samples[-1]["s"] >= minutes * 60:
            break
        wait(60)
    elapsed = time.monotonic() - t0
    cpu = (cpu_seconds(server_proc) - cpu0[0], cpu_seconds(renderer) - cpu0[1])
    later = [s for s in samples if s["s"] >= 60] if minutes > 2 else samples
    slope = np.polyfit([s["s"] / 60 for s in later], [s["renderer_uss_mb"] for s in later], 1)[0]
    return {"held": held, "minutes": minutes, "samples": samples, "mb_per_min": float(slope),
            "server_cpu_ms_per_update": 1000 * cpu[0] / elapsed, "renderer_cpu_ms_per_update": 1000 * cpu[1] / elapsed}  # fmt: skip


def measure(video: Path, held: str, minutes: float) -> dict:
    """The page in Playwright's Chromium, a forced collection before each sample."""
    from playwright.sync_api import sync_playwright

    from tests.pages import Server

    server = Server("--camera", str(video), launcher=(sys.executable, __file__, "serve", held))
    try:
        time.sleep(20)  # models loaded, the first windows scored
        with sync_playwright() as pw:
            browser, page, cdp = open_page(pw, server.url)
            page.wait_for_timeout(20_000)

            def collect() -> None:
                cdp.send("HeapProfiler.collectGarbage")
                page.wait_for_timeout(3_000)

            result = watch(server, held, minutes, collect, wait=lambda s: page.wait_for_timeout(s * 1000))
            browser.close()
    finally:
        server.close()
    return result


def main(argv: list[str] | None = None) -> int:
    p = benchmark_parser(__doc__, RESULTS, KINDS)
    p.add_argument("--minutes", type=float, default=60.0, help="how long each variant's page stays open")
    p.add_argument("--hold", nargs="+", default=["none"],
                   help="variants: none, all, or comma-separated parts of " + ", ".join(PARTS))  # fmt: skip
    p.add_argument("--video", type=Path, default=ROOT / "demo.mp4")
    p.add_argument("--no-devtools", action="store_true",
                   help="Chromium as a visitor runs it: no DevTools, so no forced collection")  # fmt: skip
    args = p.parse_args(argv)
    setup_logging(args)
    if not args.video.is_file():
        from realtime import demo

        demo.talk(args.video)
    with tempfile.TemporaryDirectory() as folder:
        long = looped(args.video, (args.minutes + 2) * 60, Path(folder) / "long.mp4")
        how = plain if args.no_devtools else measure
        report = {"variants": [how(long, held, args.minutes) for held in args.hold]}
    print(f"{'held constant':>30} {'USS start MB':>13} {'USS end MB':>11} {'MB/min':>7} {'server ms/update':>17} "
          f"{'renderer ms/update':>19}")  # fmt: skip
    for v in report["variants"]:
        first, last = v["samples"][0]["renderer_uss_mb"], v["samples"][-1]["renderer_uss_mb"]
        print(f"{v['held']:>30} {first:>13.1f} {last:>11.1f} {v['mb_per_min']:>+7.2f} "
              f"{v['server_cpu_ms_per_update']:>17.1f} {v['renderer_cpu_ms_per_update']:>19.1f}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        sys.exit(serve_held(sys.argv[2], sys.argv[3:]))
    sys.exit(main())
