#!/usr/bin/env bash
# One CTest parity check through the user's own command. Usage: parity.sh CLI RELATIVE_FILE ARGS...
# The file is looked up in tests/data/golden, then in $REVIEWKD_GOLDEN_DIR (default ../shared/golden);
# when it is in neither, the test is skipped (exit 77) with the reason.
# With $REVIEWKD_PARITY_BLAS_DIR set (tests/parity.cmake sets it together with LD_LIBRARY_PATH), the check must
# run on the libblas.so.3 of that directory: skipped (77) when the directory has none, failed when the process
# reports another BLAS (its "BLAS:" line), so a test named after one BLAS never silently ran on the other.
set -u
cli=$1 rel=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
golden=${REVIEWKD_GOLDEN_DIR:-$here/../../shared/golden}
file=
for root in "$here/data/golden" "$golden"; do
  if [[ -f "$root/$rel" ]]; then file=$root/$rel; break; fi
done
if [[ -z $file ]]; then
  echo "SKIPPED: golden file $rel is not in tests/data/golden nor in $golden (set REVIEWKD_GOLDEN_DIR to the shared/golden folder)"
  exit 77
fi
blas_dir=${REVIEWKD_PARITY_BLAS_DIR:-}
if [[ -z $blas_dir ]]; then exec "$cli" parity "$@" "$file"; fi

if [[ ! -e $blas_dir/libblas.so.3 ]]; then
  echo "SKIPPED: $blas_dir/libblas.so.3 is not installed, so this BLAS cannot be checked" \
       "(OpenBLAS: apt-get install libopenblas0-pthread, which scripts/setup --tests installs)"
  exit 77
fi
if ! ldd "$cli" | grep -q 'libblas\.so\.3'; then
  echo "SKIPPED: this build's LibTorch does not link the system libblas.so.3 (it carries its own GEMM)," \
       "so there is no BLAS to choose"
  exit 77
fi
out=$("$cli" parity "$@" "$file" 2>&1)
rc=$?
printf '%s\n' "$out"
loaded=$(printf '%s\n' "$out" | sed -n 's/^BLAS: //p' | head -n 1)
blas_real=$(realpath "$blas_dir")
if [[ $loaded != "$blas_real"/* ]]; then
  echo "FAIL: this test pins the BLAS of $blas_dir (LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}), but the process" \
       "loaded: ${loaded:-no BLAS line}. Check that nothing else (an LD_PRELOAD, an RPATH) chooses the BLAS."
  exit 1
fi
exit $rc
