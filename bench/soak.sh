#!/usr/bin/env bash
# ces soak run: the split processes (ces-hub, ces-edge, ces-repeater with a
# --central sink) on 127.0.0.1, driven for SOAK_SECONDS at a fraction of the
# capacity measured at the start, with clients joining and leaving. Checks
# that nothing is lost without being counted and that no process grows.
#
# usage: bench/soak.sh [--append FILE] [--out DIR]
#   --append FILE   also append the report (date, machine, commit,
#                   SOAK_SECONDS) to FILE, e.g. docs/SOAK.md
#   --out DIR       where the logs, samples and report go
#                   (default bench/results/soak-DATE/)
# Environment (defaults in brackets):
#   SOAK_SECONDS (3600)        soak time after the capacity run
#   SOAK_ROUND_SECONDS (60)    one ces_loadgen run: fresh clients each round
#   SOAK_SAMPLE_SECONDS (30)   RSS and /status counters sampled this often
#   SOAK_CAPACITY_SECONDS (10) the as-fast-as-possible run at the start
#   SOAK_LOAD_PERCENT (50)     soak rate, percent of the measured capacity
#   SOAK_ROOMS (100) SOAK_SUBS (5) SOAK_PUBS (10) SOAK_SIZE (300): scenario
#   SOAK_POST_RATE (20)        POST /send to the repeater, per second
#   SOAK_CHURN_EVERY (5) SOAK_CHURN_CLIENTS (20) SOAK_CHURN_ROOMS (3)
#   SOAK_RSS_PERCENT (10) SOAK_RSS_MIB (8): RSS is flat when it grew by at
#                              most the larger of the two after warm-up
#   CES_BUILD (build/)         the build tree
# Exit status: 0 pass; 1 unexplained loss, RSS not flat, a round or a
# process failed; 2 bad usage; 130 interrupted.
#
# Every process this script starts is stopped by PID when it ends (trap).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${CES_BUILD:-$ROOT/build}
SOAK_SECONDS=${SOAK_SECONDS:-3600}
ROUND_SECONDS=${SOAK_ROUND_SECONDS:-60}
SAMPLE_SECONDS=${SOAK_SAMPLE_SECONDS:-30}
CAPACITY_SECONDS=${SOAK_CAPACITY_SECONDS:-10}
LOAD_PERCENT=${SOAK_LOAD_PERCENT:-50}
ROOMS=${SOAK_ROOMS:-100}
SUBS=${SOAK_SUBS:-5}
PUBS=${SOAK_PUBS:-10}
SIZE=${SOAK_SIZE:-300}
export SOAK_POST_RATE=${SOAK_POST_RATE:-20}
export SOAK_CHURN_EVERY=${SOAK_CHURN_EVERY:-5}
export SOAK_CHURN_CLIENTS=${SOAK_CHURN_CLIENTS:-20}
export SOAK_CHURN_ROOMS=${SOAK_CHURN_ROOMS:-3}
RSS_PERCENT=${SOAK_RSS_PERCENT:-10}
RSS_MIB=${SOAK_RSS_MIB:-8}
WINDOW=640 # capacity run: deliveries in flight per publisher (run.sh's "rooms")
APPEND=
OUT=
while [ $# -gt 0 ]; do
    case "$1" in
    --append) APPEND=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
for v in SOAK_SECONDS ROUND_SECONDS SAMPLE_SECONDS CAPACITY_SECONDS LOAD_PERCENT ROOMS SUBS PUBS SIZE \
    RSS_PERCENT RSS_MIB SOAK_POST_RATE SOAK_CHURN_EVERY SOAK_CHURN_CLIENTS SOAK_CHURN_ROOMS; do
    case ${!v} in '' | *[!0-9]*) echo "soak.sh: $v must be a whole number (got '${!v}')" >&2; exit 2 ;; esac
done
# At least three rounds: one to warm up, then a middle and an end to compare
if [ "$SOAK_SECONDS" -lt $((3 * ROUND_SECONDS)) ]; then
    ROUND_SECONDS=$((SOAK_SECONDS / 3))
fi
if [ "$SOAK_CHURN_EVERY" -lt 1 ] || [ "$SOAK_CHURN_ROOMS" -lt 1 ]; then
    echo "soak.sh: SOAK_CHURN_EVERY and SOAK_CHURN_ROOMS must be at least 1" >&2
    exit 2
fi
if [ "$ROUND_SECONDS" -lt 20 ]; then
    echo "soak.sh: SOAK_SECONDS must be at least 60 (three rounds of 20 s)" >&2
    exit 2
fi
ROUNDS=$((SOAK_SECONDS / ROUND_SECONDS))

START_TIME=$(date +%s)
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-$ROOT/bench/results/soak-$STAMP}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

log() { echo "[soak $(($(date +%s) - START_TIME))s] $*" >&2; }

