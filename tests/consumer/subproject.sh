#!/usr/bin/env bash
# Unquoted flag and name lists are split into words on purpose; `A && B || fail` is meant.
# shellcheck disable=SC2086,SC2015
# Uses gemmnet the way a meson project embeds it: a copy of tests/consumer/subproject/ gets
# subprojects/gemmnet (a symlink to this source tree, where a user would have a clone, a
# copy or a wrap) and resolves dependency('gemmnet') from it; then it is configured, built,
# tested and run. Checks that only the library is built, that no gemmnet test is registered
# in the parent's `meson test`, and that options are namespaced.
#
#   subproject.sh SOURCE_ROOT
#
# Environment: MESON (the meson command), GEMMNET_KEEP_TMP=1 keeps the temporary directory.
set -euo pipefail

me=subproject.sh
if [ $# -ne 1 ]; then
    echo "usage: $me SOURCE_ROOT" >&2
    exit 2
fi
src=$(cd "$1" && pwd)
read -ra meson <<< "${MESON:-meson}"

# shellcheck source=tests/consumer/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

proj=$tmp/proj build=$tmp/build
cp -R "$src/tests/consumer/subproject" "$proj"
chmod -R u+w "$proj" # the source tree may be read-only
# A plain directory named like the dependency is enough: when dependency('gemmnet') is not
# found installed, meson falls back to subprojects/gemmnet. (A gemmnet.wrap with
# [provide] dependency_names = gemmnet does the same for a checkout meson downloads.)
mkdir "$proj/subprojects"
ln -s "$src" "$proj/subprojects/gemmnet"

# --force-fallback-for: use the subproject even if a gemmnet is installed on this machine.
# nodownload: never touch the network.
step "meson setup (gemmnet as subproject)"
"${meson[@]}" setup "$build" "$proj" --wrap-mode=nodownload --force-fallback-for=gemmnet \
    -Dtests=true -Dnative=false -Dgemmnet:tests=false > "$tmp/setup.log" 2>&1 ||
    { cat "$tmp/setup.log" >&2; fail "meson setup of the consumer project (log above)"; }
# The subproject calls meson.override_dependency('gemmnet', ...): that is what was found.
grep -q "^Dependency gemmnet found: YES .*(overridden)" "$tmp/setup.log" ||
    { cat "$tmp/setup.log" >&2; fail "dependency('gemmnet') was not resolved from the subproject"; }

# The options: the parent's tests/native and gemmnet's are distinct.
"${meson[@]}" introspect --buildoptions "$build" > "$tmp/options.json"
python3 - "$tmp/options.json" << 'EOF' || fail "options are not namespaced as expected (above)"
import json, sys
# meson 1.0 names a subproject's option "gemmnet:tests"; allow a separate field as well.
def full(o):
    sub = o.get("subproject") or ""
    return o["name"] if ":" in o["name"] or not sub else sub + ":" + o["name"]
opts = {full(o): o["value"] for o in json.load(open(sys.argv[1])) if o["section"] == "user"}
want = {"tests": True, "native": False, "gemmnet:tests": False, "gemmnet:native": False,
        "gemmnet:fuzz": False}
bad = {k: opts.get(k, "<missing>") for k in want if opts.get(k, "<missing>") != want[k]}
for name, value in bad.items():
    print(f"option {name} = {value}, expected {want[name]}", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

# Only the library is built from gemmnet: no CLI, example, bench or tests (run targets such
# as api-doc are only built on request and do not count).
"${meson[@]}" introspect --targets "$build" > "$tmp/targets.json"
targets=$(python3 -c '
import json, sys
for t in json.load(open(sys.argv[1])):
    if t["type"] != "run" and t.get("build_by_default", True):
        print(t["subproject"] or "-", t["type"], t["name"])' "$tmp/targets.json" | sort)
step "targets:" $targets
extra=$(printf '%s\n' "$targets" | grep '^gemmnet ' | grep -v ' library gemmnet$' || true)
[ -z "$extra" ] || fail "the subproject builds more than its library: $extra"
printf '%s\n' "$targets" | grep -q '^gemmnet shared library gemmnet$' ||
    fail "no shared library target from the subproject"

step "build"
"${meson[@]}" compile -C "$build" -j 2 > "$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log" >&2; fail "building the consumer project (log above)"; }

# The parent's `meson test` runs only the parent's test.
tests=$("${meson[@]}" test -C "$build" --no-rebuild --list 2> /dev/null)
[ "$(printf '%s\n' "$tests" | grep -c .)" = 1 ] &&
    printf '%s\n' "$tests" | grep -Eq '(^| )consumer$' ||
    fail "meson test --list in the consumer project gives: $tests"
"${meson[@]}" test -C "$build" --no-rebuild --print-errorlogs > "$tmp/test.log" 2>&1 ||
    { cat "$tmp/test.log" >&2; fail "the consumer's meson test (log above)"; }

lib=$(ldd "$build/consumer" | awk '$1 ~ /^libgemmnet\.so/ { print $3 }')
[ "$lib" = "$build/subprojects/gemmnet/$(basename "$lib")" ] ||
    fail "consumer loads libgemmnet from '$lib', not from the subproject's build"
OPENBLAS_NUM_THREADS=1 "$build/consumer" || fail "the consumer program reported a failure"
step "ok"
