#!/bin/sh
# Fault injection (issue 5, "Faults"): hub B lives in its own network
# namespace, joined to the root namespace by a veth pair; hub A is in the root
# namespace. The link between them is cut and restored three times: the
# root-side end of the veth goes down, then the end inside the namespace,
# then both ends stay up but every frame is black-holed (each side gets a
# permanent ARP entry with a wrong MAC, so the frames are silently dropped by
# the receiver, as behind a dead switch: neither kernel reports an error).
# Every time both hubs must notice, events sent during the cut must not be
# delivered, and the mesh must heal by itself: both hubs show the other "up"
# again, know what rooms it wants, and events flow both ways, with no request.
#
# Needs root (ip netns, veth). Without them it prints "SKIP: ..." and exits
# 77, which ctest reports as skipped (SKIP_RETURN_CODE 77), never as passed.
#
# usage: test_mesh_netns.sh [CES_HUB [EXAMPLE]]
#   defaults: build/ces-hub and build/ces-example-messenger next to tests/
# env: CES_NETNS_CUT_MS   how long each cut lasts at least (default 2500)
#      CES_NETNS_HEAL_MS  how long the mesh may take to heal (default 15000)
#      CES_NETNS_VERBOSE  if set, print the logs and status even on success
HERE=$(cd "$(dirname "$0")" && pwd)
HUB=${1:-$HERE/../build/ces-hub}
EXAMPLE=${2:-$HERE/../build/ces-example-messenger}
CUT_MS=${CES_NETNS_CUT_MS:-2500}
HEAL_MS=${CES_NETNS_HEAL_MS:-15000}
DETECT_MS=2000 # heartbeat 200 ms: a silent peer is dropped after 3 (600 ms)
. "$HERE/lib.sh"

NS="" VA="" SUBNET=""
ROUTER_PORT=7200 PUB_PORT=7201 HTTP_PORT=7202

# -- Diagnostics and cleanup ---------------------------------------------------
st_a () { curl -s -m 2 "http://$IPA:$HTTP_PORT/status"; }
st_b () { ip netns exec "$NS" curl -s -m 2 "http://$IPB:$HTTP_PORT/status"; }

