#!/usr/bin/env bash
# Unquoted flag and name lists are split into words on purpose; `A && B || fail` is meant.
# shellcheck disable=SC2086,SC2015
# Installs the current build into a temporary directory (meson install --destdir) and proves
# that a program outside the tree can find and use it through pkg-config, as a user would.
#
#   install.sh c   BUILD_ROOT SOURCE_ROOT PREFIX VERSION SOVERSION
#       the installed file set, SONAME and symlinks, exported symbols, the header alone as
#       C99, consumer.c linked dynamically and statically, and run
#   install.sh cxx BUILD_ROOT SOURCE_ROOT PREFIX VERSION SOVERSION
#       consumer.cpp as C++11 against the installed header and shared library, and run
# When the build has gemmnet_mpi (meson feature 'mpi'; read from BUILD_ROOT's introspection
# data), mode c checks its files, symbols, header and pkg-config file the same way.
#
# Environment: CC and CXX (compiler commands, may contain words such as "ccache cc"),
# MESON (the meson command), GEMMNET_KEEP_TMP=1 keeps the temporary directory.
# Nothing outside the temporary directory is written: the install goes to DESTDIR, and the
# consumers find the staged files through pkg-config and a copy of gemmnet.pc whose prefix
# is DESTDIR/PREFIX (why not pkgconf's --define-prefix: see step 1).
set -euo pipefail

me=install.sh
if [ $# -ne 6 ]; then
    echo "usage: $me c|cxx BUILD_ROOT SOURCE_ROOT PREFIX VERSION SOVERSION" >&2
    exit 2
fi
mode=$1 build=$2 src=$3 prefix=$4 version=$5 soversion=$6
case $mode in c | cxx) ;; *) echo "$me: unknown mode '$mode' (c or cxx)" >&2; exit 2 ;; esac
here=$src/tests/consumer
read -ra cc <<< "${CC:-cc}"
read -ra cxx <<< "${CXX:-c++}"
read -ra meson <<< "${MESON:-meson}"

# shellcheck source=tests/consumer/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ "$mode" = cxx ] && ! command -v "${cxx[0]}" > /dev/null; then
    echo "$me: SKIP: no C++ compiler (${cxx[*]}); Debian: apt-get install g++"
    exit 77
fi

# ---- 1. install into a staging directory ---------------------------------------------------
# The build that is being tested is installed as it is (--no-rebuild: meson test has already
# built it; a separate configure with --prefix would compile everything a second time).
stage=$tmp/stage
step "meson install --destdir $stage"
"${meson[@]}" install -C "$build" --no-rebuild --quiet --destdir "$stage" \
    > "$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install --destdir failed (log above)"; }
root=$stage$prefix
[ -d "$root" ] || fail "nothing was installed under $root"

pcs=$(find "$stage" -name gemmnet.pc)
[ "$(printf '%s\n' "$pcs" | grep -c .)" = 1 ] || fail "expected one gemmnet.pc, found: '$pcs'"
pcdir=$(dirname "$pcs")
# gemmnet_mpi is built (and so must be installed) when meson configured the feature 'mpi'.
targets=$build/meson-info/intro-targets.json
[ -f "$targets" ] || fail "no $targets: is $build a meson build directory?"
has_mpi=0
if grep '"name": "gemmnet_mpi"' "$targets" > /dev/null; then
    has_mpi=1
fi

# The staged gemmnet.pc still says prefix=PREFIX. pkgconf's --define-prefix guesses the prefix
# as two directories above the .pc file, which is wrong for Debian's multiarch libdir
# (PREFIX/lib/x86_64-linux-gnu/pkgconfig), and, like --define-variable=prefix=... and
# PKG_CONFIG_SYSROOT_DIR, it rewrites the paths of the system packages gemmnet requires
# (zlib, lapacke, ...) as well. So a copy of gemmnet.pc gets its one prefix= line pointed at
# the stage; every other line, libdir and includedir included, is used as installed.
# PKG_CONFIG_PATH holds only that copy's directory, so no gemmnet installed on this machine
# can be found instead (the -I and -L paths are checked below).
mkdir "$tmp/pc"
[ "$(grep -c '^prefix=' "$pcdir/gemmnet.pc")" = 1 ] || fail "gemmnet.pc has no single prefix= line"
sed "s|^prefix=.*|prefix=$root|" "$pcdir/gemmnet.pc" > "$tmp/pc/gemmnet.pc"
if [ $has_mpi = 1 ]; then
    [ -f "$pcdir/gemmnet-mpi.pc" ] || fail "gemmnet-mpi.pc is not installed next to gemmnet.pc"
    [ "$(grep -c '^prefix=' "$pcdir/gemmnet-mpi.pc")" = 1 ] ||
        fail "gemmnet-mpi.pc has no single prefix= line"
    sed "s|^prefix=.*|prefix=$root|" "$pcdir/gemmnet-mpi.pc" > "$tmp/pc/gemmnet-mpi.pc"
