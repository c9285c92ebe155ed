/* SPDX-License-Identifier: MIT */
/*
 * The client side's HTTP/3 codec (doc/http3.md): a worker's QUIC endpoint
 * on each http3 listener's UDP socket (src/quic's qend.c: libngtcp2 with
 * sluice's OpenSSL glue), its connections, and their request streams
 * carried to the exchange through the codec seam as HTTP/2's are: each
 * request a structured head (hblock.h) from sluice's QPACK decoder
 * (src/h3), its body as its DATA came, its answer QPACK-encoded. The
 * worker calls these; nothing else does.
 */
#ifndef SL_H3_H
#define SL_H3_H

#include <stddef.h>
#include <stdint.h>

#include "conf_types.h"

struct sl_worker;

/* What the codec refused, counted by reason
 * (sluice_http3_refused_total, doc/http3.md "Defences"). */
enum sl_h3_refusal {
	SL_H3_R_PROTOCOL = 0,	   /* a connection error of RFC 9114 or
				      9204 (frames out of place, bad
				      SETTINGS, QPACK) */
	SL_H3_R_MESSAGE,	   /* a malformed request: its stream reset */
	SL_H3_R_HEADER_LIST,	   /* a field section over
				      max_header_list_bytes (431) */
	SL_H3_R_MISDIRECTED,	   /* an authority the certificate does not
				      cover (421) */
	SL_H3_R_IDLE_FRAMES,	   /* frames that carry no request (unknown
				      and reserved ones, empty DATA) past
				      their budget */
	SL_H3_R_RAPID_RESET,	   /* requests cancelled faster than they
				      finish */
	SL_H3_R_HEADER_TIMEOUT,	   /* a request's HEADERS not whole within
				      header_timeout */
	SL_H3_R_HANDSHAKES_PER_IP, /* an address past
				      max_handshakes_per_ip */
	SL_H3_R_BODY_OVERFLOW,	   /* a request body past its stream's
				      buffer */
	SL_H3_NREFUSALS
};
const char *sl_h3_refusal_str(enum sl_h3_refusal r);

/* What the endpoints did, counted (sluice_quic_events_total). */
enum sl_h3_event {
	SL_H3_EV_ACCEPTED = 0, /* connections opened */
	SL_H3_EV_CLOSED,       /* ended */
	SL_H3_EV_RETRY,	       /* Retries sent */
	SL_H3_EV_RESET,	       /* stateless resets sent */
	SL_H3_EV_VNEG,	       /* Version Negotiations sent */
	SL_H3_EV_DROPPED,      /* datagrams of no connection, unanswered */
	SL_H3_EV_FULL,	       /* Initials dropped at max_connections */
	SL_H3_EV_READ_ERROR,   /* datagrams the socket failed to read */
	SL_H3_NEVENTS
};
const char *sl_h3_event_str(enum sl_h3_event e);

/* The sockets of an http3 listener's group at most: the first byte of a
 * connection ID names one (qroute.h). */
#define SL_H3_SLOTS 256

/* What the process gives every worker's endpoints: the key of their
 * stateless-reset and Retry tokens (32 bytes, the same in every worker,
 * so that any may reset or validate for another), set once before the
 * workers start. */
void sl_h3_set_key(const uint8_t key[32]);
/* The key, for an upgrade to hand over. */
const uint8_t *sl_h3_key(void);

/*
 * Serves HTTP/3 on fd, the UDP socket at place slot of listener l's
 * SO_REUSEPORT group (taken over): the connection IDs it issues begin with
 * slot, which routes their datagrams to it. Returns 0, or -1 (fd
 * closed).
 */
int sl_h3_start(struct sl_worker *w, const struct sl_conf_listener *l, int fd,
		unsigned slot);

/* A reload was applied (w->gen is new): each endpoint finds its listener
 * in it; one whose listener left (or no longer has http3) drains. */
void sl_h3_reloaded(struct sl_worker *w);

/* The worker drains: every connection is sent GOAWAY, and closes once its
 * requests are answered; no connection is accepted. At an upgrade's
 * hand-over (handover 1) the new process reads the sockets from now on:
 * the endpoints stop reading, and every connection closes at once
 * (GOAWAY and H3_NO_ERROR), its requests in flight cut (doc/http3.md). */
void sl_h3_drain(struct sl_worker *w, int handover);

/* The drain's time is up: every connection closes now, its exchanges
 * cut and logged. */
void sl_h3_abort(struct sl_worker *w);

/* QUIC connections open on w. */
size_t sl_h3_conns(const struct sl_worker *w);

/* Frees w's endpoints and their connections (the loop has ended). */
void sl_h3_worker_free(struct sl_worker *w);

/* The UDP socket of one worker's place in l's group: bound to l's
 * address with SO_REUSEPORT, non-blocking. Returns it, or -1 (errno). The
 * sockets of a group are opened in the workers' order, and then
 * sl_h3_route attaches the program that gives each connection's
 * datagrams to its worker (qroute.h). */
int sl_h3_socket_open(const struct sl_conf_listener *l);
int sl_h3_route(int fd, unsigned nworkers);

#endif