dump () {
    echo "---- diagnostics"
    [ -n "$IPA" ] && echo "hub A /status: $(st_a)"
    [ -n "$NS" ] && echo "hub B /status: $(st_b)"
    [ -n "$VA" ] && ip -br addr show dev "$VA" 2>/dev/null | sed 's/^/root ns: /'
    [ -n "$NS" ] && ip netns exec "$NS" ip -br addr 2>/dev/null | sed 's/^/netns:   /'
    for log in "$CES_SCRATCH"/*.log; do
        [ -f "$log" ] || continue
        echo "---- $(basename "$log")"
        sed 's/^/    /' "$log"
    done
}

on_exit () {
    rc=$?
    trap - EXIT INT TERM
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || [ -n "$CES_NETNS_VERBOSE" ]; then
        dump
    fi
    # every process this test started, by PID (ip netns exec execs the
    # program, so its PID is the hub's or the messenger's own)
    ces_cleanup
    [ -n "$VA" ] && ip link del "$VA" 2>/dev/null
    [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

skip () { echo "SKIP: $1"; exit 77; }
fail () { echo "FAIL: $1"; exit 1; }

# -- Can we have a namespace at all? --------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "not root (ip netns and veth pairs need root)"
command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2)"
command -v curl >/dev/null 2>&1 || skip "no curl"
[ -x "$HUB" ] && [ -x "$EXAMPLE" ] || fail "no $HUB or $EXAMPLE (build first)"

# Processes get SIGTERM from the kernel when this shell dies, even by SIGKILL
# (a ctest timeout), when the trap cannot run
PDEATH=""
setpriv --pdeathsig TERM true 2>/dev/null && PDEATH="setpriv --pdeathsig TERM"

# A namespace left by a run that was killed (ces-netns-N-PID, PID dead, no
# process inside): remove it, and its veth pair with it
for old in $(ip netns list 2>/dev/null | sed -n 's/^\(ces-netns-[0-9]*-[0-9]*\).*/\1/p'); do
    kill -0 "${old##*-}" 2>/dev/null && continue
    [ -z "$(ip netns pids "$old" 2>/dev/null)" ] || continue
    echo "note: removing namespace $old left by an earlier run"
    # the root-side end first: a namespace can outlive its name (orphaned
    # sockets keep it) and the veth pair with it
    old_n=${old#ces-netns-}
    ip link del "cesa${old_n%-*}" 2>/dev/null
    ip netns del "$old" 2>/dev/null
done

# A free 10.231.N.0/30 and names nobody else uses (veth names <= 15 chars)
n=$(( $$ % 200 + 20 ))
tries=0
while ip -o -4 addr show 2>/dev/null | grep -q " 10\.231\.$n\." \
      || ip netns list 2>/dev/null | grep -q "^ces-netns-$n-" \
      || ip link show "cesa$n" >/dev/null 2>&1; do
    n=$(( n % 250 + 1 )); tries=$((tries + 1))
    [ "$tries" -gt 250 ] && skip "no free 10.231.N.0/30 subnet"
done
SUBNET="10.231.$n"
IPA="" IPB=""
ip netns add "ces-netns-$n-$$" 2>"$CES_SCRATCH/netns.err" \
    || skip "ip netns add failed: $(cat "$CES_SCRATCH/netns.err")"
NS="ces-netns-$n-$$"
ip link add "cesa$n" type veth peer name "cesb$n" 2>"$CES_SCRATCH/veth.err" \
    || skip "cannot create a veth pair: $(cat "$CES_SCRATCH/veth.err")"
VA="cesa$n" VB="cesb$n"
ip link set "$VB" netns "$NS" 2>"$CES_SCRATCH/veth.err" \
    || skip "cannot move a veth end into a namespace: $(cat "$CES_SCRATCH/veth.err")"
rm -f "$CES_SCRATCH"/*.err
IPA="$SUBNET.1" IPB="$SUBNET.2"
ip addr add "$IPA/30" dev "$VA" && ip link set "$VA" up \
    && ip netns exec "$NS" ip addr add "$IPB/30" dev "$VB" \
    && ip netns exec "$NS" ip link set "$VB" up \
    && ip netns exec "$NS" ip link set lo up \
    || fail "cannot configure the veth pair"
ces_ok "namespace $NS, $VA $IPA (root) <-> $VB $IPB (namespace)"

# -- Helpers ---------------------------------------------------------------------
now_ms () { date +%s%3N; }

# the state/link of a hub's only mesh peer, from its /status on stdin
peer_state () {
    sed -n 's/.*"peers":\[{[^]]*"state":"\([a-z]*\)","link":"\([a-z]*\)".*/\1\/\2/p'
}
# the rooms a hub's only mesh peer wants, from its /status on stdin
peer_wants () {
    sed -n 's/.*"peers":\[{.*"wants":\[\([^]]*\)\].*/\1/p'
}
no_route () { sed -n 's/.*"no_route":\([0-9]*\).*/\1/p'; }
from_messengers () { sed -n 's/.*"events_in":{"messenger":\([0-9]*\).*/\1/p'; }
from_hubs () { sed -n 's/.*"events_in":{"messenger":[0-9]*,"repeater":[0-9]*,"hub":\([0-9]*\)}.*/\1/p'; }
to_peer () { sed -n 's/.*"peers":\[{.*"events_out":\([0-9]*\).*/\1/p'; }

is_up () { case $1 in up/dialled | up/accepted) return 0 ;; esac; return 1; }

send_a () {
    timeout 10 "$EXAMPLE" --router "tcp://$IPA:$ROUTER_PORT" \
        --pub "tcp://$IPA:$PUB_PORT" --room "$1" --send "$2" \
        >>"$CES_SCRATCH/send.log" 2>&1 || fail "send $2 at hub A"
}
send_b () {
    timeout 10 ip netns exec "$NS" "$EXAMPLE" --router "tcp://$IPB:$ROUTER_PORT" \
        --pub "tcp://$IPB:$PUB_PORT" --room "$1" --send "$2" \
        >>"$CES_SCRATCH/send.log" 2>&1 || fail "send $2 at hub B"
}

# -- Two hubs, linked by one request, a subscriber at each ------------------------
ces_start hubA $PDEATH "$HUB" --hub-id netns-a --heartbeat 200 \
    --router "tcp://$IPA:$ROUTER_PORT" --pub "tcp://$IPA:$PUB_PORT" \
    --http "$IPA:$HTTP_PORT" --advertise "tcp://$IPA:$ROUTER_PORT"
ces_start hubB $PDEATH ip netns exec "$NS" "$HUB" --hub-id netns-b --heartbeat 200 \
    --router "tcp://$IPB:$ROUTER_PORT" --pub "tcp://$IPB:$PUB_PORT" \
    --http "$IPB:$HTTP_PORT" --advertise "tcp://$IPB:$ROUTER_PORT"