fi
export PKG_CONFIG_PATH=$tmp/pc
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR
pc=(pkg-config)
cflags=$("${pc[@]}" --cflags gemmnet) || fail "pkg-config --cflags gemmnet"
libs=$("${pc[@]}" --libs gemmnet) || fail "pkg-config --libs gemmnet"
libdir=$("${pc[@]}" --variable=libdir gemmnet)
includedir=$("${pc[@]}" --variable=includedir gemmnet)
step "pkg-config: $cflags $libs"
for d in "$includedir" "$libdir"; do
    case $d in "$stage"/*) ;; *) fail "$d is not in the stage: is it outside the prefix?" ;; esac
done
case " $cflags " in *" -I$includedir "*) ;; *) fail "--cflags lacks -I$includedir: $cflags" ;; esac
case " $libs " in *" -L$libdir "*) ;; *) fail "--libs lacks -L$libdir: $libs" ;; esac
case " $libs " in *" -lgemmnet "*) ;; *) fail "--libs lacks -lgemmnet: $libs" ;; esac

header_version=$(sed -n 's/^#define GN_VERSION_STRING "\(.*\)"$/\1/p' "$includedir/gemmnet.h")
pc_version=$("${pc[@]}" --modversion gemmnet)
[ "$header_version" = "$version" ] && [ "$pc_version" = "$version" ] ||
    fail "versions differ: meson project $version, gemmnet.h '$header_version'," \
        "gemmnet.pc '$pc_version'"

if [ "$mode" = cxx ]; then
    step "C++11 consumer"
    "${cxx[@]}" -std=c++11 -Wall -Wextra -pedantic -Werror $cflags "$here/consumer.cpp" \
        -o "$tmp/consumer-cxx" $libs "-Wl,-rpath,$libdir" || fail "building consumer.cpp"
    grep -q "Shared library: \[libgemmnet.so.$soversion\]" <(readelf -d "$tmp/consumer-cxx") ||
        fail "the C++ consumer does not need libgemmnet.so.$soversion"
    resolved=$(ldd "$tmp/consumer-cxx" | awk -v l="libgemmnet.so.$soversion" '$1 == l { print $3 }')
    [ "$resolved" = "$libdir/libgemmnet.so.$soversion" ] ||
        fail "consumer-cxx loads libgemmnet from '$resolved', not from the staged $libdir"
    OPENBLAS_NUM_THREADS=1 "$tmp/consumer-cxx" || fail "consumer.cpp reported failures (above)"
    step "ok"
    exit 0
fi

# ---- 2. what is installed, and what is not -------------------------------------------------
step "installed files"
(cd "$stage" && find . ! -type d | sed 's|^\.||' | sort) | tee "$tmp/files" | sed 's/^/    /'
# A library NAME as installed: libNAME.so.VERSION and libNAME.a regular files, the soname
# link and the link-time link pointing to the former, and its SONAME; then the other files.
check_library() {
    local name=$1 so=lib$1.so.$version f l soname
    shift
    for f in "$libdir/$so" "$libdir/lib$name.a" "$@"; do
        [ -f "$f" ] && [ ! -L "$f" ] || fail "not installed as a regular file: ${f#"$stage"}"
    done
    for l in "lib$name.so.$soversion" "lib$name.so"; do
        [ -L "$libdir/$l" ] || fail "$l is not a symlink"
        [ "$(readlink -f "$libdir/$l")" = "$(readlink -f "$libdir/$so")" ] ||
            fail "$l points to $(readlink "$libdir/$l"), not to $so"
    done
    soname=$(readelf -d "$libdir/$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = "lib$name.so.$soversion" ] || fail "SONAME of $so is '$soname'"
}
so=libgemmnet.so.$version
check_library gemmnet "$includedir/gemmnet.h" "$pcdir/gemmnet.pc"
# The installed CLI must find the installed library from any prefix: its RUNPATH names the
# libdir as it will be after installation (without the staging directory).
runpath=$(readelf -d "$stage$prefix/bin/gemmnet" | sed -n 's/.*(R*U*N*PATH).*\[\(.*\)\]/\1/p')
case ":$runpath:" in *":${libdir#"$stage"}:"*) ;; *) fail "bin/gemmnet's run path is '$runpath', not ${libdir#"$stage"}" ;; esac
cmp -s "$src/include/gemmnet.h" "$includedir/gemmnet.h" ||
    fail "the installed gemmnet.h differs from the source's"
mpi_so=libgemmnet_mpi.so.$version
if [ $has_mpi = 1 ]; then
    check_library gemmnet_mpi "$includedir/gemmnet_mpi.h"
    readelf -d "$libdir/$mpi_so" | grep "Shared library: \[libgemmnet.so.$soversion\]" \
        > /dev/null || fail "$mpi_so does not need libgemmnet.so.$soversion"
    cmp -s "$src/include/gemmnet_mpi.h" "$includedir/gemmnet_mpi.h" ||
        fail "the installed gemmnet_mpi.h differs from the source's"
else
    if grep -E '/(gemmnet_mpi\.h|libgemmnet_mpi\..*|gemmnet-mpi\.pc)$' "$tmp/files" > /dev/null; then
        fail "gemmnet_mpi is installed although the build has no MPI"
    fi
fi
# Only the library and the command-line tool are binaries: no tests, fuzzers, examples, bench.
while IFS= read -r f; do
    case $f in
        "${libdir#"$stage"}/$so" | "${libdir#"$stage"}/libgemmnet.a" | "$prefix"/bin/gemmnet) ;;
        "${libdir#"$stage"}/$mpi_so" | "${libdir#"$stage"}/libgemmnet_mpi.a")
            [ $has_mpi = 1 ] || fail "$f is installed although the build has no MPI" ;;
        *) if [ ! -L "$stage$f" ] && readelf -h "$stage$f" > /dev/null 2>&1; then
               fail "unexpected binary installed: $f"
           fi ;;
    esac
    case ${f##*/} in
        test_* | fuzz_* | xor | gemmnet-bench* | make-checkpoints | *.o | internal.h | testutil.h)
            fail "a test, fuzz, example or bench file is installed: $f" ;;
    esac
