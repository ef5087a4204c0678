# Shared helpers for the shell integration tests. Every process a test starts
# is recorded and ended by PID when the test exits, however it exits.
CES_PIDS=""
CES_SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/ces-test.XXXXXX")

ces_cleanup () {
    for pid in $CES_PIDS; do
        kill "$pid" 2>/dev/null
    done
    for pid in $CES_PIDS; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$CES_SCRATCH"
}
trap ces_cleanup EXIT INT TERM

# ces_start NAME CMD... : runs CMD in the background, output to $CES_SCRATCH/NAME.log
ces_start () {
    name=$1; shift
    "$@" >"$CES_SCRATCH/$name.log" 2>&1 &
    CES_LAST_PID=$!
    CES_PIDS="$CES_PIDS $CES_LAST_PID"
}

# ces_wait_for NAME PATTERN [SECONDS]: waits until NAME's log holds PATTERN
ces_wait_for () {
    deadline=$(( $(date +%s) + ${3:-10} ))
    while ! grep -q -- "$2" "$CES_SCRATCH/$1.log" 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "FAIL: '$2' did not appear in $1's output within ${3:-10} s:"
            sed 's/^/    /' "$CES_SCRATCH/$1.log"
            exit 1
        fi
        sleep 0.05
    done
}

CES_PASSED=0
ces_ok () {
    CES_PASSED=$((CES_PASSED + 1))
    echo "ok - $1"
}

ces_fail () {
    echo "FAIL: $1"
    exit 1
}
