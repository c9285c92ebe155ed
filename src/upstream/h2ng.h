/* SPDX-License-Identifier: MIT */
/*
 * The nghttp2 set-up shared by sluice's HTTP/2 codecs (h2up.c,
 * health_h2.c; h2.c next), until sluice's own codec replaces nghttp2. A
 * codec names its callbacks and the options it needs in one static
 * struct sl_h2ng; nghttp2's callbacks and options are made from it once
 * per process, on first use, from any thread. Every session starts with
 * the SETTINGS all of sluice's codecs send (no server push), then the
 * codec's own. Knows no connection, socket or configuration.
 */
#ifndef SL_H2NG_H
#define SL_H2NG_H

#include <nghttp2/nghttp2.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Options (struct sl_h2ng's opts). */
/* No WINDOW_UPDATE of nghttp2's own: the codec gives the windows back
 * (nghttp2_session_consume) as its reader takes the bytes. */
#define SL_H2NG_O_WINDOW_BY_HAND 0x01
/* Nothing kept of closed streams (sluice uses no RFC 7540 priorities). */
#define SL_H2NG_O_NO_CLOSED_STREAMS 0x02
/* HPACK: the dynamic table of what the codec sends holds at most
 * deflate_table bytes (nghttp2's default: 4096). */
#define SL_H2NG_O_DEFLATE_TABLE 0x04
/* nghttp2's limit on streams the peer resets: reset_burst, then
 * reset_rate a second. */
#define SL_H2NG_O_RESET_RATE 0x08

/* The largest header block the codec sends is send_head_max bytes as
 * nghttp2 estimates it (nghttp2's default: 64 KiB, past which a HEADERS
 * is not sent at all). */
#define SL_H2NG_O_SEND_HEAD_MAX 0x10
/* The most settings a codec adds to SETTINGS_ENABLE_PUSH. */
#define SL_H2NG_SETTINGS_MAX 8

/*
 * One codec's nghttp2 set-up: static in the codec's file, its callbacks
 * and options given by designated initialisers (a callback left NULL is
 * not set); the fields below them are h2ng.c's. Lives as long as the
 * process.
 */
struct sl_h2ng {
	nghttp2_send_callback send;
	nghttp2_send_data_callback send_data;
	nghttp2_on_begin_headers_callback on_begin_headers;
	nghttp2_on_header_callback on_header;
	nghttp2_on_data_chunk_recv_callback on_data_chunk_recv;
	nghttp2_on_begin_frame_callback on_begin_frame;
	nghttp2_on_frame_recv_callback on_frame_recv;
	nghttp2_on_frame_send_callback on_frame_send;
	nghttp2_on_stream_close_callback on_stream_close;
	nghttp2_error_callback2 on_error;
	unsigned opts;			  /* SL_H2NG_O_* */
	size_t deflate_table;		  /* bytes (SL_H2NG_O_DEFLATE_TABLE) */
	uint64_t reset_burst, reset_rate; /* streams (SL_H2NG_O_RESET_RATE) */
	size_t send_head_max;		  /* bytes (SL_H2NG_O_SEND_HEAD_MAX) */
	/* made from the above on first use (h2ng.c) */
	atomic_int made;
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
};

/*
 * A new client session of the codec ng, with ud as its user data and
 * its first SETTINGS queued: SETTINGS_ENABLE_PUSH 0 (sluice takes no
 * push), then the codec's iv[0..niv) (niv <= SL_H2NG_SETTINGS_MAX); with
 * conn_window > 0, the connection's receive window raised to
 * conn_window bytes. Nothing is sent: nghttp2_session_mem_send takes the
 * bytes. Returns the session, the caller's to delete
 * (nghttp2_session_del), or NULL when out of memory (or niv too large).
 */
nghttp2_session *sl_h2ng_client(struct sl_h2ng *ng, void *ud,
				const nghttp2_settings_entry *iv, size_t niv,
				int32_t conn_window);

/* The same for a server session, whose memory comes from mem (NULL:
 * malloc's; else it must outlive the session). */
nghttp2_session *sl_h2ng_server(struct sl_h2ng *ng, void *ud, nghttp2_mem *mem,
				const nghttp2_settings_entry *iv, size_t niv,
				int32_t conn_window);

#endif