done < "$tmp/files"

# ---- 3. exported symbols: exactly the GN_API functions of the header -----------------------
step "exported symbols"
nm -D --defined-only "$libdir/$so" | awk '{ print $NF }' | sort > "$tmp/exported"
grep -E '^GN_API' "$includedir/gemmnet.h" | sed -E 's/\(.*//; s/.*[ *]//' | sort > "$tmp/declared"
[ -s "$tmp/declared" ] || fail "no GN_API declarations found in gemmnet.h"
bad=$(grep -Ev '^gn_[a-z0-9]+(_[a-z0-9]+)*$' "$tmp/exported" || true)
[ -z "$bad" ] || fail "exported symbols that are not public gn_* names:" $bad
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
[ -z "$extra" ] || fail "exported but not declared GN_API in gemmnet.h:" $extra
[ -z "$missing" ] || fail "declared GN_API in gemmnet.h but not exported:" $missing
step "$(wc -l < "$tmp/exported") symbols, all declared in gemmnet.h"
if [ $has_mpi = 1 ]; then
    # libgemmnet_mpi exports exactly the GN_API functions of gemmnet_mpi.h (none of
    # gemmnet.h's, which stay in libgemmnet).
    nm -D --defined-only "$libdir/$mpi_so" | awk '{ print $NF }' | sort > "$tmp/mpi-exported"
    grep -E '^GN_API' "$includedir/gemmnet_mpi.h" | sed -E 's/\(.*//; s/.*[ *]//' |
        sort > "$tmp/mpi-declared"
    [ -s "$tmp/mpi-declared" ] || fail "no GN_API declarations found in gemmnet_mpi.h"
    extra=$(comm -13 "$tmp/mpi-declared" "$tmp/mpi-exported")
    missing=$(comm -23 "$tmp/mpi-declared" "$tmp/mpi-exported")
    [ -z "$extra" ] || fail "$mpi_so exports symbols not declared GN_API in gemmnet_mpi.h:" $extra
    [ -z "$missing" ] || fail "declared GN_API in gemmnet_mpi.h but not exported:" $missing
    step "$(wc -l < "$tmp/mpi-exported") symbols in $mpi_so, all declared in gemmnet_mpi.h"
fi

# ---- 4. the installed header on its own, as strict C99 --------------------------------------
step "gemmnet.h alone with -std=c99 -pedantic -Werror"
printf '#include <gemmnet.h>\nint main(void) { return gn_version() == 0; }\n' > "$tmp/header.c"
"${cc[@]}" -std=c99 -Wall -Wextra -pedantic -Werror $cflags -c "$tmp/header.c" -o "$tmp/header.o" ||
    fail "gemmnet.h does not compile as C99 with -Wall -Wextra -pedantic -Werror"
