#!/bin/sh
# The Debian packages (scripts/make-deb, make deb): built from this build
# directory, their contents and control files checked, unpacked into a
# scratch directory; a program runs from there (--version, ces-hub serving
# /health), and the example service compiles against the unpacked headers,
# libces.a and ces.pc with pkg-config and talks to that hub. lintian, when
# installed, must find no error.
# usage: test_deb.sh BUILD_DIR SOURCE_DIR
BUILD=$(cd "$1" && pwd)
SOURCE=$(cd "$2" && pwd)
. "$(dirname "$0")/lib.sh"

mkdir "$CES_SCRATCH/out" "$CES_SCRATCH/root"
sh "$SOURCE/scripts/make-deb" "$BUILD" "$CES_SCRATCH/out" >"$CES_SCRATCH/make-deb.log" 2>&1 \
    || ces_fail "make-deb: $(cat "$CES_SCRATCH/make-deb.log")"
VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
ARCH=$(dpkg --print-architecture)
DEB=$CES_SCRATCH/out/ces_${VERSION}_$ARCH.deb
DEV=$CES_SCRATCH/out/libces-dev_${VERSION}_$ARCH.deb
[ -f "$DEB" ] && [ -f "$DEV" ] || ces_fail "no packages: $(ls "$CES_SCRATCH/out")"
ces_ok "make-deb builds $(basename "$DEB") and $(basename "$DEV")"

# Contents: dpkg-deb -c lists ./path; every file expected, in place
dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's|^\./|/|' >"$CES_SCRATCH/ces.list"
dpkg-deb -c "$DEV" | awk '{print $NF}' | sed 's|^\./|/|' >"$CES_SCRATCH/dev.list"
LIBDIR=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$ARCH-linux-gnu")
for path in /usr/bin/ces /usr/bin/ces-hub /usr/bin/ces-edge /usr/bin/ces-repeater \
    /usr/bin/ces-keygen /lib/systemd/system/ces.service /lib/systemd/system/ces-hub.service \
    /lib/systemd/system/ces-edge@.service /lib/systemd/system/ces-repeater@.service \
    /etc/ces/ces.conf /etc/ces/hub.conf /usr/share/doc/ces/ces-edge.conf.example \
    /usr/share/doc/ces/copyright /usr/share/doc/ces/changelog.gz \
    /usr/share/man/man1/ces.1.gz /usr/share/man/man1/ces-hub.1.gz \
    /usr/share/man/man1/ces-edge.1.gz /usr/share/man/man1/ces-repeater.1.gz \
    /usr/share/man/man1/ces-keygen.1.gz /usr/share/ces/grafana/ces.json \
    /usr/share/ces/prometheus/alerts.yml; do
    grep -qx "$path" "$CES_SCRATCH/ces.list" || ces_fail "ces package has no $path:
$(cat "$CES_SCRATCH/ces.list")"
done
for path in $LIBDIR/libces.a $LIBDIR/pkgconfig/ces.pc /usr/include/ces/ces.h \
    /usr/include/ces/ces_messenger.h /usr/share/doc/libces-dev/copyright \
    /usr/share/doc/libces-dev/examples/messenger_service.c; do
    grep -qx "$path" "$CES_SCRATCH/dev.list" || ces_fail "libces-dev package has no $path:
$(cat "$CES_SCRATCH/dev.list")"
done
for header in "$SOURCE"/include/*.h; do
    grep -qx "/usr/include/ces/$(basename "$header")" "$CES_SCRATCH/dev.list" \
        || ces_fail "libces-dev has no $(basename "$header")"
done
ces_ok "contents: programs, units, /etc/ces, man pages, dashboard, alerts; libces.a, headers, ces.pc"

# Control: conffiles, maintainer scripts, dependencies
dpkg-deb -e "$DEB" "$CES_SCRATCH/control"
[ "$(cat "$CES_SCRATCH/control/conffiles")" = "/etc/ces/ces.conf
/etc/ces/hub.conf" ] || ces_fail "conffiles: $(cat "$CES_SCRATCH/control/conffiles")"
for script in postinst prerm postrm; do
    [ -x "$CES_SCRATCH/control/$script" ] && sh -n "$CES_SCRATCH/control/$script" \
        || ces_fail "$script missing or not valid sh"
done
grep -q "adduser --system --group .*ces" "$CES_SCRATCH/control/postinst" \
    || ces_fail "postinst creates no system user"
grep -q "purge" "$CES_SCRATCH/control/postrm" || ces_fail "postrm has no purge"
depends=$(dpkg-deb -f "$DEB" Depends)
for library in libczmq4 libzmq5 libcivetweb1 libsystemd0 adduser procps; do
    echo "$depends" | grep -q "$library" || ces_fail "Depends has no $library: $depends"
done
(cd "$CES_SCRATCH/out" && dpkg-deb -I "$DEV" | grep -q "Depends: .*libczmq-dev") \
    || ces_fail "libces-dev must depend on the -dev packages of its libraries"
ces_ok "control: conffiles, postinst/prerm/postrm, Depends from dpkg-shlibdeps ($depends)"

# Unpacked: the programs run from there
ROOT=$CES_SCRATCH/root
dpkg-deb -x "$DEB" "$ROOT" && dpkg-deb -x "$DEV" "$ROOT" || ces_fail "dpkg-deb -x"
for program in ces ces-hub ces-edge ces-repeater ces-keygen; do
    "$ROOT/usr/bin/$program" --version | grep -q " $VERSION$" \
        || ces_fail "$program --version from the package"
    zcat "$ROOT/usr/share/man/man1/$program.1.gz" | grep -q '^\.SH DESCRIPTION' \
        || ces_fail "man page of $program"
done
zcat "$ROOT/usr/share/man/man1/ces-hub.1.gz" | grep -q 'peers\\-file' \
    || ces_fail "the man page of ces-hub has no --peers-file"
"$ROOT/usr/bin/ces" --config "$ROOT/etc/ces/ces.conf" --print-config >/dev/null \
    || ces_fail "ces reads /etc/ces/ces.conf as shipped"
"$ROOT/usr/bin/ces-hub" --config "$ROOT/etc/ces/hub.conf" --print-config >/dev/null \
    || ces_fail "ces-hub reads /etc/ces/hub.conf as shipped"
ces_start hub "$ROOT/usr/bin/ces-hub" --config "$ROOT/etc/ces/hub.conf" \
    --router 'tcp://127.0.0.1:*' --pub 'tcp://127.0.0.1:*' --http 127.0.0.1:0
HUB_PID=$CES_LAST_PID
ces_wait_for hub "subscribers connect"
ROUTER=$(sed -n 's/.*connect a DEALER to \(tcp:[^ ]*\).*/\1/p' "$CES_SCRATCH/hub.log")
PUB=$(sed -n 's/.*connect a SUB to \(tcp:[^ ]*\).*/\1/p' "$CES_SCRATCH/hub.log")
HTTP=$(sed -n 's|.*status: http://\([^/]*\)/status.*|\1|p' "$CES_SCRATCH/hub.log")
[ -n "$ROUTER" ] && [ -n "$PUB" ] && [ -n "$HTTP" ] || ces_fail "hub banner has no endpoints"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$HTTP/health")" = 200 ] \
    || ces_fail "/health of the packaged ces-hub"
ces_ok "unpacked: every program --version, man pages, the shipped configs; ces-hub serves /health"

# Embedding: the example service against the unpacked headers, libces.a and
# ces.pc. PKG_CONFIG_SYSROOT_DIR puts the scratch root before ces.pc's
# /usr paths (the libraries it requires are the system's)
export PKG_CONFIG_PATH="$ROOT$LIBDIR/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$ROOT"
flags=$(pkg-config --cflags --libs ces) || ces_fail "pkg-config --cflags --libs ces"
echo "$flags" | grep -q -- "-I$ROOT/usr/include/ces" && echo "$flags" | grep -q -- "-L$ROOT$LIBDIR" \
    || ces_fail "pkg-config does not point into the package: $flags"
[ "$(pkg-config --modversion ces)" = "$VERSION" ] || ces_fail "ces.pc version"
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -o "$CES_SCRATCH/service" \
    "$ROOT/usr/share/doc/libces-dev/examples/messenger_service.c" $flags \
    >"$CES_SCRATCH/cc.log" 2>&1 || ces_fail "cc \$(pkg-config --cflags --libs ces): $(cat "$CES_SCRATCH/cc.log")"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
"$CES_SCRATCH/service" --help | grep -q -- "--room" || ces_fail "the service's --help"
ces_start listener "$CES_SCRATCH/service" --router "$ROUTER" --pub "$PUB" --room ITB-1101 --count 1
LISTENER_PID=$CES_LAST_PID
ces_wait_for listener "registered ITB-1101"
"$CES_SCRATCH/service" --router "$ROUTER" --pub "$PUB" --room ITB-1101 \
    --send '{"key":"power","value":"on"}' >/dev/null || ces_fail "send"
ces_wait_for listener 'ITB-1101 {"key":"power","value":"on"}'
wait "$LISTENER_PID"; [ $? -eq 0 ] || ces_fail "listener exit code"
kill -TERM "$HUB_PID"
wait "$HUB_PID"; [ $? -eq 0 ] || ces_fail "the packaged hub must exit 0 on SIGTERM"
ces_ok "a service built with pkg-config --cflags --libs ces talks through the packaged hub"

# lintian (not installed by make deps: it pulls in ~100 Perl packages)
if command -v lintian >/dev/null 2>&1; then
    lintian --tag-display-limit 0 "$DEB" "$DEV" >"$CES_SCRATCH/lintian.txt" 2>&1
    grep -v "running with root privileges" "$CES_SCRATCH/lintian.txt" >"$CES_SCRATCH/tags.txt"
    grep -q "^E:" "$CES_SCRATCH/tags.txt" && ces_fail "lintian errors:
$(cat "$CES_SCRATCH/tags.txt")"
    [ -s "$CES_SCRATCH/tags.txt" ] && sed 's/^/    lintian: /' "$CES_SCRATCH/tags.txt"
    ces_ok "lintian: no errors ($(grep -c '^W:' "$CES_SCRATCH/tags.txt") warnings)"
else
    echo "lintian not installed: not run"
fi

echo "$CES_PASSED passed, 0 failed"
