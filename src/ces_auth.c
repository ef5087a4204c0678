/*  =========================================================================
    ces_auth - who may connect to an edge or repeater, and to which rooms
    =========================================================================
*/
#include "ces_classes.h"

//  A token is a few hundred bytes; its JSON nests two or three levels
#define TOKEN_MAX       8192
#define TOKEN_DEPTH_MAX 16
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/crypto.h>

#define KEY_MAX (64 * 1024)

typedef struct {
    uint32_t address;
    uint32_t mask;
} network_t;

struct _ces_auth_t {
    byte *key; //  secret, or PEM public key
    size_t key_size;
    bool asymmetric;
    network_t *open;
    size_t open_count;
    zlist_t *origins; //  allowed Origin values; empty = any
};

#define SUBJECT_MAX 255 //  bytes of a token's "sub" kept

struct _ces_grant_t {
    bool everything; //  an open network's client
    bool admin;      //  "admin": true, may link hubs
    zlist_t *register_rooms;
    zlist_t *send_rooms;
    int64_t expiry;
    char *subject; //  the token's "sub", or NULL
};

ces_auth_t *
ces_auth_new (void)
{
    ces_auth_t *self = (ces_auth_t *)zmalloc (sizeof (ces_auth_t));
    assert (self);
    self->origins = zlist_new ();
    assert (self->origins);
    zlist_autofree (self->origins);
    return self;
}

void
ces_auth_destroy (ces_auth_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_auth_t *self = *self_p;
        freen (self->key);
        freen (self->open);
        zlist_destroy (&self->origins);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_auth_set_secret (ces_auth_t *self, const char *secret)
{
    assert (self && secret);
    freen (self->key);
    self->key_size = strlen (secret);
    self->key = (byte *)strdup (secret);
    self->asymmetric = false;
}

//  Why a PEM text is not a key RS256 or ES256 can verify with, or NULL
static const char *
s_key_problem (const byte *pem, size_t size)
{
    BIO *bio = BIO_new_mem_buf (pem, (int)size);
    EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY (bio, NULL, NULL, NULL) : NULL;
    BIO_free (bio);
    if (!key) {
        ERR_clear_error ();
        OPENSSL_thread_stop ();
        return "not a PEM public key (-----BEGIN PUBLIC KEY-----)";
    }
    const char *problem = NULL;
    char group[64] = "";
    if (EVP_PKEY_base_id (key) == EVP_PKEY_EC) {
        if (!EVP_PKEY_get_utf8_string_param (key, "group", group,
                                             sizeof (group), NULL) ||
            strcmp (group, "prime256v1") != 0)
            problem = "an EC key for ES256 must be on the P-256 curve";
    } else if (EVP_PKEY_base_id (key) == EVP_PKEY_RSA) {
        if (EVP_PKEY_get_bits (key) < 2048)
            problem = "an RSA key for RS256 must have at least 2048 bits";
    } else
        problem = "the key is neither RSA (RS256) nor EC P-256 (ES256)";
    EVP_PKEY_free (key);
    //  This thread's OpenSSL state (errors of a failed parse): freed now,
    //  not at a thread exit that OpenSSL does not see
    ERR_clear_error ();
    OPENSSL_thread_stop ();
    return problem;
}

int
ces_auth_set_key_file (ces_auth_t *self, const char *path, char *reason,
                       size_t reason_size)
{
    assert (self && path && reason);
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (reason, reason_size, "cannot read %s: %s", path,
                  strerror (errno));
        return -1;
    }
    byte *key = (byte *)zmalloc (KEY_MAX + 1);
    size_t size = fread (key, 1, KEY_MAX, file);
    fclose (file);
    const char *problem = s_key_problem (key, size);
    if (problem) {
        snprintf (reason, reason_size, "%s: %s", path, problem);
        freen (key);
        return -1;
    }
    freen (self->key);
    self->key = key;
    self->key_size = size;
    self->asymmetric = true;
    return 0;
}

