#!/usr/bin/env bash
# ces benchmark: ces (one process, and hub + edge split) beside mosquitto
# (MQTT over WebSocket), nats-server (its WebSocket listener) and a bare
# civetweb broadcast server, all on 127.0.0.1, driven by bench/ces_loadgen.
#
# usage: bench/run.sh [--append FILE] [--quick] [--scenarios "LIST"]
#                     [--systems "LIST"] [--out FILE]
#   --append FILE   also append the results (with date, machine, commit) to
#                   FILE, e.g. docs/PERFORMANCE.md (not for a quick run)
#   --quick         a ~1 minute smoke run (same as BENCH_QUICK=1): ces,
#                   mosquitto, nats, bare; 2 s runs; no 1000-subscriber
#                   fan-out; 2000 idle connections
#   --scenarios     some of: fanout100 fanout1000 rooms latency idle hub
#   --systems       some of: ces ces-split mosquitto nats bare bare-1write
#   --out FILE      where the markdown goes (bench/results/DATE.md; the
#                   same name .tsv and .log hold the raw lines and every
#                   run's own report)
# Environment: CES_BUILD (the build tree, default build/), BENCH_QUICK=1.
#
# Every server this script starts is stopped by PID when it ends (trap).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${CES_BUILD:-$ROOT/build}
QUICK=${BENCH_QUICK:-0}
APPEND=
OUT=
SCENARIOS="fanout100 fanout1000 rooms building latency idle hub"
SYSTEMS=
while [ $# -gt 0 ]; do
    case "$1" in
    --append) APPEND=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --systems) SYSTEMS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ -z "$SYSTEMS" ]; then
    SYSTEMS="ces ces-split mosquitto nats bare bare-1write"
    [ "$QUICK" = 1 ] && SYSTEMS="ces mosquitto nats bare"
fi
if [ "$QUICK" = 1 ]; then
    FLOW_SECS=2; LAT_SECS=2; IDLE_N=2000; HUB_N=200000
    LAT_RATES="10000"
    SCENARIOS=$(echo " $SCENARIOS " | sed 's/ fanout1000 / /')
else
    FLOW_SECS=6; LAT_SECS=4; IDLE_N=10000; HUB_N=1000000
    LAT_RATES="1000 10000 100000"
fi
WINDOW=6400 # deliveries in flight in all, as fast as possible
BUILDING_RATE=20000 # events/s of the building scenario (each to one panel)
LAT_SUBS=10 # the latency runs: 1 room, 1 publisher, 10 subscribers
START_TIME=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

WORK=$(mktemp -d /tmp/ces-bench.XXXXXX)
TSV=$WORK/results.tsv
: >"$TSV"
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    PIDS=()
}
trap 'cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

log() { echo "[bench $(($(date +%s) - START_TIME))s] $*" >&2; }

# --- programs -------------------------------------------------------------
for program in ces ces-hub ces-edge ces_bench_hub; do
    [ -x "$BUILD/$program" ] || { echo "run.sh: $BUILD/$program missing (make build)" >&2; exit 1; }
done
# ces_loadgen and bare_civetweb: from the build tree when CMake builds them,
# else compiled here
tool() {
    local name=$1 src=$ROOT/bench/$1.c
    if [ -x "$BUILD/$name" ] && [ "$BUILD/$name" -nt "$src" ]; then
        echo "$BUILD/$name"
        return
    fi
    local libs
    libs=$(pkg-config --cflags --libs libcjson)
    [ "$name" = bare_civetweb ] && libs="$libs -lcivetweb -ldl -lpthread"
    # shellcheck disable=SC2086
    gcc -O2 -g -Wall -Wextra -D_GNU_SOURCE -o "$WORK/$name" "$src" $libs || exit 1
    echo "$WORK/$name"
}
# An edge takes at most --max-clients clients ("at most N" in its --help)
CES_CAP=$("$BUILD/ces-edge" --help 2>&1 | sed -n 's/.*at most \([0-9][0-9]*\).*/\1/p' | head -1)
CES_CAP=${CES_CAP:-$IDLE_N}
IDLE_CES=$IDLE_N
[ "$CES_CAP" -lt "$IDLE_N" ] && IDLE_CES=$CES_CAP
LOADGEN=$(tool ces_loadgen)
BARE=$(tool bare_civetweb)

