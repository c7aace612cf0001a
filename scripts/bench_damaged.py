"""How much of a damaged recording is scored, against what ffmpeg itself decodes from it.

    .venv/bin/python scripts/bench_damaged.py [--seeds 3] [--video demo.mp4]

Per seed, :func:`realtime.demo.damaged_copies` makes the fuzz corpus from the demo talk (bytes changed in
the media data, a zeroed block, a cut-off end, a broken header, an MPEG-TS copy, audio-only and
video-only copies with changed bytes); one ``python -m realtime score`` run scores them all. For each
file: the seconds ffmpeg decodes (``ffmpeg -f null``, which conceals damage and goes on), the seconds
whose windows had something decoded (:func:`realtime.demo.recovered_seconds`), the damaged spans
reported, and whether the command printed a traceback; the scoring time of all files (one command per
seed, start-up included). Writes ``scripts/results/bench_damaged.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "scripts" / "results" / "bench_damaged.json"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--video", type=Path, default=ROOT / "demo.mp4")
    args = p.parse_args(argv)
    from realtime import demo

    if not args.video.is_file():
        demo.talk(args.video)
    rows, wall, traceback = [], 0.0, False
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            files = demo.damaged_copies(args.video, Path(tmp) / f"seed{seed}", seed)
            out = Path(tmp) / f"scores{seed}"
            start = time.perf_counter()
            cmd = [sys.executable, "-m", "realtime", "score", *map(str, files.values()), "--out", str(out)]
            proc = subprocess.run([*cmd, "--format", "json", "--quiet"], capture_output=True, text=True, timeout=3600)
            wall += time.perf_counter() - start
            traceback |= "Traceback" in proc.stderr
            for name, path in files.items():
                result = out / f"{path.stem}.json"
                document = json.loads(result.read_text()) if result.exists() else None
                error = next((e for e in proc.stderr.splitlines() if e.startswith(f"error: {path}")), None)
                rows.append(
                    {
                        "seed": seed,
                        "variant": name,
                        "ffmpeg_s": demo.ffmpeg_seconds(path),
                        "scored_s": demo.recovered_seconds(document["windows"]) if document else 0.0,
                        "damaged_spans": len(document["damaged"]) if document else None,
                        "error": error,
                    }
                )
    report = {
        "seeds": args.seeds,
        "wall_s": wall,
        "traceback": traceback,
        "files": rows,
        "share_of_ffmpeg": sum(r["scored_s"] for r in rows) / max(1e-9, sum(r["ffmpeg_s"] for r in rows)),
        "files_below_90": sum(r["scored_s"] < 0.9 * r["ffmpeg_s"] for r in rows),
    }
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{'seed':>4} {'variant':13s} {'ffmpeg s':>9s} {'scored s':>9s} {'spans':>6s}  error")
    for r in rows:
        spans = "-" if r["damaged_spans"] is None else str(r["damaged_spans"])
        print(
            f"{r['seed']:4d} {r['variant']:13s} {r['ffmpeg_s']:9.2f} {r['scored_s']:9.2f} {spans:>6s}  {r['error'] or ''}"
        )
    print(
        f"scored {report['share_of_ffmpeg']:.3f} of what ffmpeg decodes over {len(rows)} files; "
        f"{report['files_below_90']} below 90%; traceback: {report['traceback']}; {wall:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
