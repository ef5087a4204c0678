/*  =========================================================================
    ces_proto_encoder - writes a ces_proto's command to a socket, in the
    frames of docs/PROTOCOL.md: on a ROUTER the routing ID first, then the
    command name and its fields; EVENT and DELIVER in one frame to a peer
    that reads it. It reads the codec only through its getters, and the
    command table of ces_proto_commands. ces_proto_send is this.

        ces_proto_set_id (proto, CES_PROTO_HEARTBEAT);
        if (ces_proto_encoder_send (proto, dealer, false))
            ...   //  not sent: no peer, or no room (never blocks)
    =========================================================================
*/
#ifndef CES_PROTO_ENCODER_H_INCLUDED
#define CES_PROTO_ENCODER_H_INCLUDED

//  Sends proto's command on output without blocking; one_frame: EVENT and
//  DELIVER as one frame ("EVENT " conn LF message) when the message is at
//  most 64 KB. The message frames go by reference: proto keeps them. 0, or
//  -1 if ZeroMQ did not take the message.
int ces_proto_encoder_send (ces_proto_t *proto, zsock_t *output,
                            bool one_frame);

//  Self test of this class
void ces_proto_encoder_test (bool verbose);

#endif