# mosquitto and nats-server from Debian, installed when missing
need_install=
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need_install="$need_install mosquitto"
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need_install="$need_install nats-server"
if [ -n "$need_install" ]; then
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO=sudo
    log "installing$need_install"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_install; } \
        >"$WORK/apt.log" 2>&1 || log "could not install$need_install (see $WORK/apt.log)"
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$MOSQUITTO" ] || { log "no mosquitto: skipped"; SYSTEMS=$(echo " $SYSTEMS " | sed 's/ mosquitto / /'); }
[ -x "$NATS" ] || { log "no nats-server: skipped"; SYSTEMS=$(echo " $SYSTEMS " | sed 's/ nats / /'); }

# the load generator holds up to 10,000 sockets
ulimit -n "$(ulimit -Hn)" 2>/dev/null

# --- ports and processes --------------------------------------------------
USED_PORTS=" "
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 30000))
        case "$USED_PORTS" in *" $port "*) continue ;; esac
        if ! ss -Htan "( sport = :$port )" 2>/dev/null | grep -q .; then
            USED_PORTS="$USED_PORTS$port "
            echo "$port"
            return
        fi
    done
}

start() { # start NAME LOGFILE CMD...: sets LAST_PID
    local name=$1 logfile=$2
    shift 2
    "$@" >"$logfile" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

wait_http() { # wait_http HOST:PORT/PATH PID
    for _ in $(seq 200); do
        curl -sf -o /dev/null "http://$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

wait_listen() { # wait_listen PORT PID
    for _ in $(seq 200); do
        ss -Htln "( sport = :$1 )" | grep -q . && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

wait_threads() { # until the thread count of PID stops changing (civetweb workers)
    local last=-1 now same=0
    for _ in $(seq 400); do
        now=$(awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
        if [ "$now" = "$last" ]; then
            same=$((same + 1))
            [ $same -ge 3 ] && return 0
        else
            same=0
        fi
        last=$now
        sleep 0.1
    done
}

# Waits (up to 5 s, and 30 s over the whole run) until the machine is
# quiet: below 20% busy over half a second. Anything else running skews the
# figures; the tables show what other processes used during each run.
QUIET_LEFT=30
[ "$QUICK" = 1 ] && QUIET_LEFT=15
machine_busy() { # prints busy% over 0.5 s
    local a b
    a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    sleep 0.5
    b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    echo "$a $b" | awk '{d = $4 - $2; print (d > 0 ? int(100 * ($3 - $1) / d) : 0)}'
}
wait_quiet() {
    local busy waited=0
    while [ $QUIET_LEFT -gt 0 ] && [ $waited -lt 5 ]; do
        busy=$(machine_busy)
        [ "$busy" -lt 20 ] && return
        [ $waited = 0 ] && log "machine ${busy}% busy: waiting for it to calm down"
        sleep 0.5
        waited=$((waited + 1))
        QUIET_LEFT=$((QUIET_LEFT - 1))
    done
}

# start_system NAME MAX_CLIENTS: starts it, sets LG_ARGS (how the load
# generator reaches it and its PIDs) and SERVER_NOTE
start_system() {
    local system=$1 clients=$2 p1 p2 p3 p4 p5 log=$WORK/$1.log
    LG_ARGS=()
    case $system in
    ces)
        p1=$(free_port); p2=$(free_port); p3=$(free_port); p4=$(free_port)
        # clients "default": as `make run` starts it (10,000 clients)
        local limit=(--max-clients "$clients")
        [ "$clients" = default ] && limit=()
        start ces "$log" "$BUILD/ces" --listen "127.0.0.1:$p1" --repeater-listen "127.0.0.1:$p2" \
            --router "tcp://127.0.0.1:$p3" --pub "tcp://127.0.0.1:$p4" \
            "${limit[@]}" --log-level warn
        wait_http "127.0.0.1:$p1/health" "$LAST_PID" || return 1
        wait_threads "$LAST_PID"
        LG_ARGS=(--proto ces --port "$p1" --status "127.0.0.1:$p1" --pid "$LAST_PID")
        ;;
    ces-split)
        p1=$(free_port); p2=$(free_port); p3=$(free_port); p4=$(free_port)
        start ces-hub "$WORK/ces-hub.log" "$BUILD/ces-hub" --router "tcp://127.0.0.1:$p2" \
            --pub "tcp://127.0.0.1:$p3" --http "127.0.0.1:$p4" --log-level warn
        local hub=$LAST_PID
        wait_http "127.0.0.1:$p4/health" "$hub" || return 1
        start ces-edge "$log" "$BUILD/ces-edge" --listen "127.0.0.1:$p1" \
            --hub-router "tcp://127.0.0.1:$p2" --hub-pub "tcp://127.0.0.1:$p3" \
            --max-clients "$clients" --log-level warn
        wait_http "127.0.0.1:$p1/health" "$LAST_PID" || return 1
        wait_threads "$LAST_PID"
        LG_ARGS=(--proto ces --port "$p1" --status "127.0.0.1:$p1" --hub-status "127.0.0.1:$p4"
            --pid "$LAST_PID" --pid "$hub")
        ;;
    mosquitto)
        p1=$(free_port); p2=$(free_port)
        sed -e "s/^listener 7300 /listener $p1 /" -e "s/^listener 7301 /listener $p2 /" \
            "$ROOT/bench/mosquitto.conf" >"$WORK/mosquitto.conf"
        start mosquitto "$log" "$MOSQUITTO" -c "$WORK/mosquitto.conf"
        wait_listen "$p1" "$LAST_PID" || return 1
        LG_ARGS=(--proto mqtt --port "$p1" --pid "$LAST_PID")
        ;;
    nats)
        p1=$(free_port); p2=$(free_port); p3=$(free_port)
        sed -e "s/^port: 7400/port: $p1/" -e "s/^http: 127.0.0.1:7401/http: 127.0.0.1:$p2/" \
            -e "s/^    port: 7402/    port: $p3/" "$ROOT/bench/nats-server.conf" >"$WORK/nats-server.conf"
        start nats "$log" "$NATS" -c "$WORK/nats-server.conf"
        wait_http "127.0.0.1:$p2/healthz" "$LAST_PID" || return 1
        wait_listen "$p3" "$LAST_PID" || return 1
        LG_ARGS=(--proto nats --port "$p3" --nats-monitor "127.0.0.1:$p2" --pid "$LAST_PID")
        ;;
    bare | bare-1write)
        p1=$(free_port)
        local extra=()
        [ "$system" = bare-1write ] && extra=(--one-write)
        start bare "$log" "$BARE" --listen "127.0.0.1:$p1" --max-clients "$clients" "${extra[@]}"
        wait_listen "$p1" "$LAST_PID" || return 1
        wait_threads "$LAST_PID"
        LG_ARGS=(--proto bare --port "$p1" --pid "$LAST_PID")
        ;;
    esac
    return 0
}

