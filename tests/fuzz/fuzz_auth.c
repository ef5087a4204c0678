/*  Fuzz target: the token check, on any bytes. The first byte chooses:
    even, the rest is a token as a client sends it (header, claims and
    signature all hostile); odd, the rest is a claims object that is signed
    with the right secret first, so that the grant parsing behind the
    signature check is reached too. Also the ?token= query parser.
    Built with libFuzzer (make fuzz) or with fuzz_main.c (ctest). */
#include "ces.h"
#include <jwt.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char *
s_signed (const char *claims)
{
    jwt_t *jwt = NULL;
    if (jwt_new (&jwt))
        return NULL;
    char *token = NULL;
    if (jwt_add_grants_json (jwt, claims) == 0 &&
        jwt_set_alg (jwt, JWT_ALG_HS256, (const unsigned char *)"fuzz", 4) == 0)
        token = jwt_encode_str (jwt);
    jwt_free (jwt);
    return token;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = strndup ((const char *)data + 1, size - 1);
    ces_auth_t *auth = ces_auth_new ();
    ces_auth_set_secret (auth, "fuzz");
    char *token = (data[0] & 1) ? s_signed (text) : strdup (text);
    int status = 0;
    char reason[256];
    ces_grant_t *grant = ces_auth_check (auth, token, "192.0.2.1", NULL,
                                         &status, reason, sizeof (reason));
    if (grant) {
        //  What was granted can be asked about any room
        (void)ces_grant_may_register (grant, "ITB-1101");
        (void)ces_grant_may_register (grant, "*");
        (void)ces_grant_may_send (grant, text);
        (void)ces_grant_expiry (grant);
        ces_grant_destroy (&grant);
    } else if (status != 401 || !*reason)
        abort (); //  a refusal always says why
    char *found = ces_auth_token_from_query (text);
    if (found && strlen (found) > strlen (text))
        abort ();
    free (found);
    free (token);
    free (text);
    ces_auth_destroy (&auth);
    return 0;
}
