"""What the live page costs: server CPU per update, and the browser's memory over a long session.

    .venv/bin/python scripts/bench_page.py [--minutes 10] [--idle 120]

1. **Per update, in-process.** What one page update carries (the gauges' and tinted utterances' markup,
   the whole-session timeline's data as JSON, the face overlay and its JPEG), timed in CPU seconds
   of the calling thread over sessions of 1, 10 and 60 minutes (the scored demo talk repeated), with the
   update's size in bytes.
2. **A live session in Chromium.** ``python -m realtime --camera LONG.mp4`` (the demo talk looped) is
   served; its CPU is measured for ``--idle`` seconds with no page open, then for ``--minutes`` with the
   page open in Debian's Chromium, which samples its JS heap and DOM nodes (Chrome DevTools Protocol),
   the page renderer's unique memory (USS) and the RSS of all its processes every 30 s, and once more
   after a forced garbage collection at the end. The difference in server CPU per second, with the page
   updating once a second, is the page's cost per update.

Writes ``scripts/results/bench_page.json``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dmsil.cli import benchmark_parser, setup_logging  # noqa: E402
from engines import KINDS  # noqa: E402
from realtime import view  # noqa: E402

RESULTS = ROOT / "scripts" / "results" / "bench_page.json"
log = logging.getLogger("bench_page")


def tiled(rows: list, seconds: float) -> list:
    """``rows`` repeated end to end until they cover ``seconds``."""
    period = float(np.ceil(rows[-1].end))
    copies = int(np.ceil(seconds / period))
    return [
        dataclasses.replace(s, start=s.start + k * period, end=s.end + k * period) for k in range(copies) for s in rows
    ]


def per_update(video: Path, repeats: int = 20) -> list[dict]:
    from dmsil.features.face import FaceExtractor
    from realtime.demo import face_frames
    from realtime.offline import score_file
    from realtime.pipeline import PipelineOptions
    from realtime.scorer import Scorer

    with tempfile.TemporaryDirectory() as out:
        result = score_file(video, Scorer(engine="onnxruntime"), PipelineOptions(), Path(out), (), progress=False)
    frame = np.ascontiguousarray(face_frames(1)[0])
    with FaceExtractor() as faces:
        found = faces(frame)
    table = []
    for minutes in (1, 10, 60):
        windows, said = tiled(result.rows, minutes * 60), tiled(result.utterances, minutes * 60)
        speaking = dataclasses.replace(windows[-1], provisional=True, transcript="and so on")
        costs, encode, size = [], [], 0
        for _ in range(repeats):
            start = time.thread_time()
            markup = (view.gauges(windows[-1]), view.utterance_list(said, speaking),
                      json.dumps(view.timeline_data(windows, said)))  # fmt: skip
            picture = view.overlay(frame, found)
            costs.append(time.thread_time() - start)
            start = time.thread_time()
            jpeg = view.jpeg(picture) or b""
            encode.append(time.thread_time() - start)
            size = sum(len(m.encode()) for m in markup) + len(jpeg)
        table.append({
            "minutes": minutes, "windows": len(windows), "utterances": len(said),
            "markup_ms": 1000 * float(np.median(costs)), "picture_encode_ms": 1000 * float(np.median(encode)),
            "bytes": size, "frame": list(frame.shape[:2]),
        })  # fmt: skip
    return table


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def own_chromium() -> list[psutil.Process]:
    """This benchmark's own browser: its processes descend from this one (another chromium running
    meanwhile, a test's say, is not counted)."""
    return [p for p in psutil.Process().children(recursive=True) if "chrom" in p.name()]


def renderer_uss_mb(chromium: list[psutil.Process]) -> float:
    """The page renderer's unique memory: the largest renderer among ``chromium``'s processes (the
    browser's other renderers, its UI's, are smaller)."""
    return max(p.memory_full_info().uss for p in chromium if "--type=renderer" in p.cmdline()) / 2**20


def open_page(pw, url: str):
    """Debian's Chromium showing ``url`` at the size the tests use; returns the browser, the page and a
    DevTools session on it (memory metrics, forced garbage collection)."""
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    cdp = page.context.new_cdp_session(page)
    page.goto(url)
    return browser, page, cdp


def looped(video: Path, seconds: float, out: Path) -> Path:
    """``video`` repeated to last at least ``seconds``, without re-encoding."""
    from dmsil.features.media import probe

    loops = int(np.ceil(seconds / probe(video).duration))
    subprocess.run(["ffmpeg", "-loglevel", "error", "-stream_loop", str(loops), "-i", str(video),
                    "-c", "copy", str(out)], check=True)  # fmt: skip
    return out