int
ces_auth_set_open (ces_auth_t *self, const char *networks, char *reason,
                   size_t reason_size)
{
    assert (self && networks && reason);
    char *list = strdup (networks);
    char *saveptr = NULL;
    size_t count = 0;
    network_t *parsed = NULL;
    int rc = 0;
    for (char *item = strtok_r (list, ",", &saveptr); item && rc == 0;
         item = strtok_r (NULL, ",", &saveptr)) {
        char *original = strdup (item);
        char *slash = strchr (item, '/');
        int bits = 32;
        if (slash) {
            *slash = 0;
            char *end;
            bits = (int)strtol (slash + 1, &end, 10);
            if (*end || end == slash + 1 || bits < 0 || bits > 32)
                bits = -1;
        }
        struct in_addr address;
        if (bits < 0 || inet_pton (AF_INET, item, &address) != 1) {
            snprintf (reason, reason_size,
                      "'%s' is not an IPv4 network (a.b.c.d/bits)", original);
            freen (original);
            rc = -1;
            break;
        }
        freen (original);
        parsed = (network_t *)realloc (parsed, (count + 1) * sizeof (*parsed));
        assert (parsed);
        parsed[count].mask = bits ? htonl (0xFFFFFFFFu << (32 - bits)) : 0;
        parsed[count].address = address.s_addr & parsed[count].mask;
        count++;
    }
    freen (list);
    if (rc == 0) {
        freen (self->open);
        self->open = parsed;
        self->open_count = count;
    } else
        freen (parsed);
    return rc;
}

void
ces_auth_set_origins (ces_auth_t *self, const char *origins)
{
    assert (self && origins);
    zlist_purge (self->origins);
    char *list = strdup (origins);
    char *saveptr = NULL;
    for (char *item = strtok_r (list, ",", &saveptr); item;
         item = strtok_r (NULL, ",", &saveptr))
        zlist_append (self->origins, item);
    freen (list);
}

bool
ces_auth_required (ces_auth_t *self)
{
    assert (self);
    return self->key != NULL;
}

//  --------------------------------------------------------------------------
//  Checking a request

static bool
s_is_open (ces_auth_t *self, const char *remote_addr)
{
    struct in_addr address;
    if (!remote_addr || inet_pton (AF_INET, remote_addr, &address) != 1)
        return false;
    for (size_t i = 0; i < self->open_count; i++)
        if ((address.s_addr & self->open[i].mask) == self->open[i].address)
            return true;
    return false;
}

static ces_grant_t *
s_grant_new (void)
{
    ces_grant_t *grant = (ces_grant_t *)zmalloc (sizeof (ces_grant_t));
    assert (grant);
    grant->register_rooms = zlist_new ();
    grant->send_rooms = zlist_new ();
    zlist_autofree (grant->register_rooms);
    zlist_autofree (grant->send_rooms);
    return grant;
}

//  Adds the rooms of one claim (a JSON array of strings) to a list; false
//  if the claim is there but not such an array
static bool
s_take_rooms (jwt_t *jwt, const char *claim, zlist_t *rooms)
{
    char *json = jwt_get_grants_json (jwt, claim);
    if (!json)
        return true;
    cJSON *array = cJSON_Parse (json);
    free (json);
    bool valid = cJSON_IsArray (array);
    cJSON *list = valid ? array : NULL;
    cJSON *item;
    cJSON_ArrayForEach (item, list)
    {
        if (!cJSON_IsString (item) || !*item->valuestring) {
            valid = false;
            break;
        }
        zlist_append (rooms, item->valuestring);
    }
    cJSON_Delete (array);
    return valid;
}

//  Decodes base64url (no padding) into out; returns the size, or -1
static int
s_base64url_decode (const char *text, size_t size, char *out, size_t room)
{
    uint32_t bits = 0;
    int count = 0;
    size_t used = 0;
    for (size_t i = 0; i < size; i++) {
        char c = text[i];
        int value = c >= 'A' && c <= 'Z'   ? c - 'A'
                    : c >= 'a' && c <= 'z' ? c - 'a' + 26
                    : c >= '0' && c <= '9' ? c - '0' + 52
                    : c == '-'             ? 62
                    : c == '_'             ? 63
                                           : -1;
        if (value < 0)
            return -1;
        bits = (bits << 6) | (uint32_t)value;
        count += 6;
        if (count >= 8) {
            count -= 8;
            if (used == room)
                return -1;
            out[used++] = (char)((bits >> count) & 0xFF);
        }
    }
    return (int)used;
}

//  The "alg" of a token's header (its first part), read here: libjwt
//  reports none for a token it has not verified
static jwt_alg_t
s_header_alg (const char *token)
{
    const char *dot = strchr (token, '.');
    char header[1024];
    int size = dot ? s_base64url_decode (token, (size_t)(dot - token), header,
                                         sizeof (header))
                   : -1;
    if (size <= 0)
        return JWT_ALG_INVAL;
    cJSON *json = cJSON_ParseWithLength (header, (size_t)size);
    const char *name = cJSON_GetStringValue (cJSON_GetObjectItem (json, "alg"));
    jwt_alg_t alg = name ? jwt_str_alg (name) : JWT_ALG_INVAL;
    cJSON_Delete (json);
    return alg;
}