# --- processes: started in the background, stopped by PID ------------------
PIDS=()
# alive PID: running (kill -0 is not enough: a child that ended stays a zombie
# until it is waited for)
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
cleanup() {
    local pid
    [ ${#PIDS[@]} -gt 0 ] || return 0
    # the last started first: the load and clients, then the servers
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

start() { # start LOGFILE CMD...: runs CMD in the background, sets LAST_PID
    local logfile=$1
    shift
    "$@" >"$logfile" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

forget() { # forget PID: it ended (or we stopped it), do not signal it again
    local kept=() pid
    for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
    PIDS=(${kept[@]+"${kept[@]}"})
}

stop() { # stop PID [SECONDS]: TERM, then KILL after SECONDS (5)
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((${2:-5} * 10))); do alive "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}

USED_PORTS=" "
free_port() { # a port nothing listens on, not handed out before
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

wait_for() { # wait_for PID SECONDS CMD...: until CMD succeeds; fails if PID died
    local pid=$1 tries=$(($2 * 10))
    shift 2
    for _ in $(seq "$tries"); do
        "$@" >/dev/null 2>&1 && return 0
        alive "$pid" || return 1
        sleep 0.1
    done
    return 1
}

http_ok() { curl -sf -o /dev/null --max-time 2 "http://$1"; }
status_has() { curl -sf --max-time 2 "http://$1/status" | grep -q "$2"; }

wait_threads() { # until the thread count of PID is steady (civetweb creates its workers at start)
    local last=-1 now same=0
    for _ in $(seq 100); do
        now=$(awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
        if [ "$now" = "$last" ]; then
            same=$((same + 1))
            [ $same -lt 3 ] || return 0
        else
            same=0
        fi
        last=$now
        sleep 0.1
    done
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; } # user + system

# --- programs ---------------------------------------------------------------
for program in ces-hub ces-edge ces-repeater ces_loadgen; do
    [ -x "$BUILD/$program" ] || { echo "soak.sh: $BUILD/$program missing (make build)" >&2; exit 1; }
done
LOADGEN=$BUILD/ces_loadgen
command -v node >/dev/null || { echo "soak.sh: node missing (make deps)" >&2; exit 1; }
# The sink and the churn clients use the ws package of the Node tests
WS_MODULE=$ROOT/tests/node/node_modules/ws
if [ ! -d "$WS_MODULE" ]; then
    log "installing the Node test clients (npm ci in tests/node) for the ws package"
    (cd "$ROOT/tests/node" && npm ci --no-audit --no-fund --loglevel=error) >"$OUT/npm.log" 2>&1 ||
        { echo "soak.sh: npm ci in tests/node failed (see $OUT/npm.log)" >&2; exit 1; }
fi
export SOAK_WS_MODULE=$WS_MODULE
# ces_loadgen holds ~500 sockets, the churn a few dozen more
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The Node side: the repeater's --central sink (HTTP POST or WebSocket links,
# answered 200 / counted), the churn (messengers and outside systems that come
# and go, a steady POST /send stream and a listener that counts what arrives),
# and snapshots of every process's /status as "key<TAB>value" lines.
HELPER=$OUT/soak-helper.cjs
cat >"$HELPER" <<'JS'
"use strict";
const http = require("http");
const fs = require("fs");
const { WebSocket, WebSocketServer } = require(process.env.SOAK_WS_MODULE);
const [mode, ...args] = process.argv.slice(2);

// The counters go to a file soak.sh reads (renamed: never half written)
function dumpTo(file, stats) {
    fs.writeFileSync(file + ".tmp", JSON.stringify(stats) + "\n");
    fs.renameSync(file + ".tmp", file);
}

function getJSON(hostport, path) {
    return new Promise((resolve) => {
        const req = http.get(`http://${hostport}${path}`, { timeout: 5000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d) => (body += d));
            res.on("end", () => { try { resolve(JSON.parse(body)); } catch { resolve(null); } });
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(null));
    });
}

// sink PORT STATSFILE: takes an HTTP POST of one JSON event (200) and the
// WebSocket links a repeater dials (/connect/ROOM/ID, Binary frames)
function sink(port, file) {
    const stats = { http_events: 0, ws_events: 0, bytes: 0, links_opened: 0, links_open: 0, bad: 0 };
    const server = http.createServer((req, res) => {
        if (req.method === "GET" && req.url === "/stats") {
            res.writeHead(200, { "Content-Type": "application/json" });
            return res.end(JSON.stringify(stats));
        }
        let size = 0;
        req.on("data", (d) => (size += d.length));
        req.on("end", () => {
            if (req.method === "POST") { stats.http_events++; stats.bytes += size; } else stats.bad++;
            res.writeHead(200, { "Content-Type": "text/plain" });
            res.end("ok");
        });
    });
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    server.on("upgrade", (req, socket, head) => {
        if (!/^\/connect\/[^/]+\/[^/]+$/.test(req.url)) return socket.destroy();
        wss.handleUpgrade(req, socket, head, (ws) => {
            stats.links_opened++;
            stats.links_open++;
            ws.on("message", (data, isBinary) => {
                if (isBinary) { stats.ws_events++; stats.bytes += data.length; } else stats.bad++;
            });
            ws.on("close", () => stats.links_open--);
            ws.on("error", () => {});
        });
    });
    server.listen(port, "127.0.0.1");
    setInterval(() => dumpTo(file, stats), 1000).unref();
    process.on("SIGTERM", () => { dumpTo(file, stats); process.exit(0); });
}

// churn EDGE_PORT REPEATER_PORT STATSFILE: a listener on the edge for room
// SOAK-POST for the whole run; once the hub confirmed it, a steady POST /send
// stream to the repeater for that room, and every SOAK_CHURN_EVERY s a wave
// of messengers that connect, register SOAK_CHURN_ROOMS rooms (SOAK-POST and
// SOAK-CHURN-n) and leave 1-2 waves later (a close, an unregister then a
// close, or a dropped socket), plus an outside system that connects to the
// repeater, sends 5 events and leaves. Every accepted event must reach the
// listener once. Its own rooms only: the rounds' checks stay exact.
function churn(edgePort, repPort, file) {
    const env = process.env;
    const postRate = Number(env.SOAK_POST_RATE), every = Number(env.SOAK_CHURN_EVERY) * 1000;
    const clients = Number(env.SOAK_CHURN_CLIENTS), roomsEach = Number(env.SOAK_CHURN_ROOMS);
    const room = "SOAK-POST";
    const stats = {
        posts: 0, posts_ok: 0, posts_refused: 0, posts_failed: 0,
        outside_conns: 0, outside_sent: 0, outside_errors: 0,
        received: 0, duplicates: 0, listener_closed: 0,
        churn_connected: 0, churn_registered: 0, churn_refused: 0, churn_errors: 0,
        churn_closed_by_server: 0, churn_open: 0, churn_received: 0,
    };
    const seen = new Set();
    let seq = 0, stopping = false;
    const timers = [];
    const event = (src, n) => JSON.stringify({
        "generating-system": "soak", timestamp: new Date().toISOString(), "event-tags": ["soak"],
        "affected-room": { buildingID: "SOAK", roomID: room }, key: "soak", value: String(n),
        user: "", data: { src, seq: n },
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

    function postOne() {
        const body = event("post", ++seq);
        stats.posts++;
        const req = http.request({ host: "127.0.0.1", port: repPort, path: "/send", method: "POST", agent,
            timeout: 5000, headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } },
            (res) => { res.resume(); if (res.statusCode === 200) stats.posts_ok++; else stats.posts_refused++; });
        req.on("timeout", () => req.destroy());
        req.on("error", () => stats.posts_failed++);
        req.end(body);
    }

    function outsideOnce() {
        const ws = new WebSocket(`ws://127.0.0.1:${repPort}/connect/${room}/soak-outside-${stats.outside_conns++}`,
            { perMessageDeflate: false });
        ws.on("open", () => {
            for (let i = 0; i < 5; i++) {
                ws.send(Buffer.from(`${room}\n${event("ws", ++seq)}`), { binary: true });
                stats.outside_sent++;
            }
            setTimeout(() => ws.close(1000), 200);
        });
        ws.on("message", (data, isBinary) => { if (!isBinary) stats.outside_errors++; });
        ws.on("error", () => stats.outside_errors++);
    }

    function churnClient(i) {
        const ws = new WebSocket(`ws://127.0.0.1:${edgePort}/connect/messenger`, { perMessageDeflate: false });
        let registered = false, opened = false, leaving = false;
        ws.on("open", () => {
            opened = true;
            stats.churn_connected++;
            stats.churn_open++;
            const rooms = [room];
            for (let r = 1; r < roomsEach; r++) rooms.push(`SOAK-CHURN-${(i * 7 + r) % 50}`);
            ws.send(JSON.stringify({ rooms, create: true }));
            setTimeout(() => {
                leaving = true;
                if (i % 3 === 0) ws.close(1000);
                else if (i % 3 === 1) {
                    ws.send(JSON.stringify({ rooms, create: false }));
                    setTimeout(() => ws.close(1000), 100);
                } else ws.terminate();
            }, every * (1 + Math.random()));
        });
        ws.on("message", (data, isBinary) => {
            if (isBinary) stats.churn_received++;
            else if (!registered && String(data).includes("registered")) { registered = true; stats.churn_registered++; }
            else if (String(data).includes("error")) stats.churn_errors++;
        });
        ws.on("unexpected-response", (req, res) => { stats.churn_refused++; res.resume(); });
        ws.on("error", () => { if (!leaving) stats.churn_errors++; });
        ws.on("close", () => {
            if (!opened) return;
            stats.churn_open--;
            if (!leaving && !stopping) stats.churn_closed_by_server++;
        });
    }

    const listener = new WebSocket(`ws://127.0.0.1:${edgePort}/connect/messenger`, { perMessageDeflate: false });
    listener.on("open", () => listener.send(JSON.stringify({ rooms: [room], create: true })));
    listener.on("close", () => { if (!stopping) stats.listener_closed++; });
    listener.on("error", () => {});
    listener.on("message", (data, isBinary) => {
        if (isBinary) {
            const text = data.toString();
            const n = JSON.parse(text.slice(text.indexOf("\n") + 1)).data.seq;
            if (seen.has(n)) stats.duplicates++; else { seen.add(n); stats.received++; }
            return;
        }
        if (timers.length || !String(data).includes("registered")) return;
        if (postRate > 0) timers.push(setInterval(postOne, 1000 / postRate));
        let wave = 0;
        const tick = () => {
            for (let i = 0; i < clients; i++) churnClient(wave * clients + i);
            outsideOnce();
            wave++;
        };
        tick();
        timers.push(setInterval(tick, every));
        fs.writeFileSync(file + ".ready", "");
    });
    setInterval(() => dumpTo(file, stats), 1000);
    // SIGTERM: no new load; what is in flight arrives within 2 s, then the
    // clients still open close and the counters are final
    process.on("SIGTERM", () => {
        stopping = true;
        timers.forEach(clearInterval);
        setTimeout(() => { dumpTo(file, stats); process.exit(0); }, 2000);
    });
}

// snapshot EDGE HUB_HTTP REPEATER SINK: every counter soak.sh uses
async function snapshot(edge, hub, rep, sinkAddr) {
    const [e, h, r, s] = await Promise.all([getJSON(edge, "/status"), getJSON(hub, "/status"),
        getJSON(rep, "/status"), getJSON(sinkAddr, "/stats")]);
    const out = [];
    const put = (k, v) => out.push(`${k}\t${v === undefined || v === null ? "NA" : v}`);
    for (const [name, st] of [["edge", e], ["rep_edge", r]]) {
        if (!st) continue;
        const c = st.edge.counters;
        for (const k of ["queue_full", "hub_unreachable", "malformed"]) put(`${name}.drops.${k}`, c.drops[k]);
        for (const k of ["lost_upstream", "delivered", "events_in", "posted", "closed_stuck", "closed_silent",
            "refused_full"]) put(`${name}.${k}`, c[k]);
        put(`${name}.clients`, st.edge.clients.length);
        put(`${name}.rooms`, Object.keys(st.edge.rooms).length);
        const heap = st.edge.memory?.heap_in_use;
        put(`${name}.heap_kib`, heap === undefined ? undefined : Math.round(heap / 1024));
    }
    if (h) {
        for (const k of Object.keys(h.drops)) put(`hub.drops.${k}`, h.drops[k]);
        put("hub.drops", Object.values(h.drops).reduce((a, b) => a + b, 0));
        put("hub.rooms", Object.keys(h.rooms).length);
        put("hub.connections", Object.values(h.connections).reduce((a, b) => a + b, 0));
        put("hub.published", h.deliveries.published);
        put("hub.to_repeater", h.deliveries.repeater);
    }
    if (r) {
        const t = r.repeater.targets[0] || {};
        put("rep.to_targets", r.repeater.events_to_targets);
        put("rep.no_target", r.repeater.events_for_no_target);
        put("rep.target_sent", t.sent);
        put("rep.target_failed", t.failed);
        put("rep.target_dropped", t.dropped_queue_full);
        put("rep.target_links", t.links);
    }
    if (s) put("sink.events", s.http_events + s.ws_events);
    process.stdout.write(out.join("\n") + "\n");
}

// warm PORT N HOLD_MS: N outside systems on the repeater at once, held for
// HOLD_MS, then closed; prints how many were open together
function warm(port, n, holdMs) {
    let open = 0, most = 0, done = 0;
    const sockets = [];
    for (let i = 0; i < n; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/connect/SOAK-WARM/warm-${i}`, { perMessageDeflate: false });
        ws.on("open", () => { most = Math.max(most, ++open); });
        ws.on("error", () => {});
        ws.on("close", () => { if (++done === n) { console.log(`${most} of ${n} open at once`); process.exit(0); } });
        sockets.push(ws);
    }
    setTimeout(() => sockets.forEach((ws) => ws.close(1000)), holdMs);
    setTimeout(() => { console.log(`${most} of ${n} open at once (some did not close)`); process.exit(0); }, holdMs + 10000);
}

if (mode === "sink") sink(Number(args[0]), args[1]);
else if (mode === "churn") churn(Number(args[0]), Number(args[1]), args[2]);
else if (mode === "snapshot") snapshot(...args);
else if (mode === "warm") warm(Number(args[0]), Number(args[1]), Number(args[2]));
else { console.error("usage: soak-helper.cjs sink|churn|snapshot|warm ..."); process.exit(2); }
JS

# --- start the servers ------------------------------------------------------
EDGE_PORT=$(free_port)
REP_PORT=$(free_port)
ROUTER_PORT=$(free_port)
PUB_PORT=$(free_port)
HUB_HTTP_PORT=$(free_port)
SINK_PORT=$(free_port)
EDGE=127.0.0.1:$EDGE_PORT
REP=127.0.0.1:$REP_PORT
HUB_HTTP=127.0.0.1:$HUB_HTTP_PORT
SINK=127.0.0.1:$SINK_PORT

die() { log "$*"; exit 1; }
# info: the servers log link losses, reconnections and the clients they
# close, nothing per event
LOG_LEVEL=info

log "starting the central sink, ces-hub, ces-edge and ces-repeater (logs in $OUT)"
start "$OUT/sink.log" node "$HELPER" sink "$SINK_PORT" "$OUT/sink.json"
SINK_PID=$LAST_PID
wait_for "$SINK_PID" 10 http_ok "$SINK/stats" || die "the sink did not start: $(tail -3 "$OUT/sink.log")"

start "$OUT/ces-hub.log" "$BUILD/ces-hub" --router "tcp://127.0.0.1:$ROUTER_PORT" \
    --pub "tcp://127.0.0.1:$PUB_PORT" --http "$HUB_HTTP" --log-level "$LOG_LEVEL"
HUB_PID=$LAST_PID
wait_for "$HUB_PID" 10 http_ok "$HUB_HTTP/health" || die "ces-hub did not start: $(tail -3 "$OUT/ces-hub.log")"

# 1000 clients, as the soak was measured with (the default is 10,000): the
# warm-up below touches every worker's stack before the RSS baseline
start "$OUT/ces-edge.log" "$BUILD/ces-edge" --listen "$EDGE" --max-clients 1000 \
    --hub-router "tcp://127.0.0.1:$ROUTER_PORT" --hub-pub "tcp://127.0.0.1:$PUB_PORT" --log-level "$LOG_LEVEL"
EDGE_PID=$LAST_PID
wait_for "$EDGE_PID" 30 http_ok "$EDGE/health" || die "ces-edge did not start: $(tail -3 "$OUT/ces-edge.log")"

# The sink as a WebSocket target: what a central repeater is; an http://
# target would open one connection per event
start "$OUT/ces-repeater.log" "$BUILD/ces-repeater" --listen "$REP" \
    --hub "tcp://127.0.0.1:$ROUTER_PORT" --central "ws://$SINK" --system-id soak --log-level "$LOG_LEVEL"
REP_PID=$LAST_PID
wait_for "$REP_PID" 10 status_has "$REP" '"in_rotation":true' ||
    die "ces-repeater did not join the rotation: $(tail -3 "$OUT/ces-repeater.log")"
wait_for "$HUB_PID" 10 status_has "$HUB_HTTP" '"repeaters":1' || die "the hub does not see the repeater"
wait_threads "$EDGE_PID"
wait_threads "$REP_PID"
# Warm-up: civetweb gives each connection one of its ~1000 worker threads,
# and a thread's stack is only touched when it first serves one (~32 KiB
# each). Rounds of 500 clients reach new workers for many minutes, so the
# edge would grow by ~32 MiB with no leak at all: touch them all first, by
# holding as many connections at once as the edge has client workers; the
# same on the repeater, with outside systems (its clients over the soak)
log "warm-up: 990 connections held at once on the edge (every worker thread serves one)"
"$BUILD/ces_loadgen" --port "$EDGE_PORT" --idle 990 --hold 2 --quiet >"$OUT/warmup.out" 2>&1 ||
    log "warm-up: ces_loadgen exited $? (see $OUT/warmup.out)"
log "warm-up: the repeater: $(node "$HELPER" warm "$REP_PORT" 990 2000 2>&1 | tail -1)"
SERVERS="hub:$HUB_PID edge:$EDGE_PID repeater:$REP_PID"
log "hub $HUB_PID (router $ROUTER_PORT, http $HUB_HTTP_PORT), edge $EDGE_PID ($EDGE_PORT)," \
    "repeater $REP_PID ($REP_PORT), sink $SINK_PID ($SINK_PORT)"

servers_alive() { # prints the servers that died
    local entry dead=
    for entry in $SERVERS; do
        alive "${entry#*:}" || dead="$dead ${entry%%:*}"
    done
    echo "$dead"
}

# --- samples ----------------------------------------------------------------
# snapshot FILE: every /status counter, "key<TAB>value"
snapshot() { node "$HELPER" snapshot "$EDGE" "$HUB_HTTP" "$REP" "$SINK" >"$1" 2>/dev/null || true; }
# get FILE KEY [DEFAULT]: one value (DEFAULT, 0, when missing)
get() {
    [ -e "$1" ] || { echo "${3:-0}"; return; }
    awk -F'\t' -v k="$2" -v d="${3:-0}" '$1 == k { v = $2 } END { print (v == "" || v == "NA") ? d : v }' "$1"
}

# settled_snapshot FILE: a snapshot once the repeater path is idle: every
# event the hub handed the repeater is accounted for by its one target (sent,
# failed or dropped as queue full) and the sink has what the target sent (up
# to 10 s; what is missing then is loss). events_for_no_target is left out:
# the repeater counts a queue-full drop there too, and here every event has
# the "*" target.
settled_snapshot() {
    local f=$1 gap
    for _ in $(seq 20); do
        snapshot "$f"
        gap=$(awk -F'\t' '{ v[$1] = $2 } END {
            print (v["hub.to_repeater"] - v["rep.to_targets"]) " " \
                (v["rep.to_targets"] - v["rep.target_sent"] - v["rep.target_failed"] - v["rep.target_dropped"]) " " \
                (v["rep.target_sent"] - v["sink.events"]) }' "$f")
        [ "$gap" != "0 0 0" ] || return 0
        sleep 0.5
    done
    log "the repeater path did not settle in 10 s (hub->repeater, repeater->target, target->sink gaps: $gap)"
}

SAMPLES=$OUT/samples.tsv
printf 'seconds\ttag\tround\thub_kib\tedge_kib\trepeater_kib\tedge_queue_full\tedge_lost_upstream\tedge_hub_unreachable\tedge_malformed\thub_drops\trepeater_target_dropped\trepeater_target_failed\thub_rooms\tedge_clients\tedge_heap_kib\trepeater_heap_kib\n' >"$SAMPLES"
ROUND=0
# sample TAG: RSS of the three servers and their drop counters, one line
sample() {
    local snap=$OUT/snap-last.tsv
    snapshot "$snap"
    local line
    line=$(printf '%s\t%s\t%s\t%s\t%s\t%s' "$(($(date +%s) - SOAK_T0))" "$1" "$ROUND" \
        "$(rss_kib "$HUB_PID")" "$(rss_kib "$EDGE_PID")" "$(rss_kib "$REP_PID")")
    for key in edge.drops.queue_full edge.lost_upstream edge.drops.hub_unreachable edge.drops.malformed \
        hub.drops rep.target_dropped rep.target_failed hub.rooms edge.clients edge.heap_kib rep_edge.heap_kib; do
        line="$line"$'\t'"$(get "$snap" "$key")"
    done
    echo "$line" >>"$SAMPLES"
    echo "$line" | awk -F'\t' '{ printf "RSS KiB hub %s, edge %s (heap in use %s), repeater %s (%s); edge queue_full %s, lost_upstream %s; hub drops %s; repeater target dropped %s; hub rooms %s, edge clients %s\n", $4, $5, $16, $6, $17, $7, $8, $11, $12, $14, $15 }'
}

# idle_until EPOCH [PID]: waits until EPOCH, or until PID ended, sampling every
# SAMPLE_SECONDS and checking that the servers are alive
NEXT_SAMPLE=0
FAILURES=()
DEAD=
idle_until() {
    local until=$1 pid=${2:-} dead
    while [ "$(date +%s)" -lt "$until" ]; do
        if [ -n "$pid" ] && ! alive "$pid"; then return 0; fi
        DEAD=$(servers_alive)
        [ -z "$DEAD" ] || return 1
        if [ "$(date +%s)" -ge "$NEXT_SAMPLE" ]; then
            log "sample: $(sample periodic)"
            NEXT_SAMPLE=$((NEXT_SAMPLE + SAMPLE_SECONDS))
        fi
        sleep 1
    done
}

# --- ces_loadgen ------------------------------------------------------------
RESULTS=$OUT/loadgen.tsv
: >"$RESULTS"
# loadgen NAME ARGS...: one run with fresh clients in the background, LG_PID
loadgen() {
    local name=$1
    shift
    start "$OUT/$name.out" "$LOADGEN" --port "$EDGE_PORT" --status "$EDGE" --hub-status "$HUB_HTTP" \
        --pid "$HUB_PID" --pid "$EDGE_PID" --pid "$REP_PID" --rooms "$ROOMS" --subs-per-room "$SUBS" \
        --pubs "$PUBS" --size "$SIZE" --label soak --scenario "$name" --tsv "$RESULTS" "$@"
    LG_PID=$LAST_PID
}
# loadgen_result NAME: its result line (TSV: scenario label flow rate p50 p99
# p99.9 max sent expected delivered drops dups PASS/FAIL ...), empty if none
loadgen_result() { awk -F'\t' -v s="$1" '$1 == s' "$RESULTS" | tail -1; }

# --- 1. capacity: the soak scenario as fast as possible -----------------------
SOAK_T0=$(date +%s) # the samples' clock (reset when the soak starts)
log "capacity: $ROOMS rooms x $SUBS subscribers, $PUBS publishers, $SIZE-byte events, as fast as possible for ${CAPACITY_SECONDS} s"
loadgen capacity --rate 0 --window "$WINDOW" --duration "$CAPACITY_SECONDS"
rc=0
wait "$LG_PID" || rc=$?
forget "$LG_PID"
CAP_LINE=$(loadgen_result capacity)
[ -n "$CAP_LINE" ] || die "the capacity run failed (exit $rc): $(tail -5 "$OUT/capacity.out")"
CAPACITY=$(echo "$CAP_LINE" | cut -f4)
grep -E "deliveries/s|PASS|FAIL" "$OUT/capacity.out" | sed 's/^/    /' >&2
[ "$CAPACITY" -gt 0 ] || die "the capacity run delivered nothing"
# open loop at LOAD_PERCENT of it: ces_loadgen's --rate is events/s, each
# event goes to SUBS subscribers
RATE=$((CAPACITY * LOAD_PERCENT / 100 / SUBS))
[ "$RATE" -gt 0 ] || RATE=1
log "capacity $CAPACITY deliveries/s: soak at $RATE events/s ($((RATE * SUBS)) deliveries/s)," \
    "$ROUNDS rounds of ${ROUND_SECONDS} s"

# --- 2. the soak ------------------------------------------------------------
settled_snapshot "$OUT/snap-start.tsv"
start "$OUT/churn.log" node "$HELPER" churn "$EDGE_PORT" "$REP_PORT" "$OUT/churn.json"
CHURN_PID=$LAST_PID
wait_for "$CHURN_PID" 10 test -e "$OUT/churn.json.ready" || die "the churn did not start: $(tail -3 "$OUT/churn.log")"
log "churn: $SOAK_CHURN_CLIENTS messengers every ${SOAK_CHURN_EVERY} s ($SOAK_CHURN_ROOMS rooms each)," \
    "an outside system every ${SOAK_CHURN_EVERY} s, POST /send $SOAK_POST_RATE/s"

SOAK_T0=$(date +%s)
CPU0="$(cpu_ticks "$HUB_PID") $(cpu_ticks "$EDGE_PID") $(cpu_ticks "$REP_PID")"
NEXT_SAMPLE=$SOAK_T0
ROUNDS_RUN=0
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    round_end=$((SOAK_T0 + ROUND * ROUND_SECONDS))
    # ~4 s of each round: connecting 500 clients, the drain, the closes
    loadgen "round$ROUND" --rate "$RATE" --duration $((ROUND_SECONDS - 4))
    idle_until $((round_end + 30)) "$LG_PID" || break
    rc=0
    if alive "$LG_PID"; then # stuck: counted as a failed round
        stop "$LG_PID"
        rc=124
    fi
    wait "$LG_PID" 2>/dev/null || rc=$?
    forget "$LG_PID"
    ROUNDS_RUN=$ROUND
    line=$(loadgen_result "round$ROUND")
    if [ -z "$line" ]; then
        FAILURES+=("round $ROUND did not run (ces_loadgen exit $rc): $(tail -2 "$OUT/round$ROUND.out" | tr '\n' ' ')")
        log "round $ROUND/$ROUNDS: ces_loadgen failed (exit $rc), see $OUT/round$ROUND.out"
    else
        echo "$line" | awk -F'\t' -v r="$ROUND" -v n="$ROUNDS" '{
            printf "round %d/%d: sent %d, delivered %d + drops %d %s expected %d (unexplained %d) %s; p99 %.0f us\n",
                r, n, $9, $11, $12, ($11 + $12 == $10 ? "=" : "!="), $10, $10 - $11 - $12, $14, $6 }' |
            while read -r text; do log "$text"; done
    fi
    sleep 1 # the round's clients are gone before the round's RSS is read
    log "round $ROUND end: $(sample round-end)"
    [ "$ROUND" -lt "$ROUNDS" ] || break
    idle_until "$round_end" || break
done
# after a failure: the round's ces_loadgen may still run
if alive "${LG_PID:-0}"; then stop "$LG_PID"; fi
CPU1="$(cpu_ticks "$HUB_PID") $(cpu_ticks "$EDGE_PID") $(cpu_ticks "$REP_PID")"
CPU_SECONDS=$(($(date +%s) - SOAK_T0))

# --- 3. the end: stop the churn, let what is in flight arrive ---------------
stop "$CHURN_PID" 8
settled_snapshot "$OUT/snap-end.tsv"
# every client has left: the hub and the edge should hold no room or client
for _ in $(seq 20); do
    snapshot "$OUT/snap-empty.tsv"
    [ "$(get "$OUT/snap-empty.tsv" hub.rooms)" != 0 ] || [ "$(get "$OUT/snap-empty.tsv" edge.clients)" != 0 ] || break
    sleep 0.5
done
DEAD=$(servers_alive)
[ -z "$DEAD" ] || FAILURES+=("a server died:$DEAD (see its log in $OUT)")
ELAPSED=$(($(date +%s) - START_TIME))
SOAK_ELAPSED=$(($(date +%s) - SOAK_T0))

# --- 4. the report ------------------------------------------------------------
fmt() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; } # 1234567 -> 1,234,567
d() { echo $(($(get "$OUT/snap-end.tsv" "$1") - $(get "$OUT/snap-start.tsv" "$1"))); } # counter delta over the soak
# Column C of the samples after round N (RSS: 4 hub, 5 edge, 6 repeater;
# heap in use: 16 edge, 17 repeater)
at_round_end() { awk -F'\t' -v r="$1" -v c="$2" '$2 == "round-end" && $3 == r { v = $c } END { print v + 0 }' "$SAMPLES"; }
rss_max() { awk -F'\t' -v c="$1" -v t="$2" 'NR > 1 && $1 >= t && $c > m { m = $c } END { print m + 0 }' "$SAMPLES"; }

# loadgen totals over the rounds, and the capacity run's own check
read -r L_SENT L_EXPECTED L_DELIVERED L_DROPS L_DUPS L_FAILS < <(awk -F'\t' '$1 ~ /^round/ {
    s += $9; e += $10; dl += $11; dr += $12; du += $13; if ($14 != "PASS") f++ }
    END { print s + 0, e + 0, dl + 0, dr + 0, du + 0, f + 0 }' "$RESULTS")
L_UNEXPLAINED=$((L_EXPECTED - L_DELIVERED - L_DROPS))
CAP_UNEXPLAINED=$(echo "$CAP_LINE" | awk -F'\t' '{ print $10 - $11 - $12 }')

# the repeater path: what the hub handed the repeater, what it did with it,
# what the sink got
R_HANDED=$(d hub.to_repeater)
R_TOOK=$(d rep.to_targets)
R_NOTARGET=$(d rep.no_target)
R_SENT=$(d rep.target_sent)
R_FAILED=$(d rep.target_failed)
R_DROPPED=$(d rep.target_dropped)
R_SINK=$(d sink.events)
R_UNEXPLAINED=$(((R_HANDED - R_TOOK) + (R_TOOK - R_SENT - R_FAILED - R_DROPPED) + (R_SENT - R_SINK)))

# the churn's stream: accepted POSTs and outside events, all to the listener
C=$OUT/churn.json
cj() { node -e 'const s = require(process.argv[1]); console.log(s[process.argv[2]] ?? 0)' "$C" "$1" 2>/dev/null || echo 0; }
P_POSTS=$(cj posts); P_OK=$(cj posts_ok); P_REFUSED=$(cj posts_refused); P_FAILED=$(cj posts_failed)
P_OUTSIDE=$(cj outside_sent); P_OUT_ERR=$(cj outside_errors)
P_RECEIVED=$(cj received); P_DUPS=$(cj duplicates); P_LCLOSED=$(cj listener_closed)
P_UNEXPLAINED=$((P_OK + P_OUTSIDE - P_RECEIVED))
CH_CONN=$(cj churn_connected); CH_REG=$(cj churn_registered); CH_REF=$(cj churn_refused)
CH_ERR=$(cj churn_errors); CH_CLOSED=$(cj churn_closed_by_server)

UNEXPLAINED=$((L_UNEXPLAINED + CAP_UNEXPLAINED + R_UNEXPLAINED + P_UNEXPLAINED))
[ "$L_UNEXPLAINED" = 0 ] || FAILURES+=("unexplained loss in the rounds: $L_UNEXPLAINED deliveries")
[ "$CAP_UNEXPLAINED" = 0 ] || FAILURES+=("unexplained loss in the capacity run: $CAP_UNEXPLAINED deliveries")
[ "$R_UNEXPLAINED" = 0 ] || FAILURES+=("unexplained loss on the repeater path: $R_UNEXPLAINED events")
[ "$P_UNEXPLAINED" = 0 ] || FAILURES+=("unexplained loss of POST /send and outside events: $P_UNEXPLAINED")
[ "$L_DUPS" = 0 ] && [ "$P_DUPS" = 0 ] || FAILURES+=("duplicates: $L_DUPS in the rounds, $P_DUPS at the listener")
[ "$L_FAILS" = 0 ] || FAILURES+=("$L_FAILS rounds failed ces_loadgen's check (see round*.out in $OUT)")
[ "$ROUNDS_RUN" = "$ROUNDS" ] || FAILURES+=("only $ROUNDS_RUN of $ROUNDS rounds ran")

# RSS: after warm-up (round 1), the middle round, the last round
MID=$(((ROUNDS_RUN + 2) / 2))
[ "$ROUNDS_RUN" -ge 3 ] || MID=$ROUNDS_RUN
WARM_T=$(awk -F'\t' '$2 == "round-end" && $3 == 1 { print $1; exit }' "$SAMPLES")
RSS_ROWS=
RSS_FLAT=1
TCK=$(getconf CLK_TCK)
read -r -a C0 <<<"$CPU0"
read -r -a C1 <<<"$CPU1"
for entry in "ces-hub:4" "ces-edge:5" "ces-repeater:6"; do
    name=${entry%%:*} col=${entry#*:}
    cpu=$(awk -v a="${C0[col - 4]}" -v b="${C1[col - 4]}" -v t="$TCK" -v s="$CPU_SECONDS" \
        'BEGIN { if (b < a) print "died"; else printf "%.0f (%.2f)", (b - a) / t, (s > 0 ? (b - a) / t / s : 0) }')
    s=$(at_round_end 1 "$col") m=$(at_round_end "$MID" "$col") e=$(at_round_end "$ROUNDS_RUN" "$col")
    peak=$(rss_max "$col" "${WARM_T:-0}")
    growth=$((e - s))
    allowed=$((s * RSS_PERCENT / 100))
    [ "$allowed" -ge $((RSS_MIB * 1024)) ] || allowed=$((RSS_MIB * 1024))
    pct=$(awk -v g="$growth" -v s="$s" 'BEGIN { printf "%+.1f%%", (s > 0 ? 100 * g / s : 0) }')
    flat=yes
    if [ "$s" = 0 ] || [ "$growth" -gt "$allowed" ]; then
        flat=NO
        RSS_FLAT=0
        FAILURES+=("$name RSS not flat: $(fmt "$s") -> $(fmt "$e") KiB (allowed +$(fmt "$allowed") KiB)")
    fi
    RSS_ROWS="$RSS_ROWS| $name | $(fmt "$s") | $(fmt "$m") | $(fmt "$e") | $(fmt "$peak") | $(fmt "$growth") | $pct | $(fmt "$allowed") | $flat | $cpu |"$'\n'
done

VERDICT=PASS
[ ${#FAILURES[@]} = 0 ] || VERDICT=FAIL
MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- src include hub edge 2>/dev/null ||
    COMMIT="$COMMIT (with uncommitted changes in the sources)"
CAP_CHECK=$(echo "$CAP_LINE" | awk -F'\t' '{ print $14 }')
REPORT=$OUT/report.md
{
    echo "## Soak, $(date -u '+%Y-%m-%d %H:%M UTC'), SOAK_SECONDS=$SOAK_SECONDS: **$VERDICT**"
    echo
    echo "Machine: $(hostname), $(nproc) cores, $MODEL, Linux $(uname -r); commit $COMMIT;" \
        "run time ${ELAPSED} s (soak ${SOAK_ELAPSED} s); load average $LOAD_START at the start," \
        "$(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo
    echo "Scenario: $ROOMS rooms x $SUBS subscribers, $PUBS publishers, $SIZE-byte events." \
        "Capacity: $(fmt "$CAPACITY") deliveries/s (${CAPACITY_SECONDS} s as fast as possible, check $CAP_CHECK)." \
        "Soak at $LOAD_PERCENT%: $(fmt "$RATE") events/s = $(fmt $((RATE * SUBS))) deliveries/s open loop," \
        "$ROUNDS_RUN of $ROUNDS rounds of ${ROUND_SECONDS} s, each with fresh clients." \
        "Churn: $SOAK_CHURN_CLIENTS messengers every ${SOAK_CHURN_EVERY} s ($(fmt "$CH_CONN") connected," \
        "$(fmt "$CH_REG") registered, $CH_REF refused, $CH_ERR errors, $CH_CLOSED closed by the server)," \
        "an outside WebSocket every ${SOAK_CHURN_EVERY} s, POST /send $SOAK_POST_RATE/s."
    echo
    echo "| process | RSS KiB after warm-up (round 1) | middle (round $MID) | end (round $ROUNDS_RUN) | max | growth KiB | growth | allowed | flat | CPU s over the soak (cores) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"
    printf '%s' "$RSS_ROWS"
    echo
    echo "Heap in use (glibc's count of allocated bytes, \`/status\` edge.memory; it grows only if memory is" \
        "held, where RSS also grows with fragmentation), KiB after round 1 / $MID / $ROUNDS_RUN:" \
        "edge $(fmt "$(at_round_end 1 16)") / $(fmt "$(at_round_end "$MID" 16)") / $(fmt "$(at_round_end "$ROUNDS_RUN" 16)")," \
        "repeater $(fmt "$(at_round_end 1 17)") / $(fmt "$(at_round_end "$MID" 17)") / $(fmt "$(at_round_end "$ROUNDS_RUN" 17)")."
    echo
    echo "| traffic | sent | expected | delivered | dropped (counted) | unexplained |"
    echo "|---|---:|---:|---:|---:|---:|"
    echo "| ces_loadgen rounds: events, deliveries | $(fmt "$L_SENT") | $(fmt "$L_EXPECTED") | $(fmt "$L_DELIVERED") | $(fmt "$L_DROPS") | $(fmt "$L_UNEXPLAINED") |"
    echo "$CAP_LINE" | awk -F'\t' '{ printf "| capacity run: events, deliveries | %d | %d | %d | %d | %d |\n", $9, $10, $11, $12, $10 - $11 - $12 }' |
        sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'
    echo "| repeater → central sink (WebSocket): events | $(fmt "$R_HANDED") handed by the hub | $(fmt "$R_TOOK") taken by the repeater | $(fmt "$R_SINK") at the sink ($(fmt "$R_SENT") sent) | $(fmt "$R_DROPPED") target queue full, $(fmt "$R_FAILED") failed | $(fmt "$R_UNEXPLAINED") |"
    echo "| POST /send + outside WebSocket → listener | $(fmt "$P_POSTS") + $(fmt "$P_OUTSIDE") | $(fmt $((P_OK + P_OUTSIDE))) accepted | $(fmt "$P_RECEIVED") | $P_REFUSED refused, $P_FAILED failed, $P_OUT_ERR errors; listener closed $P_LCLOSED times | $(fmt "$P_UNEXPLAINED") |"
    echo
    echo "<details><summary>Each round: check, latency, CPU and RSS after it</summary>"
    echo
    echo "| round | events sent | delivered + drops = expected | check | p99 ms | max ms | CPU s: servers / anything else | RSS KiB after: hub / edge / repeater |"
    echo "|---:|---:|---:|---|---:|---:|---:|---:|"
    awk -F'\t' 'FNR == NR { if ($2 == "round-end") rss[$3] = $4 " / " $5 " / " $6; next }
        $1 ~ /^round/ { r = substr($1, 6)
            printf "| %s | %d | %d + %d %s %d | %s | %.0f | %.0f | %.0f / %.0f | %s |\n", r, $9, $11, $12,
                ($11 + $12 == $10 ? "=" : "≠"), $10, $14, $6 / 1000, $8 / 1000, $15, $19, rss[r] }' "$SAMPLES" "$RESULTS" |
        sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'
    echo
    echo "</details>"
    echo
    echo "Drops by reason over the soak (/status counter deltas): edge queue_full $(fmt "$(d edge.drops.queue_full)")," \
        "hub_unreachable $(d edge.drops.hub_unreachable), malformed $(d edge.drops.malformed)," \
        "lost_upstream $(fmt "$(d edge.lost_upstream)"); hub no_route $(d hub.drops.no_route)," \
        "peer_gone $(d hub.drops.peer_gone), queue_full $(fmt "$(d hub.drops.queue_full)"), malformed $(d hub.drops.malformed)," \
        "unknown_peer $(d hub.drops.unknown_peer); repeater (outside side) queue_full $(d rep_edge.drops.queue_full)," \
        "hub_unreachable $(d rep_edge.drops.hub_unreachable), malformed $(d rep_edge.drops.malformed);" \
        "repeater target queue full $(fmt "$R_DROPPED"), failed $(fmt "$R_FAILED")" \
        "(its events_for_no_target: $(fmt "$R_NOTARGET"), which counts the queue-full drops too)." \
        "Edge: $(d edge.closed_stuck) clients closed as stuck, $(d edge.closed_silent) as silent, $(d edge.refused_full) refused as full." \
        "Left after every client had gone: hub rooms $(get "$OUT/snap-empty.tsv" hub.rooms '?')," \
        "edge clients $(get "$OUT/snap-empty.tsv" edge.clients '?'), edge rooms $(get "$OUT/snap-empty.tsv" edge.rooms '?')," \
        "repeater clients $(get "$OUT/snap-empty.tsv" rep_edge.clients '?')."
    echo
    if [ "$VERDICT" = PASS ]; then
        echo "Verdict: **PASS**: unexplained loss $UNEXPLAINED; RSS flat (growth after warm-up within" \
            "max($RSS_PERCENT%, $RSS_MIB MiB) for each process)."
    else
        echo "Verdict: **FAIL**: unexplained loss $(fmt "$UNEXPLAINED");" \
            "RSS $([ "$RSS_FLAT" = 1 ] && echo flat || echo "not flat") (allowed: max($RSS_PERCENT%, $RSS_MIB MiB) after warm-up)."
        for f in "${FAILURES[@]}"; do echo "- $f"; done
    fi
    echo
} >"$REPORT"

echo
cat "$REPORT"
log "logs, samples ($SAMPLES) and the report in $OUT"
if [ -n "$APPEND" ]; then
    { echo; cat "$REPORT"; } >>"$APPEND"
    log "appended to $APPEND"
fi
[ "$VERDICT" = PASS ] || exit 1
exit 0
