#!/bin/sh
# Operating the programs: --version, the --config file under the environment
# and flags (--print-config), its errors, the shipped example files,
# --log-format json, a reload on SIGHUP seen over HTTP, sd_notify, and
# systemd-analyze verify on the units of ops/systemd.
# usage: test_operating.sh BUILD_DIR SOURCE_DIR
BUILD=$(cd "$1" && pwd)
SOURCE=$(cd "$2" && pwd)
. "$(dirname "$0")/lib.sh"
CONF=$CES_SCRATCH/edge.conf

# --version, and --help names it
for program in ces ces-hub ces-edge ces-repeater; do
    version=$("$BUILD/$program" --version) || ces_fail "$program --version exit code"
    case $program in
    ces) expected="ces " ;;
    *) expected="$program (ces) " ;;
    esac
    echo "$version" | grep -q "^$expected[0-9]*\.[0-9]*\.[0-9]*$" \
        || ces_fail "$program --version: '$version'"
    "$BUILD/$program" --help | grep -q -- "--version" || ces_fail "$program --help: no --version"
    "$BUILD/$program" --help | grep -q -- "--config FILE" || ces_fail "$program --help: no --config"
done
ces_ok "--version on every program ($version)"

# The example files shipped are what the programs print
for program in ces ces-hub ces-edge ces-repeater; do
    "$BUILD/$program" --example-config | diff -u "$SOURCE/ops/$program.conf.example" - \
        || ces_fail "ops/$program.conf.example differs from $program --example-config (make config-examples)"
done
ces_ok "ops/*.conf.example are what --example-config prints"

# Precedence: a flag over the environment over the file over the defaults
cat >"$CONF" <<CONF
# an edge
max-clients = 50          # from the file
log-level = warn
allowed-origins = https://a.example
CONF
LOG_LEVEL=error "$BUILD/ces-edge" --config "$CONF" --max-clients 60 --print-config \
    >"$CES_SCRATCH/print.txt" || ces_fail "--print-config exit code"
for line in "max-clients = 60 .*# flag" "log-level = error .*# env LOG_LEVEL" \
    "allowed-origins = https://a.example .*# file:4" "listen = 127.0.0.1:7100 .*# default" \
    "config = $CONF .*# flag"; do
    grep -q "^$line\$" "$CES_SCRATCH/print.txt" || ces_fail "--print-config has no '$line':
$(cat "$CES_SCRATCH/print.txt")"
done
CES_CONFIG="$CONF" "$BUILD/ces-edge" --print-config | grep -q "^max-clients = 50 .*# file:2$" \
    || ces_fail "CES_CONFIG names the file"
ces_ok "flag > environment > file > default, each shown with its source"

# An unknown key and a bad value: the file, the line, what is allowed; exit 2
printf 'listen = 127.0.0.1:0\nmax-client = 5\n' >"$CONF"
"$BUILD/ces-edge" --config "$CONF" >/dev/null 2>"$CES_SCRATCH/err.txt"
[ $? -eq 2 ] || ces_fail "an unknown key must exit 2"
grep -q "^ces-edge: $CONF:2: unknown key 'max-client' (did you mean 'max-clients'? the keys are the flags of ces-edge --help" \
    "$CES_SCRATCH/err.txt" || ces_fail "unknown key: $(cat "$CES_SCRATCH/err.txt")"
printf '\n\nmax-clients = 0\n' >"$CONF"
"$BUILD/ces-edge" --config "$CONF" >/dev/null 2>"$CES_SCRATCH/err.txt"
[ $? -eq 2 ] || ces_fail "a bad value must exit 2"
grep -q "^ces-edge: $CONF:3: invalid value '0' for max-clients: a number from 1 to 15000$" \
    "$CES_SCRATCH/err.txt" || ces_fail "bad value: $(cat "$CES_SCRATCH/err.txt")"
"$BUILD/ces-hub" --config "$CES_SCRATCH/none.conf" >/dev/null 2>"$CES_SCRATCH/err.txt"
[ $? -eq 2 ] && grep -q "none.conf: No such file" "$CES_SCRATCH/err.txt" \
    || ces_fail "a missing file: $(cat "$CES_SCRATCH/err.txt")"
ces_ok "unknown keys, bad values and missing files: FILE:LINE, what is allowed, exit 2"

