/*  =========================================================================
    bare_civetweb - the ceiling for a civetweb edge on this machine: a
    minimal room broadcast server, for ces_loadgen --proto bare

    Any WebSocket path. A Text frame {"rooms":["R",...],"create":true}
    subscribes the connection to those rooms and is answered with the Text
    notice {"registered":["R",...]}; a Binary frame ROOM\n... is written
    with mg_websocket_write to every other subscriber of ROOM, from the
    sender's worker thread. No validation, no queues, no counters, no
    reassembly of fragmented messages: what civetweb alone costs.

    --one-write builds each frame in one buffer and sends it with one
    mg_write under mg_lock_connection (mg_websocket_write makes two send()
    calls per frame, see shared/PLATFORM.md).

    usage: bare_civetweb [--listen 127.0.0.1:PORT] [--max-clients N]
                         [--one-write]
    =========================================================================
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <civetweb.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUCKETS 4096

typedef struct room {
    struct room *next;
    char *name;
    struct mg_connection **subs;
    int count, capacity;
} room_t;

//  One connection's rooms, to leave them on close
typedef struct {
    room_t **rooms;
    int count, capacity;
} client_t;

static room_t *buckets[BUCKETS];
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static bool one_write;
static volatile sig_atomic_t stop;

static unsigned
s_hash (const char *name, size_t len)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h % BUCKETS;
}

static room_t *
s_room (const char *name, size_t len, bool create)
{
    unsigned h = s_hash (name, len);
    for (room_t *room = buckets[h]; room; room = room->next)
        if (strlen (room->name) == len && !memcmp (room->name, name, len))
            return room;
    if (!create)
        return NULL;
    room_t *room = (room_t *)calloc (1, sizeof (room_t));
    room->name = strndup (name, len);
    room->next = buckets[h];
    buckets[h] = room;
    return room;
}

static void
s_write (struct mg_connection *conn, const char *data, size_t len)
{
    if (!one_write) {
        mg_websocket_write (conn, MG_WEBSOCKET_OPCODE_BINARY, data, len);
        return;
    }
    char stack[4096];
    char *frame = len + 10 <= sizeof stack ? stack : (char *)malloc (len + 10);
    size_t h = 0;
    frame[h++] = (char)0x82;
    if (len < 126)
        frame[h++] = (char)len;
    else if (len < 65536) {
        frame[h++] = 126;
        frame[h++] = (char)(len >> 8);
        frame[h++] = (char)len;
    } else {
        frame[h++] = 127;
        for (int i = 7; i >= 0; i--)
            frame[h++] = (char)((uint64_t)len >> (8 * i));
    }
    memcpy (frame + h, data, len);
    mg_lock_connection (conn);
    mg_write (conn, frame, h + len);
    mg_unlock_connection (conn);
    if (frame != stack)
        free (frame);
}

static void
s_ready (struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    mg_set_user_connection_data (conn, calloc (1, sizeof (client_t)));
}

static void
s_register (struct mg_connection *conn, client_t *client, const char *text,
            size_t len)
{
    cJSON *root = cJSON_ParseWithLength (text, len);
    cJSON *rooms = root ? cJSON_GetObjectItem (root, "rooms") : NULL;
    cJSON *answer = cJSON_CreateObject ();
    cJSON *registered = cJSON_AddArrayToObject (answer, "registered");
    cJSON *item;
    pthread_rwlock_wrlock (&lock);
    cJSON_ArrayForEach (item, rooms)
    {
        if (!cJSON_IsString (item))
            continue;
        room_t *room =
            s_room (item->valuestring, strlen (item->valuestring), true);
        bool already = false;
        for (int i = 0; i < room->count; i++)
            already |= room->subs[i] == conn;
        if (!already) {
            if (room->count == room->capacity) {
                room->capacity = room->capacity ? room->capacity * 2 : 4;
                room->subs = (struct mg_connection **)realloc (
                    room->subs, (size_t)room->capacity * sizeof (void *));
            }
            room->subs[room->count++] = conn;
            if (client->count == client->capacity) {
                client->capacity = client->capacity ? client->capacity * 2 : 4;
                client->rooms = (room_t **)realloc (
                    client->rooms, (size_t)client->capacity * sizeof (void *));
            }
            client->rooms[client->count++] = room;
        }
        cJSON_AddItemToArray (registered,
                              cJSON_CreateString (item->valuestring));
    }
    pthread_rwlock_unlock (&lock);
    char *reply = cJSON_PrintUnformatted (answer);
    mg_websocket_write (conn, MG_WEBSOCKET_OPCODE_TEXT, reply, strlen (reply));
    free (reply);
    cJSON_Delete (answer);
    cJSON_Delete (root);
}

static int
s_data (struct mg_connection *conn, int flags, char *data, size_t len,
        void *cbdata)
{
    (void)cbdata;
    client_t *client = (client_t *)mg_get_user_connection_data (conn);
    switch (flags & 0x0f) {
        case MG_WEBSOCKET_OPCODE_TEXT:
            s_register (conn, client, data, len);
            break;
        case MG_WEBSOCKET_OPCODE_BINARY: {
            const char *nl = (const char *)memchr (data, '\n', len);
            if (!nl)
                break;
            pthread_rwlock_rdlock (&lock);
            room_t *room = s_room (data, (size_t)(nl - data), false);
            for (int i = 0; room && i < room->count; i++)
                if (room->subs[i] != conn)
                    s_write (room->subs[i], data, len);
            pthread_rwlock_unlock (&lock);
            break;
        }
        case MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE:
            return 0;
        case MG_WEBSOCKET_OPCODE_PING:
            mg_websocket_write (conn, MG_WEBSOCKET_OPCODE_PONG, data, len);
            break;
        default:
            break;
    }
    return 1;
}

static void
s_close (const struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    client_t *client = (client_t *)mg_get_user_connection_data (conn);
    if (!client)
        return;
    pthread_rwlock_wrlock (&lock);
    for (int r = 0; r < client->count; r++) {
        room_t *room = client->rooms[r];
        for (int i = 0; i < room->count; i++)
            if (room->subs[i] == conn) {
                room->subs[i] = room->subs[--room->count];
                break;
            }
    }
    pthread_rwlock_unlock (&lock);
    free (client->rooms);
    free (client);
}

static void
s_signal (int sig)
{
    (void)sig;
    stop = 1;
}

int
main (int argc, char *argv[])
{
    const char *listen = "127.0.0.1:7300";
    int max_clients = 1000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp (argv[i], "--listen") && i + 1 < argc)
            listen = argv[++i];
        else if (!strcmp (argv[i], "--max-clients") && i + 1 < argc)
            max_clients = atoi (argv[++i]);
        else if (!strcmp (argv[i], "--one-write"))
            one_write = true;
        else {
            fprintf (stderr, "usage: bare_civetweb [--listen 127.0.0.1:PORT] "
                             "[--max-clients N] [--one-write]\n");
            return 2;
        }
    }
    char threads[16];
    snprintf (threads, sizeof threads, "%d", max_clients + 8);
    const char *options[] = {"listening_ports", listen,        "num_threads",
                             threads,           "tcp_nodelay", "1",
                             "listen_backlog",  "1024",        NULL};
    signal (SIGINT, s_signal);
    signal (SIGTERM, s_signal);
    mg_init_library (0);
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof callbacks);
    struct mg_context *ctx = mg_start (&callbacks, NULL, options);
    if (!ctx) {
        fprintf (stderr, "bare_civetweb: cannot listen on %s\n", listen);
        return 1;
    }
    mg_set_websocket_handler (ctx, "/", NULL, s_ready, s_data, s_close, NULL);
    printf ("bare_civetweb ready on %s (%d workers%s)\n", listen,
            max_clients + 8, one_write ? ", one write per frame" : "");
    fflush (stdout);
    while (!stop)
        pause ();
    mg_stop (ctx);
    mg_exit_library ();
    return 0;
}
