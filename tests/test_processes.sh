#!/bin/sh
# Real processes over real tcp sockets: the ces-hub program and the example
# C service that embeds a messenger, including a hub restart.
# usage: test_processes.sh CES_HUB EXAMPLE
HUB=$1
EXAMPLE=$2
. "$(dirname "$0")/lib.sh"

# --help and bad flags
"$HUB" --help | grep -q -- "--router" || ces_fail "ces-hub --help"
"$HUB" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || ces_fail "bad flag must exit 2"
"$HUB" --heartbeat zero 2>&1 | grep -q "invalid value" || ces_fail "bad heartbeat"
ces_ok "ces-hub --help and flag errors"

# A hub on free ports; its banner says where to connect
ces_start hub "$HUB" --router 'tcp://127.0.0.1:*' --pub 'tcp://127.0.0.1:*' \
    --http 127.0.0.1:0 --heartbeat 100
HUB_PID=$CES_LAST_PID
ces_wait_for hub "subscribers connect"
ROUTER=$(sed -n 's/.*connect a DEALER to \(tcp:[^ ]*\).*/\1/p' "$CES_SCRATCH/hub.log")
PUB=$(sed -n 's/.*connect a SUB to \(tcp:[^ ]*\).*/\1/p' "$CES_SCRATCH/hub.log")
HTTP=$(sed -n 's|.*status: http://\([^/]*\)/status.*|\1|p' "$CES_SCRATCH/hub.log")
[ -n "$ROUTER" ] && [ -n "$PUB" ] && [ -n "$HTTP" ] || ces_fail "hub banner has no endpoints"
ces_ok "hub starts and prints its endpoints ($ROUTER, $PUB, http://$HTTP)"

# A second hub on the same ports is refused with a clear error
"$HUB" --router "$ROUTER" --pub "$PUB" --http 127.0.0.1:0 >"$CES_SCRATCH/clash.log" 2>&1
[ $? -eq 1 ] && grep -q "cannot bind" "$CES_SCRATCH/clash.log" \
    || ces_fail "port clash must exit 1 with 'cannot bind'"
ces_ok "a port clash is refused with a clear error"

# The example service listens; another instance sends
ces_start listener "$EXAMPLE" --router "$ROUTER" --pub "$PUB" --room ITB-1101 --count 2
LISTENER_PID=$CES_LAST_PID
ces_wait_for listener "registered ITB-1101"
"$EXAMPLE" --router "$ROUTER" --pub "$PUB" --room ITB-1101 \
    --send '{"key":"power","value":"on"}' >/dev/null || ces_fail "send"
ces_wait_for listener 'ITB-1101 {"key":"power","value":"on"}'
ces_ok "example service receives an event from another process"

# The hub's HTTP port shows what happened (the snapshot is refreshed every
# heartbeat, so wait for it to show the event)
deadline=$(( $(date +%s) + 5 ))
until curl -s "http://$HTTP/status" | grep -q '"events_in":{"messenger":1'; do
    [ "$(date +%s)" -ge "$deadline" ] && ces_fail "/status: $(curl -s "http://$HTTP/status")"
    sleep 0.05
done
curl -s "http://$HTTP/metrics" | grep -q '^ces_hub_events_in_total{source="messenger"} 1$' \
    || ces_fail "/metrics: $(curl -s "http://$HTTP/metrics")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$HTTP/health")" = 200 ] || ces_fail "/health"
ces_ok "ces-hub serves /status, /metrics and /health"

# Bad input from the command line gets a clear error
"$EXAMPLE" --router "$ROUTER" --pub "$PUB" --room "bad room" --send '{}' \
    2>"$CES_SCRATCH/bad.log"
[ $? -eq 2 ] && grep -q "space" "$CES_SCRATCH/bad.log" || ces_fail "bad room"
ces_ok "a bad room ID is refused with a reason"

# Restart the hub on the same endpoints: the listener comes back by itself
kill -TERM "$HUB_PID"
wait "$HUB_PID"; [ $? -eq 0 ] || ces_fail "hub must exit 0 on SIGTERM"
ces_ok "hub shuts down cleanly on SIGTERM"
ces_start hub2 "$HUB" --router "$ROUTER" --pub "$PUB" --http 127.0.0.1:0 --heartbeat 100
ces_wait_for hub2 "subscribers connect"
ces_wait_for listener "reconnecting"
# The messenger says when its rooms are registered at the new hub: the
# second time it says so
deadline=$(( $(date +%s) + 10 ))
until [ "$(grep -c "rooms registered at the hub" "$CES_SCRATCH/listener.log")" -ge 2 ]; do
    [ "$(date +%s)" -ge "$deadline" ] && ces_fail "listener did not re-register"
    sleep 0.05
done
"$EXAMPLE" --router "$ROUTER" --pub "$PUB" --room ITB-1101 \
    --send '{"after":"restart"}' >/dev/null || ces_fail "send after restart"
ces_wait_for listener '"after":"restart"'
wait "$LISTENER_PID"; [ $? -eq 0 ] || ces_fail "listener exit code"
ces_ok "after a hub restart the embedded messenger reconnects and receives"

echo "$CES_PASSED passed, 0 failed"
