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

//  --------------------------------------------------------------------------
//  An edge's parts, read

static int
s_role_slot (ces_client_t *client)
{
    const char *role = ces_client_role (client);
    return streq (role, CES_ROLE_MESSENGER)  ? 0
           : streq (role, CES_ROLE_REPEATER) ? 1
           : streq (role, CES_ROLE_HUB)      ? 2
                                             : 3;
}

static void
s_gather (const ces_edge_parts_t *self, ces_edge_report_t *report)
{
    memset (report, 0, sizeof (*report));
    ces_client_t *client = (ces_client_t *)zhashx_first (self->clients);
    while (client) {
        report->clients[s_role_slot (client)]++;
        report->clients_v2 += ces_client_cursor (client) != NULL;
        client = (ces_client_t *)zhashx_next (self->clients);
    }
    const ces_edge_rooms_counters_t *rooms =
        ces_edge_rooms_counters (self->rooms);
    report->syncs = rooms->syncs;
    report->queries = rooms->queries;
    report->queries_late = rooms->queries_late;
    const ces_edge_counts_t *counters = self->counts;
    report->events_in = counters->events_in;
    report->posted = counters->posted;
    report->delivered = ces_fanout_delivered (self->fanout);
    report->queue_full = ces_fanout_queue_full (self->fanout);
    report->hub_unreachable = counters->dropped_hub_unreachable;
    report->hub_busy = counters->dropped_hub_busy;
    report->malformed = counters->malformed;
    report->lost_upstream = ces_link_lost (self->link);
    report->closed_stuck = counters->closed_stuck;
    report->closed_silent = counters->closed_silent;
    report->closed_abruptly = counters->closed_abruptly;
    report->closed_expired = counters->closed_expired;
    report->over_limit = counters->over_limit;
    ces_webserver_counters_t web;
    ces_webserver_counters (self->webserver, &web);
    report->refused_full = web.refused_full;
    report->refused_bad = web.refused_bad;
    report->refused_auth = web.refused_auth;
    report->http_errors = web.http_errors;
    report->protocol_errors = web.protocol_errors;
    report->denied = web.denied;
    report->rate_limited = web.rate_limited;
    report->rooms =
        self->room_index ? ces_room_index_size (self->room_index) : 0;
    report->max_clients = (uint64_t)self->options->web.max_clients;
    report->hub_connected = ces_link_connected (self->link);
    ces_heap_report_t heap;
    ces_heap_report (self->heap, &heap);
    report->heap_in_use = heap.in_use;
    report->heap_free = heap.free;
    report->trims = heap.trims;
    report->last_trim_usecs = heap.last_trim_usecs;
}

static char *
s_hub_answer (const ces_edge_parts_t *self, const char *question)
{
    if (!self->hub)
        return NULL;
    zstr_send (self->hub, question);
    return zstr_recv (self->hub);
}

//  What the table does not hold: the link, each client, the rooms
static void
s_edge_status (const ces_edge_parts_t *self, cJSON *edge,
               ces_edge_report_t *report)
{
    cJSON_AddStringToObject (edge, "listen", self->options->listen);
    cJSON_AddStringToObject (edge, "link_id", ces_link_id (self->link));
    cJSON_AddStringToObject (
        edge, "hub",
        ces_link_connected (self->link) ? ces_link_hub_id (self->link) : "");
    cJSON_AddBoolToObject (edge, "hub_connected",
                           ces_link_connected (self->link));
    cJSON_AddBoolToObject (edge, "hub_curve", self->curve != NULL);
    cJSON_AddNumberToObject (edge, "hub_refused_handshakes",
                             (double)ces_link_refused (self->link));
    cJSON_AddNumberToObject (edge, "max_clients",
                             (double)self->options->web.max_clients);
    cJSON *clients = cJSON_AddArrayToObject (edge, "clients");
    ces_client_t *client = (ces_client_t *)zhashx_first (self->clients);
    while (client) {
        cJSON_AddItemToArray (clients, ces_client_status (client));
        client = (ces_client_t *)zhashx_next (self->clients);
    }
    cJSON *roles = cJSON_AddObjectToObject (edge, "clients_by_role");
    cJSON_AddNumberToObject (roles, "messenger", (double)report->clients[0]);
    cJSON_AddNumberToObject (roles, "repeater", (double)report->clients[1]);
    cJSON_AddNumberToObject (roles, "hub", (double)report->clients[2]);
    if (self->outside)
        cJSON_AddNumberToObject (roles, "outside", (double)report->clients[3]);
    cJSON *rooms = cJSON_AddObjectToObject (edge, "rooms");
    if (self->room_index)
        ces_room_index_status (self->room_index, rooms);
}

char *
ces_edge_report_status (const ces_edge_parts_t *self)
{
    ces_edge_report_t report;
    s_gather (self, &report);
    cJSON *root = cJSON_CreateObject ();
    cJSON *edge = cJSON_AddObjectToObject (root, "edge");
    s_edge_status (self, edge, &report);
    ces_edge_report_json (&report, edge);
    cJSON_AddBoolToObject (cJSON_GetObjectItem (edge, "counters"),
                           "auth_required",
                           ces_auth_required (self->options->auth));
    const char *tunables = getenv ("GLIBC_TUNABLES");
    cJSON_AddStringToObject (cJSON_GetObjectItem (edge, "memory"),
                             "glibc_tunables", tunables ? tunables : "");
    if (self->outside)
        ces_outside_status (self->outside, root, self->counts->closed_idle);
    char *hub = s_hub_answer (self, "STATUS");
    if (hub)
        cJSON_AddItemToObject (root, "hub", cJSON_Parse (hub));
    zstr_free (&hub);
    char *text = cJSON_PrintUnformatted (root);
    cJSON_Delete (root);
    return text;
}

char *
ces_edge_report_metrics_text (const ces_edge_parts_t *self)
{
    ces_edge_report_t report;
    s_gather (self, &report);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    ces_edge_report_metrics (&report, out);
    ces_histogram_metrics (ces_fanout_latency (self->fanout),
                           "ces_edge_delivery_latency_seconds",
                           "Time from the hub's receipt of an event to its "
                           "write to a client here (the clocks of two "
                           "machines add their difference).",
                           out);
    if (self->outside)
        ces_outside_metrics (self->outside, out);
    char *hub = s_hub_answer (self, "METRICS");
    if (hub)
        fputs (hub, out);
    zstr_free (&hub);
    fclose (out);
    return text;
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
