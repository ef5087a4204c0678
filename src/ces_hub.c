/*  =========================================================================
    ces_hub - the hub actor: binds a ROUTER for ingress and an XPUB for
    egress, with CURVE when it has a certificate, serves the control socket
    and the pipe, and lends both sockets to ces_routing, which does the
    routing (the words link, connection, hub peer and message are defined in
    src/ces_routing.h)
    =========================================================================
*/
#include "ces_classes.h"

typedef struct {
    uint64_t curve_refused;
    ces_routing_counters_t routing;
} counters_t;

#define ROUTING(field) offsetof (counters_t, routing.field)

//  What /status and /metrics show of the counters, in /metrics order
static const ces_counter_t s_counter_table[] = {
    {"events_in.messenger", "ces_hub_events_in_total", "source=\"messenger\"",
     CES_COUNTER, "Events received, by source role.",
     ROUTING (events_in[CES_ROLE_INDEX_MESSENGER])},
    {"events_in.repeater", "ces_hub_events_in_total", "source=\"repeater\"",
     CES_COUNTER, NULL, ROUTING (events_in[CES_ROLE_INDEX_REPEATER])},
    {"events_in.hub", "ces_hub_events_in_total", "source=\"hub\"", CES_COUNTER,
     NULL, ROUTING (events_in[CES_ROLE_INDEX_HUB])},
    {"deliveries.published", "ces_hub_deliveries_total", "path=\"publish\"",
     CES_COUNTER, "Events sent on, by path.", ROUTING (published)},
    {"deliveries.repeater", "ces_hub_deliveries_total", "path=\"repeater\"",
     CES_COUNTER, NULL, ROUTING (delivered_repeater)},
    {"deliveries.hub", "ces_hub_deliveries_total", "path=\"hub\"", CES_COUNTER,
     NULL, ROUTING (delivered_hub)},
    {"drops.no_route", "ces_hub_drops_total", "reason=\"no_route\"",
     CES_COUNTER, "Events not delivered, by reason.",
     ROUTING (drops[CES_DROP_NO_ROUTE])},
    {"drops.peer_gone", "ces_hub_drops_total", "reason=\"peer_gone\"",
     CES_COUNTER, NULL, ROUTING (drops[CES_DROP_PEER_GONE])},
    {"drops.queue_full", "ces_hub_drops_total", "reason=\"queue_full\"",
     CES_COUNTER, NULL, ROUTING (drops[CES_DROP_QUEUE_FULL])},
    {"drops.malformed", "ces_hub_drops_total", "reason=\"malformed\"",
     CES_COUNTER, NULL, ROUTING (drops[CES_DROP_MALFORMED])},
    {"drops.unknown_peer", "ces_hub_drops_total", "reason=\"unknown_peer\"",
     CES_COUNTER, NULL, ROUTING (drops[CES_DROP_UNKNOWN_PEER])},
    {"drops.unconnected", "ces_hub_drops_total", "reason=\"unconnected\"",
     CES_COUNTER, NULL, ROUTING (drops[CES_DROP_UNCONNECTED])},
    {"connections.messenger", "ces_hub_connections", "role=\"messenger\"",
     CES_GAUGE, "Attached connections, by role.",
     ROUTING (connections[CES_ROLE_INDEX_MESSENGER])},
    {"connections.repeater", "ces_hub_connections", "role=\"repeater\"",
     CES_GAUGE, NULL, ROUTING (connections[CES_ROLE_INDEX_REPEATER])},
    {"connections.hub", "ces_hub_connections", "role=\"hub\"", CES_GAUGE, NULL,
     ROUTING (connections[CES_ROLE_INDEX_HUB])},
    {"connections.outside", "ces_hub_connections", "role=\"outside\"",
     CES_GAUGE, NULL, ROUTING (connections[CES_ROLE_INDEX_OUTSIDE])},
    {NULL, "ces_hub_links", NULL, CES_GAUGE, "Peers linked to the ROUTER.",
     ROUTING (links)},
    {NULL, "ces_hub_rooms", NULL, CES_GAUGE,
     "Rooms with at least one subscriber.", ROUTING (rooms)},
    {"no_subscriber", "ces_hub_no_subscriber_total", NULL, CES_COUNTER,
     "Events for a room no local messenger held (a repeater or peer hub may "
     "still get them).",
     ROUTING (no_subscriber)},
    {"curve.refused", "ces_hub_curve_refused_total", NULL, CES_COUNTER,
     "CURVE handshakes refused (unknown client key, other hub key, or no "
     "CURVE).",
     offsetof (counters_t, curve_refused)},
    {"star_subscribers", NULL, NULL, CES_GAUGE, NULL,
     ROUTING (star_subscribers)},
    {"repeaters", NULL, NULL, CES_GAUGE, NULL, ROUTING (repeaters)},
};

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    zsock_t *pub;     //  an XPUB, so that sync subscriptions can be seen
    zsock_t *control; //  HTTP threads ask for mesh changes here
    char *control_endpoint;
    char *self_endpoint; //  the ROUTER, reachable inside this process
    ces_mesh_t *mesh;
    ces_routing_t *routing; //  made once bound
    ces_store_t *store;     //  made once bound: what rooms remember
    ces_store_limits_t store_limits;
    char *data_dir;
    char *advertise; //  the ROUTER address peer hubs dial back
    zpoller_t *poller;
    bool terminated;
    int log_level;
    char *hub_id;
    char *router_endpoint;
    char *pub_endpoint;
    char *http_listen; //  serve /status, /metrics, /health here, if set
    ces_http_t *http;
    uint32_t heartbeat;
    bool validate;
    bool trust_validated; //  believe "validated" in HELLO from any link
    size_t max_payload;
    int max_depth;
    int sndhwm;
    int64_t next_housekeeping;
    counters_t counters;

    ces_hub_curve_t *curve; //  CURVE, when a certificate is set
} self_t;