# start_or_report SYSTEM CLIENTS: start_system, once more after a failure
# (with what its logs said)
start_or_report() {
    local attempt
    for attempt in 1 2; do
        start_system "$1" "$2" && return 0
        log "$1 did not start (attempt $attempt): $(cat "$WORK/$1.log" "$WORK/ces-hub.log" 2>/dev/null | tail -5 | tr '\n' ' ')"
        cleanup
        sleep 1
    done
    return 1
}

# run_flow SCENARIO SYSTEM CLIENTS LOADGEN-ARGS...
run_flow() {
    local scenario=$1 system=$2 clients=$3
    shift 3
    if ! start_or_report "$system" "$clients"; then
        printf '%s\t%s\tfailed\n' "$scenario" "$system" >>"$TSV"
        return
    fi
    wait_quiet
    log "$scenario: $system"
    "$LOADGEN" "${LG_ARGS[@]}" --label "$system" --scenario "$scenario" --tsv "$TSV" "$@" \
        >"$WORK/$scenario-$system.out" 2>&1
    grep -E "PASS|FAIL|deliveries/s" "$WORK/$scenario-$system.out" | sed 's/^/    /' >&2
    cleanup
}

# --- scenarios ------------------------------------------------------------
has() { case " $SCENARIOS " in *" $1 "*) return 0 ;; esac; return 1; }

