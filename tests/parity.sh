#!/usr/bin/env bash
# One CTest parity check through the user's own command. Usage: parity.sh CLI RELATIVE_FILE ARGS...
# The file is looked up in tests/data/golden, then in $REVIEWKD_GOLDEN_DIR (default ../shared/golden);
# when it is in neither, the test is skipped (exit 77) with the reason.
set -u
cli=$1 rel=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
golden=${REVIEWKD_GOLDEN_DIR:-$here/../../shared/golden}
for root in "$here/data/golden" "$golden"; do
  if [[ -f "$root/$rel" ]]; then exec "$cli" parity "$@" "$root/$rel"; fi
done
echo "SKIPPED: golden file $rel is not in tests/data/golden nor in $golden (set REVIEWKD_GOLDEN_DIR to the shared/golden folder)"
exit 77