//  --------------------------------------------------------------------------
//  Status and metrics

static const counters_t *
s_counters (self_t *self)
{
    if (self->routing)
        self->counters.routing = *ces_routing_counters (self->routing);
    self->counters.curve_refused = ces_hub_curve_refused (self->curve);
    return &self->counters;
}

static char *
s_status_json (self_t *self)
{
    cJSON *root = cJSON_CreateObject ();
    cJSON_AddStringToObject (root, "hub_id", self->hub_id);
    cJSON_AddStringToObject (
        root, "router", self->router_endpoint ? self->router_endpoint : "");
    cJSON_AddStringToObject (root, "pub",
                             self->pub_endpoint ? self->pub_endpoint : "");
    cJSON_AddBoolToObject (root, "validate", self->validate);
    cJSON_AddNumberToObject (root, "heartbeat_ms", self->heartbeat);
    ces_hub_curve_status (self->curve, root);
    ces_counters_json (s_counter_table, CES_COUNTERS_SIZE (s_counter_table),
                       s_counters (self), root);
    if (self->routing)
        ces_routing_status (self->routing, root);
    else {
        cJSON_AddArrayToObject (root, "links");
        cJSON_AddObjectToObject (root, "rooms");
    }
    if (self->mesh)
        ces_mesh_status (self->mesh, root);
    if (self->store)
        ces_store_status (self->store, cJSON_AddObjectToObject (root, "store"));
    char *text = cJSON_PrintUnformatted (root);
    cJSON_Delete (root);
    return text;
}

static char *
s_metrics_text (self_t *self)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    ces_counters_metrics (s_counter_table, CES_COUNTERS_SIZE (s_counter_table),
                          s_counters (self), out);
    ces_histogram_metrics (
        &self->counters.routing.routing_time, "ces_hub_routing_seconds",
        "Time from reading an event to handing it to every socket it goes to.",
        out);
    if (self->mesh)
        ces_mesh_metrics (self->mesh, out);
    if (self->store)
        ces_store_metrics (self->store, out);
    fclose (out);
    return text;
}

static void
s_publish_snapshot (self_t *self)
{
    if (!self->http)
        return;
    char *status = s_status_json (self);
    char *metrics = s_metrics_text (self);
    ces_http_publish (self->http, true, status, metrics);
    freen (status);
    freen (metrics);
}

static void
s_housekeeping (self_t *self)
{
    ces_routing_housekeeping (self->routing);
    s_publish_snapshot (self);
    self->next_housekeeping = zclock_mono () + self->heartbeat;
}
//  --------------------------------------------------------------------------
//  Pipe commands

static void s_routing_options (self_t *self);

