/*  =========================================================================
    ces_replay - the hub's answers about what its rooms remember: SYNC (a
    client's position, recovery and state) and QUERY (the /rooms views)

    Both come from a peer over the hub protocol (docs/PROTOCOL.md, "Rooms
    remember") and read ces_store. The requests are small JSON objects, so
    that a field can be added without a new frame:

        SYNC conn {"room":"R","since":{"epoch":"E","seq":N},"state":true}
        SYNCED conn {"room":"R","epoch":"E","seq":S,"recovered":true,
                     "reason":"...","state":C} event...
        QUERY id {"view":"rooms"|"room"|"state"|"history","room":"R",
                  "since":N,"limit":N}
        ANSWER id status {...}

    SYNCED's seq is the room's last sequence number when it was answered:
    the events it carries are at or before it, and live events after it.
    "recovered" is there when since was asked, "state" (how many state
    events it carries) when state was given: after a refused recovery, or
    without since. Its events are a recovery (when "recovered" is true) or
    the state (otherwise), never both.
    =========================================================================
*/
#ifndef CES_REPLAY_H_INCLUDED
#define CES_REPLAY_H_INCLUDED

//  Answer the SYNC that proto holds: proto becomes the SYNCED to send back
//  (same routing ID and conn). Returns 0, or -1 with the reason in *reason
//  (static) when the request is malformed.
int ces_replay_sync (ces_store_t *store, ces_proto_t *proto,
                     const char **reason);

//  The view a QUERY's request asks for, or NULL with *status 400 and the
//  reason in the answer. *room is the room it names ("" for none),
//  *status 200 or 404. Caller owns the answer and must destroy it.
cJSON *ces_replay_query (ces_store_t *store, const char *request, size_t size,
                         int *status, char *room);

//  A QUERY request for an HTTP GET of /rooms, /rooms/ROOM,
//  /rooms/ROOM/state or /rooms/ROOM/history (query string: since, limit),
//  or NULL when the path is none of them. path is URL-decoded already (as
//  civetweb gives it); the view is read from its end, so that a room ID
//  may hold a '/'. The room ID goes into room (CES_ROOM_MAX + 1 bytes; ""
//  for /rooms). Caller frees.
char *ces_replay_request (const char *path, const char *query, char *room);

//  What a 404 of /rooms says
#define CES_ROOMS_PATHS                                                        \
    "not found; try GET /rooms, /rooms/ROOM, /rooms/ROOM/state or "            \
    "/rooms/ROOM/history?since=SEQ&limit=N\n"

//  Self test of this class.
void ces_replay_test (bool verbose);

#endif
