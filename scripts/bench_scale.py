"""What spreading work over Ray costs and gains on this machine, against the local paths.

    .venv/bin/python scripts/bench_scale.py [--files 4] [--clips 8]

Side by side, in one run:

* ``realtime score`` of ``--files`` copies of the demo talk: one process scoring them in turn, then
  ``--ray`` (a local cluster of this machine's cores, one model per core);
* ``dmsil.prepare`` of ``--clips`` generated clips (espeak-ng speech over the moving face):
  ``--workers 1``, ``--workers N`` (local processes, N = cores) and ``--ray``.

Each is a fresh command, start-up (models, the Ray cluster) included: that is what a user waits for.
Writes ``scripts/results/bench_scale.json`` and prints the table. On a cluster of several machines the
same commands take ``--ray ADDRESS``; that has not been measured here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dmsil.cli import benchmark_parser, setup_logging
from engines import KINDS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "scripts" / "results" / "bench_scale.json"
SENTENCES = ["I loved every minute of it.", "The service was slow and rude.", "It was an ordinary Tuesday."]


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", *cmd], check=True, capture_output=True)
    return time.perf_counter() - start


def labelled_clips(root: Path, n: int) -> tuple[Path, Path]:
    from realtime import demo

    lines = ["video_id,clip_id,text,label,mode"]
    for i in range(n):
        folder = root / "Raw" / f"v{i}"
        folder.mkdir(parents=True)
        wav = demo.speech(SENTENCES[i % len(SENTENCES)], root / f"{i}.wav")
        demo.video(folder / "c0.mp4", wav, seconds=4.0)
        mode = ("train", "train", "valid", "test")[i % 4]
        lines.append(f'v{i},c0,"{SENTENCES[i % len(SENTENCES)]}",{(-1) ** i},{mode}')
    (root / "label.csv").write_text("\n".join(lines) + "\n")
    return root / "label.csv", root / "Raw"


def main(argv: list[str] | None = None) -> int:
    p = benchmark_parser(__doc__, RESULTS, KINDS)
    p.add_argument("--files", type=int, default=4)
    p.add_argument("--clips", type=int, default=8)
    args = p.parse_args(argv)
    setup_logging(args)
    from realtime import demo

    cores = len(os.sched_getaffinity(0))
    report: dict = {"cores": cores, "files": args.files, "clips": args.clips, "seconds": {}}
    seconds = report["seconds"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        talk = demo.talk(tmp / "talk.mp4")
        files = [shutil.copy(talk, tmp / f"talk{i}.mp4") for i in range(args.files)]
        score = ["realtime", "score", *map(str, files), "--format", "csv", "-q", "--engine", args.engine]
        seconds["score, one process"] = timed([*score, "--out", str(tmp / "s1")])
        seconds["score, --ray"] = timed([*score, "--out", str(tmp / "s2"), "--ray"])
        labels, raw = labelled_clips(tmp / "set", args.clips)
        prepare = ["dmsil.prepare", "--labels", str(labels), "--raw", str(raw), "-q"]
        seconds["prepare, --workers 1"] = timed([*prepare, "--out", str(tmp / "p1")])
        seconds[f"prepare, --workers {cores}"] = timed([*prepare, "--out", str(tmp / "p2"), "--workers", str(cores)])
        seconds["prepare, --ray"] = timed([*prepare, "--out", str(tmp / "p3"), "--ray"])
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{args.files} demo talks to score, {args.clips} clips to prepare, {cores} cores")
    print(f"{'command':28s} {'wall s':>8s}")
    for name, s in seconds.items():
        print(f"{name:28s} {s:8.1f}")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