static int
s_set_option (self_t *self, const char *name, const char *value)
{
    if (!name || !value || ces_options_check (CES_OPTIONS_HUB, name, value))
        return -1;
    char *end;
    long number = strtol (value, &end, 10);
    bool is_number = *value && !*end;
    if (streq (name, "heartbeat") && is_number && number >= 10 &&
        number <= 3600000)
        self->heartbeat = (uint32_t)number;
    else if (streq (name, "validate") &&
             (streq (value, "true") || streq (value, "false")))
        self->validate = streq (value, "true");
    else if (streq (name, "trust-validated") &&
             (streq (value, "true") || streq (value, "false")))
        self->trust_validated = streq (value, "true");
    else if (streq (name, "max-message") && is_number && number > 0)
        self->max_payload = (size_t)number;
    else if (streq (name, "max-depth") && is_number && number > 0 &&
             number <= CES_DEPTH_LIMIT)
        self->max_depth = (int)number;
    else if (streq (name, "history") && !self->router)
        self->store_limits.history = (size_t)number;
    else if (streq (name, "history-age") && !self->router)
        self->store_limits.history_age = (int64_t)number * 1000;
    else if (streq (name, "history-bytes") && !self->router)
        self->store_limits.history_bytes = (size_t)number;
    else if (streq (name, "state-keys") && !self->router)
        self->store_limits.state_keys = (size_t)number;
    else if (streq (name, "data-dir") && *value && !self->router)
        zstr_free (&self->data_dir), self->data_dir = strdup (value);
    else if (streq (name, "sndhwm") && is_number && number > 0)
        self->sndhwm = (int)number;
    else if (streq (name, "hub-id") && ces_proto_name_valid (value))
        zstr_free (&self->hub_id), self->hub_id = strdup (value);
    else if (streq (name, "advertise"))
        zstr_free (&self->advertise), self->advertise = strdup (value);
    else if (streq (name, "http") && *value)
        zstr_free (&self->http_listen), self->http_listen = strdup (value);
    else if (streq (name, "log-level") && ces_log_level_parse (value) >= 0)
        self->log_level = ces_log_level_parse (value);
    else if (streq (name, "curve-cert") && !self->router)
        return ces_hub_curve_set_cert (self->curve, value);
    else if (streq (name, "curve-clients") && *value && !self->router)
        ces_hub_curve_set_clients (self->curve, value);
    else if (streq (name, "curve-clients") && *value)
        //  A new clients directory while the hub runs (SIGHUP)
        return ces_hub_curve_reload_clients (self->curve, value);
    else
        return -1;
    if (self->routing)
        s_routing_options (self);
    return 0;
}

//  Binds every endpoint of a comma-separated list; returns the endpoints
//  actually bound (ports filled in), or NULL with the one that failed
static char *
s_bind_all (zsock_t *socket, const char *endpoints, char **failed)
{
    char *list = strdup (endpoints);
    char *bound = strdup ("");
    char *saveptr = NULL;
    for (char *endpoint = strtok_r (list, ",", &saveptr); endpoint;
         endpoint = strtok_r (NULL, ",", &saveptr)) {
        if (zsock_bind (socket, "%s", endpoint) < 0) {
            *failed = strdup (endpoint);
            zstr_free (&bound);
            break;
        }
        char *last = zsock_last_endpoint (socket);
        char *joined = zsys_sprintf ("%s%s%s", bound, *bound ? "," : "", last);
        zstr_free (&last);
        zstr_free (&bound);
        bound = joined;
    }
    freen (list);
    return bound;
}

//  The ROUTER address peer hubs can dial back: the first tcp endpoint
//  bound to a real interface, unless "advertise" says otherwise
static char *
s_advertised (self_t *self)
{
    if (self->advertise)
        return strdup (self->advertise);
    char *list = strdup (self->router_endpoint);
    char *saveptr = NULL;
    char *found = NULL;
    for (char *endpoint = strtok_r (list, ",", &saveptr); endpoint && !found;
         endpoint = strtok_r (NULL, ",", &saveptr))
        if (strncmp (endpoint, "tcp://", 6) == 0 &&
            strncmp (endpoint, "tcp://0.0.0.0:", 14) != 0 &&
            strncmp (endpoint, "tcp://*:", 8) != 0 &&
            strncmp (endpoint, "tcp://[::]:", 11) != 0)
            found = strdup (endpoint);
    freen (list);
    if (!found)
        ces_debug (self->log_level,
                   "hub %s: no ROUTER address peer hubs can dial back (bind "
                   "a tcp:// address of an interface, or set --advertise)",
                   self->hub_id);
    return found ? found : strdup ("");
}

