# Sourced by the consumer scripts after they set $me: failure reporting, and a temporary
# directory $tmp removed on exit (GEMMNET_KEEP_TMP=1 keeps it).
# shellcheck shell=bash

fail() {
    echo "$me: FAIL: $*" >&2
    exit 1
}
# Any command that fails outside an explicit check still says which one it was.
trap 'echo "$me: FAIL: line $LINENO: command failed: $BASH_COMMAND" >&2' ERR
step() { echo "$me: $*"; }

# A user's environment: meson test points LD_LIBRARY_PATH at gemmnet's build directory,
# which would hide whether a consumer finds the library it should (installed, or the
# subproject's, through its rpath).
unset LD_LIBRARY_PATH

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gemmnet-${me%.sh}-XXXXXX")
cleanup() {
    if [ "${GEMMNET_KEEP_TMP:-0}" = 1 ]; then
        echo "$me: kept $tmp"
    else
        rm -rf -- "$tmp"
    fi
}
trap cleanup EXIT
