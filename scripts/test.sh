#!/usr/bin/env bash
# The project's checks: ruff (lint + format), then the test suite in two phases: everything but the browser
# and live tests in two pytest-xdist workers (a whole test file per worker; costly fixtures built once for
# both), then the browser and live tests alone, in one process, since each runs live pipelines (and
# Chromium) at real-time pace that must not share two cores with other tests. Extra arguments go to pytest; with your own -m the suite runs as one
# pytest call in two workers (-n 0: one process).
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1

pytest() {  # pytest's exit code 5 (nothing collected, e.g. a -k matching no test of a phase) is no failure
  .venv/bin/python -m pytest "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then echo "pytest collected no tests"; return 0; fi
  return $rc
}

for arg in "$@"; do
  if [ "$arg" = "-m" ]; then pytest -n 2 --dist loadfile "$@"; exit $?; fi
done
pytest -n 2 --dist loadfile --durations=12 -m "not browser and not live" "$@"
first=$?
pytest -p no:xdist --durations=6 -m "browser or live" "$@"
second=$?
[ $first -eq 0 ] && [ $second -eq 0 ]
