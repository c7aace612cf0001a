#!/usr/bin/env bash
# The project's checks: ruff (lint + format) and the test suite, in two pytest-xdist workers (a whole test
# file per worker; the slow tests first, so they overlap the rest). Extra arguments go to pytest; -n 0 runs
# it in one process.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1
.venv/bin/python -m pytest -n 2 --dist loadfile "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi
exit $rc
