/*  =========================================================================
    ces_webserver - the civetweb side of an edge

    civetweb worker threads run everything here: one thread per open
    WebSocket for its whole life (PLATFORM.md), plus HTTP_WORKERS kept for
    plain HTTP. The webserver admits or refuses a WebSocket (its path, its
    token, max-clients, max-clients-per-address), checks every frame
    against RFC 6455 and reassembles messages (ces_websocket), checks each
    event and registration, and tells the edge actor one inbox message per
    client message (ces_inbox). It answers HTTP: POST /event (or /send),
    /status, /metrics, /health, /interconnect and the page. It never
    writes to a WebSocket: the actor does (ces_client).

    Counters that workers keep are atomics, read by the actor for /status.
    =========================================================================
*/
#ifndef CES_WEBSERVER_H_INCLUDED
#define CES_WEBSERVER_H_INCLUDED

#define CES_WEBSERVER_HTTP_WORKERS 8 //  civetweb threads kept for plain HTTP

typedef struct _ces_webserver_t ces_webserver_t;

//  What the webserver serves; set before start, read-only afterwards
typedef struct {
    const char *listen;      //  civetweb listening_ports
    bool outside;            //  /connect/ROOM/ID and POST /send (a repeater)
    int max_clients;         //  WebSockets; more get HTTP 503
    int max_per_address;     //  WebSockets per remote address; 0 = any
    size_t max_message;      //  bytes of a message, reassembled
    size_t max_room_length;  //  bytes of a room ID
    int max_depth;           //  JSON nesting of an event
    int max_rate;            //  events/s per client; 0 = any
    bool validate;           //  check that events are JSON objects
    int handshake_timeout;   //  msecs to send a whole request
    const char *hub_control; //  the hub in this process, for /interconnect
    int log_level;
} ces_webserver_config_t;

//  Counted by the workers
typedef struct {
    uint64_t refused_full;    //  503s
    uint64_t refused_bad;     //  400s
    uint64_t refused_auth;    //  401s and 403s
    uint64_t denied;          //  registers and sends outside a grant
    uint64_t rate_limited;    //  events over a client's max-rate
    uint64_t http_errors;     //  requests civetweb refused itself
    uint64_t protocol_errors; //  frames RFC 6455 forbids
} ces_webserver_counters_t;

//  inbox and auth are borrowed and must outlive the webserver
ces_webserver_t *ces_webserver_new (const ces_webserver_config_t *config,
                                    ces_inbox_t *inbox, ces_auth_t *auth);
void ces_webserver_destroy (ces_webserver_t **self_p);

//  Replaces the auth that workers check requests with (a reload); once this
//  returns no worker uses the one before, which the caller may destroy.
//  auth is borrowed, as in ces_webserver_new.
void ces_webserver_set_auth (ces_webserver_t *self, ces_auth_t *auth);

//  Starts civetweb; returns the listening port, or -1 with a reason
int ces_webserver_start (ces_webserver_t *self, char *reason,
                         size_t reason_size);

//  Stops civetweb, calling drain every 10 ms meanwhile (workers may be
//  waiting on the actor)
void ces_webserver_stop (ces_webserver_t *self, ces_civetweb_drain_fn *drain,
                         void *arg);

//  Open WebSockets, and the counters
int ces_webserver_clients (ces_webserver_t *self);
void ces_webserver_counters (ces_webserver_t *self,
                             ces_webserver_counters_t *counters);

void ces_webserver_test (bool verbose);

#endif
