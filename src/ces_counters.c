/*  =========================================================================
    ces_counters - one table that writes both /status JSON and /metrics text
    =========================================================================
*/
#include "ces_classes.h"

uint64_t
ces_counters_value (const ces_counter_t *row, const void *values)
{
    assert (row && values);
    uint64_t value;
    memcpy (&value, (const char *)values + row->offset, sizeof (value));
    return value;
}

//  The object that holds the last part of path, made as needed; *name is
//  that last part
static cJSON *
s_parent (cJSON *root, const char *path, const char **name)
{
    cJSON *parent = root;
    const char *dot;
    while ((dot = strchr (path, '.'))) {
        char member[128];
        size_t size = (size_t)(dot - path);
        assert (size > 0 && size < sizeof (member));
        memcpy (member, path, size);
        member[size] = 0;
        cJSON *child = cJSON_GetObjectItemCaseSensitive (parent, member);
        if (!child)
            child = cJSON_AddObjectToObject (parent, member);
        assert (cJSON_IsObject (child));
        parent = child;
        path = dot + 1;
    }
    *name = path;
    return parent;
}

void
ces_counters_json (const ces_counter_t *table, size_t rows, const void *values,
                   cJSON *root)
{
    assert (table && values && cJSON_IsObject (root));
    for (size_t index = 0; index < rows; index++) {
        const ces_counter_t *row = &table[index];
        if (!row->json)
            continue;
        const char *name;
        cJSON *parent = s_parent (root, row->json, &name);
        cJSON_AddNumberToObject (parent, name,
                                 (double)ces_counters_value (row, values));
    }
}

//  Is row the first of a run of its metric?
static bool
s_first_of_metric (const ces_counter_t *table, size_t index)
{
    return index == 0 || !table[index - 1].metric ||
           !streq (table[index - 1].metric, table[index].metric);
}

void
ces_counters_metrics (const ces_counter_t *table, size_t rows,
                      const void *values, FILE *out)
{
    assert (table && values && out);
    for (size_t index = 0; index < rows; index++) {
        const ces_counter_t *row = &table[index];
        if (!row->metric)
            continue;
        if (s_first_of_metric (table, index))
            fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", row->metric,
                     row->help ? row->help : "", row->metric,
                     row->type == CES_GAUGE ? "gauge" : "counter");
        if (row->labels)
            fprintf (out, "%s{%s} %" PRIu64 "\n", row->metric, row->labels,
                     ces_counters_value (row, values));
        else
            fprintf (out, "%s %" PRIu64 "\n", row->metric,
                     ces_counters_value (row, values));
    }
}

void
ces_counters_metrics_each (const ces_counter_t *table, size_t rows,
                           const void *const *values, const char *label,
                           const char *const *label_values, size_t count,
                           FILE *out)
{
    assert (table && label && out);
    assert (count == 0 || (values && label_values));
    size_t first = 0;
    while (first < rows) {
        const ces_counter_t *head = &table[first];
        //  The run of rows of this metric
        size_t end = first + 1;
        while (end < rows && head->metric && table[end].metric &&
               streq (table[end].metric, head->metric))
            end++;
        if (head->metric) {
            fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", head->metric,
                     head->help ? head->help : "", head->metric,
                     head->type == CES_GAUGE ? "gauge" : "counter");
            for (size_t index = 0; index < count; index++)
                for (size_t row = first; row < end; row++)
                    fprintf (out, "%s{%s=\"%s\"%s%s} %" PRIu64 "\n",
                             head->metric, label, label_values[index],
                             table[row].labels ? "," : "",
                             table[row].labels ? table[row].labels : "",
                             ces_counters_value (&table[row], values[index]));
        }
        first = end;
    }
}

