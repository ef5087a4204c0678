/*  =========================================================================
    ces_hub_curve - the hub's CURVE server side: its certificate, the
    clients directory zauth checks keys against, and the refused handshakes
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_hub_curve_t {
    char *hub_id; //  for log lines
    int log_level;
    ces_curve_t *curve; //  the hub's certificate, or NULL: CURVE off
    char *clients;      //  the clients directory, or "*"
    zactor_t *auth;
    zsock_t *router; //  borrowed: the sockets secured
    zsock_t *pub;
    zpoller_t *poller; //  borrowed: where the monitors are polled
    zsock_t *router_monitor;
    zsock_t *pub_monitor;
    uint64_t refused;
    uint64_t refused_logged;
    int64_t next_log;
};

ces_hub_curve_t *
ces_hub_curve_new (void)
{
    ces_hub_curve_t *self = (ces_hub_curve_t *)zmalloc (sizeof (*self));
    assert (self);
    self->hub_id = strdup ("");
    self->log_level = CES_LOG_INFO;
    return self;
}

void
ces_hub_curve_destroy (ces_hub_curve_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_hub_curve_t *self = *self_p;
        assert (!self->router_monitor && !self->pub_monitor);
        zactor_destroy (&self->auth);
        ces_curve_destroy (&self->curve);
        zstr_free (&self->clients);
        zstr_free (&self->hub_id);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_hub_curve_set_log (ces_hub_curve_t *self, const char *hub_id, int level)
{
    assert (self && hub_id);
    if (!streq (self->hub_id, hub_id)) {
        zstr_free (&self->hub_id);
        self->hub_id = strdup (hub_id);
    }
    self->log_level = level;
}

int
ces_hub_curve_set_cert (ces_hub_curve_t *self, const char *path)
{
    assert (self && path);
    ces_curve_destroy (&self->curve);
    if (!*path)
        return 0; //  "" turns CURVE off
    char reason[256];
    self->curve = ces_curve_new (path, NULL, reason, sizeof (reason));
    if (!self->curve) {
        ces_error (self->log_level, "hub: %s", reason);
        return -1;
    }
    return 0;
}

void
ces_hub_curve_set_clients (ces_hub_curve_t *self, const char *clients)
{
    assert (self && clients);
    zstr_free (&self->clients);
    self->clients = strdup (clients);
}

int
ces_hub_curve_reload_clients (ces_hub_curve_t *self, const char *clients)
{
    assert (self && clients);
    bool any = streq (clients, "*");
    if (!any && !zsys_file_exists (clients)) {
        ces_error (self->log_level, "hub %s: no clients directory %s",
                   self->hub_id, clients);
        return -1;
    }
    ces_hub_curve_set_clients (self, clients);
    if (self->auth) {
        zstr_sendx (self->auth, "CURVE", any ? CURVE_ALLOW_ANY : clients, NULL);
        zsock_wait (self->auth);
        ces_info (self->log_level, "hub %s: CURVE clients now %s", self->hub_id,
                  any ? "any that has the key" : clients);
    }
    return 0;
}

bool
ces_hub_curve_enabled (ces_hub_curve_t *self)
{
    assert (self);
    return self->curve != NULL;
}

const ces_curve_t *
ces_hub_curve_keys (ces_hub_curve_t *self)
{
    assert (self);
    return self->curve;
}

//  Peer hubs dial with the hub certificate: without it in the directory
//  the mesh is refused, which is easy to miss
static void
s_check_own_key_authorised (ces_hub_curve_t *self)
{
    zcertstore_t *store = zcertstore_new (self->clients);
    assert (store);
    if (!zcertstore_lookup (store, ces_curve_public_key (self->curve)))
        ces_warn (self->log_level,
                  "hub %s: %s does not hold this hub's public certificate; "
                  "peer hubs (which share it) will be refused",
                  self->hub_id, self->clients);
    zcertstore_destroy (&store);
}

//  CURVE: zauth answers the handshakes of every socket in this process
//  that is a CURVE server; only one hub per process may have keys
char *
ces_hub_curve_secure (ces_hub_curve_t *self, zsock_t *router, zsock_t *pub)
{
    assert (self && self->curve && router && pub);
    if (!self->clients)
        return strdup ("a hub certificate needs a clients directory of "
                       "authorised public certificates, or \"*\" for any "
                       "client that has the hub's public key");
    bool any = streq (self->clients, "*");
    if (!any && !zsys_file_exists (self->clients))
        return zsys_sprintf ("no clients directory %s", self->clients);
    if (!any)
        s_check_own_key_authorised (self);
    self->auth = zactor_new (zauth, NULL);
    assert (self->auth);
    if (self->log_level >= CES_LOG_DEBUG) {
        zstr_sendx (self->auth, "VERBOSE", NULL);
        zsock_wait (self->auth);
    }
    zstr_sendx (self->auth, "CURVE", any ? CURVE_ALLOW_ANY : self->clients,
                NULL);
    zsock_wait (self->auth);
    ces_curve_secure_server (self->curve, router);
    ces_curve_secure_server (self->curve, pub);
    self->router = router;
    self->pub = pub;
    ces_info (self->log_level, "hub %s: CURVE on, public key %s, clients %s",
              self->hub_id, ces_curve_public_key (self->curve),
              any ? "any that has the key" : self->clients);
    return NULL;
}

void
ces_hub_curve_watch (ces_hub_curve_t *self, zpoller_t *poller)
{
    assert (self && poller && self->router && !self->router_monitor);
    self->poller = poller;
    self->router_monitor = ces_curve_monitor (self->router, CES_CURVE_REFUSALS);
    self->pub_monitor = ces_curve_monitor (self->pub, CES_CURVE_REFUSALS);
    zpoller_add (poller, self->router_monitor);
    zpoller_add (poller, self->pub_monitor);
}

void
ces_hub_curve_unwatch (ces_hub_curve_t *self)
{
    assert (self);
    if (self->poller && self->router_monitor) {
        zpoller_remove (self->poller, self->router_monitor);
        zpoller_remove (self->poller, self->pub_monitor);
    }
    ces_curve_monitor_stop (self->router, &self->router_monitor);
    ces_curve_monitor_stop (self->pub, &self->pub_monitor);
    self->poller = NULL;
}

bool
ces_hub_curve_recv_monitor (ces_hub_curve_t *self, void *which)
{
    assert (self);
    if (!which || (which != self->router_monitor && which != self->pub_monitor))
        return false;
    char *endpoint = NULL;
    ces_curve_refusal_t kind = ces_curve_refusal ((zsock_t *)which, &endpoint);
    if (kind == CES_CURVE_NONE)
        return true;
    self->refused++;
    //  A refused client keeps retrying: one line a second at most
    int64_t now = zclock_mono ();
    if (now >= self->next_log) {
        ces_warn (self->log_level,
                  "hub %s: refused %" PRIu64 " CURVE handshake(s) on %s (%s)",
                  self->hub_id, self->refused - self->refused_logged, endpoint,
                  kind == CES_CURVE_NOT_ALLOWED
                      ? "a client key not in the clients directory"
                      : "a client without CURVE or with another hub key");
        self->refused_logged = self->refused;
        self->next_log = now + 1000;
    }
    zstr_free (&endpoint);
    return true;
}

uint64_t
ces_hub_curve_refused (ces_hub_curve_t *self)
{
    assert (self);
    return self->refused;
}

void
ces_hub_curve_status (ces_hub_curve_t *self, cJSON *root)
{
    assert (self && root);
    cJSON *curve = cJSON_AddObjectToObject (root, "curve");
    cJSON_AddBoolToObject (curve, "enabled", self->curve != NULL);
    if (self->curve) {
        cJSON_AddStringToObject (curve, "public_key",
                                 ces_curve_public_key (self->curve));
        cJSON_AddStringToObject (curve, "clients", self->clients);
    }
}

//  --------------------------------------------------------------------------
//  Self test: a CURVE ROUTER of the test's own, a client without CURVE
//  (refused, counted) and one with the hub's own key (let in)

//  Polls the monitors until a refusal was counted; false after 5 s
static bool
s_test_refused (ces_hub_curve_t *curve, zpoller_t *poller)
{
    int64_t deadline = zclock_mono () + 5000;
    while (ces_hub_curve_refused (curve) == 0 && zclock_mono () < deadline) {
        void *which = zpoller_wait (poller, 100);
        if (which)
            assert (ces_hub_curve_recv_monitor (curve, which));
    }
    return ces_hub_curve_refused (curve) > 0;
}

void
ces_hub_curve_test (bool verbose)
{
    printf (" * ces_hub_curve: ");
    //  @selftest
    char dir[] = "/tmp/ces-hub-curve-test-XXXXXX";
    assert (mkdtemp (dir));
    char *clients = zsys_sprintf ("%s/clients", dir);
    assert (zsys_dir_create ("%s", clients) == 0);
    //  The hub's certificate, its public half authorised (peer hubs)
    char *hub_path = zsys_sprintf ("%s/clients/hub.key", dir);
    char *secret = zsys_sprintf ("%s_secret", hub_path);
    char *moved = zsys_sprintf ("%s/hub.key_secret", dir);
    char reason[256];
    assert (ces_curve_generate (hub_path, "hub", reason, sizeof reason) == 0);
    assert (rename (secret, moved) == 0);

    ces_hub_curve_t *curve = ces_hub_curve_new ();
    ces_hub_curve_set_log (curve, "curve-test",
                           verbose ? CES_LOG_DEBUG : CES_LOG_ERROR - 1);
    cJSON *status = cJSON_CreateObject ();
    ces_hub_curve_status (curve, status);
    cJSON *section = cJSON_GetObjectItem (status, "curve");
    assert (cJSON_IsFalse (cJSON_GetObjectItem (section, "enabled")));
    cJSON_Delete (status);
    assert (ces_hub_curve_set_cert (curve, "/nonexistent/hub.key") == -1);
    assert (!ces_hub_curve_enabled (curve));
    assert (ces_hub_curve_set_cert (curve, moved) == 0);
    assert (ces_hub_curve_enabled (curve) && ces_hub_curve_keys (curve));

    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_t *pub = zsock_new (ZMQ_XPUB);
    char *refusal = ces_hub_curve_secure (curve, router, pub);
    assert (refusal && strstr (refusal, "clients directory"));
    zstr_free (&refusal);
    ces_hub_curve_set_clients (curve, clients);
    assert (ces_hub_curve_secure (curve, router, pub) == NULL);
    assert (zsock_bind (router, "tcp://127.0.0.1:*") > 0);
    char *endpoint = zsock_last_endpoint (router);
    zpoller_t *poller = zpoller_new (NULL);
    ces_hub_curve_watch (curve, poller);

    //  Without CURVE: refused, counted
    zsock_t *plain = zsock_new_dealer (endpoint);
    assert (s_test_refused (curve, poller));
    zsock_destroy (&plain);
    //  With the hub's own key (a peer hub): in
    ces_curve_t *keys =
        ces_curve_dup (ces_hub_curve_keys (curve),
                       ces_curve_public_key (ces_hub_curve_keys (curve)));
    zsock_t *peer = zsock_new (ZMQ_DEALER);
    ces_curve_secure_client (keys, peer);
    assert (zsock_connect (peer, "%s", endpoint) == 0);
    zstr_send (peer, "HELLO");
    zsock_set_rcvtimeo (router, 5000);
    zmsg_t *hello = zmsg_recv (router);
    assert (hello && zmsg_size (hello) == 2);
    zmsg_destroy (&hello);

    //  A new clients directory must exist; "*" lets any key in
    assert (ces_hub_curve_reload_clients (curve, "/nonexistent/dir") == -1);
    assert (ces_hub_curve_reload_clients (curve, "*") == 0);
    status = cJSON_CreateObject ();
    ces_hub_curve_status (curve, status);
    section = cJSON_GetObjectItem (status, "curve");
    assert (cJSON_IsTrue (cJSON_GetObjectItem (section, "enabled")));
    assert (streq (
        cJSON_GetStringValue (cJSON_GetObjectItem (section, "public_key")),
        ces_curve_public_key (keys)));
    assert (streq (
        cJSON_GetStringValue (cJSON_GetObjectItem (section, "clients")), "*"));
    cJSON_Delete (status);

    zsock_destroy (&peer);
    ces_curve_destroy (&keys);
    ces_hub_curve_unwatch (curve);
    zpoller_destroy (&poller);
    zsock_destroy (&router);
    zsock_destroy (&pub);
    ces_hub_curve_destroy (&curve);
    ces_hub_curve_destroy (&curve);
    assert (!curve);
    char *command = zsys_sprintf ("rm -rf '%s'", dir);
    assert (system (command) == 0);
    zstr_free (&command);
    zstr_free (&endpoint);
    zstr_free (&clients);
    zstr_free (&hub_path);
    zstr_free (&secret);
    zstr_free (&moved);
    //  @end
    printf ("OK\n");
}
