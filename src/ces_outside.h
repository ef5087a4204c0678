/*  =========================================================================
    ces_outside - an edge in repeater mode: outside systems in and out

    What makes an edge a repeater (port 7101), owned by the edge actor:
    - out: the hub hands this repeater messenger-sourced events (it is in
      the hub's repeater rotation only while it has targets); each goes to
      the targets of its room and the "*" targets (ces_targets), or back
      over an outside system's own inbound link (/connect/ROOM/ID) when a
      target names that system;
    - in: outside systems' WebSockets and POST /send, and what peers send
      on links we dialled, are outside-sourced events on one link
      connection (CES_OUTSIDE_CONN).
    =========================================================================
*/
#ifndef CES_OUTSIDE_H_INCLUDED
#define CES_OUTSIDE_H_INCLUDED

#define CES_OUTSIDE_CONN  "in" //  events coming in from outside
#define CES_ROTATION_CONN "0"  //  this repeater's place in the rotation

typedef struct _ces_outside_t ces_outside_t;

//  How the edge writes an event to a client (and counts it)
typedef void (ces_outside_write_fn) (ces_client_t *client, const byte *data,
                                     size_t size, void *arg);

//  link is borrowed; system_id names us to WebSocket peers; link_idle is
//  how long a dialled link may stay unused (msecs); write (with arg) is how
//  events reach outside systems' own links
ces_outside_t *ces_outside_new (ces_link_t *link, const char *system_id,
                                int link_idle, int log_level,
                                ces_outside_write_fn *write, void *arg);
void ces_outside_destroy (ces_outside_t **self_p);

//  (Re)reads the targets (file and/or central URLs), keeping the links of
//  targets that stay, and joins or leaves the rotation; -1 with a reason
int ces_outside_configure (ces_outside_t *self, const char *targets_file,
                           const char *central, char *reason,
                           size_t reason_size);
size_t ces_outside_targets (ces_outside_t *self);

//  An outside system connected on uri (/connect/ROOM/ID[/]), or left
void ces_outside_open (ces_outside_t *self, ces_client_t *client,
                       const char *uri);
void ces_outside_gone (ces_outside_t *self, ces_client_t *client);

//  The link delivered an event to conn: true if it was this repeater's
//  (then its targets got it)
bool ces_outside_deliver (ces_outside_t *self, const char *conn,
                          zframe_t *message);

//  Events peers sent on links we dialled: poll this, then recv one
//  (caller owns it; NULL if none)
zsock_t *ces_outside_reports (ces_outside_t *self);
zframe_t *ces_outside_recv (ces_outside_t *self);

//  "repeater" in /status (closed_idle is the edge's count); its metrics
void ces_outside_status (ces_outside_t *self, cJSON *root,
                         uint64_t closed_idle);
void ces_outside_metrics (ces_outside_t *self, FILE *out);

void ces_outside_test (bool verbose);

#endif