//  The mesh, the in-process ROUTER endpoint original-hub peers use, and
//  the control socket HTTP threads ask for /interconnect changes on
static void
s_start_mesh (self_t *self)
{
    //  Unique names: a hub that just ended may still hold its own
    zuuid_t *uuid = zuuid_new ();
    self->self_endpoint =
        zsys_sprintf ("inproc://ces-hub-%s", zuuid_str (uuid));
    int rc = zsock_bind (self->router, "%s", self->self_endpoint);
    assert (rc == 0);
    self->control_endpoint =
        zsys_sprintf ("inproc://ces-hub-control-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    self->control = zsock_new (ZMQ_ROUTER);
    assert (self->control);
    rc = zsock_bind (self->control, "%s", self->control_endpoint);
    assert (rc == 0);
    self->mesh = ces_mesh_new (self->hub_id, self->router, self->poller,
                               self->self_endpoint);
    ces_mesh_set_log_level (self->mesh, self->log_level);
    char *address = s_advertised (self);
    ces_mesh_set_address (self->mesh, address);
    zstr_free (&address);
}

//  The two sockets, with what nothing-blocks routing needs of them
static void
s_new_sockets (self_t *self)
{
    self->router = zsock_new (ZMQ_ROUTER);
    self->pub = zsock_new (ZMQ_XPUB);
    assert (self->router && self->pub);
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_router_handover (self->router, 1);
    zsock_set_sndtimeo (self->router, 0);
    zsock_set_sndhwm (self->router, self->sndhwm);
    zsock_set_rcvhwm (self->router, self->sndhwm);
    zsock_set_sndhwm (self->pub, self->sndhwm);
    zsock_set_xpub_verbose (self->pub, 1);
    //  Every subscribe and unsubscribe, also for a SUB that goes away: the
    //  routing table counts which rooms have a SUB connected
    zsock_set_xpub_verboser (self->pub, 1);
    //  Subscriptions are tiny and must never be dropped (see ces_link)
    zsock_set_rcvhwm (self->pub, 0);
    zsock_set_sndtimeo (self->pub, 0);
    zsock_set_linger (self->router, 100);
}

//  BIND failed: undo it and say why (takes the reason)
static void
s_bind_failed (self_t *self, char **reason_p)
{
    ces_mesh_destroy (&self->mesh);
    zsock_destroy (&self->control);
    zsock_destroy (&self->router);
    zsock_destroy (&self->pub);
    zstr_free (&self->router_endpoint);
    zstr_free (&self->pub_endpoint);
    zstr_sendx (self->pipe, "-1", *reason_p, "", "", NULL);
    zstr_free (reason_p);
}

//  Serves /status, /metrics and /health if asked to; a reason if it cannot
static char *
s_start_http (self_t *self)
{
    if (!self->http_listen)
        return NULL;
    char error[256] = "";
    self->http = ces_http_new (self->http_listen, error, sizeof (error));
    if (!self->http)
        return zsys_sprintf ("cannot serve HTTP on %s: %s", self->http_listen,
                             error);
    ces_http_set_control (self->http, self->control_endpoint);
    ces_info (self->log_level, "hub %s: status on port %d", self->hub_id,
              ces_http_port (self->http));
    return NULL;
}

//  The options the routing table reads, again after every SET
static void
s_routing_options (self_t *self)
{
    ces_routing_options_t options = {self->log_level,
                                     self->heartbeat,
                                     self->validate,
                                     self->trust_validated,
                                     ces_hub_curve_enabled (self->curve),
                                     self->max_payload,
                                     self->max_depth};
    ces_routing_set_options (self->routing, &options);
}

static void
s_start_routing (self_t *self)
{
    self->routing = ces_routing_new (self->hub_id, self->router, self->pub,
                                     self->mesh, self->store);
    s_routing_options (self);
}

//  What rooms remember, in memory or in the data directory
static char *
s_open_store (self_t *self)
{
    self->store_limits.data_dir = self->data_dir;
    char *error = NULL;
    self->store = ces_store_new (&self->store_limits, &error);
    if (!self->store)
        return error;
    if (self->data_dir)
        ces_info (self->log_level, "hub %s: rooms remembered in %s",
                  self->hub_id, self->data_dir);
    return NULL;
}

static void
s_bind (self_t *self, const char *router_endpoint, const char *pub_endpoint)
{
    if (self->router) {
        zstr_sendx (self->pipe, "-1", "hub is already bound", "", "", NULL);
        return;
    }
    s_new_sockets (self);
    char *reason = s_open_store (self);
    if (!reason && ces_hub_curve_enabled (self->curve))
        reason = ces_hub_curve_secure (self->curve, self->router, self->pub);
    char *failed = NULL;
    if (!reason) {
        self->router_endpoint =
            s_bind_all (self->router, router_endpoint, &failed);
        if (self->router_endpoint)
            self->pub_endpoint = s_bind_all (self->pub, pub_endpoint, &failed);
        if (!self->router_endpoint || !self->pub_endpoint)
            reason = zsys_sprintf ("cannot bind %s: %s", failed,
                                   zmq_strerror (zmq_errno ()));
        zstr_free (&failed);
    }
    if (!reason) {
        s_start_mesh (self);
        reason = s_start_http (self);
    }
    if (reason) {
        s_bind_failed (self, &reason);
        return;
    }
    if (ces_hub_curve_enabled (self->curve)) {
        ces_hub_curve_watch (self->curve, self->poller);
        ces_mesh_set_curve (self->mesh, ces_hub_curve_keys (self->curve));
    }
    s_start_routing (self);
    s_publish_snapshot (self);
    zpoller_add (self->poller, self->router);
    zpoller_add (self->poller, self->pub);
    zpoller_add (self->poller, self->control);
    self->next_housekeeping = zclock_mono () + self->heartbeat;
    ces_info (self->log_level, "hub %s: ROUTER %s, PUB %s, heartbeat %u ms%s",
              self->hub_id, self->router_endpoint, self->pub_endpoint,
              self->heartbeat, self->validate ? "" : ", validation off");
    char http[64] = "";
    if (self->http) {
        const char *colon = strrchr (self->http_listen, ':');
        snprintf (http, sizeof (http), "%.*s:%d",
                  (int)(colon ? colon - self->http_listen : 0),
                  self->http_listen, ces_http_port (self->http));
    }
    zstr_sendx (self->pipe, "0", self->router_endpoint, self->pub_endpoint,
                http, self->control_endpoint, NULL);
}

static void
s_handle_pipe (self_t *self)
{
    zmsg_t *request = zmsg_recv (self->pipe);
    if (!request)
        return;
    char *command = zmsg_popstr (request);
    assert (command);
    if (streq (command, "$TERM"))
        self->terminated = true;
    else if (streq (command, "VERBOSE")) {
        self->log_level = CES_LOG_DEBUG;
        if (self->routing)
            s_routing_options (self);
    } else if (streq (command, "SET")) {
        char *name = zmsg_popstr (request);
        char *value = zmsg_popstr (request);
        zsock_signal (self->pipe, s_set_option (self, name, value) ? 1 : 0);
        zstr_free (&name);
        zstr_free (&value);
    } else if (streq (command, "BIND")) {
        char *router_endpoint = zmsg_popstr (request);
        char *pub_endpoint = zmsg_popstr (request);
        assert (router_endpoint && pub_endpoint);
        s_bind (self, router_endpoint, pub_endpoint);
        zstr_free (&router_endpoint);
        zstr_free (&pub_endpoint);
    } else if (streq (command, "LINK") || streq (command, "UNLINK")) {
        char *address = zmsg_popstr (request);
        assert (address);
        char *reply = NULL;
        int rc = !self->mesh ? (reply = strdup ("hub is not bound"), -1)
                 : streq (command, "LINK")
                     ? ces_mesh_link (self->mesh, address, &reply)
                     : ces_mesh_unlink (self->mesh, address, &reply);
        zstr_sendx (self->pipe, rc < 0 ? "-1" : rc ? "1" : "0", reply, NULL);
        zstr_free (&reply);
        zstr_free (&address);
    } else if (streq (command, "STATUS")) {
        char *json = s_status_json (self);
        zstr_send (self->pipe, json);
        freen (json);
    } else if (streq (command, "PRESENCE")) {
        char *room = zmsg_popstr (request);
        assert (room);
        cJSON *array = cJSON_CreateArray ();
        if (self->routing)
            ces_routing_presence (self->routing, room, array);
        char *json = cJSON_PrintUnformatted (array);
        cJSON_Delete (array);
        zstr_send (self->pipe, json);
        freen (json);
        zstr_free (&room);
    } else if (streq (command, "METRICS")) {
        char *text = s_metrics_text (self);
        zstr_send (self->pipe, text);
        freen (text);
    } else {
        zsys_error ("hub: invalid pipe command '%s'", command);
        assert (false);
    }
    zstr_free (&command);
    zmsg_destroy (&request);
    //  Its log lines are named and filtered as the hub's, after every SET
    ces_hub_curve_set_log (self->curve, self->hub_id, self->log_level);
}

//  What arrives on a link the mesh dialled
static void
s_handle_mesh_dial (self_t *self, void *which)
{
    //  Only the pipe, router, pub, control and the mesh's sockets are polled
    for (int count = 0; count < 1000; count++) {
        const char *origin = NULL;
        zframe_t *message = ces_mesh_recv (self->mesh, which, &origin);
        if (message)
            ces_routing_mesh_event (self->routing, &message, origin);
        //  The mesh may have closed the link while handling it
        if (!ces_mesh_owns (self->mesh, which) ||
            !(zsock_events (which) & ZMQ_POLLIN))
            break;
    }
}

//  /interconnect from an HTTP thread: [method, address] -> [status, body]
static void
s_handle_control (self_t *self)
{
    zmsg_t *request = zmsg_recv (self->control);
    if (!request)
        return;
    zframe_t *routing_id = zmsg_pop (request);
    char *method = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *reply = NULL;
    const char *status = "400";
    if (!method || !address)
        reply = strdup ("bad control request");
    else if (streq (method, "GET")) {
        cJSON *root = cJSON_CreateObject ();
        cJSON_AddStringToObject (root, "hub_id", self->hub_id);
        ces_mesh_status (self->mesh, root);
        reply = cJSON_PrintUnformatted (root);
        cJSON_Delete (root);
        status = "200";
    } else if (streq (method, "QUERY") && self->routing) {
        //  A /rooms view for ces_http
        int code = 400;
        cJSON *answer =
            ces_routing_query (self->routing, address, strlen (address), &code);
        reply = cJSON_PrintUnformatted (answer);
        cJSON_Delete (answer);
        status = code == 200 ? "200" : code == 404 ? "404" : "400";
    } else if (streq (method, "POST")) {
        int rc = ces_mesh_link (self->mesh, address, &reply);
        status = rc < 0 ? "400" : rc ? "200" : "201";
    } else if (streq (method, "DELETE")) {
        int rc = ces_mesh_unlink (self->mesh, address, &reply);
        status = rc < 0 ? "404" : "200";
    } else {
        reply = strdup ("use POST to link, DELETE to unlink, GET to list");
        status = "405";
    }
    zmsg_t *answer = zmsg_new ();
    zmsg_append (answer, &routing_id);
    zmsg_addstr (answer, status);
    zmsg_addstr (answer, reply);
    zmsg_send (&answer, self->control);
    zstr_free (&reply);
    zstr_free (&method);
    zstr_free (&address);
    zframe_destroy (&routing_id);
    zmsg_destroy (&request);
}

//  --------------------------------------------------------------------------
//  The actor

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        //  The monitors, while the sockets and the poller still exist
        ces_hub_curve_unwatch (self->curve);
        ces_routing_destroy (&self->routing);
        ces_store_destroy (&self->store);
        zstr_free (&self->data_dir);
        //  The mesh takes its sockets out of the poller first
        ces_mesh_destroy (&self->mesh);
        zpoller_destroy (&self->poller);
        ces_http_destroy (&self->http);
        zstr_free (&self->http_listen);
        zsock_destroy (&self->control);
        zstr_free (&self->control_endpoint);
        zstr_free (&self->self_endpoint);
        zstr_free (&self->advertise);
        zsock_destroy (&self->router);
        zsock_destroy (&self->pub);
        ces_hub_curve_destroy (&self->curve);
        zstr_free (&self->hub_id);
        zstr_free (&self->router_endpoint);
        zstr_free (&self->pub_endpoint);
        freen (self);
        *self_p = NULL;
    }
}