//  Before any JSON parser recurses into a token on a worker's small stack:
//  a bounded size, and header and claims that are JSON objects nesting no
//  deeper than any real token does
static bool
s_token_shape_ok (const char *token)
{
    size_t size = strlen (token);
    if (size > TOKEN_MAX)
        return false;
    const char *header_end = strchr (token, '.');
    const char *claims_end = header_end ? strchr (header_end + 1, '.') : NULL;
    if (!claims_end)
        return false;
    char *json = (char *)zmalloc (size);
    ces_event_t *scan = ces_event_new ();
    ces_event_set_max_depth (scan, TOKEN_DEPTH_MAX);
    int header =
        s_base64url_decode (token, (size_t)(header_end - token), json, size);
    bool ok = header > 0 && ces_event_check (scan, json, (size_t)header) == 0;
    int claims = ok ? s_base64url_decode (header_end + 1,
                                          (size_t)(claims_end - header_end - 1),
                                          json, size)
                    : -1;
    ok = ok && claims > 0 && ces_event_check (scan, json, (size_t)claims) == 0;
    ces_event_destroy (&scan);
    freen (json);
    return ok;
}

static bool
s_algorithm_allowed (ces_auth_t *self, jwt_alg_t alg)
{
    if (!self->asymmetric)
        return alg == JWT_ALG_HS256;
    return alg == JWT_ALG_RS256 || alg == JWT_ALG_ES256;
}

//  A token's "sub" as presence shows it: at most 255 bytes (cut at a
//  character), control characters as '?'. JSON strings are UTF-8.
static char *
s_subject (const char *sub)
{
    if (!sub || !*sub)
        return NULL;
    size_t size = strlen (sub);
    if (size > SUBJECT_MAX) {
        size = SUBJECT_MAX;
        while (size && ((unsigned char)sub[size] & 0xC0) == 0x80)
            size--;
    }
    char *subject = strndup (sub, size);
    assert (subject);
    for (char *c = subject; *c; c++)
        if ((unsigned char)*c < ' ' || *c == 0x7f)
            *c = '?';
    return subject;
}

//  An Origin outside the allow-list (when there is one) is refused: 403
static bool
s_origin_allowed (ces_auth_t *self, const char *origin, int *status,
                  char *reason, size_t reason_size)
{
    if (!origin || !zlist_size (self->origins))
        return true;
    for (const char *item = (const char *)zlist_first (self->origins); item;
         item = (const char *)zlist_next (self->origins))
        if (streq (item, origin))
            return true;
    *status = 403;
    snprintf (reason, reason_size,
              "Origin %.100s is not allowed to connect here", origin);
    return false;
}

//  The token's form and algorithm, before its signature; NULL if fine
static const char *
s_token_problem (ces_auth_t *self, const char *token, char *reason,
                 size_t reason_size)
{
    if (!token || !*token)
        return "a token is required: ?token=JWT or Authorization: Bearer JWT";
    if (!s_token_shape_ok (token)) {
        snprintf (reason, reason_size,
                  "the token is not a JWT of at most %d bytes whose header "
                  "and claims are JSON objects nesting at most %d levels",
                  TOKEN_MAX, TOKEN_DEPTH_MAX);
        return reason;
    }
    //  libjwt trusts the token's own "alg": verify only what we expect, so
    //  that a public key is never taken for an HMAC secret
    jwt_alg_t alg = s_header_alg (token);
    if (alg == JWT_ALG_INVAL)
        return "the token is not a JWT";
    if (!s_algorithm_allowed (self, alg))
        return self->asymmetric ? "tokens here are signed with RS256 or ES256"
                                : "tokens here are signed with HS256";
    return NULL;
}

//  exp is a NumericDate: any JSON number, fractions too. False if it is
//  there and not a number
static bool
s_take_expiry (jwt_t *jwt, ces_grant_t *grant)
{
    char *exp_json = jwt_get_grants_json (jwt, "exp");
    cJSON *exp = exp_json ? cJSON_Parse (exp_json) : NULL;
    free (exp_json);
    bool valid = !exp_json || cJSON_IsNumber (exp);
    if (cJSON_IsNumber (exp)) {
        //  Clamped before the cast (found by fuzzing): at most the year
        //  9999, and 1970 or before is "expired", not "never"
        double value = exp->valuedouble;
        grant->expiry = value >= 253402300799.0 ? 253402300799
                        : value < 1.0           ? -1
                                                : (int64_t)value;
    }
    cJSON_Delete (exp);
    return valid;
}

