/*  =========================================================================
    ces_hub_links - the hub's links and their connections, by role

    The registry behind ces_routing: every DEALER peer of the ROUTER that
    said HELLO (a link), the clients it attached (connections, each with one
    role), and the connections of the two roles the routing table sends to
    by list (repeaters, in attach order, for the rotation; hub peers). When
    a connection goes, what it held goes with it: its room interest
    (ces_rooms), its presence (ces_presence) and, for a peer hub's link, the
    mesh's record of it (ces_mesh). The words are those of ces_routing.h.

    The link and connection records are plain data: ces_routing reads them
    on the path of every event, and only this class makes and frees them.
    =========================================================================
*/
#ifndef CES_HUB_LINKS_H_INCLUDED
#define CES_HUB_LINKS_H_INCLUDED

typedef struct _ces_hub_links_t ces_hub_links_t;

//  A link is one DEALER peer of the ROUTER: an edge, a repeater program,
//  an embedded messenger, a peer hub's inbound link. It hosts connections.
typedef struct {
    char *id;             //  routing ID as text
    zframe_t *routing_id; //  routing ID as the ROUTER wants it
    char *name;           //  what the peer called itself in HELLO
    int64_t last_heard;   //  when the peer last said anything
    bool dead;            //  found gone mid-route; removed at a safe point
    bool mesh;            //  a peer hub's link: ces_mesh handles its state
    bool validated;       //  its events were checked before (trusted HELLO)
    bool one_frame;       //  it reads DELIVER in one frame
    bool presence;        //  its PRESENTs say who holds a room, not REGISTER
    zhashx_t *conns;      //  connection id -> ces_hub_conn_t
} ces_hub_link_t;

//  A connection is one client behind a link, with one role
typedef struct {
    ces_hub_link_t *link;
    char *id;
    ces_role_index_t role;
    char *origin;    //  "link/conn", what subscribers compare to skip it
    zhashx_t *rooms; //  rooms it registered ("*" included), as a set
} ces_hub_conn_t;

//  Create an empty registry. rooms and presence are borrowed; mesh is
//  borrowed and may be NULL.
ces_hub_links_t *ces_hub_links_new (ces_rooms_t *rooms,
                                    ces_presence_t *presence, ces_mesh_t *mesh);

//  Destroy the registry and every link; idempotent, nulls the pointer.
void ces_hub_links_destroy (ces_hub_links_t **self_p);

void ces_hub_links_set_log_level (ces_hub_links_t *self, int level);

//  A new link for routing_id (copied), named name, heard now.
ces_hub_link_t *ces_hub_links_add (ces_hub_links_t *self, zframe_t *routing_id,
                                   const char *name);

//  The link of routing_id, or NULL. The last one found is remembered, and
//  nothing is allocated for the usual routing IDs: it is on the path of
//  every message.
ces_hub_link_t *ces_hub_links_lookup (ces_hub_links_t *self,
                                      zframe_t *routing_id);

//  Release the link and everything it held: connections, registrations,
//  its place in the repeater rotation. comes_back: it said HELLO again (a
//  mesh peer is then not dialled back).
void ces_hub_links_remove (ces_hub_links_t *self, ces_hub_link_t *link,
                           const char *why, bool comes_back);

//  Attach connection conn_id of link with role_name (a CES_ROLE_*); remote
//  and subject (may be NULL) are for the presence view. A connection
//  attached again with the same role stays as it is.
ces_hub_conn_t *ces_hub_links_attach (ces_hub_links_t *self,
                                      ces_hub_link_t *link, const char *conn_id,
                                      const char *role_name, const char *remote,
                                      const char *subject);

//  Detach connection conn_id of link, releasing what it held; nothing if
//  there is no such connection.
void ces_hub_links_detach (ces_hub_links_t *self, ces_hub_link_t *link,
                           const char *conn_id);

//  The link said MESH: it is a peer hub's, and its one connection ("mesh")
//  is a hub-role connection that is not a hub peer (ces_mesh sends to it
//  what it registered).
void ces_hub_links_attach_mesh (ces_hub_links_t *self, ces_hub_link_t *link);

//  A send to link found it gone: it is removed at the next reap.
void ces_hub_links_mark_dead (ces_hub_links_t *self, ces_hub_link_t *link);

//  Remove the links marked dead; call between messages.
void ces_hub_links_reap (ces_hub_links_t *self);

//  Remove the links not heard for more than expiry msecs before now.
void ces_hub_links_expire (ces_hub_links_t *self, int64_t now, int64_t expiry);

//  The repeater connections in attach order, and the hub peers
//  (ces_hub_conn_t, borrowed).
zlistx_t *ces_hub_links_repeaters (ces_hub_links_t *self);
zlistx_t *ces_hub_links_hub_peers (ces_hub_links_t *self);

//  How many links said HELLO; attached connections by role.
size_t ces_hub_links_size (ces_hub_links_t *self);
uint64_t ces_hub_links_connections (ces_hub_links_t *self,
                                    ces_role_index_t role);

//  Append one object per link (id, name, last_heard_ms_ago, connections)
//  to array, for /status.
void ces_hub_links_status (ces_hub_links_t *self, cJSON *array);

void ces_hub_links_test (bool verbose);

#endif
