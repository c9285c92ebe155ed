/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1 codec of a client connection (client_h1.c). Its entries are
 * its codec table (client_codec.h), for the states IDLE, HEAD, TXN and
 * LINGER, and the operations of the one stream an HTTP/1 connection
 * carries (seam.h), which the worker gives every connection (client.h,
 * struct sl_client_codecs): client.c does not name them.
 */
#ifndef SL_CLIENT_H1_H
#define SL_CLIENT_H1_H

struct sl_client_codec;
struct sl_seam_ops;

extern const struct sl_client_codec sl_client_h1_codec;
extern const struct sl_seam_ops sl_client_h1_stream_ops;

#endif
