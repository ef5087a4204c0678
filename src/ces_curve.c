/*  =========================================================================
    ces_curve - CURVE keys for the hub's ZeroMQ sockets
    =========================================================================
*/
#include "ces_classes.h"
#include <fcntl.h>
#include <sys/stat.h>

struct _ces_curve_t {
    zcert_t *cert;
    char server_key[41]; //  Z85, "" for a hub
};

static void
s_reason (char *reason, size_t reason_size, const char *format,
          const char *value)
{
    if (reason && reason_size)
        snprintf (reason, reason_size, format, value);
}

static bool
s_is_z85_key (const char *text)
{
    byte key[32];
    return text && strlen (text) == 40 && zmq_z85_decode (key, text);
}

static bool
s_has_secret (zcert_t *cert)
{
    const byte *secret = zcert_secret_key (cert);
    for (int i = 0; i < 32; i++)
        if (secret[i])
            return true;
    return false;
}

//  "NAME_secret" and "NAME" both name the pair NAME
static zcert_t *
s_load_pair (const char *cert_path)
{
    char *path = strdup (cert_path);
    size_t length = strlen (path);
    if (length > 7 && streq (path + length - 7, "_secret"))
        path[length - 7] = 0;
    zcert_t *cert = zcert_load (path);
    freen (path);
    return cert;
}

ces_curve_t *
ces_curve_new (const char *cert_path, const char *server, char *reason,
               size_t reason_size)
{
    assert (cert_path);
    if (!zsys_has_curve ()) {
        s_reason (reason, reason_size, "%slibzmq was built without CURVE", "");
        return NULL;
    }
    zcert_t *cert = s_load_pair (cert_path);
    if (!cert) {
        s_reason (reason, reason_size,
                  "cannot read the certificate %s (make one with ces-keygen)",
                  cert_path);
        return NULL;
    }
    if (!s_has_secret (cert)) {
        zcert_destroy (&cert);
        s_reason (reason, reason_size,
                  "%s has no secret key: give the certificate whose "
                  "NAME_secret file is here",
                  cert_path);
        return NULL;
    }
    ces_curve_t *self = (ces_curve_t *)zmalloc (sizeof (ces_curve_t));
    assert (self);
    self->cert = cert;
    if (server && *server) {
        if (s_is_z85_key (server) && !zsys_file_exists (server))
            strcpy (self->server_key, server);
        else {
            zcert_t *server_cert = zcert_load (server);
            if (!server_cert) {
                s_reason (reason, reason_size,
                          "the hub key %s is neither 40 Z85 characters nor a "
                          "readable certificate",
                          server);
                ces_curve_destroy (&self);
                return NULL;
            }
            strcpy (self->server_key, zcert_public_txt (server_cert));
            zcert_destroy (&server_cert);
        }
    }
    return self;
}

void
ces_curve_destroy (ces_curve_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_curve_t *self = *self_p;
        zcert_destroy (&self->cert);
        freen (self);
        *self_p = NULL;
    }
}

ces_curve_t *
ces_curve_dup (const ces_curve_t *self, const char *server_key)
{
    assert (self);
    assert (!server_key || s_is_z85_key (server_key));
    ces_curve_t *copy = (ces_curve_t *)zmalloc (sizeof (ces_curve_t));
    assert (copy);
    copy->cert = zcert_dup (self->cert);
    strcpy (copy->server_key, server_key ? server_key : self->server_key);
    return copy;
}

void
ces_curve_secure_client (const ces_curve_t *self, zsock_t *socket)
{
    assert (self && socket && *self->server_key);
    zcert_apply (self->cert, socket);
    zsock_set_curve_serverkey (socket, self->server_key);
}

void
ces_curve_secure_server (const ces_curve_t *self, zsock_t *socket)
{
    assert (self && socket);
    zcert_apply (self->cert, socket);
    zsock_set_curve_server (socket, 1);
}

