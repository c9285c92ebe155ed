/* SPDX-License-Identifier: MIT */
/*
 * The nghttp2 set-up shared by sluice's HTTP/2 codecs (h2ng.h): each
 * codec's callbacks and options made once, under a lock, whichever
 * thread starts the first session (workers for h2up.c and h2.c, the main
 * thread for health checks); sessions made with them and their first
 * SETTINGS. Performs no I/O.
 */
#include "h2ng.h"

#include <pthread.h>

static pthread_mutex_t made_lock = PTHREAD_MUTEX_INITIALIZER;

/* Makes ng's callbacks and options. Returns 0, or -1 when out of memory
 * (nothing made: the next session tries again). */
static int
h2ng_make(struct sl_h2ng *ng)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;

	if (nghttp2_session_callbacks_new(&cb) != 0)
		return -1;
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cb);
		return -1;
	}
	if (ng->send != NULL)
		nghttp2_session_callbacks_set_send_callback(cb, ng->send);
	if (ng->send_data != NULL)
		nghttp2_session_callbacks_set_send_data_callback(cb,
								 ng->send_data);
	if (ng->on_begin_headers != NULL)
		nghttp2_session_callbacks_set_on_begin_headers_callback(
		    cb, ng->on_begin_headers);
	if (ng->on_header != NULL)
		nghttp2_session_callbacks_set_on_header_callback(cb,
								 ng->on_header);
	if (ng->on_data_chunk_recv != NULL)
		nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
		    cb, ng->on_data_chunk_recv);
	if (ng->on_begin_frame != NULL)
		nghttp2_session_callbacks_set_on_begin_frame_callback(
		    cb, ng->on_begin_frame);
	if (ng->on_frame_recv != NULL)
		nghttp2_session_callbacks_set_on_frame_recv_callback(
		    cb, ng->on_frame_recv);
	if (ng->on_frame_send != NULL)
		nghttp2_session_callbacks_set_on_frame_send_callback(
		    cb, ng->on_frame_send);
	if (ng->on_stream_close != NULL)
		nghttp2_session_callbacks_set_on_stream_close_callback(
		    cb, ng->on_stream_close);
	if (ng->on_error != NULL)
		nghttp2_session_callbacks_set_error_callback2(cb, ng->on_error);
	if (ng->opts & SL_H2NG_O_WINDOW_BY_HAND)
		nghttp2_option_set_no_auto_window_update(opt, 1);
	if (ng->opts & SL_H2NG_O_NO_CLOSED_STREAMS)
		nghttp2_option_set_no_closed_streams(opt, 1);
	if (ng->opts & SL_H2NG_O_DEFLATE_TABLE)
		nghttp2_option_set_max_deflate_dynamic_table_size(
		    opt, ng->deflate_table);
	if (ng->opts & SL_H2NG_O_RESET_RATE)
		nghttp2_option_set_stream_reset_rate_limit(opt, ng->reset_burst,
							   ng->reset_rate);
	if (ng->opts & SL_H2NG_O_SEND_HEAD_MAX)
		nghttp2_option_set_max_send_header_block_length(
		    opt, ng->send_head_max);
	ng->cb = cb;
	ng->opt = opt;
	return 0;
}

/* ng's callbacks and options, made if not yet. Returns 0 or -1. */
static int
h2ng_ready(struct sl_h2ng *ng)
{
	int ok;

	if (atomic_load_explicit(&ng->made, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&made_lock);
	ok = atomic_load_explicit(&ng->made, memory_order_relaxed) ||
	     h2ng_make(ng) == 0;
	if (ok)
		atomic_store_explicit(&ng->made, 1, memory_order_release);
	pthread_mutex_unlock(&made_lock);
	return ok ? 0 : -1;
}

/* A session of ng (a server's when server is set), its SETTINGS queued
 * (h2ng.h). */
static nghttp2_session *
h2ng_session(struct sl_h2ng *ng, int server, void *ud, nghttp2_mem *mem,
	     const nghttp2_settings_entry *iv, size_t niv, int32_t conn_window)
{
	nghttp2_settings_entry all[1 + SL_H2NG_SETTINGS_MAX];
	nghttp2_session *s;
	int rv;

	if (niv > SL_H2NG_SETTINGS_MAX || h2ng_ready(ng) == -1)
		return NULL;
	rv = server ? nghttp2_session_server_new3(&s, ng->cb, ud, ng->opt, mem)
		    : nghttp2_session_client_new3(&s, ng->cb, ud, ng->opt, mem);
	if (rv != 0)
		return NULL;
	all[0] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
	for (size_t i = 0; i < niv; i++)
		all[1 + i] = iv[i];
	if (nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, all, 1 + niv) != 0 ||
	    (conn_window > 0 &&
	     nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0,
						   conn_window) != 0)) {
		nghttp2_session_del(s);
		return NULL;
	}
	return s;
}

nghttp2_session *
sl_h2ng_client(struct sl_h2ng *ng, void *ud, const nghttp2_settings_entry *iv,
	       size_t niv, int32_t conn_window)
{
	return h2ng_session(ng, 0, ud, NULL, iv, niv, conn_window);
}

nghttp2_session *
sl_h2ng_server(struct sl_h2ng *ng, void *ud, nghttp2_mem *mem,
	       const nghttp2_settings_entry *iv, size_t niv,
	       int32_t conn_window)
{
	return h2ng_session(ng, 1, ud, mem, iv, niv, conn_window);
}
