/*  =========================================================================
    ces_edge_report - what an edge's /status and /metrics say, from one table

    The edge's parts are read into one plain struct just before it answers
    /status or /metrics; one ces_counters table writes both, so the two
    cannot drift apart. Paths are in the "edge" object of /status, beside
    what the table does not hold (the link, each client, the rooms, the
    outside systems, a hub in the same process).
    =========================================================================
*/
#ifndef CES_EDGE_REPORT_H_INCLUDED
#define CES_EDGE_REPORT_H_INCLUDED

//  The numbers, filled by the edge (plain data: every field a uint64_t)
typedef struct _ces_edge_report_t ces_edge_report_t;
struct _ces_edge_report_t {
    uint64_t clients[4]; //  by role: messenger, repeater, hub, outside
    uint64_t events_in, posted, delivered;
    uint64_t queue_full, hub_unreachable, hub_busy, malformed, lost_upstream;
    uint64_t closed_stuck, closed_silent, closed_abruptly, closed_expired;
    uint64_t refused_full, refused_bad, refused_auth, http_errors;
    uint64_t protocol_errors, denied, rate_limited, over_limit;
    uint64_t rooms, hub_connected, max_clients;
    uint64_t heap_in_use, heap_free, trims, last_trim_usecs;
    uint64_t clients_v2, syncs, queries, queries_late; //  rooms remember
};

//  What the edge actor counts itself
typedef struct {
    uint64_t events_in;
    uint64_t posted;
    uint64_t dropped_hub_unreachable;
    uint64_t dropped_hub_busy; //  the queue to a connected hub was full
    uint64_t hub_busy_logged;
    int64_t hub_busy_next_log;
    uint64_t malformed;
    uint64_t closed_stuck;
    uint64_t closed_silent;
    uint64_t closed_abruptly; //  gone with no Close frame either way
    uint64_t closed_idle;
    uint64_t closed_expired; //  tokens that expired on open connections
    uint64_t over_limit;     //  registrations over max-rooms-per-client
} ces_edge_counts_t;

//  What an edge is made of, as its report reads it (all borrowed). NULL
//  where the edge has no such part: the room index at a repeater, the
//  outside systems at a messenger edge, a hub in the same process, CURVE.
typedef struct {
    ces_edge_options_t *options;
    zhashx_t *clients; //  id -> ces_client_t
    ces_link_t *link;
    ces_curve_t *curve;
    ces_webserver_t *webserver;
    ces_room_index_t *room_index;
    ces_edge_rooms_t *rooms;
    ces_fanout_t *fanout;
    ces_outside_t *outside;
    ces_heap_t *heap;
    zactor_t *hub;
    const ces_edge_counts_t *counts;
} ces_edge_parts_t;

//  The /status JSON and the /metrics text of an edge made of parts (a hub
//  in the same process adds its own); caller frees
char *ces_edge_report_status (const ces_edge_parts_t *parts);
char *ces_edge_report_metrics_text (const ces_edge_parts_t *parts);

//  Adds the report's members to edge, the "edge" object of /status
void ces_edge_report_json (const ces_edge_report_t *self, cJSON *edge);

//  Writes the report as Prometheus text
void ces_edge_report_metrics (const ces_edge_report_t *self, FILE *out);

void ces_edge_report_test (bool verbose);

#endif
