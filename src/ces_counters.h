/*  =========================================================================
    ces_counters - one table that writes both /status JSON and /metrics text

    A process keeps its counters and gauges as uint64_t fields of one plain
    struct of its own. A static const table of ces_counter_t rows says, for
    each value, where it goes in the /status JSON, what its Prometheus
    series is, and where it lives in the struct (offsetof). The same table
    then writes both outputs, so the two cannot drift apart:

        typedef struct {
            uint64_t queue_full;
            uint64_t peer_gone;
            uint64_t clients;
        } my_counters_t;

        static const ces_counter_t s_table[] = {
            {"drops.queue_full", "ces_x_drops_total", "reason=\"queue_full\"",
             CES_COUNTER, "Events not delivered, by reason.",
             offsetof (my_counters_t, queue_full)},
            {"drops.peer_gone", "ces_x_drops_total", "reason=\"peer_gone\"",
             CES_COUNTER, NULL, offsetof (my_counters_t, peer_gone)},
            {"clients", "ces_x_clients", NULL, CES_GAUGE,
             "Open WebSocket clients.", offsetof (my_counters_t, clients)},
        };

        ces_counters_json (s_table, CES_COUNTERS_SIZE (s_table), &counters,
                           root);           //  {"drops":{"queue_full":N,
                                            //   "peer_gone":N},"clients":N}
        ces_counters_metrics (s_table, CES_COUNTERS_SIZE (s_table),
                              &counters, out);
        //  # HELP ces_x_drops_total Events not delivered, by reason.
        //  # TYPE ces_x_drops_total counter
        //  ces_x_drops_total{reason="queue_full"} N
        //  ces_x_drops_total{reason="peer_gone"} N
        //  # HELP ces_x_clients Open WebSocket clients.
        //  # TYPE ces_x_clients gauge
        //  ces_x_clients N

    Rules of a table:
    - json is a dotted path in the JSON object: "drops.queue_full" is
      member "queue_full" of object "drops", made on first use (or found,
      if the caller made it already). NULL: not in /status.
    - metric is the Prometheus name; NULL: not in /metrics. Rows of one
      metric must be next to each other in the table: # HELP and # TYPE are
      written before the first row of each run of one name, from that row's
      help and type (help may be NULL on the later rows).
    - labels is the inside of the braces, already quoted
      ("reason=\"queue_full\"", or "a=\"x\",b=\"y\""); NULL for none.
    - offset is where the uint64_t value lives in the caller's struct.
      A gauge that is not a stored count (rooms held, links open) is copied
      into its field just before writing.
    The table order is the order of both outputs.
    =========================================================================
*/
#ifndef CES_COUNTERS_H_INCLUDED
#define CES_COUNTERS_H_INCLUDED

typedef enum { CES_COUNTER, CES_GAUGE } ces_counter_type_t;

//  One value: where it goes in /status and /metrics, where it lives
typedef struct {
    const char *json;        //  dotted path in the /status object, or NULL
    const char *metric;      //  Prometheus metric name, or NULL
    const char *labels;      //  Prometheus labels without braces, or NULL
    ces_counter_type_t type; //  counter (only grows) or gauge
    const char *help;        //  # HELP text, on the first row of a metric
    size_t offset;           //  offsetof the uint64_t in the values struct
} ces_counter_t;

//  Rows in a static table
#define CES_COUNTERS_SIZE(table) (sizeof (table) / sizeof ((table)[0]))

//  Read one row's value out of values (the struct the table describes).
uint64_t ces_counters_value (const ces_counter_t *row, const void *values);

//  Add every row that has a json path to root (a cJSON object), making the
//  nested objects the paths name, in table order.
void ces_counters_json (const ces_counter_t *table, size_t rows,
                        const void *values, cJSON *root);

//  Write every row that has a metric name to out, in Prometheus text
//  format 0.0.4, with # HELP and # TYPE before each metric's rows.
void ces_counters_metrics (const ces_counter_t *table, size_t rows,
                           const void *values, FILE *out);

//  The same for many instances of one kind (peers, clients), each with
//  its own values struct, told apart by one label written first in each
//  series (label="label_values[i]"): for each run of rows of one metric,
//  # HELP and # TYPE once (also when count is 0), then every instance's
//  rows of it, instance by instance. values[i] and label_values[i] are
//  instance i's. Label values are written as they are: no quotes,
//  backslashes or newlines in them.
//
//      ces_counters_metrics_each (s_peer_table, 2, peer_values, "peer",
//                                 peer_addresses, peers, out);
//      //  # HELP ces_x_events_total Events, by peer and direction.
//      //  # TYPE ces_x_events_total counter
//      //  ces_x_events_total{peer="a",direction="in"} 1
//      //  ces_x_events_total{peer="a",direction="out"} 2
//      //  ces_x_events_total{peer="b",direction="in"} 3 ...
void ces_counters_metrics_each (const ces_counter_t *table, size_t rows,
                                const void *const *values, const char *label,
                                const char *const *label_values, size_t count,
                                FILE *out);

//  Check a table: every row has a json path or a metric, rows of one metric
//  are next to each other and have one type, the first row of a metric has
//  help. Returns NULL, or a sentence saying what is wrong (static). For
//  selftests: call it once on every table.
const char *ces_counters_check (const ces_counter_t *table, size_t rows);

//  --------------------------------------------------------------------------
//  A Prometheus histogram of durations, with fixed buckets from 50 us to
//  5 s, log-spaced (1, 2.5, 5 per decade). Plain data like the counters:
//  zero it to start, keep it in the struct of the thread that observes (no
//  locks), copy it to report it.
//
//      ces_histogram_t latency = {0};
//      ces_histogram_observe (&latency, 180);     //  microseconds
//      ces_histogram_metrics (&latency, "ces_x_seconds", "Time to x.", out);
//      //  # HELP ces_x_seconds Time to x.
//      //  # TYPE ces_x_seconds histogram
//      //  ces_x_seconds_bucket{le="5e-05"} 0
//      //  ces_x_seconds_bucket{le="0.0001"} 0
//      //  ces_x_seconds_bucket{le="0.00025"} 1  ... (cumulative)
//      //  ces_x_seconds_bucket{le="+Inf"} 1
//      //  ces_x_seconds_sum 0.000180
//      //  ces_x_seconds_count 1
#define CES_HISTOGRAM_BUCKETS 16
typedef struct {
    uint64_t buckets[CES_HISTOGRAM_BUCKETS + 1]; //  per bucket, last +Inf
    uint64_t count;
    uint64_t sum_usecs;
} ces_histogram_t;

//  Counts one duration in microseconds; a negative one (clocks of two
//  machines that disagree) counts as 0.
void ces_histogram_observe (ces_histogram_t *self, int64_t usecs);

//  Writes the histogram as Prometheus text (buckets cumulative, in seconds)
void ces_histogram_metrics (const ces_histogram_t *self, const char *metric,
                            const char *help, FILE *out);

//  The wall clock in microseconds (CLOCK_REALTIME): comparable between
//  processes, and between machines as far as their clocks agree
int64_t ces_histogram_now (void);

#endif