if [ $has_mpi = 1 ]; then
    # through gemmnet-mpi.pc, which must bring MPI's flags too (the header includes <mpi.h>),
    # then linked and run without MPI_Init (gn_mpi_reduction_name needs no MPI)
    step "gemmnet_mpi.h alone with -std=c99 -pedantic -Werror, linked through gemmnet-mpi.pc"
    mpi_cflags=$("${pc[@]}" --cflags gemmnet-mpi) || fail "pkg-config --cflags gemmnet-mpi"
    mpi_libs=$("${pc[@]}" --libs gemmnet-mpi) || fail "pkg-config --libs gemmnet-mpi"
    case " $mpi_libs " in *" -lgemmnet_mpi "*) ;; *) fail "--libs lacks -lgemmnet_mpi: $mpi_libs" ;; esac
    printf '%s\n' '#include <gemmnet_mpi.h>' '#include <string.h>' \
        'int main(void) { return strcmp(gn_mpi_reduction_name(GN_MPI_OVERLAP), "overlap") != 0; }' \
        > "$tmp/mpi-header.c"
    "${cc[@]}" -std=c99 -Wall -Wextra -pedantic -Werror $mpi_cflags "$tmp/mpi-header.c" \
        -o "$tmp/mpi-header" $mpi_libs "-Wl,-rpath,$libdir" ||
        fail "gemmnet_mpi.h does not compile as C99 with -Wall -Wextra -pedantic -Werror, or" \
            "the program does not link through gemmnet-mpi.pc"
    resolved=$(ldd "$tmp/mpi-header" | awk -v l="libgemmnet_mpi.so.$soversion" '$1 == l { print $3 }')
    [ "$resolved" = "$libdir/libgemmnet_mpi.so.$soversion" ] ||
        fail "the MPI program loads libgemmnet_mpi from '$resolved', not from the staged $libdir"
    # libgemmnet_mpi finds libgemmnet through the loader's path, as installed in a system
    # libdir; the program's run path does not extend to the libraries it loads.
    LD_LIBRARY_PATH=$libdir "$tmp/mpi-header" ||
        fail "the program linked against libgemmnet_mpi failed"
fi

# ---- 5. the consumer, linked against the shared library -----------------------------------
step "consumer, shared"
"${cc[@]}" -std=c11 -Wall -Wextra -pedantic -Werror $cflags "$here/consumer.c" \
    -o "$tmp/consumer-shared" $libs -lm "-Wl,-rpath,$libdir" || fail "building consumer.c (shared)"
needed=$(readelf -d "$tmp/consumer-shared" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
printf '%s\n' "$needed" | grep -qx "libgemmnet.so.$soversion" ||
    fail "consumer-shared does not need libgemmnet.so.$soversion; NEEDED:" $needed
resolved=$(ldd "$tmp/consumer-shared" | awk -v l="libgemmnet.so.$soversion" '$1 == l { print $3 }')
[ "$resolved" = "$libdir/libgemmnet.so.$soversion" ] ||
    fail "consumer-shared loads libgemmnet from '$resolved', not from the staged $libdir"
OPENBLAS_NUM_THREADS=1 "$tmp/consumer-shared" "$tmp" ||
    fail "consumer (shared) reported failures (above)"

# ---- 6. the consumer, linked against the static library -----------------------------------
# pkg-config --static adds the private dependencies (BLAS, zlib, libm, threads); -Bstatic
# makes the linker take libgemmnet.a although libgemmnet.so sits next to it.
step "consumer, static"
static_libs=$("${pc[@]}" --static --libs gemmnet) || fail "pkg-config --static --libs gemmnet"
step "pkg-config --static: $static_libs"
case " $static_libs " in *" -lgemmnet "*) ;; *) fail "--static --libs lacks -lgemmnet" ;; esac
static_libs=$(printf '%s' " $static_libs " |
    sed 's/ -lgemmnet / -Wl,-Bstatic -lgemmnet -Wl,-Bdynamic /')
"${cc[@]}" -std=c11 -Wall -Wextra -pedantic -Werror $cflags "$here/consumer.c" \
    -o "$tmp/consumer-static" $static_libs -lm || fail "building consumer.c (static)"
# grep without -q below: it must read all of nm's or readelf's output, or they die of SIGPIPE
# and pipefail fails the check (the static consumer's symbol table is long since libxsmm).
if readelf -d "$tmp/consumer-static" | grep 'Shared library: \[libgemmnet' >/dev/null; then
    fail "consumer-static still needs a libgemmnet shared library"
fi
nm --defined-only "$tmp/consumer-static" | grep -E ' T gn_version$' >/dev/null ||
    fail "gn_version is not defined inside consumer-static"
OPENBLAS_NUM_THREADS=1 "$tmp/consumer-static" "$tmp" ||
    fail "consumer (static) reported failures (above)"
step "ok"