for scenario in fanout100 fanout1000 rooms; do
    has "$scenario" || continue
    for system in $SYSTEMS; do
        case $scenario in
        fanout100) run_flow $scenario "$system" 110 --rooms 1 --subs-per-room 100 --pubs 1 \
            --window $WINDOW --duration $FLOW_SECS ;;
        fanout1000) run_flow $scenario "$system" 1010 --rooms 1 --subs-per-room 1000 --pubs 1 \
            --window $WINDOW --duration $FLOW_SECS ;;
        rooms) run_flow $scenario "$system" 1020 --rooms 1000 --subs-per-room 1 --pubs 10 \
            --window $((WINDOW / 10)) --duration $FLOW_SECS ;;
        esac
    done
done

# A building as `make run` serves it: ces with its default limits (10,000
# clients), 1000 rooms with one panel each and two publishers (1,002
# WebSockets), open loop; beside nats-server
if has building; then
    for system in $SYSTEMS; do
        case $system in ces) clients=default ;; nats) clients=1010 ;; *) continue ;; esac
        run_flow building "$system" "$clients" --rooms 1000 --subs-per-room 1 --pubs 2 \
            --rate $BUILDING_RATE --duration $LAT_SECS
    done
fi

if has latency; then
    for rate in $LAT_RATES; do
        for system in $SYSTEMS; do
            [ "$system" = bare-1write ] && continue
            run_flow "latency$rate" "$system" 20 --rooms 1 --subs-per-room $LAT_SUBS --pubs 1 \
                --rate $((rate / LAT_SUBS)) --duration $LAT_SECS
        done
    done
fi

if has idle; then
    for system in $SYSTEMS; do
        [ "$system" = bare-1write ] && continue
        n=$IDLE_N
        case $system in ces | ces-split) n=$IDLE_CES ;; esac
        if ! start_or_report "$system" "$n"; then
            printf '%s\t%s\tfailed\n' idle "$system" >>"$TSV"
            continue
        fi
        wait_quiet
        log "idle: $system, $n connections"
        "$LOADGEN" "${LG_ARGS[@]}" --label "$system" --scenario idle --tsv "$TSV" \
            --idle "$n" --hold 1 >"$WORK/idle-$system.out" 2>&1
        sed 's/^/    /' "$WORK/idle-$system.out" | grep -v "ready in" >&2
        cleanup
    done
fi

HUB_OUT=
HUB_RC=0
if has hub; then
    log "hub core: ces_bench_hub -n $HUB_N"
    HUB_OUT=$("$BUILD/ces_bench_hub" -n "$HUB_N" 2>&1)
    HUB_RC=$?
    echo "$HUB_OUT" | tail -4 | sed 's/^/    /' >&2
fi

