/*  =========================================================================
    ces_hub_curve - the hub's CURVE server side: its certificate, the
    clients directory zauth checks keys against, and the refused handshakes

    With a certificate, the hub's ROUTER and XPUB are CURVE servers. zauth
    (one per process: only one hub per process may have keys) lets in the
    client keys of the clients directory, or any client that has the hub's
    public key ("*"); a new directory can be given while the hub runs
    (SIGHUP). Monitors on both sockets count the handshakes refused, and
    log them at most once a second, since a refused client keeps retrying.
    Without a certificate this class does nothing.
    =========================================================================
*/
#ifndef CES_HUB_CURVE_H_INCLUDED
#define CES_HUB_CURVE_H_INCLUDED

typedef struct _ces_hub_curve_t ces_hub_curve_t;

//  Create it, with no certificate (CURVE off).
ces_hub_curve_t *ces_hub_curve_new (void);

//  Destroy it and its zauth; idempotent, nulls the caller's pointer. Call
//  ces_hub_curve_unwatch first, while the sockets still exist.
void ces_hub_curve_destroy (ces_hub_curve_t **self_p);

//  How its log lines are named (hub_id, copied) and filtered.
void ces_hub_curve_set_log (ces_hub_curve_t *self, const char *hub_id,
                            int level);

//  Load the hub's certificate from path ("" turns CURVE off). Returns 0,
//  or -1 (logged) when it cannot be read. Before ces_hub_curve_secure.
int ces_hub_curve_set_cert (ces_hub_curve_t *self, const char *path);

//  The clients directory ("*": any client with the hub's public key).
//  Before ces_hub_curve_secure: only remembered. After: checked, and
//  zauth reads it for the next handshakes (links already in are not asked
//  again). Returns 0, or -1 (logged) for a directory that does not exist.
void ces_hub_curve_set_clients (ces_hub_curve_t *self, const char *clients);
int ces_hub_curve_reload_clients (ces_hub_curve_t *self, const char *clients);

//  Is CURVE on (a certificate is set)? The hub's keys, or NULL.
bool ces_hub_curve_enabled (ces_hub_curve_t *self);
const ces_curve_t *ces_hub_curve_keys (ces_hub_curve_t *self);

//  Start zauth and make router and pub CURVE servers (before they bind;
//  only with a certificate). Returns NULL, or a reason the caller frees.
char *ces_hub_curve_secure (ces_hub_curve_t *self, zsock_t *router,
                            zsock_t *pub);

//  Watch the sockets secured for refused handshakes: their monitors are
//  added to poller. Unwatch stops them and takes them out of the poller.
void ces_hub_curve_watch (ces_hub_curve_t *self, zpoller_t *poller);
void ces_hub_curve_unwatch (ces_hub_curve_t *self);

//  If which (from the poller) is one of the monitors, count and log what
//  it says, and return true.
bool ces_hub_curve_recv_monitor (ces_hub_curve_t *self, void *which);

//  Handshakes refused so far.
uint64_t ces_hub_curve_refused (ces_hub_curve_t *self);

//  Add the "curve" object (enabled, public_key, clients) to a status.
void ces_hub_curve_status (ces_hub_curve_t *self, cJSON *root);

void ces_hub_curve_test (bool verbose);

#endif
