/*  =========================================================================
    ces_edge_report - what an edge's /status and /metrics say, from one table

    The edge gathers its numbers into this plain struct just before it
    answers /status or /metrics; one ces_counters table writes both, so
    the two cannot drift apart. Paths are in the "edge" object of /status.
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

//  Adds the report's members to edge, the "edge" object of /status
void ces_edge_report_json (const ces_edge_report_t *self, cJSON *edge);

//  Writes the report as Prometheus text
void ces_edge_report_metrics (const ces_edge_report_t *self, FILE *out);

void ces_edge_report_test (bool verbose);

#endif
