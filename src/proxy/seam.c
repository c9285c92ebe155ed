/* SPDX-License-Identifier: MIT */
/*
 * What both sides of the codec seam say of a stream's client in their log
 * lines, and the codecs of fields' write_head (seam.h). Calls nothing above
 * http.
 */
#include "seam.h"

#include <string.h>
#include <sys/socket.h>

#include "h1_msg.h"

const char *
sl_seam_via(const struct sl_seam *s, int fwd, const struct sl_ip *client,
	    char *buf, size_t n)
{
	const struct sockaddr *via;
	struct sl_ip tcp;

	if (s->pp == NULL && !fwd)
		return NULL;
	via = (const struct sockaddr *)(s->pp != NULL ? &s->pp->via : &s->peer);
	if (sl_ip_from_sockaddr(via, &tcp) == -1 || sl_ip_eq(&tcp, client))
		return NULL;
	return sl_ip_str(&tcp, buf, n);
}

const char *
sl_seam_peer_str(const struct sl_seam *s, const struct sl_ip *fwd, char *buf,
		 size_t n)
{
	const struct sockaddr *via = NULL;
	size_t len;

	if (fwd != NULL) {
		/* a trusted proxy named the request's client: its address
		 * (no port), and the connection's own peer */
		struct sl_ip tcp;
		via = (const struct sockaddr *)(s->pp != NULL ? &s->pp->via
							      : &s->peer);
		sl_ip_str(fwd, buf, n);
		if (sl_ip_from_sockaddr(via, &tcp) == 0 && sl_ip_eq(&tcp, fwd))
			via = NULL;
	} else {
		sl_addr_str((const struct sockaddr *)&s->peer, buf, n);
		if (s->pp != NULL && s->pp->via_shown)
			via = (const struct sockaddr *)&s->pp->via;
	}
	len = strlen(buf);
	if (via != NULL && len + 6 < n) {
		memcpy(buf + len, " via=", 5);
		sl_addr_str(via, buf + len + 5, n - len - 5);
	}
	return buf;
}

long
sl_seam_block_head(struct sl_seam *s, const struct sl_h1_head *h, char *out,
		   size_t cap, size_t *head_len)
{
	(void)s;
	return sl_h1_block_head(out, cap, h, head_len);
}
