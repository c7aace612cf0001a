#!/usr/bin/env bash
# The project's checks: ruff (lint + format) and the test suite. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi
exit $rc
