/*  =========================================================================
    ces_selftest - runs the self-test of every class

    ces_selftest [-v] [-t class]
    =========================================================================
*/
#include "ces_classes.h"

typedef struct {
    const char *name;
    void (*test) (bool verbose);
} test_item_t;

//  One class a line (clang-format would pack them)
// clang-format off
static const test_item_t s_tests[] = {
    {"counters", ces_counters_test},
    {"frame", ces_frame_test},         {"event", ces_event_test},
    {"proto_commands", ces_proto_commands_test},
    {"proto_encoder", ces_proto_encoder_test},
    {"proto", ces_proto_test},         {"published", ces_published_test},
    {"handshakes", ces_handshakes_test},
    {"link_conns", ces_link_conns_test},
    {"link", ces_link_test},
    {"http", ces_http_test},           {"store", ces_store_test},
    {"store_entry", ces_store_entry_test}, {"room_state", ces_room_state_test},
    {"replay", ces_replay_test},       {"cursor", ces_cursor_test},
    {"position", ces_position_test},
    {"rooms", ces_rooms_test},         {"presence", ces_presence_test},
    {"patterns", ces_patterns_test},
    {"hub_links", ces_hub_links_test}, {"hub_route", ces_hub_route_test},
    {"routing", ces_routing_test}, {"hub_curve", ces_hub_curve_test},
    {"hub", ces_hub_test},
    {"msgpipe", ces_msgpipe_test},     {"recall", ces_recall_test},
    {"messenger", ces_messenger_test}, {"civetweb", ces_civetweb_test},
    {"websocket", ces_websocket_test}, {"wire", ces_wire_test},
    {"inbox", ces_inbox_test},         {"waiters", ces_waiters_test},
    {"admission", ces_admission_test},
    {"client", ces_client_test},       {"room_index", ces_room_index_test},
    {"heap", ces_heap_test},
    {"fanout", ces_fanout_test},
    {"outside", ces_outside_test},     {"webserver", ces_webserver_test},
    {"edge_report", ces_edge_report_test}, {"edge_options", ces_edge_options_test}, {"edge_rooms", ces_edge_rooms_test}, {"edge", ces_edge_test},           {"target", ces_target_test},
    {"targets", ces_targets_test},     {"repeater", ces_repeater_test},
    {"wsclient", ces_wsclient_test},   {"hubpeer", ces_hubpeer_test},
    {"mesh_peer", ces_mesh_peer_test},
    {"mesh_tell", ces_mesh_tell_test},
    {"mesh_gossip", ces_mesh_gossip_test},
    {"mesh", ces_mesh_test},           {"auth", ces_auth_test},
    {"curve", ces_curve_test},         {"registration", ces_registration_test},
    {"option_table", ces_option_table_test},
    {"options", ces_options_test},     {"options_text", ces_options_text_test},
    {"config", ces_config_test},
    {"disk_record", ces_disk_record_test},
    {"disk_dir", ces_disk_dir_test},
    {"disk_flusher", ces_disk_flusher_test},
    {"disk_reader", ces_disk_reader_test},
    {"disk", ces_disk_test},
};
// clang-format on
#define TEST_COUNT (sizeof (s_tests) / sizeof (s_tests[0]))

int
main (int argc, char *argv[])
{
    bool verbose = false;
    const char *only = NULL;
    for (int arg = 1; arg < argc; arg++) {
        if (streq (argv[arg], "-v"))
            verbose = true;
        else if (streq (argv[arg], "-t") && arg + 1 < argc)
            only = argv[++arg];
        else {
            printf ("usage: ces_selftest [-v] [-t class]\nclasses:");
            for (size_t i = 0; i < TEST_COUNT; i++)
                printf (" %s", s_tests[i].name);
            printf ("\n");
            return 1;
        }
    }
    zsys_init ();
    zsys_set_logident ("ces_selftest");
    bool found = false;
    for (size_t i = 0; i < TEST_COUNT; i++)
        if (!only || streq (only, s_tests[i].name)) {
            s_tests[i].test (verbose);
            found = true;
        }
    if (!found) {
        printf ("no class named '%s'\n", only);
        return 1;
    }
    zsys_shutdown ();
    return 0;
}
