/*  =========================================================================
    ces_inbox - civetweb's workers tell the edge actor what they read

    Every civetweb worker thread talks to the edge actor through this
    codec, and the actor reads it here; docs/PROTOCOL.md has the grammar.
    Tells go through one DEALER shared by all workers under a lock (so a
    client costs no file descriptor of its own); a worker that needs an
    answer asks on a DEALER made for that question. The actor's ROUTER sees a
    routing ID first and answers asks with one string.

    A tell blocks while the actor's queue is full (back-pressure on the
    clients) and gives up only once the inbox is stopping.

    Worker side: the ces_inbox_tell_* and ces_inbox_ask_* calls, from any
    thread. Actor side: ces_inbox_recv, the getters, ces_inbox_answer.
    =========================================================================
*/
#ifndef CES_INBOX_H_INCLUDED
#define CES_INBOX_H_INCLUDED

typedef struct _ces_inbox_t ces_inbox_t;

typedef enum {
    CES_INBOX_EMPTY,      //  nothing to read now
    CES_INBOX_INVALID,    //  not in the grammar: dropped
    CES_INBOX_OPEN,       //  id role wire expiry remote uri [subject] (asked)
    CES_INBOX_EVENT,      //  id message
    CES_INBOX_REGISTER,   //  id *room
    CES_INBOX_UNREGISTER, //  id *room (none: every room)
    CES_INBOX_RECALL,     //  id options: what the next REGISTER also asks
    CES_INBOX_DENIED,     //  id text (outside the client's grant)
    CES_INBOX_ERROR,      //  id text (bad input)
    CES_INBOX_PING,       //  id payload
    CES_INBOX_PONG,       //  id payload
    CES_INBOX_CLOSE,      //  id code [reason] (asked: "closed")
    CES_INBOX_GONE,       //  id
    CES_INBOX_STATUS,     //  (asked: JSON)
    CES_INBOX_METRICS,    //  (asked: Prometheus text)
    CES_INBOX_HEALTH,     //  (asked: "ok" or why not)
    CES_INBOX_POST,       //  message (asked: "ok", "hub busy", ...)
    CES_INBOX_BADPOST,    //  a POST refused as malformed, to be counted
    CES_INBOX_QUERY       //  request (asked: "STATUS BODY", a /rooms view)
} ces_inbox_command_t;

//  The actor makes the inbox (a ROUTER on a fresh inproc endpoint)
ces_inbox_t *ces_inbox_new (void);
void ces_inbox_destroy (ces_inbox_t **self_p);

//  The actor's socket, to poll
zsock_t *ces_inbox_socket (ces_inbox_t *self);

//  From now on, tells that cannot be queued are dropped (the actor is
//  stopping and will not read them)
void ces_inbox_stopping (ces_inbox_t *self);

//  Worker side --------------------------------------------------------------
void ces_inbox_tell_event (ces_inbox_t *self, uint64_t id, const void *data,
                           size_t size);
//  REGISTER (create) or UNREGISTER, with the rooms
void ces_inbox_tell_rooms (ces_inbox_t *self, uint64_t id, bool create,
                           zlist_t *rooms);
//  DENIED (denied) or ERROR: text is the client's {"error":...} notice
//  RECALL: the state and since (JSON) of a version 2 client's next REGISTER
void ces_inbox_tell_recall (ces_inbox_t *self, uint64_t id,
                            const char *options);
void ces_inbox_tell_notice (ces_inbox_t *self, uint64_t id, bool denied,
                            const char *text);
//  PING or PONG with its payload
void ces_inbox_tell_control (ces_inbox_t *self, uint64_t id, bool ping,
                             const void *data, size_t size);
void ces_inbox_tell_gone (ces_inbox_t *self, uint64_t id);
void ces_inbox_tell_badpost (ces_inbox_t *self);

//  Asked, not told, so that a later CLOSE (asked on another socket) can
//  never overtake the OPEN of its client
//  protocol: the WebSocket subprotocol it chose ("ces.v2"), or NULL;
//  subject: its token's "sub", or NULL
void ces_inbox_ask_open (ces_inbox_t *self, uint64_t id, const char *role,
                         void *wire, int64_t expiry, const char *remote,
                         const char *uri, const char *protocol,
                         const char *subject);
//  Waits until the actor has written the answering Close frame; code 0
//  answers with the client's own code (or 1000)
void ces_inbox_ask_close (ces_inbox_t *self, uint64_t id, int code,
                          const char *reason);
//  STATUS, METRICS or HEALTH; POST hands over the message. Caller owns
//  the answer; NULL if the actor did not answer in 5 s
char *ces_inbox_ask_question (ces_inbox_t *self, ces_inbox_command_t question);
char *ces_inbox_ask_post (ces_inbox_t *self, zframe_t **message_p);
//  QUERY: a ces_replay request; the answer is the status, a space, and
//  the JSON body. Caller owns it; NULL if no answer came in 5 s
char *ces_inbox_ask_query (ces_inbox_t *self, const char *request);

//  Actor side ---------------------------------------------------------------
//  Reads one message if there is one (CES_INBOX_EMPTY if not: it never
//  waits); its parts are valid until the next recv
ces_inbox_command_t ces_inbox_recv (ces_inbox_t *self);
//  The client's id, as text ("" for commands without one)
const char *ces_inbox_id (ces_inbox_t *self);
//  EVENT and POST: the message; PING/PONG: the payload; DENIED/ERROR: text;
//  RECALL: the options; QUERY: the request
zframe_t *ces_inbox_frame (ces_inbox_t *self);
//  REGISTER, UNREGISTER: the rooms (strings, owned by the inbox)
zlist_t *ces_inbox_rooms (ces_inbox_t *self);
//  OPEN
const char *ces_inbox_role (ces_inbox_t *self);
void *ces_inbox_wire (ces_inbox_t *self);
int64_t ces_inbox_expiry (ces_inbox_t *self);
const char *ces_inbox_remote (ces_inbox_t *self);
const char *ces_inbox_uri (ces_inbox_t *self);
const char *ces_inbox_protocol (ces_inbox_t *self); //  "" when none
//  OPEN: the token's subject, or NULL
const char *ces_inbox_subject (ces_inbox_t *self);
//  CLOSE: the code (0: the client's, none given) and the reason ("" none)
int ces_inbox_code (ces_inbox_t *self);
const char *ces_inbox_reason (ces_inbox_t *self);
//  Answers the message just read, if it was asked
void ces_inbox_answer (ces_inbox_t *self, const char *answer);
//  Answers it later: the asker's routing ID (caller owns; NULL if it was
//  not asked), then the answer, which takes the ID
zframe_t *ces_inbox_defer (ces_inbox_t *self);
void ces_inbox_answer_deferred (ces_inbox_t *self, zframe_t **asker_p,
                                const char *answer);

void ces_inbox_test (bool verbose);

#endif
