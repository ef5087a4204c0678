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
    --heartbeat 100
HUB_PID=$CES_LAST_PID
ces_wait_for hub "subscribers connect"
ROUTER=$(sed -n 's/.*connect a DEALER to \(tcp:[^ ]*\).*/\1/p' "$CES_SCRATCH/hub.log")
PUB=$(sed -n 's/.*connect a SUB to \(tcp:[^ ]*\).*/\1/p' "$CES_SCRATCH/hub.log")
[ -n "$ROUTER" ] && [ -n "$PUB" ] || ces_fail "hub banner has no endpoints"
ces_ok "hub starts and prints its endpoints ($ROUTER, $PUB)"

# A second hub on the same ports is refused with a clear error
"$HUB" --router "$ROUTER" --pub "$PUB" >"$CES_SCRATCH/clash.log" 2>&1
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

# Bad input from the command line gets a clear error
"$EXAMPLE" --router "$ROUTER" --pub "$PUB" --room "bad room" --send '{}' \
    2>"$CES_SCRATCH/bad.log"
[ $? -eq 2 ] && grep -q "space" "$CES_SCRATCH/bad.log" || ces_fail "bad room"
ces_ok "a bad room ID is refused with a reason"

# Restart the hub on the same endpoints: the listener comes back by itself
kill -TERM "$HUB_PID"
wait "$HUB_PID"; [ $? -eq 0 ] || ces_fail "hub must exit 0 on SIGTERM"
ces_ok "hub shuts down cleanly on SIGTERM"
ces_start hub2 "$HUB" --router "$ROUTER" --pub "$PUB" --heartbeat 100
ces_wait_for hub2 "subscribers connect"
ces_wait_for listener "reconnecting"
# The messenger says when its rooms are registered at the new hub
ces_wait_for listener "rooms registered at the hub" 10
"$EXAMPLE" --router "$ROUTER" --pub "$PUB" --room ITB-1101 \
    --send '{"after":"restart"}' >/dev/null || ces_fail "send after restart"
ces_wait_for listener '"after":"restart"'
wait "$LISTENER_PID"; [ $? -eq 0 ] || ces_fail "listener exit code"
ces_ok "after a hub restart the embedded messenger reconnects and receives"

echo "$CES_PASSED passed, 0 failed"
