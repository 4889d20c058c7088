#!/usr/bin/env bash
# The Debian package as a user gets it: built with cpack from this build tree into a scratch folder, unpacked
# with dpkg-deb -x into a scratch root, its control fields, copyright and man pages checked, and the packaged
# reviewkd run against the system's libraries. Exit 77 (skipped) only where dpkg-deb is missing.
# Usage: package.sh CPACK BUILD_DIR VERSION BUILT_REVIEWKD WITH_STUDIO(0|1)
set -euo pipefail
cpack=$1 build=$2 version=$3 built_cli=$4 with_studio=$5

if ! command -v dpkg-deb >/dev/null; then
  echo "skipped: dpkg-deb is not installed (not a Debian system)"
  exit 77
fi
fail() { echo "package: FAIL: $*" >&2; exit 1; }
for tool in readelf ldd gzip groff; do
  command -v "$tool" >/dev/null || fail "'$tool' is not installed (scripts/setup --tests installs what the tests use)"
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/reviewkd-package.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# 1. Build the package from the current build tree, as scripts/package does (staging in the scratch folder).
"$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$scratch/out" > "$scratch/cpack.log" 2>&1 \
  || { cat "$scratch/cpack.log" >&2; fail "cpack -G DEB failed (output above)"; }
debs=("$scratch"/out/*.deb)
[[ ${#debs[@]} -eq 1 && -f "${debs[0]}" ]] || fail "cpack made ${#debs[@]} .deb files, expected 1: ${debs[*]}"
deb=${debs[0]}
arch=$(dpkg --print-architecture)
[[ $(basename "$deb") == "reviewkd-studio_${version}_${arch}.deb" ]] \
  || fail "package file is $(basename "$deb"), expected reviewkd-studio_${version}_${arch}.deb"
echo "package: built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# 2. Control fields.
field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == reviewkd-studio ]] || fail "Package is '$(field Package)', expected reviewkd-studio"
[[ $(field Version) == "$version" ]] || fail "Version is '$(field Version)', expected the project version $version"
[[ $(field Section) == science ]] || fail "Section is '$(field Section)', expected science"
[[ -n $(field Maintainer) ]] || fail "no Maintainer field"
[[ $(field Recommends) == *dataset-fashion-mnist* ]] \
  || fail "Recommends is '$(field Recommends)', expected it to name dataset-fashion-mnist"
[[ -z $(field Homepage) ]] || fail "the package has a Homepage field ('$(field Homepage)'); the project has none"
description=$(field Description)
summary=$(head -n 1 <<<"$description")
[[ $summary == *distillation* ]] || fail "the summary line '$summary' does not say what the package is"
if grep -qiE 'built using CMake|created using CPack' <<<"$description"; then
  fail "the description is CPack's generic text: $description"
fi
# The description names the studio exactly when the package holds it (a REVIEWKD_GUI=OFF build has none).
if [[ $with_studio == 1 ]]; then
  grep -q 'reviewkd-studio, a Qt desktop studio' <<<"$description" || fail "the description does not name the studio: $description"
elif grep -qE 'reviewkd-studio|Qt desktop studio' <<<"$description"; then
  fail "this build has no studio, but the description offers one: $description"
fi
long_lines=$(tail -n +2 <<<"$description" | grep -c . || true)
[[ $long_lines -ge 5 ]] || fail "the long description has $long_lines lines; expected a real one"
depends=$(field Depends)
for lib in libc6 libstdc++6 libtorch libsqlite3; do   # what dpkg-shlibdeps must find for the CLI alone
  [[ $depends == *"$lib"* ]] || fail "Depends '$depends' lacks $lib (is CPACK_DEBIAN_PACKAGE_SHLIBDEPS on?)"
done

# 3. Contents.
dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\./|/|' > "$scratch/contents"
expected=(/usr/bin/reviewkd /usr/share/man/man1/reviewkd.1.gz /usr/share/doc/reviewkd-studio/copyright)
if [[ $with_studio == 1 ]]; then
  expected+=(/usr/bin/reviewkd-studio /usr/share/man/man1/reviewkd-studio.1.gz
             /usr/share/applications/reviewkd-studio.desktop /usr/share/icons/hicolor/scalable/apps/reviewkd-studio.svg)
fi
for path in "${expected[@]}"; do
  grep -qxF "$path" "$scratch/contents" || fail "the package lacks $path"
done
if grep -vE '^/usr/(bin|share)/' "$scratch/contents" | grep -vxE '/|/usr/'; then
  fail "the package installs outside /usr/bin and /usr/share (listed above)"
fi

# 4. Unpack into a scratch root.
root=$scratch/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$scratch/control"
(cd "$root" && md5sum --quiet -c "$scratch/control/md5sums") || fail "files differ from the package's md5sums"

copyright=$root/usr/share/doc/reviewkd-studio/copyright
head -n 1 "$copyright" | grep -x 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' >/dev/null \
  || fail "copyright is not in the machine-readable format 1.0 (first line: $(head -n 1 "$copyright"))"
grep -q '^Files: \*$' "$copyright" || fail "copyright has no 'Files: *' paragraph"
for name in $(sed -n 's/^License: //p' "$copyright" | sort -u); do   # each licence named has its text
  grep -A1 -xF "License: $name" "$copyright" | grep '^ ' >/dev/null || fail "copyright's licence '$name' has no text"
done

# 5. Man pages: valid gzip, render without a troff warning, and hold the generated sections.
render() {  # man page -> plain text; troff warnings go to $scratch/warnings
  zcat "$1" | LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -P-cbou 2> "$scratch/warnings"
  if [[ -s "$scratch/warnings" ]]; then cat "$scratch/warnings" >&2; fail "$1 renders with troff warnings (above)"; fi
}
man_cli=$root/usr/share/man/man1/reviewkd.1.gz
gzip -t "$man_cli" || fail "$man_cli is not a valid gzip file"
render "$man_cli" > "$scratch/reviewkd.txt"
for heading in NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS; do
  grep -qx "$heading" "$scratch/reviewkd.txt" || fail "reviewkd(1) has no $heading section"
done
grep -qE '^ +reviewkd - ' "$scratch/reviewkd.txt" || fail "reviewkd(1)'s NAME line is missing"
grep -q -- '--log-level' "$scratch/reviewkd.txt" || fail "reviewkd(1) lacks the global option --log-level"
# Every command that the packaged binary lists has its own part in COMMANDS.
commands=$("$root/usr/bin/reviewkd" --help | awk '/^Subcommands:/ { s = 1; next } /^[^ ]/ { s = 0 } s && /^  [^ ]/ { print $1 }')
[[ -n $commands ]] || fail "the packaged reviewkd --help lists no commands"
for c in $commands; do
  grep -qx "   reviewkd $c" "$scratch/reviewkd.txt" || fail "reviewkd(1)'s COMMANDS section has no 'reviewkd $c'"
done
grep -q -- '--teacher-checkpoint' "$scratch/reviewkd.txt" || fail "reviewkd(1) lacks train's --teacher-checkpoint"
if grep -F -e "$build" -e '\f' "$scratch/reviewkd.txt"; then fail "reviewkd(1) shows a build path or raw troff (above)"; fi
echo "package: reviewkd(1) renders cleanly, $(wc -l < "$scratch/reviewkd.txt") lines, $(wc -w <<<"$commands") commands"
if [[ $with_studio == 1 ]]; then
  render "$root/usr/share/man/man1/reviewkd-studio.1.gz" > "$scratch/studio.txt"
  grep -q -- '--preset' "$scratch/studio.txt" || fail "reviewkd-studio(1) lacks --preset"
fi

# 6. The packaged binaries use the system's libraries only: no RPATH/RUNPATH, every library found.
bins=("$root/usr/bin/reviewkd")
[[ $with_studio == 1 ]] && bins+=("$root/usr/bin/reviewkd-studio")
for bin in "${bins[@]}"; do
  if readelf -d "$bin" | grep -E 'RPATH|RUNPATH'; then fail "$(basename "$bin") has a library search path (above)"; fi
  if readelf -S "$bin" | grep -E '\.(symtab|debug_info)' >/dev/null; then fail "$(basename "$bin") is not stripped"; fi
  libs=$(env -i PATH=/usr/bin:/bin ldd "$bin") || fail "ldd $bin failed: $libs"
  if grep 'not found' <<<"$libs"; then fail "$(basename "$bin") needs libraries the system does not have (above)"; fi
  if grep -F -e "$build" -e "$scratch" <<<"$libs"; then fail "$(basename "$bin") loads a library from the build tree"; fi
done

# 7. Run them: a clean environment (no LD_LIBRARY_PATH), a scratch HOME; a sanitizer build keeps its options.
keep=()
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS; do [[ -n ${!v:-} ]] && keep+=("$v=${!v}"); done
run() { env -i PATH=/usr/bin:/bin HOME="$scratch/home" LC_ALL=C.UTF-8 "${keep[@]}" "$@"; }
mkdir -p "$scratch/home"
cli=$root/usr/bin/reviewkd
printed=$(run "$cli" --version) || fail "the packaged reviewkd --version failed: $printed"
read -r name printed_version _ <<<"$printed"
[[ $name == reviewkd && $printed_version == "$version" ]] \
  || fail "the packaged reviewkd --version says '$printed', expected 'reviewkd $version ...'"
run "$cli" models > "$scratch/models.packaged" 2>&1 || { cat "$scratch/models.packaged" >&2; fail "the packaged reviewkd models failed"; }
run "$built_cli" models > "$scratch/models.built" 2>&1 || fail "the build tree's reviewkd models failed"
diff -u "$scratch/models.built" "$scratch/models.packaged" >&2 \
  || fail "the packaged reviewkd models prints something else than the build tree's (diff above)"
networks=$(grep -c '^[a-z]' "$scratch/models.packaged" || true)
[[ $networks -ge 10 ]] || fail "the packaged reviewkd models lists $networks lines; expected the zoo"
echo "package: packaged reviewkd: '$printed'; models lists $((networks - 1)) networks, the same as the build tree's"
if [[ $with_studio == 1 ]]; then
  run QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR="$scratch/home" "$root/usr/bin/reviewkd-studio" --help \
    > "$scratch/studio-help" 2>&1 || { cat "$scratch/studio-help" >&2; fail "the packaged reviewkd-studio --help failed"; }
  grep -q -- '--preset' "$scratch/studio-help" || fail "the packaged reviewkd-studio --help does not list --preset"
  echo "package: packaged reviewkd-studio starts (--help)"
fi
echo "package: OK"
