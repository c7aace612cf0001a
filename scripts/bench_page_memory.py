"""Whether the live page grows in the browser over an hour, and which of its updates make it grow: the
page served as shipped, or with parts of each update held constant, side by side in one run.

    .venv/bin/python scripts/bench_page_memory.py [--minutes 60] [--hold none gauges,utterance_list all] [--playwright]

For each variant, ``python -m realtime --camera LONG.mp4`` (the demo talk looped) is served with the
named view functions (``gauges``, ``utterance_list``; ``all``: both) replaced by constant markup, which
Gradio leaves alone on an update (its ``gr.HTML`` skips a value equal to the last); the picture and the
timeline are constant markup already, drawn by the page script from their own addresses. The page is
opened in Debian's Chromium, driven over a DevTools pipe with no domain enabled (``--playwright``: under
Playwright, whose network domain keeps fetched bodies), and the page renderer's unique memory (USS) is
read after a forced garbage collection at the start and every minute; the slope after the first minute is MB per minute. The CPU
time of the server and of the renderer over the run is divided by the page's updates (one a second).
``none`` is the page as shipped. Writes ``scripts/results/bench_page_memory.json``.
"""

from __future__ import annotations

import json
import logging
import os
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


class PipeDevTools:
    """Chromium driven over ``--remote-debugging-pipe`` (its fds 3 and 4: JSON messages ended by NUL) with
    no DevTools domain enabled: only the heap's collection is asked for. Playwright enables the network
    domain, whose panel keeps every fetched response's body in the renderer, so a page that fetches a
    picture every second grows there for that reason alone."""

    def __init__(self, url: str, profile: str):
        ours_in, theirs_out = os.pipe()  # what Chromium writes on its fd 4
        theirs_in, ours_out = os.pipe()  # what Chromium reads on its fd 3

        def as_fds_3_and_4() -> None:
            os.dup2(theirs_in, 3)
            os.dup2(theirs_out, 4)

        self.proc = subprocess.Popen(["/usr/bin/chromium", "--headless=new", "--no-sandbox", "--window-size=1280,1100",
                                      f"--user-data-dir={profile}", "--remote-debugging-pipe", url],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(3, 4),
                                     preexec_fn=as_fds_3_and_4)  # fmt: skip
        os.close(theirs_in), os.close(theirs_out)
        self.send_to, self.read_from, self.next_id, self.buffer = ours_out, ours_in, 0, b""
        time.sleep(5)
        pages = [t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page"]
        self.session = self.call("Target.attachToTarget", targetId=pages[0]["targetId"], flatten=True)["sessionId"]

    def call(self, method: str, session: str | None = None, **params) -> dict:
        """Send one command and return its result (events that come meanwhile are dropped)."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.send_to, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = os.read(self.read_from, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed its DevTools pipe")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def collect(self) -> None:
        self.call("HeapProfiler.collectGarbage", session=self.session)
        time.sleep(3)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def plain(video: Path, held: str, minutes: float) -> dict:
    """The page in Chromium with no DevTools domain enabled (:class:`PipeDevTools`), a forced collection
    before each sample."""
    from tests.pages import Server

    server = Server("--camera", str(video), launcher=(sys.executable, __file__, "serve", held))
    try:
        time.sleep(20)  # models loaded, the first windows scored
        with tempfile.TemporaryDirectory() as profile:
            chromium = PipeDevTools(server.url, profile)
            time.sleep(15)
            result = watch(server, f"{held}, DevTools pipe", minutes, collect=chromium.collect, wait=time.sleep)
            chromium.close()
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
    p.add_argument("--playwright", action="store_true",
                   help="Chromium under Playwright, which enables DevTools' network domain (its panel keeps "
                   "fetched bodies); default: a DevTools pipe with no domain enabled")  # fmt: skip
    args = p.parse_args(argv)
    setup_logging(args)
    if not args.video.is_file():
        from realtime import demo

        demo.talk(args.video)
    with tempfile.TemporaryDirectory() as folder:
        long = looped(args.video, (args.minutes + 2) * 60, Path(folder) / "long.mp4")
        how = measure if args.playwright else plain
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
