#!/usr/bin/env bash
# Run the whole host test suite (unit, C-level checks, firmware and interop tiers).
# Pass pytest options through, e.g. `tools/run-tests.sh -m "not interop"`.
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m pytest tests/host -p no:cacheprovider --timeout=900 -q -rs "$@"
rc=$?
if [ $rc -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit $rc
