/*  =========================================================================
    ces - the central event system: public API of libces

    One header for the whole library; each class has its own header.
    =========================================================================
*/
#ifndef CES_H_INCLUDED
#define CES_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CES_VERSION_MAJOR 0
#define CES_VERSION_MINOR 1
#define CES_VERSION_PATCH 0

//  Defaults shared by every component
#define CES_ROOM_MAX    128
#define CES_PAYLOAD_MAX (1024 * 1024)
#define CES_DEPTH_MAX   64 //  JSON nesting of an event, by default
#define CES_DEPTH_LIMIT                                                        \
    256 //  ... and at most: cJSON recurses once per level on a 100 KiB civetweb
        //  worker stack
#define CES_HUB_ROUTER     "tcp://127.0.0.1:7200"
#define CES_HUB_PUB        "tcp://127.0.0.1:7201"
#define CES_HUB_HTTP       "127.0.0.1:7202"
#define CES_HEARTBEAT_MSEC 1000
//  The WebSocket subprotocol of version 2 of the messenger protocol
#define CES_PROTOCOL_V2 "ces.v2"
#define CES_HUB_SNDHWM  100000

//  Log levels of the actors' "log-level" option and ces_link_set_log_level
typedef enum {
    CES_LOG_ERROR = 0,
    CES_LOG_WARN,
    CES_LOG_INFO,
    CES_LOG_DEBUG
} ces_log_level_t;

typedef struct _ces_frame_t ces_frame_t;
typedef struct _ces_event_t ces_event_t;
typedef struct _ces_proto_t ces_proto_t;
typedef struct _ces_messenger_t ces_messenger_t;
typedef struct _ces_link_t ces_link_t;
typedef struct _ces_http_t ces_http_t;
typedef struct _ces_targets_t ces_targets_t;
typedef struct _ces_curve_t ces_curve_t;

#include <cjson/cJSON.h>
#include "ces_frame.h"
#include "ces_event.h"
#include "ces_proto.h"
#include "ces_curve.h"
#include "ces_registration.h"
#include "ces_link.h"
#include "ces_http.h"
#include "ces_auth.h"
#include "ces_wsclient.h"
#include "ces_hubpeer.h"
#include "ces_mesh.h"
#include "ces_hub.h"
#include "ces_messenger.h"
#include "ces_edge.h"
#include "ces_target.h"
#include "ces_targets.h"
#include "ces_repeater.h"
#include "ces_options.h"

#endif