ces_wait_for hubA "ces-hub ready"
ces_wait_for hubB "ces-hub ready"
# subB listens to room R1 at hub B, subA to room R2 at hub A
ces_start subB $PDEATH ip netns exec "$NS" "$EXAMPLE" --router "tcp://$IPB:$ROUTER_PORT" \
    --pub "tcp://$IPB:$PUB_PORT" --room NETNS-R1
ces_start subA $PDEATH "$EXAMPLE" --router "tcp://$IPA:$ROUTER_PORT" \
    --pub "tcp://$IPA:$PUB_PORT" --room NETNS-R2
ces_wait_for subB "registered NETNS-R1"
ces_wait_for subA "registered NETNS-R2"

code=$(curl -s -o "$CES_SCRATCH/interconnect.json" -w '%{http_code}' -XPOST \
    "http://$IPA:$HTTP_PORT/interconnect/$IPB:$ROUTER_PORT")
[ "$code" = 201 ] || fail "POST /interconnect: $code $(cat "$CES_SCRATCH/interconnect.json")"

# Linked when both show the other up and know what the other wants
linked () {
    SA=$(st_a | peer_state) SB=$(st_b | peer_state)
    WA=$(st_a | peer_wants) WB=$(st_b | peer_wants)
    is_up "$SA" && is_up "$SB" && [ "$WA" = '"NETNS-R1"' ] && [ "$WB" = '"NETNS-R2"' ]
}
t0=$(now_ms)
until linked; do
    [ $(( $(now_ms) - t0 )) -ge 5000 ] \
        && fail "hubs not linked within 5 s (A: $SA wants [$WA], B: $SB wants [$WB])"
    sleep 0.05
done
ces_ok "hubs linked across the veth in $(( $(now_ms) - t0 )) ms (A: $SA, B: $SB)"

send_a NETNS-R1 '{"step":"linked","from":"a"}'
send_b NETNS-R2 '{"step":"linked","from":"b"}'
ces_wait_for subB 'NETNS-R1 {"step":"linked","from":"a"}' 5
ces_wait_for subA 'NETNS-R2 {"step":"linked","from":"b"}' 5
ces_ok "events cross the link both ways (A -> B and B -> A)"

