/*  =========================================================================
    ces_edge_options - what an edge was told with SET, before it starts

    The option table (ces_options) checks every name and value; this class
    holds them where the edge's parts read them: the webserver's config,
    the clients' limits, the hub link and repeater mode. It owns the
    edge's auth (who may connect, to which rooms), which SET configures.
    Plain data after START: the edge reads the fields.
    =========================================================================
*/
#ifndef CES_EDGE_OPTIONS_H_INCLUDED
#define CES_EDGE_OPTIONS_H_INCLUDED

typedef struct {
    char *listen;
    char *hub_router;
    char *hub_pub;
    char *hub_control; //  a hub in this process answers /interconnect
    char *curve_cert;  //  CURVE to the hub: our certificate, the hub's key
    char *hub_key;
    ces_webserver_config_t web;
    ces_client_limits_t limits;
    int max_rooms; //  per client; 0 = any
    bool outside;  //  repeater mode
    char *system_id;
    char *targets_file;
    char *central;
    int link_idle;
    ces_auth_t *auth;
    //  What made the auth (auth-secret, auth-key-file, auth-open-networks,
    //  allowed-origins), to make a new one when one of them changes
    char *auth_given[4];
} ces_edge_options_t;

//  The defaults of a messenger edge, or of a repeater (outside)
ces_edge_options_t *ces_edge_options_new (bool outside);
void ces_edge_options_destroy (ces_edge_options_t **self_p);

//  SET name value: 0, or -1 if the name or value is refused (a refused
//  key file or network list is logged with its reason)
int ces_edge_options_set (ces_edge_options_t *self, const char *name,
                          const char *value);

//  While the edge runs (SIGHUP): a new auth made from the auth options
//  given so far with name (one of the four above) set to value ("": not
//  set), or NULL with the reason. On success the options remember value;
//  the caller hands the auth to the webserver and then replaces
//  self->auth with it. Caller owns return value and must destroy it when
//  done.
ces_auth_t *ces_edge_options_auth_with (ces_edge_options_t *self,
                                        const char *name, const char *value,
                                        char *reason, size_t size);

//  CURVE to the hub takes both or neither of this edge's certificate and
//  the hub's public key: 0 with *curve_p set (NULL: no CURVE), or -1 and
//  why
int ces_edge_options_curve (ces_edge_options_t *self, ces_curve_t **curve_p,
                            char *reason, size_t size);

//  The hub link the options describe (its id, name and log level; a
//  repeater's subscribes to nothing), or NULL if the endpoints are invalid
ces_link_t *ces_edge_options_link (ces_edge_options_t *self,
                                   ces_curve_t *curve);

void ces_edge_options_test (bool verbose);

#endif