# ces in one process, configured by a file; reloaded on SIGHUP
CONF=$CES_SCRATCH/ces.conf
cat >"$CONF" <<CONF
listen = 127.0.0.1:0
repeater-listen = 127.0.0.1:0
router = tcp://127.0.0.1:*
pub = tcp://127.0.0.1:*
max-clients = 20
repeater-max-clients = 10
allowed-origins = https://a.example
log-format = json
CONF
ces_start ces "$BUILD/ces" --config "$CONF"
CES_PID=$CES_LAST_PID
ces_wait_for ces "SIGHUP reloads"
# Every line is one JSON object: time, level, program, message
python3 - "$CES_SCRATCH/ces.log" <<'PY' || ces_fail "JSON log lines"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no output"
for line in lines:
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "program", "message"}, line
    assert entry["program"] == "ces" and entry["level"] in ("error", "warn", "notice", "info", "debug"), line
    assert entry["time"].endswith("Z") and "T" in entry["time"], line
assert any(json.loads(l)["message"] == "ces ready" for l in lines)
PY
ces_ok "--log-format json: one JSON object a line (time, level, program, message)"

PORT=$(sed -n 's|.*browser:    http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$CES_SCRATCH/ces.log")
[ -n "$PORT" ] || ces_fail "no port in the banner"
origin_code () {
    curl -s -o /dev/null -w '%{http_code}' -X POST -H "Origin: $1" \
        --data-binary 'ROOM-1' "http://127.0.0.1:$PORT/event"
}
[ "$(origin_code https://b.example)" = 403 ] || ces_fail "Origin b must be refused before the reload"
[ "$(origin_code https://a.example)" != 403 ] || ces_fail "Origin a must be let in before the reload"
sed -i -e 's|^allowed-origins = .*|allowed-origins = https://b.example|' \
    -e 's|^max-clients = 20|max-clients = 30|' "$CONF"
echo "log-level = debug" >>"$CONF"
kill -HUP "$CES_PID"
ces_wait_for ces "reload: log-level is now debug (was info)"
ces_wait_for ces "reload: max-clients changed in $CONF: needs a restart"
ces_wait_for ces "reload: allowed-origins is now https://b.example (was https://a.example)"
[ "$(origin_code https://b.example)" != 403 ] || ces_fail "Origin b must be let in after the reload"
[ "$(origin_code https://a.example)" = 403 ] || ces_fail "Origin a must be refused after the reload"
ces_ok "SIGHUP: allowed-origins and log-level applied (seen over HTTP), max-clients needs a restart"

# A bad file on reload changes nothing, and the program keeps serving
echo "stuck-timeout = soon" >>"$CONF"
kill -HUP "$CES_PID"
ces_wait_for ces "reload refused, nothing changed: $CONF:10: invalid value 'soon' for stuck-timeout: a number, at least 1"
[ "$(origin_code https://b.example)" != 403 ] || ces_fail "still serving after a refused reload"
kill -TERM "$CES_PID"
wait "$CES_PID"; [ $? -eq 0 ] || ces_fail "ces must exit 0 on SIGTERM"
ces_ok "a reload of a bad file is refused and logged; the program keeps serving"

# systemd's notify protocol: READY=1, WATCHDOG=1, RELOADING=1, STOPPING=1
mkdir "$CES_SCRATCH/notify"
python3 "$SOURCE/tests/notify_check.py" "$CES_SCRATCH/notify" "$BUILD/ces-hub" \
    --router 'tcp://127.0.0.1:*' --pub 'tcp://127.0.0.1:*' --http 127.0.0.1:0 \
    || ces_fail "sd_notify (ces-hub)"
python3 "$SOURCE/tests/notify_check.py" "$CES_SCRATCH/notify" "$BUILD/ces" \
    --listen 127.0.0.1:0 --repeater-listen 127.0.0.1:0 --router 'tcp://127.0.0.1:*' \
    --pub 'tcp://127.0.0.1:*' --max-clients 20 --repeater-max-clients 10 \
    || ces_fail "sd_notify (ces)"
ces_ok "sd_notify: ready once serving, the watchdog fed, reload and stop announced"

# The units pass systemd-analyze verify (with the build's programs; the man
# pages come with the package)
if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir "$CES_SCRATCH/units"
    for unit in "$SOURCE"/ops/systemd/*.service; do
        name=$(basename "$unit" | sed 's/@\.service$/@test.service/')
        sed "s|/usr/bin/|$BUILD/|" "$unit" >"$CES_SCRATCH/units/$name"
    done
    (cd "$CES_SCRATCH/units" && systemd-analyze verify --man=no ./*.service) \
        >"$CES_SCRATCH/verify.txt" 2>&1 || ces_fail "systemd-analyze verify:
$(cat "$CES_SCRATCH/verify.txt")"
    [ ! -s "$CES_SCRATCH/verify.txt" ] || ces_fail "systemd-analyze verify warns:
$(cat "$CES_SCRATCH/verify.txt")"
    ces_ok "systemd-analyze verify passes on ops/systemd/*.service"
else
    echo "SKIP: no systemd-analyze (install systemd)"
    exit 77
fi

echo "$CES_PASSED passed, 0 failed"