def live(video: Path, minutes: float, idle: float) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.pages import Server

    server = Server("--camera", str(video))
    proc = psutil.Process(server.proc.pid)
    try:
        time.sleep(20)  # models loaded, the first windows scored
        t0, c0 = time.monotonic(), cpu_seconds(proc)
        time.sleep(idle)
        no_page = (cpu_seconds(proc) - c0) / (time.monotonic() - t0)
        log.info("server CPU with no page open: %.3f core", no_page)
        samples = []
        with sync_playwright() as pw:
            browser, page, cdp = open_page(pw, server.url)
            cdp.send("Performance.enable")
            page.wait_for_selector("#gauges .gauge[data-head=fused][data-score]", timeout=120_000)
            t0, c0 = time.monotonic(), cpu_seconds(proc)

            def sample(elapsed: float) -> dict:
                metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                chromium = own_chromium()
                return {
                    "s": round(elapsed, 1), "js_heap_mb": metrics["JSHeapUsedSize"] / 2**20,
                    "dom_nodes": int(metrics["Nodes"]), "listeners": int(metrics["JSEventListeners"]),
                    "chromium_rss_mb": sum(p.memory_info().rss for p in chromium) / 2**20,
                    "page_renderer_uss_mb": renderer_uss_mb(chromium),
                    "windows_drawn": int(page.locator("#timeline .tl").get_attribute("data-windows") or 0),
                    "server_rss_mb": proc.memory_info().rss / 2**20,
                }  # fmt: skip

            while (elapsed := time.monotonic() - t0) < minutes * 60:
                samples.append(sample(elapsed))
                log.info("%s", samples[-1])
                page.wait_for_timeout(30_000)
            with_page = (cpu_seconds(proc) - c0) / (time.monotonic() - t0)
            cdp.send("HeapProfiler.collectGarbage")  # what is still held, not what waits for a collection
            page.wait_for_timeout(5_000)
            after_gc = sample(time.monotonic() - t0)
            browser.close()
    finally:
        server.close()
    heap = [s["js_heap_mb"] for s in samples]
    slope = float(np.polyfit([s["s"] / 60 for s in samples], heap, 1)[0]) if len(samples) > 2 else float("nan")
    return {
        "minutes": minutes, "idle_s": idle, "server_cpu_no_page": no_page, "server_cpu_with_page": with_page,
        "page_cpu_ms_per_update": 1000 * (with_page - no_page), "js_heap_slope_mb_per_min": slope,
        "samples": samples, "after_gc": after_gc,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = benchmark_parser(__doc__, RESULTS, KINDS)
    p.add_argument("--minutes", type=float, default=10.0, help="how long the page stays open")
    p.add_argument("--idle", type=float, default=120.0, help="seconds measured with no page open first")
    p.add_argument("--video", type=Path, default=ROOT / "demo.mp4")
    args = p.parse_args(argv)
    setup_logging(args)
    if not args.video.is_file():
        from realtime import demo

        demo.talk(args.video)
    report: dict = {"per_update": per_update(args.video)}
    print(f"{'session':>8} {'windows':>8} {'markup ms':>10} {'JPEG ms':>11} {'KB/update':>10}")
    for r in report["per_update"]:
        print(f"{r['minutes']:>6} m {r['windows']:>8} {r['markup_ms']:>10.2f} {r['picture_encode_ms']:>11.2f} "
              f"{r['bytes'] / 1024:>10.1f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        long = looped(args.video, args.minutes * 60 + args.idle + 120, Path(folder) / "long.mp4")
        report["live"] = live(long, args.minutes, args.idle)
    lv, first, last = report["live"], report["live"]["samples"][0], report["live"]["samples"][-1]
    print(f"server CPU: {lv['server_cpu_no_page']:.3f} core without the page, {lv['server_cpu_with_page']:.3f} with "
          f"it: {lv['page_cpu_ms_per_update']:.1f} ms per update")  # fmt: skip
    print(f"{'':>10} {'JS heap MB':>11} {'DOM nodes':>10} {'page renderer USS MB':>21} {'Chromium RSS MB':>16}")
    for label, s in (("first", first), ("last", last), ("after GC", lv["after_gc"])):
        print(f"{label:>10} {s['js_heap_mb']:>11.1f} {s['dom_nodes']:>10} {s['page_renderer_uss_mb']:>21.0f} "
              f"{s['chromium_rss_mb']:>16.0f}")  # fmt: skip
    print(f"JS heap slope {lv['js_heap_slope_mb_per_min']:+.2f} MB/min over {lv['minutes']:g} min")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
