#!/usr/bin/env python3
# Writes the Grafana dashboard of ces: python3 ops/grafana/dashboard.py >ops/grafana/ces.json
# (the test ops_metrics checks that ces.json is what this prints, and that
# every metric it names is in the /metrics of ces, ces-hub and the repeater)
import json
R = "$__rate_interval"
panels = []
pid = [0]
y = [0]
def row(title):
    pid[0] += 1
    panels.append({"id": pid[0], "type": "row", "title": title, "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y[0]}, "panels": []})
    y[0] += 1
    row.x = 0
def panel(title, targets, unit="short", kind="timeseries", w=8, h=8, desc=None, stack=False):
    if row.x + w > 24:
        row.x = 0; y[0] += h
    pid[0] += 1
    p = {"id": pid[0], "type": kind, "title": title,
         "datasource": {"type": "prometheus", "uid": "${datasource}"},
         "gridPos": {"h": h, "w": w, "x": row.x, "y": y[0]},
         "targets": [{"refId": chr(65 + i), "expr": e, "legendFormat": l,
                      "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                     for i, (e, l) in enumerate(targets)],
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
         "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                     "tooltip": {"mode": "multi", "sort": "desc"}}}
    if desc: p["description"] = desc
    if kind == "timeseries" and stack:
        p["fieldConfig"]["defaults"]["custom"] = {"stacking": {"mode": "normal", "group": "A"}}
    if kind == "heatmap":
        for t in p["targets"]:
            t["format"] = "heatmap"
        p["options"] = {"calculate": False, "yAxis": {"unit": unit}, "cellGap": 1,
                        "color": {"mode": "scheme", "scheme": "Oranges"}}
    if kind == "state-timeline":
        p["fieldConfig"]["defaults"]["mappings"] = [{"type": "value", "options": {
            "0": {"text": "down", "color": "red"}, "1": {"text": "up", "color": "green"}}}]
        p["fieldConfig"]["defaults"]["color"] = {"mode": "thresholds"}
        p["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": [
            {"color": "red", "value": None}, {"color": "green", "value": 1}]}
        p["options"] = {"showValue": "never", "legend": {"showLegend": False}}
    panels.append(p)
    row.x += w
    if row.x >= 24:
        row.x = 0; y[0] += h
def end_row():
    if row.x:
        row.x = 0; y[0] += 8

row("Events")
panel("Events in at the hubs, by source", [(f'sum by (source) (rate(ces_hub_events_in_total[{R}]))', "{{source}}")], "ops",
      desc="Events the hubs read, by the role of who sent them (messenger, repeater, peer hub).", stack=True)
panel("Events in at the edges, by way in", [(f'sum by (instance, via) (rate(ces_edge_events_in_total[{R}]))', "{{instance}} {{via}}")], "ops",
      desc="Events clients sent to each edge: over a WebSocket or POST /event.")
panel("Events out of the hubs, by path", [(f'sum by (path) (rate(ces_hub_deliveries_total[{R}]))', "{{path}}"),
      (f'sum(rate(ces_hub_no_subscriber_total[{R}]))', "no local subscriber")], "ops",
      desc="publish: to the edges' and messengers' SUBs; repeater: to one repeater; hub: to peer hubs.")
panel("Deliveries to clients, per edge", [(f'sum by (instance) (rate(ces_edge_delivered_total[{R}]))', "{{instance}}")], "ops",
      desc="Events each edge wrote to its clients (one per client).", w=12)
panel("Hub links", [("sum by (instance) (ces_hub_links)", "{{instance}} links"),
      ("sum by (instance, role) (ces_hub_connections)", "{{instance}} {{role}}"),
      ("min by (instance) (ces_edge_hub_connected)", "{{instance}} edge linked to its hub")], "short",
      desc="Links (edges, messengers, repeaters, hubs) at each hub's ROUTER, their connections by role, and each edge's link to its hub (1 = up).", w=12)
end_row()

row("Drops")
panel("Hub drops, by reason", [(f'sum by (reason) (rate(ces_hub_drops_total[{R}]))', "{{reason}}")], "ops",
      desc="Events a hub did not deliver: no_route, peer_gone, queue_full, malformed, unknown_peer, unconnected.", w=12, stack=True)
panel("Edge drops, by reason", [(f'sum by (instance, reason) (rate(ces_edge_drops_total[{R}]))', "{{instance}} {{reason}}")], "ops",
      desc="Events an edge did not deliver: queue_full (a client's queue), hub_unreachable, hub_busy, malformed, lost_upstream (gaps in the hub's sequence numbers).", w=12, stack=True)
end_row()

row("Clients and rooms")
panel("Clients per edge, and its --max-clients", [("sum by (instance) (ces_edge_clients)", "{{instance}}"),
      ("max by (instance) (ces_edge_max_clients)", "{{instance}} max")], "short",
      desc="Open WebSocket clients of each edge (every role), beside the most it takes.")
panel("Clients by role", [("sum by (role) (ces_edge_clients)", "{{role}}")], "short", stack=True)
panel("Rooms per edge, and at the hubs", [("sum by (instance) (ces_edge_rooms)", "{{instance}} edge"),
      ("sum by (instance) (ces_hub_rooms)", "{{instance}} hub")], "short",
      desc="Rooms each edge subscribes to at its hub; rooms some connection registered at each hub.")
panel("Slow clients closed, and other closes", [(f'sum by (instance) (rate(ces_edge_closed_total{{reason="stuck"}}[{R}]))', "{{instance}} stuck (slow)"),
      (f'sum by (instance, reason) (rate(ces_edge_closed_total{{reason!="stuck"}}[{R}]))', "{{instance}} {{reason}}"),
      (f'sum by (instance) (rate(ces_edge_closed_expired_total[{R}]))', "{{instance}} token expired")], "ops",
      desc="stuck: a client that did not read for --stuck-timeout was closed (1008). silent: no pong. abrupt: gone without a Close frame.", w=12)
panel("Connections refused", [(f'sum by (instance, reason) (rate(ces_edge_refused_total[{R}]))', "{{instance}} {{reason}}"),
      (f'sum by (instance) (rate(ces_edge_http_refused_total[{R}]))', "{{instance}} http"),
      (f'sum by (instance, limit) (rate(ces_edge_limited_total[{R}]))', "{{instance}} over {{limit}}")], "ops",
      desc="full: --max-clients reached; auth: no valid token; limits per client.", w=12)
end_row()

row("Mesh")
panel("Mesh peers known and up, per hub", [("sum by (instance, state) (ces_hub_mesh_peers)", "{{instance}} {{state}}")], "short",
      desc="A complete mesh: every hub knows every other, and all are up.")
panel("Mesh peer links", [("max by (instance, peer) (ces_hub_mesh_peer_up)", "{{instance}} -> {{peer}}")], "short",
      kind="state-timeline", desc="The link from each hub to each peer hub: up or down.")
panel("Mesh events, by peer and direction", [(f'sum by (instance, peer, direction) (rate(ces_hub_mesh_events_total[{R}]))', "{{instance}} {{peer}} {{direction}}")], "ops")
end_row()

row("Repeaters")
panel("Repeater events, by path", [(f'sum by (instance, path) (rate(ces_repeater_events_total[{R}]))', "{{instance}} {{path}}")], "ops",
      desc="to_targets: forwarded to its targets; no_target: none wanted the room; from_links: from outside systems.")
panel("Repeater target events, by outcome", [(f'sum by (target, outcome) (rate(ces_repeater_target_events_total[{R}]))', "{{target}} {{outcome}}")], "ops",
      desc="Each target's events: sent, failed, queue_full.")
panel("Repeater target links", [("sum by (instance, target) (ces_repeater_target_links)", "{{instance}} {{target}}")], "short",
      desc="Open WebSocket links to each ws:// target (http targets have none).")
end_row()

row("Latency")
q = lambda m, p: f'histogram_quantile({p}, sum by (le) (rate({m}_bucket[{R}])))'
panel("Delivery latency (hub receipt to client write)", [(q("ces_edge_delivery_latency_seconds", p), f"p{int(p*100)}") for p in (0.5, 0.9, 0.99)], "s",
      desc="From the time the hub read an event to its write to a client on the edge that writes it. Across machines the clocks' difference adds in.")
panel("Delivery latency, distribution", [(f'sum by (le) (increase(ces_edge_delivery_latency_seconds_bucket[{R}]))', "{{le}}")], "s", kind="heatmap")
panel("Hub routing time", [(q("ces_hub_routing_seconds", p), f"p{int(p*100)}") for p in (0.5, 0.99)] +
      [(f'sum(rate(ces_hub_routing_seconds_sum[{R}])) / sum(rate(ces_hub_routing_seconds_count[{R}]))', "mean")], "s",
      desc="From reading an event off the ROUTER to having handed it to every socket it goes to.")
end_row()

row("Rooms remember")
panel("History kept", [("sum by (instance) (ces_hub_store_history_events)", "{{instance}} events"),
      ("sum by (instance) (ces_hub_store_state_keys)", "{{instance}} state entries"),
      ("sum by (instance) (ces_hub_store_rooms)", "{{instance}} rooms")], "short")
panel("History bytes", [("sum by (instance) (ces_hub_store_history_bytes)", "{{instance}}")], "bytes")
panel("Events numbered and kept", [(f'sum by (instance) (rate(ces_hub_store_events_total[{R}]))', "{{instance}}"),
      (f'sum by (instance) (rate(ces_hub_store_commit_failures_total[{R}]))', "{{instance}} commit failures")], "ops")
panel("Evictions", [(f'sum by (reason) (rate(ces_hub_store_evicted_total[{R}]))', "history by {{reason}}"),
      (f'sum(rate(ces_hub_store_state_evicted_total[{R}]))', "state entries"),
      (f'sum(rate(ces_hub_store_devices_evicted_total[{R}]))', "devices")], "ops", w=12,
      desc="History evicted by --history (count), --history-age, --history-bytes; state by --state-keys.")
panel("Recoveries and states served", [(f'sum by (result) (rate(ces_hub_store_recoveries_total[{R}]))', "recovery {{result}}"),
      (f'sum(rate(ces_hub_store_state_served_total[{R}]))', "states served"),
      (f'sum(rate(ces_edge_v2_syncs_total[{R}]))', "v2 syncs asked")], "ops", w=12,
      desc="Version 2 clients asking to resume after a position: recovered from history, or refused (then given the state).")
end_row()

dash = {
  "title": "ces", "uid": "ces-overview", "editable": True, "schemaVersion": 38,
  "tags": ["ces"], "time": {"from": "now-1h", "to": "now"}, "refresh": "30s",
  "description": "ces: events, drops, clients, mesh, repeaters, latency and what rooms remember. Scrape each ces (the edge port), each ces-hub --http, each ces-edge and each repeater port.",
  "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource",
                           "query": "prometheus", "current": {}, "hide": 0}]},
  "annotations": {"list": []},
  "panels": panels,
}
print(json.dumps(dash, indent=1))
