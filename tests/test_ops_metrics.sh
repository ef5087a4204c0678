#!/bin/sh
# The dashboard and the alerts name only metrics that exist: every ces_*
# metric in ops/grafana/ces.json and ops/prometheus/alerts.yml is in the
# /metrics of a running ces (its edge port; its repeater port for
# ces_repeater_*) and, for ces_hub_*, of ces-hub --http too. ces.json is
# what ops/grafana/dashboard.py writes. promtool (Debian prometheus, not
# installed by make deps: ~100 MB), when present, checks the alerts and
# the PromQL of every panel.
# usage: test_ops_metrics.sh BUILD_DIR SOURCE_DIR
BUILD=$(cd "$1" && pwd)
SOURCE=$(cd "$2" && pwd)
. "$(dirname "$0")/lib.sh"
DASHBOARD=$SOURCE/ops/grafana/ces.json
ALERTS=$SOURCE/ops/prometheus/alerts.yml

python3 "$SOURCE/ops/grafana/dashboard.py" | diff -u "$DASHBOARD" - >"$CES_SCRATCH/diff.txt" \
    || ces_fail "ops/grafana/ces.json is not what ops/grafana/dashboard.py writes:
$(head -40 "$CES_SCRATCH/diff.txt")"
ces_ok "ops/grafana/ces.json is current"

# Every program on free ports; ces-hub publishes /metrics every heartbeat
ces_start ces "$BUILD/ces" --listen 127.0.0.1:0 --repeater-listen 127.0.0.1:0 \
    --router 'tcp://127.0.0.1:*' --pub 'tcp://127.0.0.1:*' --max-clients 20 \
    --repeater-max-clients 10
ces_wait_for ces "stop with Ctrl-C"
EDGE=$(sed -n 's|.*browser:    http://\(127.0.0.1:[0-9]*\)/.*|\1|p' "$CES_SCRATCH/ces.log")
REPEATER=$(sed -n 's|.*POST http://\(127.0.0.1:[0-9]*\)/send.*|\1|p' "$CES_SCRATCH/ces.log")
[ -n "$EDGE" ] && [ -n "$REPEATER" ] || ces_fail "no ports in the banner of ces"
ces_start hub "$BUILD/ces-hub" --router 'tcp://127.0.0.1:*' --pub 'tcp://127.0.0.1:*' \
    --http 127.0.0.1:0 --heartbeat 100
ces_wait_for hub "subscribers connect"
HUB=$(sed -n 's|.*status: http://\([^/]*\)/status.*|\1|p' "$CES_SCRATCH/hub.log")
[ -n "$HUB" ] || ces_fail "no HTTP port in the banner of ces-hub"
curl -s "http://$EDGE/metrics" >"$CES_SCRATCH/ces.metrics"
curl -s "http://$REPEATER/metrics" >"$CES_SCRATCH/repeater.metrics"
deadline=$(( $(date +%s) + 5 ))
until curl -s "http://$HUB/metrics" >"$CES_SCRATCH/hub.metrics" \
    && grep -q "^# TYPE ces_hub_routing_seconds histogram" "$CES_SCRATCH/hub.metrics"; do
    [ "$(date +%s)" -ge "$deadline" ] && ces_fail "ces-hub /metrics: $(cat "$CES_SCRATCH/hub.metrics")"
    sleep 0.1
done

python3 - "$DASHBOARD" "$ALERTS" "$CES_SCRATCH" >"$CES_SCRATCH/check.txt" 2>&1 <<'PY' \
    || ces_fail "metrics the dashboard or the alerts name:
$(cat "$CES_SCRATCH/check.txt")"
import json, re, sys
dashboard, alerts, scratch = sys.argv[1:4]

def families(path):
    """Metric names a /metrics text declares (a histogram's series too)."""
    names = set()
    for line in open(path):
        match = re.match(r"# TYPE (\S+) (\S+)", line)
        if match:
            names.add(match[1])
            if match[2] == "histogram":
                names |= {match[1] + s for s in ("_bucket", "_sum", "_count")}
    return names

edge, repeater, hub = (families(f"{scratch}/{name}.metrics") for name in ("ces", "repeater", "hub"))
exprs = []
def walk(panels):
    for panel in panels:
        walk(panel.get("panels", []))
        for target in panel.get("targets", []):
            exprs.append(("dashboard: " + panel["title"], target["expr"]))
walk(json.load(open(dashboard))["panels"])
for line in open(alerts):
    match = re.match(r"\s*expr:\s*(.+)$", line)
    if match:
        exprs.append(("alerts.yml", match[1]))
assert len(exprs) > 40, f"only {len(exprs)} expressions found"

functions = {"sum", "max", "min", "rate", "increase", "histogram_quantile", "by", "without",
             "ignoring", "on", "le", "up"}
problems, named = [], set()
for where, expr in exprs:
    bare = re.sub(r'"[^"]*"', '""', expr)            # no label values
    bare = re.sub(r"\{[^}]*\}", "", bare)             # no matchers
    bare = re.sub(r"\[[^\]]*\]", "", bare)            # no ranges
    bare = re.sub(r"\b(by|without|ignoring|on)\s*\([^)]*\)", "", bare)  # no label lists
    for name in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare):
        if name in functions:
            continue
        if not name.startswith("ces_"):
            problems.append(f"{where}: '{name}' is not a ces metric")
            continue
        named.add(name)
        if name.startswith("ces_repeater_"):
            homes = [("the repeater port", repeater)]
        elif name.startswith("ces_hub_"):
            homes = [("ces", edge), ("ces-hub --http", hub)]
        else:
            homes = [("ces", edge)]
        for home, names in homes:
            if name not in names:
                problems.append(f"{where}: {name} is not in the /metrics of {home}")
if problems:
    sys.exit("\n".join(problems))
for needed in ("ces_edge_delivery_latency_seconds_bucket", "ces_hub_routing_seconds_bucket",
               "ces_edge_max_clients", "ces_hub_mesh_peer_up", "ces_repeater_target_events_total",
               "ces_hub_store_history_bytes", "ces_hub_store_evicted_total",
               "ces_hub_store_recoveries_total", "ces_edge_closed_total"):
    assert needed in named, f"nothing names {needed}"
print(f"{len(exprs)} expressions, {len(named)} metrics, all found")
PY
ces_ok "every metric of the dashboard and the alerts is served: $(cat "$CES_SCRATCH/check.txt")"

# promtool: the alerts, and each panel's PromQL as a recording rule
if command -v promtool >/dev/null 2>&1; then
    promtool check rules "$ALERTS" >"$CES_SCRATCH/promtool.txt" 2>&1 \
        || ces_fail "promtool check rules alerts.yml: $(cat "$CES_SCRATCH/promtool.txt")"
    python3 - "$DASHBOARD" >"$CES_SCRATCH/panels.yml" <<'PY'
import json, sys
print("groups:\n  - name: panels\n    rules:")
def walk(panels):
    for panel in panels:
        walk(panel.get("panels", []))
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "5m")
            print(f"      - record: ces:panel{panel['id']}{target['refId']}\n        expr: {json.dumps(expr)}")
walk(json.load(open(sys.argv[1]))["panels"])
PY
    promtool check rules "$CES_SCRATCH/panels.yml" >"$CES_SCRATCH/promtool.txt" 2>&1 \
        || ces_fail "the dashboard's PromQL: $(cat "$CES_SCRATCH/promtool.txt")"
    ces_ok "promtool check rules: alerts.yml, and the PromQL of every panel"
else
    echo "promtool not installed (Debian prometheus): the PromQL was not checked"
fi

echo "$CES_PASSED passed, 0 failed"