const char *
ces_counters_check (const ces_counter_t *table, size_t rows)
{
    assert (table);
    for (size_t index = 0; index < rows; index++) {
        const ces_counter_t *row = &table[index];
        if (!row->json && !row->metric)
            return "a row has neither a json path nor a metric name";
        if (!row->metric)
            continue;
        bool first = s_first_of_metric (table, index);
        if (first && !row->help)
            return "the first row of a metric has no help";
        if (!first && row->type != table[index - 1].type)
            return "rows of one metric have different types";
        if (first)
            for (size_t before = 0; before < index; before++)
                if (table[before].metric &&
                    streq (table[before].metric, row->metric))
                    return "rows of one metric are not next to each other";
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  Histograms

//  Upper bounds of the buckets, in microseconds and as Prometheus writes
//  them in seconds
static const int64_t s_bucket_usecs[CES_HISTOGRAM_BUCKETS] = {
    50,    100,   250,    500,    1000,   2500,    5000,    10000,
    25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
static const char *const s_bucket_le[CES_HISTOGRAM_BUCKETS + 1] = {
    "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
    "0.005", "0.01",   "0.025",   "0.05",   "0.1",   "0.25",
    "0.5",   "1",      "2.5",     "5",      "+Inf"};

void
ces_histogram_observe (ces_histogram_t *self, int64_t usecs)
{
    assert (self);
    if (usecs < 0)
        usecs = 0;
    //  Most observations fall in the first buckets: a linear scan ends soon
    size_t index = 0;
    while (index < CES_HISTOGRAM_BUCKETS && usecs > s_bucket_usecs[index])
        index++;
    self->buckets[index]++;
    self->count++;
    self->sum_usecs += (uint64_t)usecs;
}

void
ces_histogram_metrics (const ces_histogram_t *self, const char *metric,
                       const char *help, FILE *out)
{
    assert (self && metric && help && out);
    fprintf (out, "# HELP %s %s\n# TYPE %s histogram\n", metric, help, metric);
    uint64_t cumulative = 0;
    for (size_t index = 0; index <= CES_HISTOGRAM_BUCKETS; index++) {
        cumulative += self->buckets[index];
        fprintf (out, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", metric,
                 s_bucket_le[index], cumulative);
    }
    fprintf (out, "%s_sum %" PRIu64 ".%06" PRIu64 "\n%s_count %" PRIu64 "\n",
             metric, self->sum_usecs / 1000000, self->sum_usecs % 1000000,
             metric, self->count);
}

int64_t
ces_histogram_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

//  --------------------------------------------------------------------------
//  Self test

typedef struct {
    uint64_t queue_full;
    uint64_t peer_gone;
    uint64_t clients;
    uint64_t hidden;
} test_counters_t;

void
ces_counters_test (bool verbose)
{
    printf (" * ces_counters: ");
    //  @selftest
    static const ces_counter_t table[] = {
        {"drops.queue_full", "ces_x_drops_total", "reason=\"queue_full\"",
         CES_COUNTER, "Events not delivered, by reason.",
         offsetof (test_counters_t, queue_full)},
        {"drops.peer_gone", "ces_x_drops_total", "reason=\"peer_gone\"",
         CES_COUNTER, NULL, offsetof (test_counters_t, peer_gone)},
        {"clients", "ces_x_clients", NULL, CES_GAUGE, "Open clients.",
         offsetof (test_counters_t, clients)},
        {"deep.er.still", NULL, NULL, CES_GAUGE, NULL,
         offsetof (test_counters_t, hidden)},
    };
    assert (ces_counters_check (table, CES_COUNTERS_SIZE (table)) == NULL);
    test_counters_t counters = {3, 0, 7, 12345678901234ULL};

    cJSON *root = cJSON_CreateObject ();
    cJSON_AddStringToObject (root, "id", "x");
    cJSON_AddObjectToObject (root, "drops"); //  made by the caller: reused
    ces_counters_json (table, CES_COUNTERS_SIZE (table), &counters, root);
    char *json = cJSON_PrintUnformatted (root);
    assert (streq (json, "{\"id\":\"x\",\"drops\":{\"queue_full\":3,"
                         "\"peer_gone\":0},\"clients\":7,\"deep\":{\"er\":"
                         "{\"still\":12345678901234}}}"));
    freen (json);
    cJSON_Delete (root);

    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    ces_counters_metrics (table, CES_COUNTERS_SIZE (table), &counters, out);
    fclose (out);
    assert (streq (text, "# HELP ces_x_drops_total Events not delivered, by "
                         "reason.\n"
                         "# TYPE ces_x_drops_total counter\n"
                         "ces_x_drops_total{reason=\"queue_full\"} 3\n"
                         "ces_x_drops_total{reason=\"peer_gone\"} 0\n"
                         "# HELP ces_x_clients Open clients.\n"
                         "# TYPE ces_x_clients gauge\n"
                         "ces_x_clients 7\n"));
    freen (text);

    //  Many instances: one label tells them apart, rows grouped by metric
    test_counters_t second = {5, 6, 1, 0};
    const void *instances[] = {&counters, &second};
    const char *names[] = {"a", "b"};
    out = open_memstream (&text, &size);
    assert (out);
    ces_counters_metrics_each (table, 3, instances, "peer", names, 2, out);
    fclose (out);
    assert (streq (text,
                   "# HELP ces_x_drops_total Events not delivered, by "
                   "reason.\n"
                   "# TYPE ces_x_drops_total counter\n"
                   "ces_x_drops_total{peer=\"a\",reason=\"queue_full\"} 3\n"
                   "ces_x_drops_total{peer=\"a\",reason=\"peer_gone\"} 0\n"
                   "ces_x_drops_total{peer=\"b\",reason=\"queue_full\"} 5\n"
                   "ces_x_drops_total{peer=\"b\",reason=\"peer_gone\"} 6\n"
                   "# HELP ces_x_clients Open clients.\n"
                   "# TYPE ces_x_clients gauge\n"
                   "ces_x_clients{peer=\"a\"} 7\n"
                   "ces_x_clients{peer=\"b\"} 1\n"));
    freen (text);
    out = open_memstream (&text, &size);
    ces_counters_metrics_each (table, 3, NULL, "peer", NULL, 0, out);
    fclose (out);
    assert (strstr (text, "# TYPE ces_x_clients gauge\n"));
    assert (!strstr (text, "peer="));
    freen (text);

    //  Tables that break the rules are caught
    static const ces_counter_t split[] = {
        {NULL, "a", NULL, CES_COUNTER, "A.", 0},
        {NULL, "b", NULL, CES_COUNTER, "B.", 0},
        {NULL, "a", NULL, CES_COUNTER, "A.", 0},
    };
    assert (ces_counters_check (split, 3));
    static const ces_counter_t nowhere[] = {{NULL, NULL, NULL, 0, NULL, 0}};
    assert (ces_counters_check (nowhere, 1));
    static const ces_counter_t mixed[] = {
        {NULL, "a", "x=\"1\"", CES_COUNTER, "A.", 0},
        {NULL, "a", "x=\"2\"", CES_GAUGE, NULL, 0},
    };
    assert (ces_counters_check (mixed, 2));

    //  A histogram: buckets are upper bounds, written cumulative
    ces_histogram_t latency;
    memset (&latency, 0, sizeof (latency));
    ces_histogram_observe (&latency, 50);      //  le 5e-05
    ces_histogram_observe (&latency, 51);      //  le 0.0001
    ces_histogram_observe (&latency, -3);      //  skew: 0
    ces_histogram_observe (&latency, 1500000); //  le 2.5
    ces_histogram_observe (&latency, 9000000); //  +Inf
    assert (latency.count == 5 && latency.sum_usecs == 10500101);
    assert (ces_histogram_now () > 1600000000LL * 1000000);
    out = open_memstream (&text, &size);
    ces_histogram_metrics (&latency, "ces_x_seconds", "Time to x.", out);
    fclose (out);
    assert (strstr (text, "# HELP ces_x_seconds Time to x.\n"
                          "# TYPE ces_x_seconds histogram\n"
                          "ces_x_seconds_bucket{le=\"5e-05\"} 2\n"
                          "ces_x_seconds_bucket{le=\"0.0001\"} 3\n"
                          "ces_x_seconds_bucket{le=\"0.00025\"} 3\n"));
    assert (strstr (text, "ces_x_seconds_bucket{le=\"1\"} 3\n"
                          "ces_x_seconds_bucket{le=\"2.5\"} 4\n"
                          "ces_x_seconds_bucket{le=\"5\"} 4\n"
                          "ces_x_seconds_bucket{le=\"+Inf\"} 5\n"
                          "ces_x_seconds_sum 10.500101\n"
                          "ces_x_seconds_count 5\n"));
    freen (text);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
