/*  =========================================================================
    ces_edge_report - what an edge's /status and /metrics say, from one table
    =========================================================================
*/
#include "ces_classes.h"

#define AT(field) offsetof (ces_edge_report_t, field)

//  Every number both outputs show; paths are in the "edge" object
static const ces_counter_t s_report_table[] = {
    {NULL, "ces_edge_clients", "role=\"messenger\"", CES_GAUGE,
     "Open WebSocket clients, by role.", AT (clients[0])},
    {NULL, "ces_edge_clients", "role=\"repeater\"", CES_GAUGE, NULL,
     AT (clients[1])},
    {NULL, "ces_edge_clients", "role=\"hub\"", CES_GAUGE, NULL,
     AT (clients[2])},
    {NULL, "ces_edge_clients", "role=\"outside\"", CES_GAUGE, NULL,
     AT (clients[3])},
    {"counters.events_in", "ces_edge_events_in_total", "via=\"websocket\"",
     CES_COUNTER, "Events from clients.", AT (events_in)},
    {"counters.posted", "ces_edge_events_in_total", "via=\"http\"", CES_COUNTER,
     NULL, AT (posted)},
    {"counters.delivered", "ces_edge_delivered_total", NULL, CES_COUNTER,
     "Events written to clients.", AT (delivered)},
    {"counters.drops.queue_full", "ces_edge_drops_total",
     "reason=\"queue_full\"", CES_COUNTER, "Events not delivered, by reason.",
     AT (queue_full)},
    {"counters.drops.hub_unreachable", "ces_edge_drops_total",
     "reason=\"hub_unreachable\"", CES_COUNTER, NULL, AT (hub_unreachable)},
    {"counters.drops.hub_busy", "ces_edge_drops_total", "reason=\"hub_busy\"",
     CES_COUNTER, NULL, AT (hub_busy)},
    {"counters.drops.malformed", "ces_edge_drops_total", "reason=\"malformed\"",
     CES_COUNTER, NULL, AT (malformed)},
    {"counters.lost_upstream", "ces_edge_drops_total",
     "reason=\"lost_upstream\"", CES_COUNTER, NULL, AT (lost_upstream)},
    {"counters.closed_stuck", "ces_edge_closed_total", "reason=\"stuck\"",
     CES_COUNTER,
     "Clients closed by the edge, or gone with no Close frame (abrupt).",
     AT (closed_stuck)},
    {"counters.closed_silent", "ces_edge_closed_total", "reason=\"silent\"",
     CES_COUNTER, NULL, AT (closed_silent)},
    {"counters.closed_abruptly", "ces_edge_closed_total", "reason=\"abrupt\"",
     CES_COUNTER, NULL, AT (closed_abruptly)},
    {"counters.refused_full", "ces_edge_refused_total", "reason=\"full\"",
     CES_COUNTER, "Connections refused.", AT (refused_full)},
    {"counters.refused_bad_request", "ces_edge_refused_total",
     "reason=\"bad_request\"", CES_COUNTER, NULL, AT (refused_bad)},
    {"counters.refused_auth", "ces_edge_refused_total", "reason=\"auth\"",
     CES_COUNTER, NULL, AT (refused_auth)},
    {NULL, "ces_edge_rooms", NULL, CES_GAUGE,
     "Rooms the edge subscribes to at the hub.", AT (rooms)},
    {NULL, "ces_edge_hub_connected", NULL, CES_GAUGE,
     "1 when the hub link is up.", AT (hub_connected)},
    {NULL, "ces_edge_max_clients", NULL, CES_GAUGE,
     "The most clients the edge takes (--max-clients).", AT (max_clients)},
    {"counters.denied", "ces_edge_denied_total", NULL, CES_COUNTER,
     "Registers and sends outside a client's token grant.", AT (denied)},
    {"counters.protocol_errors", "ces_edge_protocol_errors_total", NULL,
     CES_COUNTER,
     "WebSocket frames RFC 6455 forbids; each closed its connection (1002 "
     "or 1007).",
     AT (protocol_errors)},
    {"counters.refused_by_http", "ces_edge_http_refused_total", NULL,
     CES_COUNTER,
     "Requests refused before a handler saw them: too slow "
     "(handshake-timeout), too large, not HTTP.",
     AT (http_errors)},
    {"counters.closed_expired", "ces_edge_closed_expired_total", NULL,
     CES_COUNTER, "Connections closed when their token expired.",
     AT (closed_expired)},
    {"counters.rate_limited", "ces_edge_limited_total", "limit=\"max_rate\"",
     CES_COUNTER, "Events and registrations over a per-client limit.",
     AT (rate_limited)},
    {"counters.over_room_limit", "ces_edge_limited_total",
     "limit=\"max_rooms_per_client\"", CES_COUNTER, NULL, AT (over_limit)},
    {"v2.clients", "ces_edge_v2_clients", NULL, CES_GAUGE,
     "Clients that speak protocol version 2 (ces.v2).", AT (clients_v2)},
    {"v2.syncs", "ces_edge_v2_syncs_total", NULL, CES_COUNTER,
     "Rooms of version 2 registrations asked of the hub (position, state, "
     "recovery).",
     AT (syncs)},
    {"rooms_queries.asked", "ces_edge_rooms_queries_total", "result=\"asked\"",
     CES_COUNTER,
     "GET /rooms questions passed to the hub, and those it did not answer "
     "in time.",
     AT (queries)},
    {"rooms_queries.late", "ces_edge_rooms_queries_total", "result=\"late\"",
     CES_COUNTER, NULL, AT (queries_late)},
    {"memory.heap_in_use", "ces_edge_heap_bytes", "state=\"in_use\"", CES_GAUGE,
     "The heap: bytes in use, and bytes freed but kept by the allocator.",
     AT (heap_in_use)},
    {"memory.heap_free", "ces_edge_heap_bytes", "state=\"free\"", CES_GAUGE,
     NULL, AT (heap_free)},
    {"memory.trims", NULL, NULL, CES_COUNTER, NULL, AT (trims)},
    {"memory.last_trim_usecs", NULL, NULL, CES_GAUGE, NULL,
     AT (last_trim_usecs)},
};