zsock_t *
ces_curve_monitor (zsock_t *socket, int events)
{
    assert (socket);
    zuuid_t *uuid = zuuid_new ();
    char *endpoint =
        zsys_sprintf ("inproc://ces-curve-monitor-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    int rc = zmq_socket_monitor (zsock_resolve (socket), endpoint, events);
    assert (rc == 0);
    //  libzmq sends monitor events from its I/O thread with a blocking
    //  send: this end is never full, and the owner stops the monitoring
    //  (ces_curve_monitor_stop) before it destroys this end
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    assert (monitor);
    zsock_set_rcvhwm (monitor, 0);
    rc = zsock_connect (monitor, "%s", endpoint);
    assert (rc == 0);
    zstr_free (&endpoint);
    return monitor;
}

void
ces_curve_monitor_stop (zsock_t *socket, zsock_t **monitor_p)
{
    assert (monitor_p);
    if (*monitor_p) {
        zmq_socket_monitor (zsock_resolve (socket), NULL, 0);
        zsock_destroy (monitor_p);
    }
}

ces_curve_refusal_t
ces_curve_refusal (zsock_t *monitor, char **endpoint)
{
    assert (monitor);
    if (!(zsock_events (monitor) & ZMQ_POLLIN))
        return CES_CURVE_NONE;
    zmsg_t *msg = zmsg_recv (monitor);
    if (!msg)
        return CES_CURVE_NONE;
    zframe_t *event = zmsg_first (msg);
    uint16_t kind = 0;
    if (event && zframe_size (event) >= 2)
        memcpy (&kind, zframe_data (event), 2);
    if (endpoint) {
        zframe_t *address = zmsg_next (msg);
        *endpoint = address ? zframe_strdup (address) : strdup ("?");
    }
    zmsg_destroy (&msg);
    return kind == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? CES_CURVE_NOT_ALLOWED
                                                   : CES_CURVE_MISMATCH;
}

const char *
ces_curve_public_key (const ces_curve_t *self)
{
    assert (self);
    return zcert_public_txt (self->cert);
}

const char *
ces_curve_server_key (const ces_curve_t *self)
{
    assert (self);
    return self->server_key;
}

int
ces_curve_generate (const char *path, const char *name, char *reason,
                    size_t reason_size)
{
    assert (path && name);
    if (!zsys_has_curve ()) {
        s_reason (reason, reason_size, "%slibzmq was built without CURVE", "");
        return -1;
    }
    zcert_t *cert = zcert_new ();
    assert (cert);
    zcert_set_meta (cert, "name", "%s", name);
    zcert_set_meta (cert, "created-by", "ces-keygen");
    //  The secret file is made private before a key is written into it
    char *secret_path = zsys_sprintf ("%s_secret", path);
    int fd = open (secret_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = fd < 0 ? -1 : fchmod (fd, 0600);
    if (fd >= 0)
        close (fd);
    if (rc == 0)
        rc = zcert_save (cert, path);
    zstr_free (&secret_path);
    zcert_destroy (&cert);
    if (rc) {
        s_reason (reason, reason_size, "cannot write %s", path);
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Self-test: making and loading keys. A CURVE hub with authorised,
//  unknown, wrong-key and plain messengers is tested in ces_messenger, which
//  uses this class (and a test here would use it back).

void
ces_curve_test (bool verbose)
{
    printf (" * ces_curve: ");
    char dir[] = "/tmp/ces-curve-test-XXXXXX";
    assert (mkdtemp (dir));
    char *clients = zsys_sprintf ("%s/clients", dir);
    assert (zsys_dir_create ("%s", clients) == 0);
    char *hub_path = zsys_sprintf ("%s/hub.key", dir);
    char *edge_path = zsys_sprintf ("%s/clients/edge.key", dir);
    char reason[256];
    assert (ces_curve_generate (hub_path, "hub", reason, sizeof reason) == 0);
    assert (ces_curve_generate (edge_path, "edge", reason, sizeof reason) == 0);
    //  The clients directory must hold public certificates only
    char *edge_secret = zsys_sprintf ("%s_secret", edge_path);
    char *edge_moved = zsys_sprintf ("%s/edge.key_secret", dir);
    assert (rename (edge_secret, edge_moved) == 0);

    //  Loading: both names of a pair, errors with reasons
    ces_curve_t *hub_keys = ces_curve_new (hub_path, NULL, reason, 256);
    assert (hub_keys && streq (ces_curve_server_key (hub_keys), ""));
    ces_curve_t *by_secret = ces_curve_new (edge_moved, hub_path, reason, 256);
    assert (by_secret);
    assert (streq (ces_curve_server_key (by_secret),
                   ces_curve_public_key (hub_keys)));
    ces_curve_t *by_z85 = ces_curve_new (
        edge_moved, ces_curve_public_key (hub_keys), reason, sizeof reason);
    assert (by_z85 && streq (ces_curve_server_key (by_z85),
                             ces_curve_public_key (hub_keys)));
    ces_curve_destroy (&by_z85);
    assert (!ces_curve_new ("/nonexistent/x.key", NULL, reason, 256));
    assert (strstr (reason, "cannot read"));
    assert (!ces_curve_new (edge_path, NULL, reason, sizeof reason));
    assert (strstr (reason, "no secret key"));
    assert (!ces_curve_new (hub_path, "not-a-key", reason, sizeof reason));
    assert (strstr (reason, "neither"));
    ces_curve_t *copy = ces_curve_dup (by_secret, NULL);
    assert (
        streq (ces_curve_public_key (copy), ces_curve_public_key (by_secret)));
    assert (
        streq (ces_curve_server_key (copy), ces_curve_public_key (hub_keys)));
    ces_curve_destroy (&copy);
    copy = ces_curve_dup (hub_keys, ces_curve_public_key (hub_keys));
    assert (
        streq (ces_curve_server_key (copy), ces_curve_public_key (hub_keys)));
    ces_curve_destroy (&copy);
    ces_curve_destroy (&copy);
    assert (!copy);

    ces_curve_destroy (&by_secret);
    ces_curve_destroy (&hub_keys);
    char *command = zsys_sprintf ("rm -rf '%s'", dir);
    assert (system (command) == 0);
    zstr_free (&command);
    zstr_free (&clients);
    zstr_free (&hub_path);
    zstr_free (&edge_path);
    zstr_free (&edge_secret);
    zstr_free (&edge_moved);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