static self_t *
s_self_new (zsock_t *pipe)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->log_level = CES_LOG_INFO;
    zuuid_t *uuid = zuuid_new ();
    self->hub_id = zsys_sprintf ("hub-%.8s", zuuid_str_canonical (uuid));
    zuuid_destroy (&uuid);
    self->heartbeat = CES_HEARTBEAT_MSEC;
    self->validate = true;
    self->sndhwm = CES_HUB_SNDHWM;
    self->store_limits = (ces_store_limits_t){CES_STORE_HISTORY,
                                              CES_STORE_HISTORY_AGE,
                                              CES_STORE_HISTORY_BYTES,
                                              CES_STORE_STATE_KEYS,
                                              NULL,
                                              CES_STORE_MAP_SIZE};
    self->max_payload = CES_PAYLOAD_MAX;
    self->max_depth = CES_DEPTH_MAX;
    self->curve = ces_hub_curve_new ();
    ces_hub_curve_set_log (self->curve, self->hub_id, self->log_level);
    self->poller = zpoller_new (pipe, NULL);
    assert (self->poller);
    //  Never steal the host's signals: only $TERM ends the actor
    zpoller_set_nonstop (self->poller, true);
    return self;
}

void
ces_hub_actor (zsock_t *pipe, void *args)
{
    (void)args;
    self_t *self = s_self_new (pipe);
    zsock_signal (pipe, 0);
    while (!self->terminated) {
        int timeout = -1;
        if (self->router) {
            int64_t wait = self->next_housekeeping - zclock_mono ();
            timeout = wait > 0 ? (int)wait : 0;
            int mesh_wait = ces_mesh_timeout (self->mesh);
            if (mesh_wait < timeout)
                timeout = mesh_wait;
        }
        zsock_t *which = (zsock_t *)zpoller_wait (self->poller, timeout);
        if (which == self->pipe)
            s_handle_pipe (self);
        else if (which == self->router)
            //  Drained in a bounded batch, so that the pipe and timers are
            //  never starved
            ces_routing_recv_router (self->routing, 1000);
        else if (which == self->pub)
            ces_routing_recv_subscription (self->routing);
        else if (which && which == self->control)
            s_handle_control (self);
        else if (which && !ces_hub_curve_recv_monitor (self->curve, which))
            s_handle_mesh_dial (self, which);
        //  Events of this turn: committed, then published
        if (self->routing)
            ces_routing_flush (self->routing);
        if (self->mesh && ces_mesh_timeout (self->mesh) == 0)
            ces_mesh_tick (self->mesh);
        if (self->router && zclock_mono () >= self->next_housekeeping)
            s_housekeeping (self);
    }
    s_self_destroy (&self);
}

