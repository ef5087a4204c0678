/*  =========================================================================
    ces_loadgen - a WebSocket load generator for ces and the systems it is
    compared with (mosquitto over MQTT/WebSocket, nats-server over its
    WebSocket listener, a bare civetweb broadcast server)

    One thread, one epoll, thousands of non-blocking client sockets: masked
    client frames, fragmented messages and server Pings handled, TCP_NODELAY.
    Each event is a v2 event (SPEC section 5) whose "data" carries the
    publisher, a sequence number per (publisher, room) and the send time
    (CLOCK_MONOTONIC ns); subscribers record the latency in a log-linear
    histogram and count deliveries, duplicates (or reordering) and gaps.

    Modes: open loop at --rate events/s (paced by an absolute timerfd, and
    each event stamped with its scheduled send time, so that a stall of the
    generator itself counts as latency), or as fast as possible with at most
    --window deliveries per publisher in flight (not yet seen), so
    that it measures throughput and not the growth of a queue.

    Every run checks delivered + drops the server reported = expected, where
    expected = for every event sent, the subscribers of its room.

    usage: ces_loadgen --help
    =========================================================================
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

typedef enum { P_CES, P_MQTT, P_NATS, P_BARE } proto_t;
static const char *proto_names[] = {"ces", "mqtt", "nats", "bare"};

//  --------------------------------------------------------------------------
//  Options

static struct {
    proto_t proto;
    const char *host;
    int port;
    const char *path;
    int rooms;
    int subs_per_room;
    int pubs;
    double rate; //  events/s in all; 0 = as fast as possible
    int window;  //  deliveries in flight per publisher (fast mode)
    double duration;
    double warmup;
    int size; //  JSON event bytes
    int idle; //  idle mode: connections to hold
    double hold;
    int handshakes;           //  connections being set up at once
    const char *status;       //  ces edge host:port for /status
    const char *hub_status;   //  ces-hub host:port (split ces)
    const char *nats_monitor; //  nats-server monitor host:port
    int pids[8];
    int npids;
    const char *label;
    const char *scenario;
    const char *tsv;
    double kill_sub_at;  //  close subscriber 0 abruptly at this time
    double stall_sub_at; //  stop reading subscriber 0 until the end
    bool double_sub;     //  every subscriber subscribes twice
    bool quiet;
} opt = {P_CES, "127.0.0.1", 7100, NULL,  1,    10,  1,    0,     6400,
         5,     -1,          300,  0,     1,    200, NULL, NULL,  NULL,
         {0},   0,           NULL, "run", NULL, -1,  -1,   false, false};

//  --------------------------------------------------------------------------
//  Time and small helpers

static inline uint64_t
now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
die (const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    fprintf (stderr, "ces_loadgen: ");
    vfprintf (stderr, fmt, args);
    fprintf (stderr, "\n");
    va_end (args);
    exit (2);
}

static void *
xrealloc (void *ptr, size_t size)
{
    void *result = realloc (ptr, size);
    if (!result)
        die ("out of memory");
    return result;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static inline uint32_t
rng (void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

//  --------------------------------------------------------------------------
//  Log-linear histogram of nanoseconds: exact below 256, then 128 buckets
//  per power of two (< 0.8% error), up to 2^48 ns

#define H_SUB     128
#define H_BUCKETS (256 + 41 * H_SUB)
typedef struct {
    uint64_t counts[H_BUCKETS];
    uint64_t total, max, min;
} hist_t;

static inline int
h_index (uint64_t v)
{
    if (v < 256)
        return (int)v;
    if (v >= (1ull << 48))
        v = (1ull << 48) - 1;
    int msb = 63 - __builtin_clzll (v);
    int shift = msb - 7;
    return 256 + (shift - 1) * H_SUB + (int)((v >> shift) - H_SUB);
}

static inline uint64_t
h_upper (int i)
{
    if (i < 256)
        return (uint64_t)i;
    int shift = (i - 256) / H_SUB + 1;
    uint64_t sub = (uint64_t)((i - 256) % H_SUB + H_SUB);
    return ((sub + 1) << shift) - 1;
}

static inline void
h_record (hist_t *h, uint64_t v)
{
    h->counts[h_index (v)]++;
    h->total++;
    if (v > h->max)
        h->max = v;
    if (!h->min || v < h->min)
        h->min = v;
}

static uint64_t
h_quantile (const hist_t *h, double q)
{
    if (!h->total)
        return 0;
    uint64_t target = (uint64_t)(q * (double)h->total + 0.999999);
    if (target < 1)
        target = 1;
    uint64_t seen = 0;
    for (int i = 0; i < H_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= target) {
            uint64_t v = h_upper (i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

//  --------------------------------------------------------------------------
//  Connections

typedef enum {
    C_CONNECTING, //  TCP connect in progress
    C_HANDSHAKE,  //  upgrade request sent, waiting for 101
    C_OPEN,       //  WebSocket open, protocol setup (subscribe...)
    C_READY,      //  subscribed / able to publish
    C_CLOSED
} cstate_t;

typedef struct {
    int fd;
    int index; //  subscriber index, or publisher index
    bool is_pub;
    bool is_sys; //  the mosquitto $SYS reader
    cstate_t state;
    int room; //  subscriber's room
    //  raw bytes from the socket
    char *in;
    size_t in_len, in_cap;
    //  a fragmented WebSocket message being reassembled
    char *msg;
    size_t msg_len, msg_cap;
    int msg_op;
    bool in_message;
    //  the MQTT or NATS byte stream carried by the frames
    char *stream;
    size_t stream_len, stream_cap;
    //  bytes to send
    char *out;
    size_t out_off, out_len, out_cap;
    bool want_out;
    int acks_wanted;    //  SUBACKs / PONGs still expected before ready
    uint64_t *last_seq; //  per publisher, the last sequence number seen
    uint64_t received, dups;
    uint64_t last_pingreq;
} conn_t;

typedef struct {
    conn_t *conn;
    int *rooms; //  rooms this publisher sends to, in turn
    int nrooms, next;
    uint64_t *seq; //  per room slot
    uint64_t sent, expected, delivered, gaps, written_off;
    uint64_t last_progress;
} pub_t;

static int epfd;
static conn_t *subs;
static int nsubs;
static pub_t *pubs;
static int *room_subs; //  subscribers per room
static char **room_names;
static int *room_name_len;
static hist_t hist;

static struct {
    uint64_t sent, expected, delivered, dups, gaps;
    uint64_t window_delivered; //  received inside the measured window
    uint64_t errors, closed_unexpected, refused, pings;
    uint64_t stalls;
    uint64_t last_delivery;
    int64_t max_lag; //  open loop: how late the generator sent (ns)
} stats;

static uint64_t t_start, t_warm, t_end;
static bool running;   //  publishing phase
static bool recording; //  histogram open
static int not_ready;  //  connections still being set up
static int in_setup;   //  connections between connect() and ready
static uint64_t sys_dropped = UINT64_MAX; //  mosquitto's $SYS counter
static bool sys_seen;

static void conn_close (conn_t *c, bool unexpected);
static void conn_flush (conn_t *c);

static void
ep_mod (conn_t *c, bool want_out)
{
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
                             .data.ptr = c};
    if (c->want_out != want_out) {
        c->want_out = want_out;
        epoll_ctl (epfd, EPOLL_CTL_MOD, c->fd, &ev);
    }
}

static inline char *
out_reserve (conn_t *c, size_t size)
{
    if (c->out_off && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + size > c->out_cap) {
        if (c->out_off) {
            memmove (c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        if (c->out_len + size > c->out_cap) {
            c->out_cap = (c->out_len + size) * 2;
            c->out = (char *)xrealloc (c->out, c->out_cap);
        }
    }
    return c->out + c->out_len;
}

//  Appends one masked client frame whose payload is the concatenation of
//  up to three parts
static void
ws_send3 (conn_t *c, int opcode, const void *a, size_t alen, const void *b,
          size_t blen, const void *d, size_t dlen)
{
    size_t len = alen + blen + dlen;
    char *p = out_reserve (c, len + 14);
    size_t h = 0;
    p[h++] = (char)(0x80 | opcode);
    if (len < 126)
        p[h++] = (char)(0x80 | len);
    else if (len < 65536) {
        p[h++] = (char)(0x80 | 126);
        p[h++] = (char)(len >> 8);
        p[h++] = (char)len;
    } else {
        p[h++] = (char)(0x80 | 127);
        for (int i = 7; i >= 0; i--)
            p[h++] = (char)((uint64_t)len >> (8 * i));
    }
    uint32_t key = rng ();
    memcpy (p + h, &key, 4);
    h += 4;
    char *payload = p + h;
    if (alen)
        memcpy (payload, a, alen);
    if (blen)
        memcpy (payload + alen, b, blen);
    if (dlen)
        memcpy (payload + alen + blen, d, dlen);
    //  mask: 8 bytes at a time, then the rest
    uint64_t key8 = (uint64_t)key | ((uint64_t)key << 32);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy (&w, payload + i, 8);
        w ^= key8;
        memcpy (payload + i, &w, 8);
    }
    const unsigned char *k = (const unsigned char *)&key;
    for (; i < len; i++)
        payload[i] ^= (char)k[i & 3];
    c->out_len += h + len;
}

static void
ws_send (conn_t *c, int opcode, const void *data, size_t len)
{
    ws_send3 (c, opcode, data, len, NULL, 0, NULL, 0);
}

static void
conn_flush (conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send (c->fd, c->out + c->out_off, c->out_len - c->out_off,
                          MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            c->out_off += (size_t)n;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ep_mod (c, true);
            return;
        } else if (n < 0 && errno == EINTR)
            continue;
        else {
            conn_close (c, true);
            return;
        }
    }
    c->out_off = c->out_len = 0;
    if (c->state != C_CONNECTING)
        ep_mod (c, false);
}

//  --------------------------------------------------------------------------
//  Protocol setup and subscriptions

static void
mqtt_varint (char *buf, size_t *at, size_t value)
{
    do {
        unsigned char byte = value % 128;
        value /= 128;
        if (value)
            byte |= 0x80;
        buf[(*at)++] = (char)byte;
    } while (value);
}

static void
mqtt_send_connect (conn_t *c)
{
    char id[32];
    int idlen = snprintf (id, sizeof id, "lg%d-%s%d", (int)getpid (),
                          c->is_pub   ? "p"
                          : c->is_sys ? "s"
                                      : "c",
                          c->index);
    char body[64];
    size_t n = 0;
    const char hdr[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60};
    memcpy (body, hdr, sizeof hdr);
    n = sizeof hdr;
    body[n++] = 0;
    body[n++] = (char)idlen;
    memcpy (body + n, id, (size_t)idlen);
    n += (size_t)idlen;
    char packet[80];
    size_t at = 0;
    packet[at++] = 0x10;
    mqtt_varint (packet, &at, n);
    memcpy (packet + at, body, n);
    ws_send (c, 2, packet, at + n);
}

static void
mqtt_send_subscribe (conn_t *c, const char *topic, int packet_id)
{
    size_t tlen = strlen (topic);
    char packet[300];
    size_t at = 0;
    packet[at++] = (char)0x82;
    mqtt_varint (packet, &at, 2 + 2 + tlen + 1);
    packet[at++] = (char)(packet_id >> 8);
    packet[at++] = (char)packet_id;
    packet[at++] = (char)(tlen >> 8);
    packet[at++] = (char)tlen;
    memcpy (packet + at, topic, tlen);
    at += tlen;
    packet[at++] = 0; //  QoS 0
    ws_send (c, 2, packet, at);
}

static void
set_ready (conn_t *c)
{
    if (c->state == C_READY)
        return;
    c->state = C_READY;
    not_ready--;
    in_setup--;
}

//  The WebSocket is open: start the protocol
static void
proto_open (conn_t *c)
{
    c->state = C_OPEN;
    const char *room = c->is_pub ? NULL : room_names[c->room];
    int times = opt.double_sub ? 2 : 1;
    switch (opt.proto) {
        case P_CES:
        case P_BARE:
            if (c->is_pub) {
                set_ready (c);
                break;
            }
            c->acks_wanted = times;
            for (int i = 0; i < times; i++) {
                char reg[300];
                int n = snprintf (reg, sizeof reg,
                                  "{\"rooms\":[\"%s\"],\"create\":true}", room);
                ws_send (c, 1, reg, (size_t)n);
            }
            break;
        case P_MQTT:
            mqtt_send_connect (c); //  CONNACK, then subscribe
            break;
        case P_NATS:
            break; //  INFO first
    }
    conn_flush (c);
}

//  --------------------------------------------------------------------------
//  Events

static char pad_buf[70000];

static size_t
build_event (char *buf, int room, int pub, uint64_t seq, uint64_t t)
{
    int n = snprintf (
        buf, 512,
        "{\"generating-system\":\"bench\",\"timestamp\":"
        "\"2020-01-02T03:04:05Z\",\"event-tags\":null,\"affected-room\":{"
        "\"buildingID\":\"B\",\"roomID\":\"%s\"},\"key\":\"k\",\"value\":"
        "\"v\",\"user\":\"\",\"data\":{\"p\":%d,\"seq\":%" PRIu64
        ",\"t\":%" PRIu64 ",\"pad\":\"",
        room_names[room], pub, seq, t);
    int fill = opt.size - n - 3;
    if (fill < 0)
        fill = 0;
    memcpy (buf + n, pad_buf, (size_t)fill);
    n += fill;
    memcpy (buf + n, "\"}}", 3);
    return (size_t)n + 3;
}

static char event_buf[70000];

//  Queues one event from publisher p (not flushed)
static int
publish (pub_t *p, uint64_t stamp)
{
    int slot = p->next;
    int room = p->rooms[slot];
    p->next = (p->next + 1) % p->nrooms;
    uint64_t seq = ++p->seq[slot];
    size_t len = build_event (event_buf, room, (int)(p - pubs), seq, stamp);
    conn_t *c = p->conn;
    const char *name = room_names[room];
    size_t nlen = (size_t)room_name_len[room];
    switch (opt.proto) {
        case P_CES:
        case P_BARE: {
            char head[200];
            memcpy (head, name, nlen);
            head[nlen] = '\n';
            ws_send3 (c, 2, head, nlen + 1, event_buf, len, NULL, 0);
            break;
        }
        case P_MQTT: {
            char head[220];
            size_t at = 0;
            head[at++] = 0x30;
            mqtt_varint (head, &at, 2 + nlen + len);
            head[at++] = (char)(nlen >> 8);
            head[at++] = (char)nlen;
            memcpy (head + at, name, nlen);
            at += nlen;
            ws_send3 (c, 2, head, at, event_buf, len, NULL, 0);
            break;
        }
        case P_NATS: {
            char head[220];
            int at = snprintf (head, sizeof head, "PUB %s %zu\r\n", name, len);
            ws_send3 (c, 2, head, (size_t)at, event_buf, len, "\r\n", 2);
            break;
        }
    }
    p->sent++;
    p->expected += (uint64_t)room_subs[room];
    stats.sent++;
    stats.expected += (uint64_t)room_subs[room];
    return room_subs[room];
}

static inline const char *
parse_u64 (const char *p, const char *end, uint64_t *value)
{
    uint64_t v = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    *value = v;
    return p > start ? p : NULL;
}

//  A subscriber got an event's JSON
static void
on_event (conn_t *c, const char *json, size_t len)
{
    static const char key[] = "\"data\":{\"p\":";
    const char *end = json + len;
    const char *at = (const char *)memmem (json, len, key, sizeof key - 1);
    uint64_t p, seq, t;
    if (!at || !(at = parse_u64 (at + sizeof key - 1, end, &p)) ||
        end - at < 7 || memcmp (at, ",\"seq\":", 7) ||
        !(at = parse_u64 (at + 7, end, &seq)) || end - at < 5 ||
        memcmp (at, ",\"t\":", 5) || !(at = parse_u64 (at + 5, end, &t)) ||
        p >= (uint64_t)opt.pubs) {
        stats.errors++;
        if (stats.errors <= 5)
            fprintf (stderr, "ces_loadgen: unexpected event: %.*s\n",
                     (int)(len > 200 ? 200 : len), json);
        return;
    }
    uint64_t now = now_ns ();
    pub_t *pub = &pubs[p];
    if (seq <= c->last_seq[p]) {
        c->dups++;
        stats.dups++;
        return;
    }
    if (seq > c->last_seq[p] + 1) {
        uint64_t gap = seq - c->last_seq[p] - 1;
        pub->gaps += gap;
        stats.gaps += gap;
    }
    c->last_seq[p] = seq;
    c->received++;
    pub->delivered++;
    pub->last_progress = now;
    stats.delivered++;
    stats.last_delivery = now;
    if (now >= t_warm && now <= t_end)
        stats.window_delivered++;
    if (recording && t >= t_warm && t <= t_end)
        h_record (&hist, now > t ? now - t : 0);
}

//  MQTT packets in c->stream or in data
static size_t
mqtt_parse (conn_t *c, const char *data, size_t len)
{
    size_t at = 0;
    while (at + 2 <= len) {
        unsigned char type = (unsigned char)data[at];
        size_t remaining = 0, mult = 1, i = at + 1;
        bool complete = false;
        while (i < len && i < at + 5) {
            unsigned char b = (unsigned char)data[i++];
            remaining += (b & 127) * mult;
            mult *= 128;
            if (!(b & 128)) {
                complete = true;
                break;
            }
        }
        if (!complete || i + remaining > len)
            break;
        const char *body = data + i;
        switch (type >> 4) {
            case 2: //  CONNACK
                if (remaining >= 2 && body[1] != 0) {
                    fprintf (stderr, "ces_loadgen: CONNACK refused (%d)\n",
                             body[1]);
                    stats.errors++;
                } else if (c->is_sys) {
                    mqtt_send_subscribe (
                        c, "$SYS/broker/publish/messages/dropped", 1);
                    conn_flush (c);
                } else if (c->is_pub)
                    set_ready (c);
                else {
                    c->acks_wanted = opt.double_sub ? 2 : 1;
                    for (int k = 0; k < c->acks_wanted; k++)
                        mqtt_send_subscribe (c, room_names[c->room], k + 1);
                    conn_flush (c);
                }
                break;
            case 9: //  SUBACK
                if (remaining >= 3 && (unsigned char)body[2] == 0x80) {
                    fprintf (stderr, "ces_loadgen: SUBACK refused\n");
                    stats.errors++;
                }
                if (!c->is_sys && --c->acks_wanted <= 0)
                    set_ready (c);
                break;
            case 3: { //  PUBLISH
                if (remaining < 2)
                    break;
                size_t tlen = ((size_t)(unsigned char)body[0] << 8) |
                              (unsigned char)body[1];
                size_t off = 2 + tlen + (((type >> 1) & 3) ? 2 : 0);
                if (off > remaining)
                    break;
                if (c->is_sys) {
                    char number[32] = {0};
                    size_t n = remaining - off < 31 ? remaining - off : 31;
                    memcpy (number, body + off, n);
                    sys_dropped = strtoull (number, NULL, 10);
                    sys_seen = true;
                } else
                    on_event (c, body + off, remaining - off);
                break;
            }
            case 13: //  PINGRESP
                break;
            default:
                break;
        }
        at = i + remaining;
    }
    return at;
}

//  NATS protocol lines in data
static size_t
nats_parse (conn_t *c, const char *data, size_t len)
{
    size_t at = 0;
    while (at < len) {
        const char *line = data + at;
        const char *eol = (const char *)memmem (line, len - at, "\r\n", 2);
        if (!eol)
            break;
        size_t llen = (size_t)(eol - line);
        size_t next = at + llen + 2;
        if (llen >= 4 && !memcmp (line, "MSG ", 4)) {
            //  MSG subject sid [reply] #bytes
            const char *last = eol;
            while (last > line && last[-1] != ' ')
                last--;
            uint64_t bytes;
            if (!parse_u64 (last, eol, &bytes)) {
                stats.errors++;
                at = next;
                continue;
            }
            if (next + bytes + 2 > len)
                break; //  wait for the payload
            on_event (c, data + next, (size_t)bytes);
            at = next + bytes + 2;
            continue;
        }
        if (llen >= 4 && !memcmp (line, "INFO", 4)) {
            if (c->state == C_OPEN && !c->acks_wanted) {
                static const char connect[] =
                    "CONNECT {\"verbose\":false,\"pedantic\":false,"
                    "\"name\":\"ces_loadgen\",\"lang\":\"c\","
                    "\"version\":\"1\",\"protocol\":1}\r\n";
                char sub[400];
                size_t slen = 0;
                if (!c->is_pub)
                    for (int k = 0; k < (opt.double_sub ? 2 : 1); k++)
                        slen += (size_t)snprintf (sub + slen, sizeof sub - slen,
                                                  "SUB %s %d\r\n",
                                                  room_names[c->room], k + 1);
                ws_send3 (c, 2, connect, sizeof connect - 1, sub, slen,
                          "PING\r\n", 6);
                c->acks_wanted = 1;
                conn_flush (c);
            }
        } else if (llen == 4 && !memcmp (line, "PING", 4)) {
            ws_send (c, 2, "PONG\r\n", 6);
            conn_flush (c);
        } else if (llen == 4 && !memcmp (line, "PONG", 4)) {
            if (c->state == C_OPEN)
                set_ready (c);
        } else if (llen >= 4 && !memcmp (line, "-ERR", 4)) {
            stats.errors++;
            fprintf (stderr, "ces_loadgen: nats: %.*s\n", (int)llen, line);
        }
        at = next;
    }
    return at;
}

//  Bytes of the MQTT or NATS stream, which WebSocket frames may split
static void
stream_feed (conn_t *c, const char *data, size_t len)
{
    size_t (*parse) (conn_t *, const char *, size_t) =
        opt.proto == P_MQTT ? mqtt_parse : nats_parse;
    if (!c->stream_len) {
        size_t used = parse (c, data, len);
        data += used;
        len -= used;
        if (!len || c->state == C_CLOSED)
            return;
    }
    if (c->stream_len + len > c->stream_cap) {
        c->stream_cap = (c->stream_len + len) * 2;
        c->stream = (char *)xrealloc (c->stream, c->stream_cap);
    }
    memcpy (c->stream + c->stream_len, data, len);
    c->stream_len += len;
    size_t used = parse (c, c->stream, c->stream_len);
    if (used && c->state != C_CLOSED) {
        memmove (c->stream, c->stream + used, c->stream_len - used);
        c->stream_len -= used;
    }
}

//  One whole WebSocket message
static void
on_message (conn_t *c, int opcode, const char *data, size_t len)
{
    if (opt.proto == P_MQTT || opt.proto == P_NATS) {
        stream_feed (c, data, len);
        return;
    }
    if (opcode == 1) { //  Text: a notice
        if (memmem (data, len, "\"registered\"", 12)) {
            if (c->state == C_OPEN && --c->acks_wanted <= 0)
                set_ready (c);
        } else {
            stats.errors++;
            if (stats.errors <= 5)
                fprintf (stderr, "ces_loadgen: notice: %.*s\n",
                         (int)(len > 200 ? 200 : len), data);
        }
        return;
    }
    const char *nl = (const char *)memchr (data, '\n', len);
    if (!nl) {
        stats.errors++;
        return;
    }
    on_event (c, nl + 1, len - (size_t)(nl + 1 - data));
}

//  Frames in c->in; returns bytes used
static size_t
ws_parse (conn_t *c)
{
    size_t at = 0;
    const unsigned char *in = (const unsigned char *)c->in;
    while (c->state != C_CLOSED && c->in_len - at >= 2) {
        size_t avail = c->in_len - at;
        const unsigned char *f = in + at;
        bool fin = f[0] & 0x80;
        int opcode = f[0] & 0x0f;
        bool masked = f[1] & 0x80;
        uint64_t len = f[1] & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (avail < 4)
                break;
            len = ((uint64_t)f[2] << 8) | f[3];
            h = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | f[2 + i];
            h = 10;
        }
        if (masked)
            h += 4;
        if (avail < h + len)
            break;
        char *payload = c->in + at + h;
        if (masked) {
            const unsigned char *key = f + h - 4;
            for (uint64_t i = 0; i < len; i++)
                payload[i] ^= (char)key[i & 3];
        }
        at += h + (size_t)len;
        if (opcode >= 8) { //  control frames may come between fragments
            if (opcode == 9) {
                stats.pings++;
                ws_send (c, 0xA, payload, (size_t)len);
                conn_flush (c);
            } else if (opcode == 8) {
                ws_send (c, 8, payload, len >= 2 ? 2 : 0);
                conn_flush (c);
                conn_close (c, running || c->state != C_READY);
            }
            continue;
        }
        if (opcode != 0 && fin && !c->in_message) {
            on_message (c, opcode, payload, (size_t)len);
            continue;
        }
        if (opcode != 0) {
            c->in_message = true;
            c->msg_op = opcode;
            c->msg_len = 0;
        }
        if (c->msg_len + len > c->msg_cap) {
            c->msg_cap = (c->msg_len + len) * 2;
            c->msg = (char *)xrealloc (c->msg, c->msg_cap);
        }
        memcpy (c->msg + c->msg_len, payload, (size_t)len);
        c->msg_len += (size_t)len;
        if (fin) {
            c->in_message = false;
            on_message (c, c->msg_op, c->msg, c->msg_len);
        }
    }
    return at;
}

static void
on_handshake (conn_t *c)
{
    char *end = (char *)memmem (c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->in_len > 16384)
            conn_close (c, true);
        return;
    }
    if (c->in_len < 12 || memcmp (c->in + 9, "101", 3)) {
        stats.refused++;
        if (stats.refused <= 3)
            fprintf (stderr, "ces_loadgen: upgrade refused: %.*s\n",
                     (int)(strcspn (c->in, "\r\n")), c->in);
        conn_close (c, false);
        return;
    }
    size_t used = (size_t)(end + 4 - c->in);
    memmove (c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    proto_open (c);
}

static void
conn_read (conn_t *c)
{
    for (int round = 0; round < 4 && c->state != C_CLOSED; round++) {
        if (c->in_cap - c->in_len < 32768) {
            c->in_cap = c->in_len + 65536;
            c->in = (char *)xrealloc (c->in, c->in_cap);
        }
        size_t room = c->in_cap - c->in_len;
        ssize_t n = recv (c->fd, c->in + c->in_len, room, 0);
        if (n == 0) {
            conn_close (c, true);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            conn_close (c, true);
            return;
        }
        c->in_len += (size_t)n;
        if (c->state == C_HANDSHAKE) {
            on_handshake (c);
            if (c->state == C_HANDSHAKE || c->state == C_CLOSED)
                return;
        }
        size_t used = ws_parse (c);
        if (c->state == C_CLOSED)
            return;
        if (used) {
            memmove (c->in, c->in + used, c->in_len - used);
            c->in_len -= used;
        }
        if ((size_t)n < room)
            return; //  the socket is empty
    }
}

static void
conn_close (conn_t *c, bool unexpected)
{
    if (c->state == C_CLOSED)
        return;
    if (c->state != C_READY) {
        not_ready--;
        in_setup--;
    }
    if (unexpected && !c->is_sys) {
        stats.closed_unexpected++;
        if (stats.closed_unexpected <= 3)
            fprintf (stderr, "ces_loadgen: %s %d closed by the server\n",
                     c->is_pub ? "publisher" : "subscriber", c->index);
    }
    c->state = C_CLOSED;
    epoll_ctl (epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close (c->fd);
    c->fd = -1;
}

static void
conn_start (conn_t *c)
{
    c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die ("socket: %s (ulimit -n?)", strerror (errno));
    int one = 1;
    setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons ((uint16_t)opt.port)};
    inet_pton (AF_INET, opt.host, &addr.sin_addr);
    c->state = C_CONNECTING;
    not_ready++;
    in_setup++;
    int rc = connect (c->fd, (struct sockaddr *)&addr, sizeof addr);
    if (rc < 0 && errno != EINPROGRESS)
        die ("connect to %s:%d: %s", opt.host, opt.port, strerror (errno));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    c->want_out = true;
    epoll_ctl (epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
conn_connected (conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        fprintf (stderr, "ces_loadgen: connect: %s\n", strerror (err));
        conn_close (c, true);
        return;
    }
    const char *path = opt.path              ? opt.path
                       : opt.proto == P_MQTT ? "/mqtt"
                       : opt.proto == P_NATS ? "/"
                                             : "/connect/messenger";
    char key[25];
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 22; i++)
        key[i] = b64[rng () % 64];
    key[21] = 'A'; //  16 bytes encode to 22 characters + "=="
    key[22] = key[23] = '=';
    key[24] = 0;
    char *p = out_reserve (c, 512);
    int n = snprintf (p, 512,
                      "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\n%s\r\n",
                      path, opt.host, opt.port, key,
                      c->is_sys || opt.proto == P_MQTT
                          ? "Sec-WebSocket-Protocol: mqtt\r\n"
                          : "");
    c->out_len += (size_t)n;
    c->state = C_HANDSHAKE;
    conn_flush (c);
}

static void
on_io (conn_t *c, uint32_t events)
{
    if (c->state == C_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            conn_connected (c);
        return;
    }
    if (events & EPOLLIN)
        conn_read (c);
    else if (events & (EPOLLERR | EPOLLHUP))
        conn_close (c, true);
    if (c->state != C_CLOSED && (events & EPOLLOUT))
        conn_flush (c);
}

//  --------------------------------------------------------------------------
//  Server figures: CPU, memory, reported drops

static double
proc_cpu_seconds (int pid)
{
    char path[64], buf[2048];
    snprintf (path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return 0;
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = 0;
    char *p = strrchr (buf, ')');
    if (!p)
        return 0;
    unsigned long utime = 0, stime = 0;
    //  after ")": state(3) ... utime is field 14, stime 15
    sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
            &utime, &stime);
    return (double)(utime + stime) / (double)sysconf (_SC_CLK_TCK);
}

static long
proc_status_kb (int pid, const char *field)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    long value = -1;
    size_t flen = strlen (field);
    while (fgets (line, sizeof line, f))
        if (!strncmp (line, field, flen) && line[flen] == ':') {
            value = atol (line + flen + 1);
            break;
        }
    fclose (f);
    return value;
}

static double
servers_cpu (void)
{
    double total = 0;
    for (int i = 0; i < opt.npids; i++)
        total += proc_cpu_seconds (opt.pids[i]);
    return total;
}

static long
servers_rss_kb (void)
{
    long total = 0;
    for (int i = 0; i < opt.npids; i++) {
        long v = proc_status_kb (opt.pids[i], "VmRSS");
        if (v > 0)
            total += v;
    }
    return total;
}

//  CPU seconds every process on the machine used (/proc/stat, busy time)
static double
machine_cpu (void)
{
    FILE *f = fopen ("/proc/stat", "r");
    if (!f)
        return 0;
    unsigned long long v[10] = {0};
    int n = fscanf (f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
                    &v[8], &v[9]);
    fclose (f);
    if (n < 8)
        return 0;
    //  user nice system idle iowait irq softirq steal: all but idle, iowait
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / (double)sysconf (_SC_CLK_TCK);
}

static double
self_cpu (void)
{
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

//  GET http://hostport/path; returns the body (caller frees) or NULL
static char *
http_get (const char *hostport, const char *path)
{
    char host[64];
    int port = 80;
    const char *colon = strrchr (hostport, ':');
    if (!colon)
        return NULL;
    snprintf (host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    port = atoi (colon + 1);
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons ((uint16_t)port)};
    inet_pton (AF_INET, host, &addr.sin_addr);
    struct timeval tv = {5, 0};
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect (fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close (fd);
        return NULL;
    }
    char request[256];
    int n =
        snprintf (request, sizeof request,
                  "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n",
                  path, hostport);
    if (send (fd, request, (size_t)n, MSG_NOSIGNAL) != n) {
        close (fd);
        return NULL;
    }
    size_t len = 0, cap = 65536;
    char *buf = (char *)xrealloc (NULL, cap);
    for (;;) {
        if (cap - len < 16384)
            buf = (char *)xrealloc (buf, cap *= 2);
        ssize_t got = recv (fd, buf + len, cap - len - 1, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close (fd);
    buf[len] = 0;
    char *body = strstr (buf, "\r\n\r\n");
    if (!body) {
        free (buf);
        return NULL;
    }
    memmove (buf, body + 4, len - (size_t)(body + 4 - buf) + 1);
    return buf;
}

static double
json_number (cJSON *root, const char *path)
{
    //  path: "a.b.c"
    char copy[128];
    snprintf (copy, sizeof copy, "%s", path);
    cJSON *item = root;
    for (char *save, *key = strtok_r (copy, ".", &save); key && item;
         key = strtok_r (NULL, ".", &save))
        item = cJSON_GetObjectItemCaseSensitive (item, key);
    return item && cJSON_IsNumber (item) ? item->valuedouble : 0;
}

static double
json_sum (cJSON *object)
{
    double total = 0;
    cJSON *item;
    cJSON_ArrayForEach (item, object) if (cJSON_IsNumber (item)) total +=
        item->valuedouble;
    return total;
}

typedef struct {
    bool known;          //  this server reports its drops
    double per_delivery; //  drops counted per subscriber (edge queue_full)
    double per_event;    //  drops counted per event (x subscribers of the room)
    double edge_delivered;
    char detail[256];
} drops_t;

//  Reads what the server says it did not deliver
static drops_t
server_drops (void)
{
    drops_t d = {false, 0, 0, 0, ""};
    if (opt.proto == P_CES && opt.status) {
        char *body = http_get (opt.status, "/status");
        cJSON *root = body ? cJSON_Parse (body) : NULL;
        free (body);
        if (!root) {
            snprintf (d.detail, sizeof d.detail, "edge /status unreadable");
            return d;
        }
        d.known = true;
        d.per_delivery = json_number (root, "edge.counters.drops.queue_full");
        double unreachable =
            json_number (root, "edge.counters.drops.hub_unreachable");
        double malformed = json_number (root, "edge.counters.drops.malformed");
        double lost = json_number (root, "edge.counters.lost_upstream");
        d.edge_delivered = json_number (root, "edge.counters.delivered");
        cJSON *hub = cJSON_GetObjectItem (root, "hub");
        cJSON *hub_root = NULL;
        if (!hub && opt.hub_status) {
            char *hbody = http_get (opt.hub_status, "/status");
            hub_root = hbody ? cJSON_Parse (hbody) : NULL;
            free (hbody);
            hub = hub_root;
        }
        double hub_drops =
            hub ? json_sum (cJSON_GetObjectItem (hub, "drops")) : 0;
        d.per_event = unreachable + malformed + lost + hub_drops;
        snprintf (d.detail, sizeof d.detail,
                  "edge queue_full %.0f, hub_unreachable %.0f, malformed %.0f, "
                  "lost_upstream %.0f; hub drops %.0f%s",
                  d.per_delivery, unreachable, malformed, lost, hub_drops,
                  hub ? "" : " (hub status not read)");
        cJSON_Delete (hub_root);
        cJSON_Delete (root);
    } else if (opt.proto == P_NATS && opt.nats_monitor) {
        char *body = http_get (opt.nats_monitor, "/varz");
        cJSON *root = body ? cJSON_Parse (body) : NULL;
        free (body);
        if (root) {
            //  nats-server counts slow consumers (connections it closed),
            //  not the messages they missed
            double slow = json_number (root, "slow_consumers");
            snprintf (d.detail, sizeof d.detail,
                      "slow_consumers %.0f (nats-server does not count "
                      "dropped messages)",
                      slow);
            cJSON_Delete (root);
        }
    } else if (opt.proto == P_MQTT)
        snprintf (d.detail, sizeof d.detail, "$SYS not read");
    else
        snprintf (d.detail, sizeof d.detail, "no drop counters");
    return d;
}

//  --------------------------------------------------------------------------
//  The event loop

static volatile sig_atomic_t interrupted;
static void
on_signal (int sig)
{
    (void)sig;
    interrupted = 1;
}

static int timer_fd = -1;
static conn_t *sys_conn;

//  Starts more connections while fewer than --handshakes are being set up
static void
start_more (conn_t *list, int count, int *next)
{
    while (*next < count && in_setup < opt.handshakes)
        conn_start (&list[(*next)++]);
}

static void
loop_once (int timeout_ms)
{
    struct epoll_event events[512];
    int n = epoll_wait (epfd, events, 512, timeout_ms);
    for (int i = 0; i < n; i++) {
        if (events[i].data.ptr == NULL) {
            uint64_t expirations;
            if (read (timer_fd, &expirations, sizeof expirations) < 0) {
            }
            continue;
        }
        on_io ((conn_t *)events[i].data.ptr, events[i].events);
    }
}

//  Waits until every connection in the list is ready
static bool
setup (conn_t *list, int count, const char *what, double timeout)
{
    int next = 0;
    uint64_t deadline = now_ns () + (uint64_t)(timeout * 1e9);
    start_more (list, count, &next);
    while ((not_ready > 0 || next < count) && !interrupted) {
        loop_once (10);
        start_more (list, count, &next);
        if (now_ns () > deadline) {
            fprintf (stderr,
                     "ces_loadgen: %s: %d of %d not ready after %.0f s\n", what,
                     not_ready + (count - next), count, timeout);
            return false;
        }
    }
    return !interrupted;
}

//  MQTT keep-alive (60 s): PINGREQ every 30 s on every connection
static void
mqtt_keepalive (uint64_t now)
{
    static uint64_t next_check;
    if (opt.proto != P_MQTT || now < next_check)
        return;
    next_check = now + 1000000000ull;
    for (int i = 0; i < nsubs + opt.pubs; i++) {
        conn_t *c = i < nsubs ? &subs[i] : pubs[i - nsubs].conn;
        if (c->state != C_READY)
            continue;
        if (!c->last_pingreq)
            c->last_pingreq = now;
        else if (now - c->last_pingreq > 30000000000ull) {
            const char ping[2] = {(char)0xC0, 0};
            ws_send (c, 2, ping, 2);
            conn_flush (c);
            c->last_pingreq = now;
        }
    }
}

//  Reads mosquitto's $SYS/broker/publish/messages/dropped (retained)
static bool
mqtt_sys_dropped (uint64_t *value)
{
    if (!sys_conn) {
        sys_conn = (conn_t *)calloc (1, sizeof (conn_t));
        sys_conn->is_sys = true;
    } else {
        if (sys_conn->state != C_CLOSED)
            conn_close (sys_conn, false);
        free (sys_conn->in);
        free (sys_conn->out);
        free (sys_conn->stream);
        free (sys_conn->msg);
        memset (sys_conn, 0, sizeof *sys_conn);
        sys_conn->is_sys = true;
    }
    sys_seen = false;
    conn_start (sys_conn);
    uint64_t deadline = now_ns () + 3000000000ull;
    while (!sys_seen && now_ns () < deadline && sys_conn->state != C_CLOSED &&
           !interrupted)
        loop_once (10);
    if (sys_conn->state != C_CLOSED)
        conn_close (sys_conn, false);
    *value = sys_dropped;
    return sys_seen;
}

static void
usage (void)
{
    printf (
        "usage: ces_loadgen [options]\n\n"
        "  --proto ces|mqtt|nats|bare  protocol (ces)\n"
        "  --host ADDR / --port N      server (127.0.0.1:7100)\n"
        "  --path PATH                 WebSocket path (per protocol)\n"
        "  --rooms N                   rooms (1)\n"
        "  --subs-per-room N           subscribers in every room (10)\n"
        "  --pubs N                    publishers, each sending to rooms\n"
        "                              p, p+pubs, p+2*pubs... in turn (1)\n"
        "  --rate EVENTS/S             open loop; 0 = as fast as possible (0)\n"
        "  --window N                  fast mode: deliveries in flight per\n"
        "                              publisher (6400; at least one event)\n"
        "  --duration SECS             publishing time (5)\n"
        "  --warmup SECS               not measured (duration/5, at most 1)\n"
        "  --size BYTES                JSON event size (300)\n"
        "  --idle N                    hold N registered idle connections, "
        "report RSS\n"
        "  --hold SECS                 idle mode: hold time (1)\n"
        "  --handshakes N              connections set up at once (200)\n"
        "  --status HOST:PORT          ces edge, for /status drop counters\n"
        "  --hub-status HOST:PORT      ces-hub --http (split ces)\n"
        "  --nats-monitor HOST:PORT    nats-server monitor port\n"
        "  --pid PID                   server process (repeatable): CPU, RSS\n"
        "  --label NAME --scenario S   names in the result line\n"
        "  --tsv FILE                  append a tab-separated result line\n"
        "  --kill-sub-at SECS          close subscriber 0 abruptly (a check)\n"
        "  --stall-sub-at SECS         stop reading subscriber 0 until the\n"
        "                              publishing ends (a check of drops)\n"
        "  --double-sub                subscribe every subscriber twice\n"
        "  --quiet                     only the result line\n");
}

int
main (int argc, char *argv[])
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp (a, name) && v && ++i)
        if (!strcmp (a, "--help") || !strcmp (a, "-h")) {
            usage ();
            return 0;
        } else if (ARG ("--proto")) {
            int k;
            for (k = 0; k < 4 && strcmp (v, proto_names[k]); k++)
                ;
            if (k == 4)
                die ("unknown protocol %s", v);
            opt.proto = (proto_t)k;
        } else if (ARG ("--host"))
            opt.host = v;
        else if (ARG ("--port"))
            opt.port = atoi (v);
        else if (ARG ("--path"))
            opt.path = v;
        else if (ARG ("--rooms"))
            opt.rooms = atoi (v);
        else if (ARG ("--subs-per-room"))
            opt.subs_per_room = atoi (v);
        else if (ARG ("--pubs"))
            opt.pubs = atoi (v);
        else if (ARG ("--rate"))
            opt.rate = atof (v);
        else if (ARG ("--window"))
            opt.window = atoi (v);
        else if (ARG ("--duration"))
            opt.duration = atof (v);
        else if (ARG ("--warmup"))
            opt.warmup = atof (v);
        else if (ARG ("--size"))
            opt.size = atoi (v);
        else if (ARG ("--idle"))
            opt.idle = atoi (v);
        else if (ARG ("--hold"))
            opt.hold = atof (v);
        else if (ARG ("--handshakes"))
            opt.handshakes = atoi (v);
        else if (ARG ("--status"))
            opt.status = v;
        else if (ARG ("--hub-status"))
            opt.hub_status = v;
        else if (ARG ("--nats-monitor"))
            opt.nats_monitor = v;
        else if (ARG ("--pid")) {
            if (opt.npids < 8)
                opt.pids[opt.npids++] = atoi (v);
        } else if (ARG ("--label"))
            opt.label = v;
        else if (ARG ("--scenario"))
            opt.scenario = v;
        else if (ARG ("--tsv"))
            opt.tsv = v;
        else if (ARG ("--kill-sub-at"))
            opt.kill_sub_at = atof (v);
        else if (ARG ("--stall-sub-at"))
            opt.stall_sub_at = atof (v);
        else if (!strcmp (a, "--double-sub"))
            opt.double_sub = true;
        else if (!strcmp (a, "--quiet"))
            opt.quiet = true;
        else
            die ("bad argument %s (see --help)", a);
#undef ARG
    }
    if (opt.rooms < 1 || opt.pubs < 0 || opt.subs_per_room < 0 ||
        opt.size < 200 || opt.size > 65000 || opt.window < 1)
        die ("bad numbers (rooms >= 1, size 200..65000, window >= 1)");
    if (!opt.label)
        opt.label = proto_names[opt.proto];
    if (opt.warmup < 0)
        opt.warmup = opt.duration / 5 > 1 ? 1 : opt.duration / 5;
    signal (SIGPIPE, SIG_IGN);
    signal (SIGINT, on_signal);
    signal (SIGTERM, on_signal);
    prctl (PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    rng_state ^= now_ns () ^ ((uint64_t)getpid () << 32);
    memset (pad_buf, 'x', sizeof pad_buf);
    epfd = epoll_create1 (EPOLL_CLOEXEC);

    bool idle_mode = opt.idle > 0;
    if (idle_mode) {
        opt.rooms = opt.idle < 1000 ? opt.idle : 1000;
        opt.pubs = 0;
    }
    room_names = (char **)calloc ((size_t)opt.rooms, sizeof (char *));
    room_name_len = (int *)calloc ((size_t)opt.rooms, sizeof (int));
    room_subs = (int *)calloc ((size_t)opt.rooms, sizeof (int));
    for (int r = 0; r < opt.rooms; r++) {
        char name[32];
        room_name_len[r] = snprintf (name, sizeof name, "BENCH-%d", r);
        room_names[r] = strdup (name);
    }
    nsubs = idle_mode ? opt.idle : opt.rooms * opt.subs_per_room;
    subs = (conn_t *)calloc ((size_t)(nsubs ? nsubs : 1), sizeof (conn_t));
    uint64_t *seqs = (uint64_t *)calloc ((size_t)(nsubs ? nsubs : 1) *
                                             (size_t)(opt.pubs ? opt.pubs : 1),
                                         sizeof (uint64_t));
    for (int i = 0; i < nsubs; i++) {
        subs[i].index = i;
        subs[i].room = i % opt.rooms;
        subs[i].last_seq = seqs + (size_t)i * (size_t)(opt.pubs ? opt.pubs : 1);
    }
    pubs = (pub_t *)calloc ((size_t)(opt.pubs ? opt.pubs : 1), sizeof (pub_t));
    for (int p = 0; p < opt.pubs; p++) {
        pubs[p].conn = (conn_t *)calloc (1, sizeof (conn_t));
        pubs[p].conn->is_pub = true;
        pubs[p].conn->index = p;
        int count = 0;
        for (int r = p % opt.rooms; r < opt.rooms; r += opt.pubs)
            count++;
        if (!count) //  more publishers than rooms: share them
            count = 1;
        pubs[p].rooms = (int *)calloc ((size_t)count, sizeof (int));
        pubs[p].seq = (uint64_t *)calloc ((size_t)count, sizeof (uint64_t));
        pubs[p].nrooms = 0;
        for (int r = p % opt.rooms; r < opt.rooms; r += opt.pubs)
            pubs[p].rooms[pubs[p].nrooms++] = r;
        if (!pubs[p].nrooms)
            pubs[p].rooms[pubs[p].nrooms++] = p % opt.rooms;
    }

    long rss_before = servers_rss_kb ();
    long threads_before =
        opt.npids ? proc_status_kb (opt.pids[0], "Threads") : 0;
    uint64_t t0 = now_ns ();
    if (!setup (subs, nsubs, "subscribers", 120))
        return 3;
    double setup_s = (double)(now_ns () - t0) / 1e9;
    for (int i = 0; i < nsubs; i++)
        if (subs[i].state == C_READY)
            room_subs[subs[i].room]++;
    int ready_subs = 0;
    for (int r = 0; r < opt.rooms; r++)
        ready_subs += room_subs[r];
    if (!opt.quiet)
        fprintf (stderr,
                 "ces_loadgen: %s: %d subscribers ready in %.2f s (%" PRIu64
                 " refused)\n",
                 opt.label, ready_subs, setup_s, stats.refused);

    if (ready_subs < nsubs)
        fprintf (stderr, "ces_loadgen: only %d of %d subscribers ready\n",
                 ready_subs, nsubs);
    if (idle_mode) {
        uint64_t hold_end = now_ns () + (uint64_t)(opt.hold * 1e9);
        while (now_ns () < hold_end && !interrupted)
            loop_once (50);
        long rss_after = servers_rss_kb ();
        long threads = opt.npids ? proc_status_kb (opt.pids[0], "Threads") : 0;
        double per_conn =
            ready_subs ? (double)(rss_after - rss_before) / ready_subs : 0;
        double total_per_conn = ready_subs ? (double)rss_after / ready_subs : 0;
        bool pass = ready_subs == opt.idle && !stats.closed_unexpected;
        printf ("%s idle: %d of %d connections registered in %.2f s; server "
                "RSS %ld -> %ld KiB (%.1f KiB more per connection, %.1f KiB "
                "per connection in all); threads %ld -> %ld; %s\n",
                opt.label, ready_subs, opt.idle, setup_s, rss_before, rss_after,
                per_conn, total_per_conn, threads_before, threads,
                pass ? "PASS" : "FAIL (not all connections held)");
        if (opt.tsv) {
            FILE *f = fopen (opt.tsv, "a");
            if (f) {
                fprintf (f,
                         "%s\t%s\tidle\t%d\t%d\t%.2f\t%ld\t%ld\t%.2f\t%.2f\t%ld"
                         "\t%s\n",
                         opt.scenario, opt.label, opt.idle, ready_subs, setup_s,
                         rss_before, rss_after, per_conn, total_per_conn,
                         threads, pass ? "PASS" : "FAIL");
                fclose (f);
            }
        }
        return pass ? 0 : 1;
    }

    conn_t **pub_conns = (conn_t **)calloc ((size_t)(opt.pubs ? opt.pubs : 1),
                                            sizeof (conn_t *));
    //  publishers are set up one by one (they are few)
    for (int p = 0; p < opt.pubs; p++) {
        pub_conns[p] = pubs[p].conn;
        if (!setup (pubs[p].conn, 1, "publisher", 30))
            return 3;
    }

    //  Figures before
    uint64_t sys_before = 0;
    bool sys_ok = false;
    if (opt.proto == P_MQTT)
        sys_ok = mqtt_sys_dropped (&sys_before);
    drops_t drops_before = server_drops ();
    double cpu_before = servers_cpu (), self_before = self_cpu ();
    double machine_before = machine_cpu ();

    bool open_loop = opt.rate > 0;
    if (open_loop) {
        timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        epoll_ctl (epfd, EPOLL_CTL_ADD, timer_fd, &ev);
    }
    t_start = now_ns ();
    t_warm = t_start + (uint64_t)(opt.warmup * 1e9);
    t_end = t_start + (uint64_t)(opt.duration * 1e9);
    running = recording = true;
    uint64_t kill_at =
        opt.kill_sub_at >= 0 ? t_start + (uint64_t)(opt.kill_sub_at * 1e9) : 0;
    uint64_t stall_at = opt.stall_sub_at >= 0
                            ? t_start + (uint64_t)(opt.stall_sub_at * 1e9)
                            : 0;
    bool stalled = false;
    double interval = open_loop ? 1e9 / opt.rate : 0;
    uint64_t scheduled = 0; //  events scheduled so far (open loop)
    uint64_t window_deliveries = (uint64_t)opt.window;
    for (int p = 0; p < opt.pubs; p++)
        pubs[p].last_progress = t_start;

    while (!interrupted) {
        uint64_t now = now_ns ();
        if (kill_at && now >= kill_at && nsubs) {
            kill_at = 0;
            fprintf (stderr, "ces_loadgen: closing subscriber 0 abruptly\n");
            conn_t *victim = &subs[0];
            epoll_ctl (epfd, EPOLL_CTL_DEL, victim->fd, NULL);
            struct linger lg = {1, 0}; //  RST
            setsockopt (victim->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close (victim->fd);
            victim->state = C_CLOSED;
        }
        if (stall_at && now >= stall_at && nsubs) {
            stall_at = 0;
            stalled = true;
            fprintf (stderr, "ces_loadgen: subscriber 0 stops reading\n");
            epoll_ctl (epfd, EPOLL_CTL_DEL, subs[0].fd, NULL);
        }
        if (now >= t_end)
            break;
        if (open_loop && opt.pubs) {
            //  every event whose time has come, stamped with that time
            uint64_t due;
            int64_t lag = 0;
            while ((due = t_start + (uint64_t)((double)scheduled * interval)) <=
                       now &&
                   due < t_end) {
                pub_t *p = &pubs[scheduled % (uint64_t)opt.pubs];
                if (p->conn->state == C_READY)
                    publish (p, due);
                if ((int64_t)(now - due) > lag)
                    lag = (int64_t)(now - due);
                scheduled++;
            }
            if (lag > stats.max_lag)
                stats.max_lag = lag;
            for (int p = 0; p < opt.pubs; p++)
                if (pubs[p].conn->out_len > pubs[p].conn->out_off &&
                    !pubs[p].conn->want_out)
                    conn_flush (pubs[p].conn);
            uint64_t next = t_start + (uint64_t)((double)scheduled * interval);
            struct itimerspec its = {
                {0, 0},
                {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)}};
            timerfd_settime (timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
            loop_once (100);
        } else {
            //  as fast as possible, with a bounded window per publisher
            for (int i = 0; i < opt.pubs; i++) {
                pub_t *p = &pubs[i];
                if (p->conn->state != C_READY || p->conn->want_out)
                    continue;
                int64_t outstanding = (int64_t)p->expected -
                                      (int64_t)p->delivered - (int64_t)p->gaps -
                                      (int64_t)p->written_off;
                if (outstanding > 0 && now - p->last_progress > 500000000ull) {
                    //  nothing arrives: what is out is lost, go on
                    p->written_off += (uint64_t)outstanding;
                    outstanding = 0;
                    stats.stalls++;
                    p->last_progress = now;
                }
                int burst = 0;
                while (outstanding < (int64_t)window_deliveries &&
                       burst < opt.window) {
                    outstanding += publish (p, now_ns ());
                    burst++;
                }
                if (burst) {
                    if (outstanding <= 0)
                        p->last_progress = now;
                    conn_flush (p->conn);
                }
            }
            loop_once (1);
        }
        mqtt_keepalive (now);
    }
    running = false;
    uint64_t publish_end = now_ns ();
    if (stalled && subs[0].state != C_CLOSED) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &subs[0]};
        subs[0].want_out = false;
        epoll_ctl (epfd, EPOLL_CTL_ADD, subs[0].fd, &ev);
        fprintf (stderr, "ces_loadgen: subscriber 0 reads again\n");
    }
    //  Drain: until every expected delivery arrived, or 1 s without any
    uint64_t drain_deadline = publish_end + 10000000000ull;
    uint64_t last_count = stats.delivered, quiet_since = publish_end;
    while (!interrupted) {
        uint64_t now = now_ns ();
        if (stats.delivered >= stats.expected || now > drain_deadline)
            break;
        if (stats.delivered != last_count) {
            last_count = stats.delivered;
            quiet_since = now;
        } else if (now - quiet_since > 1000000000ull)
            break;
        loop_once (10);
    }
    recording = false;
    double cpu_after = servers_cpu (), self_after = self_cpu ();
    double machine_after = machine_cpu ();
    double elapsed = (double)(publish_end - t_start) / 1e9;

    //  Figures after
    drops_t drops_after = server_drops ();
    uint64_t sys_after = 0;
    if (opt.proto == P_MQTT && sys_ok) {
        //  $SYS is refreshed every sys_interval (1 s in bench/mosquitto.conf)
        uint64_t wait_until = now_ns () + 1200000000ull;
        while (now_ns () < wait_until && !interrupted)
            loop_once (50);
        sys_ok = mqtt_sys_dropped (&sys_after);
    }
    double reported = 0;
    bool reported_known = drops_after.known;
    char detail[300];
    snprintf (detail, sizeof detail, "%s", drops_after.detail);
    if (opt.proto == P_CES && drops_after.known) {
        reported = (drops_after.per_delivery - drops_before.per_delivery) +
                   (drops_after.per_event - drops_before.per_event) *
                       (double)opt.subs_per_room;
    } else if (opt.proto == P_MQTT) {
        reported_known = sys_ok;
        if (sys_ok)
            reported = (double)(sys_after - sys_before);
        snprintf (detail, sizeof detail,
                  sys_ok ? "$SYS/broker/publish/messages/dropped %" PRIu64
                           " -> %" PRIu64
                         : "$SYS dropped counter not readable",
                  sys_before, sys_after);
    }
    uint64_t drops = (uint64_t)(reported + 0.5);
    bool pass = stats.delivered + drops == stats.expected && stats.dups == 0 &&
                stats.expected > 0 && ready_subs == nsubs;
    double window_s = (double)(t_end - t_warm) / 1e9;
    double rate = window_s > 0 ? (double)stats.window_delivered / window_s : 0;
    double p50 = h_quantile (&hist, 0.5) / 1e3,
           p99 = h_quantile (&hist, 0.99) / 1e3,
           p999 = h_quantile (&hist, 0.999) / 1e3, max = hist.max / 1e3;
    double server_cpu = cpu_after - cpu_before,
           gen_cpu = self_after - self_before;
    //  what everything else on the machine used meanwhile: a loaded machine
    //  skews every figure
    double other_cpu = machine_after - machine_before - server_cpu - gen_cpu;
    if (other_cpu < 0)
        other_cpu = 0;
    long rss = servers_rss_kb ();

    if (!opt.quiet) {
        printf ("%s [%s]: %d rooms x %d subscribers, %d publishers, %s, %.1f s "
                "(%.1f s warm-up)\n",
                opt.label, opt.scenario, opt.rooms, opt.subs_per_room, opt.pubs,
                open_loop ? "open loop" : "as fast as possible", elapsed,
                opt.warmup);
        if (open_loop)
            printf ("  rate %.0f events/s (%.0f deliveries/s wanted); "
                    "generator at most %.1f us late\n",
                    opt.rate, opt.rate * opt.subs_per_room,
                    stats.max_lag / 1e3);
        else
            printf ("  window %d deliveries per publisher; %" PRIu64
                    " stalls (window written off)\n",
                    opt.window, stats.stalls);
        printf ("  sent %" PRIu64 " events, expected %" PRIu64
                " deliveries, delivered %" PRIu64
                ", duplicates/reordered %" PRIu64 ", gaps seen %" PRIu64 "\n",
                stats.sent, stats.expected, stats.delivered, stats.dups,
                stats.gaps);
        printf ("  server reported drops: %s (%" PRIu64 " deliveries)%s\n",
                detail, drops, reported_known ? "" : " [not reported]");
        if (opt.proto == P_CES && drops_after.known)
            printf ("  edge counted %.0f deliveries written\n",
                    drops_after.edge_delivered - drops_before.edge_delivered);
        printf ("  deliveries/s %.0f; latency us p50 %.0f p99 %.0f p99.9 %.0f "
                "max %.0f (%" PRIu64 " samples)\n",
                rate, p50, p99, p999, max, hist.total);
        printf ("  CPU s: server %.2f, generator %.2f, anything else %.2f; "
                "server RSS %ld KiB; errors %" PRIu64
                ", closed by server %" PRIu64 ", pings %" PRIu64 "\n",
                server_cpu, gen_cpu, other_cpu, rss, stats.errors,
                stats.closed_unexpected, stats.pings);
        if (stats.delivered + drops != stats.expected)
            printf ("  missing: %" PRId64 " deliveries neither delivered nor "
                    "reported dropped\n",
                    (int64_t)stats.expected - (int64_t)stats.delivered -
                        (int64_t)drops);
    }
    printf (
        "  %s %s: delivered %" PRIu64 " + drops %" PRIu64
        " %s expected %" PRIu64 "%s -> %s\n",
        opt.label, opt.scenario, stats.delivered, drops,
        stats.delivered + drops == stats.expected ? "=" : "!=", stats.expected,
        stats.dups ? " (with duplicates)" : "", pass ? "PASS" : "FAIL");
    if (opt.tsv) {
        FILE *f = fopen (opt.tsv, "a");
        if (f) {
            fprintf (f,
                     "%s\t%s\tflow\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%" PRIu64
                     "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
                     "\t%s\t%.2f\t%.2f\t%s\t%d\t%.2f\n",
                     opt.scenario, opt.label, rate, p50, p99, p999, max,
                     stats.sent, stats.expected, stats.delivered, drops,
                     stats.dups, pass ? "PASS" : "FAIL", server_cpu, gen_cpu,
                     reported_known ? "reported" : "not-reported",
                     (int)stats.errors, other_cpu);
            fclose (f);
        }
    }
    free (pub_conns);
    return pass ? 0 : 1;
}
