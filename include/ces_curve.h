/*  =========================================================================
    ces_curve - CURVE keys for the hub's ZeroMQ sockets

    With keys configured, every ZeroMQ link to a hub (edges, repeaters,
    embedded messengers, peer hubs) is encrypted and authenticated:

    - a hub has a certificate (public + secret key, written by ces-keygen)
      and a directory of the public certificates it lets in, or "*" for any
      client that knows the hub's public key;
    - a client has its own certificate and the hub's public key.

    Hubs of one mesh share one hub certificate: a hub dials a peer as a
    client with that certificate and expects the peer to hold the same
    public key, so the authorised directory holds the hub's own public
    certificate too.

    Certificates are czmq zcert files: NAME (public) and NAME_secret (both
    keys). Read-only once loaded.
    =========================================================================
*/
#ifndef CES_CURVE_H_INCLUDED
#define CES_CURVE_H_INCLUDED

//  Load this process's certificate from cert_path ("NAME" or
//  "NAME_secret"; the secret file must exist) and, for a client, the
//  server's public key: 40 Z85 characters or a certificate file. server may
//  be NULL for a hub. Returns NULL and a reason on error.
ces_curve_t *ces_curve_new (const char *cert_path, const char *server,
                            char *reason, size_t reason_size);

//  Destroy the keys. Idempotent.
void ces_curve_destroy (ces_curve_t **self_p);

//  A copy, for another thread; with server_key (Z85) set as the server's
//  key, or NULL to keep it (a hub dials its peers with its own public key).
ces_curve_t *ces_curve_dup (const ces_curve_t *self, const char *server_key);

//  Make a socket a CURVE client of the server key (before it connects).
void ces_curve_secure_client (const ces_curve_t *self, zsock_t *socket);

//  Make a socket a CURVE server (before it binds).
void ces_curve_secure_server (const ces_curve_t *self, zsock_t *socket);

//  The monitor events of failed handshakes
#define CES_CURVE_REFUSALS                                                     \
    (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |   \
     ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

//  A PAIR socket that receives these events of the socket (a ZeroMQ
//  monitor); poll it, or drain it with ces_curve_refusal. Call before the
//  socket binds or connects.
zsock_t *ces_curve_monitor (zsock_t *socket, int events);

//  Stop monitoring socket and destroy its monitor; before either goes.
void ces_curve_monitor_stop (zsock_t *socket, zsock_t **monitor_p);

//  Read one failed handshake from a monitor, without waiting. Returns
//  CES_CURVE_NONE when there was none, else why, and the endpoint (fresh
//  string, the caller frees it) if endpoint is not NULL.
typedef enum {
    CES_CURVE_NONE = 0,
    CES_CURVE_NOT_ALLOWED, //  the server does not let the client's key in
    CES_CURVE_MISMATCH     //  no CURVE on one side, or another server key
} ces_curve_refusal_t;
ces_curve_refusal_t ces_curve_refusal (zsock_t *monitor, char **endpoint);

//  This certificate's public key, Z85.
const char *ces_curve_public_key (const ces_curve_t *self);

//  The server's public key, Z85 ("" if none).
const char *ces_curve_server_key (const ces_curve_t *self);

//  Write a new certificate pair to path and path_secret, with a name in
//  its metadata. Returns 0, or -1 and a reason.
int ces_curve_generate (const char *path, const char *name, char *reason,
                        size_t reason_size);

#endif
