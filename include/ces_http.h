/*  =========================================================================
    ces_http - a small HTTP server for a process's /health, /status and
    /metrics, answered from a snapshot that the owning actor publishes.

    For processes that have no edge (ces-hub). civetweb's threads never
    touch the actor: they copy the latest snapshot under a lock, so a
    scrape is at most one publish interval old.
    =========================================================================
*/
#ifndef CES_HTTP_H_INCLUDED
#define CES_HTTP_H_INCLUDED

//  Start serving on listen ("127.0.0.1:7202", port 0 picks one). Returns
//  NULL and a reason in error when the port cannot be had.
ces_http_t *ces_http_new (const char *listen, char *error, size_t error_size);

//  Stop serving; idempotent, nulls the caller's pointer.
void ces_http_destroy (ces_http_t **self_p);

//  The port actually listened on.
int ces_http_port (ces_http_t *self);

//  Forward POST/DELETE/GET /interconnect[/address] to the hub's control
//  endpoint (the fifth string of the hub's BIND reply).
void ces_http_set_control (ces_http_t *self, const char *endpoint);

//  Replace the snapshot: /health answers 200 "ok" if healthy, else 503;
//  /status the JSON text; /metrics the Prometheus text.
void ces_http_publish (ces_http_t *self, bool healthy, const char *status,
                       const char *metrics);

#endif
