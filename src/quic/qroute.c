/* SPDX-License-Identifier: MIT */
/*
 * Which worker a QUIC datagram is for (qroute.h).
 */
#include "qroute.h"

#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

#define LONG_DCID  6 /* a long header: flags, version (4), DCID length */
#define SHORT_DCID 1 /* a short header: flags */

int
sl_qroute_attach(int fd, unsigned n)
{
	/* A = the DCID's first byte, by the header's form; return A % n */
	struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80, 0, 2),
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, LONG_DCID),
	    BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SHORT_DCID),
	    BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),
	    BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};

	if (n == 0 || n > SL_QROUTE_MAX) {
		errno = EINVAL;
		return -1;
	}
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
			  sizeof(prog));
}

unsigned
sl_qroute_worker(const uint8_t *pkt, size_t len, unsigned n)
{
	size_t at;

	if (len == 0 || n == 0)
		return 0;
	at = (pkt[0] & 0x80) ? LONG_DCID : SHORT_DCID;
	return at < len ? pkt[at] % n : 0;
}

int
sl_qroute_cid(uint8_t *cid, size_t len, unsigned worker)
{
	if (len == 0 || len > 20 || worker >= SL_QROUTE_MAX ||
	    RAND_bytes(cid + 1, (int)len - 1) != 1)
		return -1;
	cid[0] = (uint8_t)worker;
	return 0;
}

int
sl_qroute_reset_token(const uint8_t key[32], const uint8_t *cid, size_t len,
		      uint8_t token[16])
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;

	if (HMAC(EVP_sha256(), key, 32, cid, len, mac, &ml) == NULL || ml < 16)
		return -1;
	memcpy(token, mac, 16);
	return 0;
}