int
ces_hub_link (zactor_t *hub, zlist_t *addresses, char **reason)
{
    assert (hub && addresses && reason);
    *reason = NULL;
    for (const char *address = (const char *)zlist_first (addresses);
         address && !*reason; address = (const char *)zlist_next (addresses)) {
        zstr_sendx (hub, "LINK", address, NULL);
        char *rc = NULL, *reply = NULL;
        zstr_recvx (hub, &rc, &reply, NULL);
        if (!rc || streq (rc, "-1"))
            *reason = zsys_sprintf ("%s: %s", address, reply ? reply : "?");
        zstr_free (&rc);
        zstr_free (&reply);
    }
    return *reason ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Self test

zactor_t *
ces_hub_test_start (const char *router_endpoint, const char *pub_endpoint,
                    char **router, char **pub, ...)
{
    assert (router && pub);
    zactor_t *hub = zactor_new (ces_hub_actor, NULL);
    assert (hub);
    va_list args;
    va_start (args, pub);
    const char *name;
    while ((name = va_arg (args, const char *))) {
        const char *value = va_arg (args, const char *);
        zstr_sendx (hub, "SET", name, value, NULL);
        int rc = zsock_wait (hub);
        if (rc)
            zsys_error ("hub selftest: SET %s %s refused", name, value);
        assert (rc == 0);
    }
    va_end (args);
    zstr_sendx (hub, "BIND",
                router_endpoint ? router_endpoint : "tcp://127.0.0.1:*",
                pub_endpoint ? pub_endpoint : "tcp://127.0.0.1:*", NULL);
    char *status = NULL;
    zstr_recvx (hub, &status, router, pub, NULL);
    assert (status && streq (status, "0"));
    zstr_free (&status);
    return hub;
}

//  The shared helper: a messenger sends, a bad event is counted, and
//  /status and /metrics come from one counter table
static void
s_test_counters (bool verbose)
{
    char *router, *pub;
    zactor_t *hub = ces_hub_test_start (NULL, NULL, &router, &pub, "log-level",
                                        verbose ? "debug" : "error",
                                        "heartbeat", "100", NULL);
    assert (strncmp (router, "tcp://127.0.0.1:", 16) == 0);
    zsock_t *dealer = zsock_new_dealer (router);
    zsock_set_rcvtimeo (dealer, 2000);
    zstr_sendx (dealer, "HELLO", CES_PROTO_VERSION, "selftest", NULL);
    char *welcome = zstr_recv (dealer);
    assert (welcome && streq (welcome, "WELCOME"));
    zstr_free (&welcome);
    zmsg_t *rest = zmsg_recv (dealer);
    zmsg_destroy (&rest);
    zstr_sendx (dealer, "ATTACH", "1", CES_ROLE_MESSENGER, NULL);
    zstr_sendx (dealer, "EVENT", "1", "ITB-1101\n{\"key\":\"power\"}", NULL);
    zstr_sendx (dealer, "EVENT", "1", "ITB-1101\nnot json", NULL);
    char *error = zstr_recv (dealer);
    assert (error && streq (error, "ERROR"));
    zstr_free (&error);
    rest = zmsg_recv (dealer);
    zmsg_destroy (&rest);

    zstr_send (hub, "STATUS");
    char *json = zstr_recv (hub);
    cJSON *root = cJSON_Parse (json);
    assert (cJSON_GetNumberValue (cJSON_GetObjectItem (
                cJSON_GetObjectItem (root, "drops"), "malformed")) == 1);
    assert (cJSON_GetNumberValue (cJSON_GetObjectItem (
                cJSON_GetObjectItem (root, "events_in"), "messenger")) == 1);
    assert (cJSON_GetNumberValue (cJSON_GetObjectItem (
                cJSON_GetObjectItem (root, "connections"), "messenger")) == 1);
    assert (cJSON_IsFalse (
        cJSON_GetObjectItem (cJSON_GetObjectItem (root, "curve"), "enabled")));
    cJSON_Delete (root);
    zstr_free (&json);
    zstr_send (hub, "METRICS");
    char *metrics = zstr_recv (hub);
    assert (
        strstr (metrics, "ces_hub_events_in_total{source=\"messenger\"} 1\n"));
    assert (strstr (metrics, "# TYPE ces_hub_connections gauge\n"));
    assert (strstr (metrics, "ces_hub_drops_total{reason=\"malformed\"} 1\n"));
    assert (strstr (metrics, "\nces_hub_links 1\n"));
    zstr_free (&metrics);
    assert (ces_counters_check (s_counter_table,
                                CES_COUNTERS_SIZE (s_counter_table)) == NULL);

    zsock_destroy (&dealer);
    zstr_free (&router);
    zstr_free (&pub);
    zactor_destroy (&hub);
}

void
ces_hub_test (bool verbose)
{
    printf (" * ces_hub: ");
    //  @selftest
    //  Options are checked; BIND answers with the endpoints bound
    zactor_t *hub = zactor_new (ces_hub_actor, NULL);
    assert (hub);
    if (verbose)
        zstr_send (hub, "VERBOSE");
    else {
        //  The refused certificate below is logged as an error
        zstr_sendx (hub, "SET", "log-level", "error", NULL);
        assert (zsock_wait (hub) == 0);
    }
    zstr_sendx (hub, "SET", "heartbeat", "nonsense", NULL);
    assert (zsock_wait (hub) != 0);
    zstr_sendx (hub, "SET", "trust-validated", "maybe", NULL);
    assert (zsock_wait (hub) != 0);
    zstr_sendx (hub, "SET", "curve-cert", "/nonexistent/hub.key", NULL);
    assert (zsock_wait (hub) != 0);
    zstr_sendx (hub, "SET", "hub-id", "selftest-hub", NULL);
    assert (zsock_wait (hub) == 0);
    //  STATUS before BIND has every field, counting nothing
    zstr_send (hub, "STATUS");
    char *json = zstr_recv (hub);
    assert (strstr (json, "\"links\":[]"));
    assert (strstr (json, "\"drops\":{\"no_route\":0,"));
    zstr_free (&json);
    zstr_sendx (hub, "BIND", "inproc://hub-test-router",
                "inproc://hub-test-pub", NULL);
    char *status, *router_endpoint, *pub_endpoint, *http, *control;
    zstr_recvx (hub, &status, &router_endpoint, &pub_endpoint, &http, &control,
                NULL);
    assert (streq (status, "0"));
    assert (streq (router_endpoint, "inproc://hub-test-router"));
    //  The control socket answers /rooms views (QUERY), for ces_http
    zsock_t *asker = zsock_new_dealer (control);
    zstr_sendx (asker, "QUERY", "{\"view\":\"rooms\"}", NULL);
    char *code, *body;
    zstr_recvx (asker, &code, &body, NULL);
    assert (streq (code, "200") && streq (body, "{\"rooms\":[]}"));
    zstr_free (&code);
    zstr_free (&body);
    zstr_sendx (asker, "QUERY", "{\"view\":\"state\",\"room\":\"R\"}", NULL);
    zstr_recvx (asker, &code, &body, NULL);
    assert (streq (code, "404"));
    zstr_free (&code);
    zstr_free (&body);
    zsock_destroy (&asker);
    zstr_free (&status);
    zstr_free (&router_endpoint);
    zstr_free (&pub_endpoint);
    zstr_free (&http);
    zstr_free (&control);
    zstr_sendx (hub, "BIND", "inproc://hub-test-2", "inproc://hub-test-3",
                NULL);
    zstr_recvx (hub, &status, &router_endpoint, &pub_endpoint, NULL);
    assert (streq (status, "-1"));
    zstr_free (&status);
    zstr_free (&router_endpoint);
    zstr_free (&pub_endpoint);
    zactor_destroy (&hub);

    s_test_counters (verbose);
    //  @end
    printf ("OK\n");
}