//  The grant of a verified token's claims, or NULL with the reason
static ces_grant_t *
s_grant_of (jwt_t *jwt, char *reason, size_t reason_size)
{
    ces_grant_t *grant = s_grant_new ();
    bool valid = s_take_expiry (jwt, grant);
    char *admin_json = jwt_get_grants_json (jwt, "admin");
    grant->admin = admin_json && streq (admin_json, "true");
    free (admin_json);
    grant->subject = s_subject (jwt_get_grant (jwt, "sub"));
    valid = valid && s_take_rooms (jwt, "rooms", grant->register_rooms) &&
            s_take_rooms (jwt, "rooms", grant->send_rooms) &&
            s_take_rooms (jwt, "register", grant->register_rooms) &&
            s_take_rooms (jwt, "send", grant->send_rooms);
    if (!valid) {
        snprintf (reason, reason_size,
                  "\"exp\" must be a number, and \"rooms\", \"register\" "
                  "and \"send\" arrays of room IDs, prefixes (\"ITB-*\") "
                  "or \"*\"");
        ces_grant_destroy (&grant);
    } else if (grant->expiry && grant->expiry <= (int64_t)time (NULL)) {
        //  (an exp of -1 stands for 0: long expired)
        snprintf (reason, reason_size, "the token has expired");
        ces_grant_destroy (&grant);
    }
    return grant;
}

ces_grant_t *
ces_auth_check (ces_auth_t *self, const char *token, const char *remote_addr,
                const char *origin, int *status, char *reason,
                size_t reason_size)
{
    assert (self && status && reason);
    if (!s_origin_allowed (self, origin, status, reason, reason_size))
        return NULL;
    if (!self->key || s_is_open (self, remote_addr)) {
        ces_grant_t *grant = s_grant_new ();
        grant->everything = true;
        return grant;
    }
    *status = 401;
    const char *problem = s_token_problem (self, token, reason, reason_size);
    if (problem) {
        if (problem != reason)
            snprintf (reason, reason_size, "%s", problem);
        return NULL;
    }
    jwt_t *jwt = NULL;
    if (jwt_decode (&jwt, token, self->key, (int)self->key_size) || !jwt) {
        snprintf (reason, reason_size, "the token's signature is not valid");
        return NULL;
    }
    ces_grant_t *grant = s_grant_of (jwt, reason, reason_size);
    jwt_free (jwt);
    return grant;
}

