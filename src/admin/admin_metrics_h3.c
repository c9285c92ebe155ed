/* SPDX-License-Identifier: MIT */
/*
 * The /metrics families of HTTP/3 (doc/http3.md): the QUIC connections
 * open now, what the workers' endpoints did (connections opened and ended,
 * Retries, stateless resets, Version Negotiations, datagrams dropped), and
 * what the codec refused, by reason. In a build without HTTP/3 the
 * connections' gauge is there, at 0; the other two families are not
 * (their labels are the codec's).
 */
#include <stddef.h>

#include "admin_int.h"
#include "wloop.h"
#ifdef HAVE_QUIC
#include "h3.h"
#endif

void
sl_admin_metrics_h3(const struct sl_admin_view *v, struct sbuf *b)
{
	const size_t u = sizeof(atomic_uint_fast64_t);

	sb_printf(b,
		  "# HELP sluice_quic_connections QUIC (HTTP/3) client "
		  "connections open now.\n# TYPE sluice_quic_connections "
		  "gauge\nsluice_quic_connections %llu\n",
		  (unsigned long long)wsum(
		      v, offsetof(struct sl_worker_stats, quic_conns)));
#ifdef HAVE_QUIC
	sb_printf(b, "# HELP sluice_quic_events_total What the QUIC "
		     "endpoints did: connections accepted and closed, "
		     "Retries, stateless resets and Version Negotiations "
		     "sent, datagrams dropped, Initials past max_connections, "
		     "socket read errors.\n# TYPE sluice_quic_events_total "
		     "counter\n");
	for (int e = 0; e < SL_H3_NEVENTS; e++)
		sb_printf(b, "sluice_quic_events_total{event=\"%s\"} %llu\n",
			  sl_h3_event_str((enum sl_h3_event)e),
			  (unsigned long long)wsum(
			      v, offsetof(struct sl_worker_stats, quic_events) +
				     (size_t)e * u));
	sb_printf(b, "# HELP sluice_http3_refused_total HTTP/3 requests, "
		     "streams, connections and handshakes refused, by "
		     "reason (doc/http3.md, Defences).\n# TYPE "
		     "sluice_http3_refused_total counter\n");
	for (int r = 0; r < SL_H3_NREFUSALS; r++)
		sb_printf(b, "sluice_http3_refused_total{reason=\"%s\"} %llu\n",
			  sl_h3_refusal_str((enum sl_h3_refusal)r),
			  (unsigned long long)wsum(
			      v, offsetof(struct sl_worker_stats, h3_refused) +
				     (size_t)r * u));
#else
	(void)u;
#endif
}
