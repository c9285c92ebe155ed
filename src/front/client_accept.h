/* SPDX-License-Identifier: MIT */
/*
 * The accept phase of a client connection (client_accept.c): a PROXY
 * header and the TLS handshake, before HTTP. Its only entry is its
 * codec table (client_codec.h), which the worker gives the connections
 * of a proxy_protocol or TLS listener to start in (client.h, struct
 * sl_client_codecs).
 */
#ifndef SL_CLIENT_ACCEPT_H
#define SL_CLIENT_ACCEPT_H

struct sl_client_codec;

extern const struct sl_client_codec sl_client_accept_codec;

#endif