char *
ces_auth_token_from_query (const char *query)
{
    if (!query)
        return NULL;
    const char *at = query;
    while (at && *at) {
        if (strncmp (at, "token=", 6) == 0) {
            const char *end = strchr (at, '&');
            size_t size = end ? (size_t)(end - at - 6) : strlen (at + 6);
            return strndup (at + 6, size);
        }
        at = strchr (at, '&');
        if (at)
            at++;
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  Grants

//  Does a grant of rooms cover room? A pattern ("ITB-*") asked for is
//  covered only by a grant of all its rooms: itself, a shorter prefix
//  ("IT*") or "*"; a grant of some of its rooms ("ITB-1*") is not enough
static bool
s_matches (zlist_t *rooms, const char *room)
{
    size_t room_size = strlen (room);
    size_t limit = ces_patterns_is_pattern (room) ? room_size - 1 : room_size;
    for (const char *item = (const char *)zlist_first (rooms); item;
         item = (const char *)zlist_next (rooms)) {
        size_t size = strlen (item);
        if (streq (item, "*") || streq (item, room) ||
            (item[size - 1] == '*' && size - 1 <= limit &&
             strncmp (item, room, size - 1) == 0))
            return true;
    }
    return false;
}

bool
ces_grant_may_register (ces_grant_t *self, const char *room)
{
    assert (self && room);
    //  "*" itself is every room: only a grant of every room allows it
    if (streq (room, "*"))
        return self->everything ||
               zlist_exists (self->register_rooms, (void *)"*") ||
               s_matches (self->register_rooms, "*");
    return self->everything || s_matches (self->register_rooms, room);
}

char *
ces_grant_rooms_answer (ces_grant_t *self, const char *answer)
{
    assert (self && answer);
    cJSON *root = cJSON_Parse (answer);
    cJSON *rooms = cJSON_GetObjectItemCaseSensitive (root, "rooms");
    for (int index = cJSON_GetArraySize (rooms) - 1; index >= 0; index--) {
        const char *room = cJSON_GetStringValue (
            cJSON_GetObjectItem (cJSON_GetArrayItem (rooms, index), "room"));
        if (!room || !ces_grant_may_register (self, room))
            cJSON_DeleteItemFromArray (rooms, index);
    }
    char *text = root ? cJSON_PrintUnformatted (root) : strdup (answer);
    cJSON_Delete (root);
    return text;
}

bool
ces_grant_may_send (ces_grant_t *self, const char *room)
{
    assert (self && room);
    return self->everything || s_matches (self->send_rooms, room);
}

bool
ces_grant_is_admin (ces_grant_t *self)
{
    assert (self);
    return self->everything || self->admin;
}

int64_t
ces_grant_expiry (ces_grant_t *self)
{
    assert (self);
    return self->expiry;
}

const char *
ces_grant_subject (ces_grant_t *self)
{
    assert (self);
    return self->subject;
}

void
ces_grant_destroy (ces_grant_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_grant_t *self = *self_p;
        zlist_destroy (&self->register_rooms);
        zlist_destroy (&self->send_rooms);
        zstr_free (&self->subject);
        freen (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Self test: HS256 tokens made with libjwt

static char *
s_test_token (const char *secret, jwt_alg_t alg, const char *claims)
{
    jwt_t *jwt = NULL;
    int rc = jwt_new (&jwt);
    assert (rc == 0);
    rc = jwt_add_grants_json (jwt, claims);
    assert (rc == 0);
    rc = jwt_set_alg (jwt, alg, (const unsigned char *)secret,
                      secret ? (int)strlen (secret) : 0);
    assert (rc == 0);
    char *token = jwt_encode_str (jwt);
    jwt_free (jwt);
    return token;
}

void
ces_auth_test (bool verbose)
{
    printf (" * ces_auth: ");
    //  @selftest
    ces_auth_t *auth = ces_auth_new ();
    int status = 0;
    char reason[256];
    //  Off: everyone may do everything
    ces_grant_t *grant =
        ces_auth_check (auth, NULL, "192.0.2.1", NULL, &status, reason, 256);
    assert (grant && ces_grant_may_register (grant, "*"));
    ces_grant_destroy (&grant);

    ces_auth_set_secret (auth, "sesame");
    assert (ces_auth_required (auth));
    assert (
        !ces_auth_check (auth, NULL, "192.0.2.1", NULL, &status, reason, 256));
    assert (status == 401 && strstr (reason, "token is required"));

    char *token = s_test_token (
        "sesame", JWT_ALG_HS256,
        "{\"register\":[\"ITB-*\",\"JFSB-1\"],\"send\":[\"ITB-1101\"]}");
    grant =
        ces_auth_check (auth, token, "192.0.2.1", NULL, &status, reason, 256);
    if (!grant)
        zsys_error ("auth test: %s", reason);
    assert (grant);
    assert (ces_grant_may_register (grant, "ITB-1101"));
    assert (ces_grant_may_register (grant, "JFSB-1"));
    assert (!ces_grant_may_register (grant, "JFSB-12"));
    assert (!ces_grant_may_register (grant, "*"));
    assert (ces_grant_may_send (grant, "ITB-1101"));
    assert (!ces_grant_may_send (grant, "ITB-1102"));
    assert (ces_grant_expiry (grant) == 0);
    assert (!ces_grant_is_admin (grant));
    assert (ces_grant_subject (grant) == NULL);
    //  A pattern needs a grant of every room of it
    assert (ces_grant_may_register (grant, "ITB-*"));
    assert (ces_grant_may_register (grant, "ITB-11*"));
    assert (!ces_grant_may_register (grant, "IT*"));
    assert (!ces_grant_may_register (grant, "JFSB-1*"));
    assert (!ces_grant_may_register (grant, "JFSB-*"));
    //  A GET /rooms answer keeps the rooms it may register
    char *rooms = ces_grant_rooms_answer (
        grant, "{\"rooms\":[{\"room\":\"ITB-1101\",\"seq\":3},"
               "{\"room\":\"ITB-1102\"},{\"room\":\"JFSB-12\"},"
               "{\"room\":\"JFSB-1\"},{\"seq\":1}]}");
    assert (streq (rooms, "{\"rooms\":[{\"room\":\"ITB-1101\",\"seq\":3},"
                          "{\"room\":\"ITB-1102\"},{\"room\":\"JFSB-1\"}]}"));
    freen (rooms);
    rooms = ces_grant_rooms_answer (grant, "not json");
    assert (streq (rooms, "not json"));
    freen (rooms);
    ces_grant_destroy (&grant);
    freen (token);

    //  Patterns asked for, against grants of a room, a narrower pattern, a
    //  wider one and "*"; and the token's subject
    const char *cases[][3] = {
        //  grant, asked, allowed?
        {"ITB-1101", "ITB-*", "no"}, {"ITB-1*", "ITB-*", "no"},
        {"ITB-*", "ITB-*", "yes"},   {"IT*", "ITB-*", "yes"},
        {"*", "ITB-*", "yes"},       {"ITB-**", "ITB-*", "no"},
        {"ITB-*", "ITC-*", "no"},    {"ITB-*", "ITB-1101*", "yes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *claims = zsys_sprintf (
            "{\"register\":[\"%s\"],\"sub\":\"alice\"}", cases[i][0]);
        token = s_test_token ("sesame", JWT_ALG_HS256, claims);
        zstr_free (&claims);
        grant = ces_auth_check (auth, token, "192.0.2.1", NULL, &status, reason,
                                256);
        assert (grant);
        assert (ces_grant_may_register (grant, cases[i][1]) ==
                streq (cases[i][2], "yes"));
        assert (streq (ces_grant_subject (grant), "alice"));
        ces_grant_destroy (&grant);
        freen (token);
    }
    token = s_test_token ("sesame", JWT_ALG_HS256,
                          "{\"rooms\":[\"R\"],\"sub\":\"a\\nb\"}");
    grant =
        ces_auth_check (auth, token, "192.0.2.1", NULL, &status, reason, 256);
    assert (grant && streq (ces_grant_subject (grant), "a?b"));
    ces_grant_destroy (&grant);
    freen (token);

    //  A wrong secret, an unsigned token, an expired one
    token = s_test_token ("open", JWT_ALG_HS256, "{\"rooms\":[\"*\"]}");
    assert (
        !ces_auth_check (auth, token, "192.0.2.1", NULL, &status, reason, 256));
    assert (strstr (reason, "signature"));
    freen (token);
    token = s_test_token (NULL, JWT_ALG_NONE, "{\"rooms\":[\"*\"]}");
    assert (
        !ces_auth_check (auth, token, "192.0.2.1", NULL, &status, reason, 256));
    assert (strstr (reason, "HS256"));
    freen (token);
    token = s_test_token ("sesame", JWT_ALG_HS256,
                          "{\"rooms\":[\"*\"],\"exp\":1000}");
    assert (
        !ces_auth_check (auth, token, "192.0.2.1", NULL, &status, reason, 256));
    assert (strstr (reason, "expired"));
    freen (token);
    token = s_test_token ("sesame", JWT_ALG_HS256, "{\"rooms\":\"ITB\"}");
    assert (
        !ces_auth_check (auth, token, "192.0.2.1", NULL, &status, reason, 256));
    assert (strstr (reason, "arrays"));
    freen (token);

    //  Open networks need no token; origins are checked first
    assert (ces_auth_set_open (auth, "10.0.0.0/8,127.0.0.1", reason, 256) == 0);
    assert (ces_auth_set_open (auth, "10.0.0.0/33", reason, 256) == -1);
    grant = ces_auth_check (auth, NULL, "10.1.2.3", NULL, &status, reason, 256);
    assert (grant && ces_grant_may_send (grant, "ANY"));
    ces_grant_destroy (&grant);
    ces_auth_set_origins (auth, "https://panel.example");
    assert (!ces_auth_check (auth, NULL, "10.1.2.3", "https://evil.example",
                             &status, reason, 256));
    assert (status == 403);

    char *found = ces_auth_token_from_query ("a=1&token=abc.def&b=2");
    assert (found && streq (found, "abc.def"));
    freen (found);
    assert (!ces_auth_token_from_query ("a=1"));
    assert (ces_auth_set_key_file (auth, "/nonexistent", reason, 256) == -1);
    ces_auth_destroy (&auth);
    ces_auth_destroy (&auth);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