# -- Cut, check, restore, check: three kinds of cut ---------------------------------
SUMMARY=""
cut_and_heal () { # NAME DOWN-COMMAND UP-COMMAND
    name=$1 down=$2 up=$3

    # Cut. Both hubs must notice: the peer is no longer "up"
    t_cut=$(now_ms)
    sh -c "$down" || fail "$name: cannot cut: $down"
    da="" db=""
    while [ -z "$da" ] || [ -z "$db" ]; do
        el=$(( $(now_ms) - t_cut ))
        [ -z "$da" ] && ! is_up "$(st_a | peer_state)" && da=$el
        [ -z "$db" ] && ! is_up "$(st_b | peer_state)" && db=$el
        [ "$el" -ge "$DETECT_MS" ] && { [ -z "$da" ] || [ -z "$db" ]; } \
            && fail "$name: cut not noticed within $DETECT_MS ms (A noticed: ${da:-no}, B noticed: ${db:-no})"
        sleep 0.05
    done
    ces_ok "$name: link cut; hub A noticed after $da ms ($(st_a | peer_state)), hub B after $db ms ($(st_b | peer_state))"

    # Events sent during the cut are not delivered anywhere. What shows them:
    # the sending hub counts the event in events_in.messenger and, having no
    # local subscriber and no link to a peer that wants the room, in
    # drops.no_route (ces_hub_dropped_total{reason="no_route"}); its peer's
    # events_out and the far hub's events_in.hub do not move (and the peer's
    # not_wanted does not either: with no link there is nobody to decline).
    na0=$(st_a | no_route) ma0=$(st_a | from_messengers)
    nb0=$(st_b | no_route) mb0=$(st_b | from_messengers)
    oa0=$(st_a | to_peer) ob0=$(st_b | to_peer)
    ia0=$(st_a | from_hubs) ib0=$(st_b | from_hubs)
    for v in "$na0" "$ma0" "$nb0" "$mb0" "$oa0" "$ob0" "$ia0" "$ib0"; do
        case $v in '' | *[!0-9]*) fail "$name: cannot read the counters from /status" ;; esac
    done
    send_a NETNS-R1 "{\"step\":\"during $name\",\"from\":\"a\"}"
    send_b NETNS-R2 "{\"step\":\"during $name\",\"from\":\"b\"}"
    t1=$(now_ms)
    until [ "$(st_a | no_route)" = $((na0 + 1)) ] && [ "$(st_b | no_route)" = $((nb0 + 1)) ] \
          && [ "$(st_a | from_messengers)" = $((ma0 + 1)) ] \
          && [ "$(st_b | from_messengers)" = $((mb0 + 1)) ]; do
        [ $(( $(now_ms) - t1 )) -ge 3000 ] \
            && fail "$name: events sent during the cut not counted as no_route drops (A: $na0 -> $(st_a | no_route), B: $nb0 -> $(st_b | no_route))"
        sleep 0.05
    done
    [ "$(st_a | to_peer)" = "$oa0" ] && [ "$(st_b | to_peer)" = "$ob0" ] \
        && [ "$(st_a | from_hubs)" = "$ia0" ] && [ "$(st_b | from_hubs)" = "$ib0" ] \
        || fail "$name: an event crossed a cut link (peer events_out A $oa0 -> $(st_a | to_peer), B $ob0 -> $(st_b | to_peer); events_in.hub A $ia0 -> $(st_a | from_hubs), B $ib0 -> $(st_b | from_hubs))"
    ces_ok "$name: events sent during the cut are dropped and counted (drops.no_route A $na0 -> $((na0 + 1)), B $nb0 -> $((nb0 + 1)); peer events_out and events_in.hub unchanged)"

    # Keep the link down a while (the hubs' redial backoff grows meanwhile)
    while [ $(( $(now_ms) - t_cut )) -lt "$CUT_MS" ]; do sleep 0.05; done

    # Restore. No request: the mesh heals by itself
    t_up=$(now_ms)
    sh -c "$up" || fail "$name: cannot restore: $up"
    ha="" hb=""
    until linked; do
        el=$(( $(now_ms) - t_up ))
        [ -z "$ha" ] && is_up "$SA" && ha=$el
        [ -z "$hb" ] && is_up "$SB" && hb=$el
        [ "$el" -ge "$HEAL_MS" ] \
            && fail "$name: mesh not healed within $HEAL_MS ms (A: $SA wants [$WA], B: $SB wants [$WB])"
        sleep 0.05
    done
    heal=$(( $(now_ms) - t_up ))
    ha=${ha:-$heal} hb=${hb:-$heal}
    ces_ok "$name: link restored; mesh healed in $heal ms (A up after $ha ms: $SA, B up after $hb ms: $SB; interest restored)"

    # Fresh events cross both ways; the ones sent during the cut never arrive
    send_a NETNS-R1 "{\"step\":\"after $name\",\"from\":\"a\"}"
    send_b NETNS-R2 "{\"step\":\"after $name\",\"from\":\"b\"}"
    ces_wait_for subB "NETNS-R1 {\"step\":\"after $name\",\"from\":\"a\"}" 5
    ces_wait_for subA "NETNS-R2 {\"step\":\"after $name\",\"from\":\"b\"}" 5
    ! grep -q "during $name" "$CES_SCRATCH/subA.log" "$CES_SCRATCH/subB.log" \
        || fail "$name: an event sent during the cut was delivered"
    ces_ok "$name: after healing events cross both ways; none sent during the cut arrived"
    SUMMARY="$SUMMARY
  $name: cut held $(( t_up - t_cut )) ms; noticed by A in $da ms, B in $db ms; healed in $heal ms (A up $ha ms, B up $hb ms)"
}

cut_and_heal "root-side cut" "ip link set $VA down" "ip link set $VA up"
cut_and_heal "namespace-side cut" "ip netns exec $NS ip link set $VB down" \
    "ip netns exec $NS ip link set $VB up"
cut_and_heal "silent cut" \
    "ip neigh replace $IPB lladdr 02:00:00:00:de:ad dev $VA nud permanent &&
     ip netns exec $NS ip neigh replace $IPA lladdr 02:00:00:00:be:ef dev $VB nud permanent" \
    "ip neigh del $IPB dev $VA && ip netns exec $NS ip neigh del $IPA dev $VB"

# The events sent during the cuts must not show up late either
sleep 0.5
! grep -q '"step":"during' "$CES_SCRATCH/subA.log" "$CES_SCRATCH/subB.log" \
    || fail "an event sent during a cut was delivered late"

echo "summary (heartbeat 200 ms; a silent peer is dropped after 3):$SUMMARY"
echo "$CES_PASSED passed, 0 failed"