# --- tables ---------------------------------------------------------------
ELAPSED=$(($(date +%s) - START_TIME))
MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- src include hub edge 2>/dev/null || COMMIT="$COMMIT (with uncommitted changes in the sources)"
MD=$WORK/results.md
{
    echo "## Benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(nproc) cores, $MODEL, Linux $(uname -r); commit $COMMIT;" \
        "$( [ "$QUICK" = 1 ] && echo "quick run (BENCH_QUICK=1)," ) run time ${ELAPSED} s;" \
        "load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end" \
        "(anything else running on the machine skews every figure)."
    echo "Everything on 127.0.0.1; the load generator (one thread, \`bench/ces_loadgen.c\`) shares the 2 cores" \
        "with the server. Each cell is the value and, in brackets, its ratio to ces (one process) in the same run." \
        "Latencies in µs, from the publisher's send to the subscriber's receipt." \
        "\"check\": deliveries seen + drops the server reported = deliveries expected (PASS/FAIL)." \
        "\"server CPU µs per delivery\": the server processes' CPU time (user + system) over the deliveries, less" \
        "sensitive to a busy machine than the rates; \"other\": CPU time anything else on the machine used during the run." \
        "In the as-fast-as-possible runs the latency is mostly the wait behind the deliveries in flight" \
        "(in flight / rate); the open-loop runs measure latency."
    echo
    awk -F'\t' -v ncpu="$(nproc)" -v window="$WINDOW" -v flow="$FLOW_SECS" -v lat="$LAT_SECS" -v latsubs="$LAT_SUBS" -v building="$BUILDING_RATE" '
    function fmt(v,   s, neg) {  # thousands separators
        v = sprintf("%.0f", v); s = ""
        while (length(v) > 3) { s = "," substr(v, length(v) - 2) s; v = substr(v, 1, length(v) - 3) }
        return v s
    }
    function cell(v, base, integer) {
        out = integer ? fmt(v) : (v >= 100 ? fmt(v) : sprintf("%.1f", v))
        if (base > 0 && v != "") out = out sprintf(" (%.2f×)", v / base)
        return out
    }
    function cell2(v, base) {  # two decimals
        out = sprintf("%.2f", v)
        if (base > 0) out = out sprintf(" (%.2f×)", v / base)
        return out
    }
    function title(s) {
        if (s == "fanout100") return "Fan-out: 1 room, 1 publisher, 100 subscribers, as fast as possible (" fmt(window) " deliveries in flight), " flow " s"
        if (s == "fanout1000") return "Fan-out: 1 room, 1 publisher, 1000 subscribers, as fast as possible (" fmt(window) " deliveries in flight), " flow " s"
        if (s == "building") return "A building, as make run serves it: ces with its defaults (10,000 clients), 1000 rooms, 1 subscriber each, 2 publishers (1,002 WebSockets), open loop at " fmt(building) " events/s, " lat " s"
        if (s == "rooms") return "Many rooms: 1000 rooms, 1 subscriber each, 10 publishers each sending to 100 rooms in turn, as fast as possible (" fmt(window/10) " deliveries in flight per publisher), " flow " s"
        if (s ~ /^latency/) { r = substr(s, 8); return "Latency at " fmt(r) " deliveries/s, open loop: 1 room, 1 publisher, " latsubs " subscribers (" fmt(r / latsubs) " events/s), " lat " s" }
        return s
    }
    $3 == "flow" || ($3 == "failed" && $1 != "idle") {
        if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
        k = $1 SUBSEP (++rows[$1]); line[k] = $0
        if ($2 == "ces" && $3 == "flow") { base_rate[$1] = $4; base50[$1] = $5; base99[$1] = $6; base999[$1] = $7; basemax[$1] = $8
            baseus[$1] = $11 > 0 ? $15 * 1e6 / $11 : 0 }
    }
    END {
        for (i = 1; i <= n; i++) {
            s = order[i]
            print "### " title(s)
            print ""
            print "| system | deliveries/s | p50 | p99 | p99.9 | max | server CPU µs per delivery | delivered + drops = expected | check | CPU s: server / loadgen / other |"
            print "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"
            for (j = 1; j <= rows[s]; j++) {
                split(line[s SUBSEP j], f, "\t")
                if (f[3] == "failed") { print "| " f[2] " | did not start | | | | | | | | |"; continue }
                check = fmt(f[11]) " + " fmt(f[12]) (f[17] == "reported" ? "" : "¹") " " (f[11] + f[12] == f[10] ? "=" : "≠") " " fmt(f[10])
                if (f[13] > 0) check = check ", " fmt(f[13]) " duplicates"
                us = f[11] > 0 ? f[15] * 1e6 / f[11] : 0
                secs = (s ~ /^latency/ ? lat : flow)
                busy = (f[19] > 0.1 * secs * ncpu) ? " ²" : ""
                printf "| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f / %.1f / %.1f |\n", f[2], busy,
                    cell(f[4], base_rate[s], 1), cell(f[5], base50[s]), cell(f[6], base99[s]),
                    cell(f[7], base999[s]), cell(f[8], basemax[s]), cell2(us, baseus[s]), check, f[14],
                    f[15], f[16], f[19]
            }
            print ""
        }
    }' "$TSV"
    if grep -qE $'^idle\t|\tidle\t' "$TSV"; then
        echo "### Idle connections: registered WebSockets held open, server RSS (VmRSS) before and after"
        echo
        echo "| system | connections | setup s | RSS before KiB | RSS after KiB | KiB per connection (added) | KiB per connection (all) | threads | check |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
        awk -F'\t' '$1 == "idle" && $3 == "failed" { r[++n] = $0 }
        $3 == "idle" {
            if ($2 == "ces") base = $9
            r[++n] = $0
        }
        END {
            for (i = 1; i <= n; i++) {
                split(r[i], f, "\t")
                if (f[3] == "failed") { print "| " f[2] " | did not start | | | | | | | |"; continue }
                ratio = base > 0 ? sprintf(" (%.2f×)", f[9] / base) : ""
                printf "| %s | %s of %s | %s | %s | %s | %.1f%s | %.1f | %s | %s |\n", f[2], f[5], f[4], f[6], f[7], f[8], f[9], ratio, f[10], f[11], f[12]
            }
        }' "$TSV"
        echo
        [ "$IDLE_CES" -lt "$IDLE_N" ] &&
            echo "ces runs at $IDLE_CES connections: an edge takes at most $CES_CAP clients (\`--max-clients\`," \
                "bounded by the 20,000 file descriptors a process may open here), so that cap is the limit for ces;" \
                "the others run at $IDLE_N."
        echo "RSS is the sum of the server's processes (ces-split: hub + edge). \"added\" = (after − before) / connections;" \
            "civetweb creates all its workers at start, so \"before\" already holds their memory."
        echo
    fi
    echo "¹ not reported by the server: mosquitto's \$SYS/broker/publish/messages/dropped is read when" \
        "the broker publishes it; nats-server counts slow consumers, not messages; the bare server counts nothing." \
        "For these a missing delivery shows as ≠ / FAIL."
    echo
    echo "² other processes used more than 10% of the machine's CPU during this run: its figures are less reliable."
    echo
    if [ -n "$HUB_OUT" ]; then
        echo "### Hub core alone (build/ces_bench_hub -n $HUB_N)"
        echo
        echo '```'
        echo "$HUB_OUT"
        echo '```'
        echo
        [ $HUB_RC = 0 ] || { echo "ces_bench_hub exited with $HUB_RC: its check failed (FAIL)."; echo; }
    fi
    # the targets of issue 6
    awk -F'\t' '
    $3 == "flow" && $1 == "fanout100" { rate[$2] = $4; cpu100[$2] = $11 > 0 ? 1e6 * $15 / $11 : 0 }
    $3 == "flow" && $1 == "rooms" { rooms[$2] = $4; cpurooms[$2] = $11 > 0 ? 1e6 * $15 / $11 : 0 }
    $3 == "flow" && $1 == "building" { b99[$2] = $6; bpass[$2] = $14; bcpu[$2] = $11 > 0 ? 1e6 * $15 / $11 : 0 }
    $3 == "flow" && $1 == "latency10000" && $2 == "ces" { p99 = $6; have99 = 1 }
    $3 == "idle" && $2 == "ces" { rss = $9; haverss = 1 }
    function target(name, ok, text) { printf "- %s: %s — %s\n", name, text, ok ? "**met**" : "**not met**" }
    END {
        print "### Targets"
        print ""
        if ("ces" in rate) {
            c = rate["ces"]
            if ("mosquitto" in rate) target("fan-out 100, ces ≥ 1.5× mosquitto", c >= 1.5 * rate["mosquitto"], sprintf("%.2f×", c / rate["mosquitto"]))
            if ("nats" in rate) target("fan-out 100, ces ≥ 1.0× nats-server", c >= rate["nats"], sprintf("%.2f×", c / rate["nats"]))
            if ("bare" in rate) target("fan-out 100, ces ≥ 70% of bare civetweb (mg_websocket_write)", c >= 0.7 * rate["bare"], sprintf("%.0f%%", 100 * c / rate["bare"]))
            if ("bare-1write" in rate) target("fan-out 100, ces ≥ 70% of bare civetweb (one write per frame)", c >= 0.7 * rate["bare-1write"], sprintf("%.0f%%", 100 * c / rate["bare-1write"]))
        }
        if (("ces" in rate) && ("nats" in rate))
            target("fan-out 100, ces ≥ 2× nats-server (issue 12)", rate["ces"] >= 2 * rate["nats"], sprintf("%.2f× (server CPU per delivery: ces %.2f µs, nats %.2f µs)", rate["ces"] / rate["nats"], cpu100["ces"], cpu100["nats"]))
        if (("ces" in rooms) && ("nats" in rooms))
            target("1000 rooms × 1 subscriber, ces ≥ 1.0× nats-server (issue 12)", rooms["ces"] >= rooms["nats"], sprintf("%.2f× (server CPU per delivery: ces %.2f µs, nats %.2f µs)", rooms["ces"] / rooms["nats"], cpurooms["ces"], cpurooms["nats"]))
        if ("ces" in b99) target("a building with make run'"'"'s defaults: every event delivered", bpass["ces"] == "PASS", bpass["ces"])
        if (("ces" in b99) && ("nats" in b99)) {
            target("a building: ces p99 ≤ nats-server'"'"'s", b99["ces"] <= b99["nats"], sprintf("%.0f µs vs %.0f µs", b99["ces"], b99["nats"]))
            target("a building: ces server CPU per delivery ≤ nats-server'"'"'s", bcpu["ces"] <= bcpu["nats"], sprintf("%.2f µs vs %.2f µs", bcpu["ces"], bcpu["nats"]))
        }
        if (have99) target("p99 ≤ 1 ms at 10k deliveries/s", p99 <= 1000, sprintf("%.0f µs", p99))
        if (haverss) target("RSS per idle client ≤ 64 KiB (added per connection)", rss <= 64, sprintf("%.1f KiB", rss))
    }' "$TSV"
    if [ -n "$HUB_OUT" ]; then
        echo "$HUB_OUT" | awk '/^ces hub, validation on/ {
            printf "- hub core ≥ 500k routed events/s over tcp, validation on: %d/s — %s\n", $5, ($5 >= 500000 ? "**met**" : "**not met**") }
            /^ces hub, trusted validated/ {
            printf "  (the same with the sender trusted to have validated, no JSON scan at the hub: %d/s)\n", $5 }
            /^ces hub, on, nothing kept/ { nothing = $6 }
            /^ces hub, validation on/ { memory = $5 }
            /^ces hub, on, --data-dir/ { disk = $5 }
            END { if (nothing > 0) {
                printf "- rooms remembered, state and history in memory ≥ 85%% of the hub keeping nothing (issue 13): %.2f× — %s\n", memory / nothing, (memory >= 0.85 * nothing ? "**met**" : "**not met**")
                printf "- rooms remembered in a --data-dir ≥ 60%% of the hub keeping nothing (issue 13): %.2f× — %s\n", disk / nothing, (disk >= 0.60 * nothing ? "**met**" : "**not met**") } }'
    fi
    echo
} >"$MD"

cat "$MD"
if [ -z "$OUT" ]; then
    mkdir -p "$ROOT/bench/results"
    OUT=$ROOT/bench/results/$(date -u +%Y%m%d-%H%M%S)$( [ "$QUICK" = 1 ] && echo -quick).md
fi
cp "$MD" "$OUT"
cp "$TSV" "${OUT%.md}.tsv"
# every run's own report (sent, expected, drops by reason, stalls, errors...)
for f in "$WORK"/*.out; do
    [ -e "$f" ] && { echo "== $(basename "$f" .out)"; cat "$f"; }
done >"${OUT%.md}.log"
log "results in $OUT"
if [ -n "$APPEND" ] && [ "$QUICK" = 1 ]; then
    log "a quick run is a smoke test: not appended to $APPEND"
elif [ -n "$APPEND" ]; then
    { echo; cat "$MD"; } >>"$APPEND"
    log "appended to $APPEND"
fi
grep -qE $'\t(FAIL|failed)(\t|$)' "$TSV" && exit 1
[ $HUB_RC = 0 ] || exit 1
exit 0
