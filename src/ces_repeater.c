/*  =========================================================================
    ces_repeater - the door to systems outside the event system

    The edge actor in repeater mode: ces_edge composes it, ces_outside is
    what makes it a repeater.
    =========================================================================
*/
#include "ces_classes.h"

void
ces_repeater_actor (zsock_t *pipe, void *args)
{
    (void)args;
    ces_edge_actor (pipe, (void *)CES_EDGE_REPEATER);
}

//  --------------------------------------------------------------------------
//  Self test: an outside system's POST reaches a messenger, and an event a
//  messenger sends reaches an HTTP target through the repeater

void
ces_repeater_test (bool verbose)
{
    printf (" * ces_repeater: ");
    //  @selftest
    const char *level = verbose ? "debug" : "warn";
    char *router, *pub;
    zactor_t *hub = ces_hub_test_start ("inproc://repeater-test-router",
                                        "inproc://repeater-test-pub", &router,
                                        &pub, "log-level", level, NULL);

    //  An HTTP target: a listening socket we answer by hand
    int target_port;
    int server = ces_http_test_listener (&target_port);
    char *central = zsys_sprintf ("http://127.0.0.1:%d/hook", target_port);

    zactor_t *repeater = zactor_new (ces_repeater_actor, NULL);
    const char *options[][2] = {
        {"listen", "127.0.0.1:0"}, {"hub-router", router},
        {"hub-pub", pub},          {"central", central},
        {"system-id", "selftest"}, {"max-clients", "8"},
        {"log-level", level}};
    for (size_t i = 0; i < sizeof (options) / sizeof (options[0]); i++) {
        zstr_sendx (repeater, "SET", options[i][0], options[i][1], NULL);
        assert (zsock_wait (repeater) == 0);
    }
    zstr_send (repeater, "START");
    char *status, *port_text;
    zstr_recvx (repeater, &status, &port_text, NULL);
    assert (streq (status, "0"));
    zstr_free (&status);
    int port = atoi (port_text);

    ces_messenger_t *messenger = ces_messenger_new (router, pub);
    assert (ces_messenger_register (messenger, "ITB-1101", NULL) == 0);

    //  In: POST /send reaches the messenger (once the repeater is linked)
    const char *event = "{\"affected-room\":{\"roomID\":\"ITB-1101\"},"
                        "\"key\":\"from-outside\"}";
    char *request = zsys_sprintf ("POST /send HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Content-Length: %zu\r\n\r\n%s",
                                  strlen (event), event);
    char *reply = NULL;
    int64_t deadline = zclock_mono () + 5000;
    do {
        freen (reply);
        reply = ces_http_test_request (port, request);
    } while (!strstr (reply, "200 OK") && zclock_mono () < deadline);
    assert (strstr (reply, "Processing event"));
    freen (reply);
    assert (ces_messenger_recv (messenger, 2000) == 0);
    assert (strstr (ces_messenger_payload (messenger), "from-outside"));
    zstr_free (&request);

    //  Out: the messenger's event goes to the repeater, which POSTs it
    assert (ces_messenger_send (messenger, "ITB-1101", "{\"key\":\"out\"}") ==
            0);
    int client = accept (server, NULL, NULL);
    assert (client >= 0);
    char body[2048] = "";
    size_t used = 0;
    while (!strstr (body, "{\"key\":\"out\"}") && used < sizeof (body) - 1) {
        ssize_t got = recv (client, body + used, sizeof (body) - 1 - used, 0);
        assert (got > 0);
        used += (size_t)got;
        body[used] = 0;
    }
    assert (strstr (body, "POST /hook"));
    const char *answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    ssize_t sent = send (client, answer, strlen (answer), 0);
    assert (sent > 0);
    close (client);

    //  Reload with the same routes keeps the target
    zstr_send (repeater, "RELOAD");
    char *reason;
    zstr_recvx (repeater, &status, &reason, NULL);
    assert (streq (status, "0"));
    zstr_free (&status);
    zstr_free (&reason);

    ces_messenger_destroy (&messenger);
    zactor_destroy (&repeater);
    close (server);
    zstr_free (&central);
    zstr_free (&port_text);
    zstr_free (&router);
    zstr_free (&pub);
    zactor_destroy (&hub);
    //  @end
    printf ("OK\n");
}
