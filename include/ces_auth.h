/*  =========================================================================
    ces_auth - who may connect to an edge or repeater, and to which rooms

    Off unless a key is set: then every WebSocket upgrade, POST /event and
    POST /send needs a JWT, passed as ?token=... or "Authorization: Bearer
    ...", signed with HS256 (a shared secret) or RS256/ES256 (a public key
    file, PEM); any other algorithm is refused, whatever the token says.
    Its claims grant rooms:

        {"register": ["ITB-1101", "ITB-*"], "send": ["*"], "exp": 1767225600}

    An entry is a room ID, a prefix ending in '*' ("ITB-*"), or "*" (every
    room); "rooms" grants both. Registering a pattern ("ITB-*") needs a
    grant of all of its rooms: "ITB-*", a shorter prefix ("IT*") or "*".
    "exp" (seconds since 1970) is enforced at the upgrade and on the open
    connection. Clients from the "open" networks (CIDR list) need no token
    and may do everything, for old services that cannot send one. An Origin
    allow-list, when set, refuses browsers from other sites.

    Read-only once configured, so civetweb's worker threads share one.
    =========================================================================
*/
#ifndef CES_AUTH_H_INCLUDED
#define CES_AUTH_H_INCLUDED

typedef struct _ces_auth_t ces_auth_t;
typedef struct _ces_grant_t ces_grant_t;

//  Create a configuration with authentication off.
ces_auth_t *ces_auth_new (void);
void ces_auth_destroy (ces_auth_t **self_p);

//  Verify HS256 tokens with this shared secret.
void ces_auth_set_secret (ces_auth_t *self, const char *secret);

//  Verify RS256/ES256 tokens with the PEM public key in path. Returns 0, or
//  -1 and a reason.
int ces_auth_set_key_file (ces_auth_t *self, const char *path, char *reason,
                           size_t reason_size);

//  Networks whose clients need no token: "127.0.0.1/32,10.0.0.0/8" (IPv4).
//  Returns 0, or -1 and a reason.
int ces_auth_set_open (ces_auth_t *self, const char *networks, char *reason,
                       size_t reason_size);

//  Origins a browser may connect from: "https://panel.example,http://x";
//  requests without an Origin (non-browser clients) are not affected.
void ces_auth_set_origins (ces_auth_t *self, const char *origins);

//  Is a token required (a key is set)?
bool ces_auth_required (ces_auth_t *self);

//  Check a request from remote_addr with token (NULL if none) and origin
//  (NULL if none). Returns a grant, or NULL with the HTTP status (401 no or
//  bad token, 403 origin not allowed) and a reason a person can act on.
//  Caller owns the grant and must destroy it.
ces_grant_t *ces_auth_check (ces_auth_t *self, const char *token,
                             const char *remote_addr, const char *origin,
                             int *status, char *reason, size_t reason_size);

//  The token in a query string (token=...), or NULL. Caller frees.
char *ces_auth_token_from_query (const char *query);

//  What a grant allows.
bool ces_grant_may_register (ces_grant_t *self, const char *room);
bool ces_grant_may_send (ces_grant_t *self, const char *room);
//  A GET /rooms answer ({"rooms":[{"room":...},...]}) with only the rooms
//  the grant may register; caller frees.
char *ces_grant_rooms_answer (ces_grant_t *self, const char *answer);
//  May it change the mesh (/interconnect)? A token's "admin": true.
bool ces_grant_is_admin (ces_grant_t *self);
//  Seconds since 1970 when it expires; 0 = never.
int64_t ces_grant_expiry (ces_grant_t *self);
//  The token's subject ("sub", at most 255 bytes, control characters as
//  '?'), or NULL: no token, or none in it. Belongs to the grant.
const char *ces_grant_subject (ces_grant_t *self);
void ces_grant_destroy (ces_grant_t **self_p);

#endif