void
ces_edge_report_json (const ces_edge_report_t *self, cJSON *edge)
{
    assert (self && edge);
    ces_counters_json (s_report_table, CES_COUNTERS_SIZE (s_report_table), self,
                       edge);
}

void
ces_edge_report_metrics (const ces_edge_report_t *self, FILE *out)
{
    assert (self && out);
    ces_counters_metrics (s_report_table, CES_COUNTERS_SIZE (s_report_table),
                          self, out);
}

void
ces_edge_report_test (bool verbose)
{
    (void)verbose;
    printf (" * ces_edge_report: ");
    //  @selftest
    assert (ces_counters_check (s_report_table,
                                CES_COUNTERS_SIZE (s_report_table)) == NULL);
    ces_edge_report_t report;
    memset (&report, 0, sizeof (report));
    report.clients[3] = 2;
    report.queue_full = 7;
    report.hub_connected = 1;
    cJSON *edge = cJSON_CreateObject ();
    ces_edge_report_json (&report, edge);
    cJSON *drops =
        cJSON_GetObjectItem (cJSON_GetObjectItem (edge, "counters"), "drops");
    assert (cJSON_GetObjectItem (drops, "queue_full")->valuedouble == 7);
    cJSON_Delete (edge);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    ces_edge_report_metrics (&report, out);
    fclose (out);
    assert (strstr (text, "ces_edge_clients{role=\"outside\"} 2\n"));
    assert (strstr (text, "ces_edge_drops_total{reason=\"queue_full\"} 7\n"));
    assert (strstr (text, "ces_edge_hub_connected 1\n"));
    freen (text);
    //  @end
    printf ("OK\n");
}
