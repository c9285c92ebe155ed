/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every module: monotonic time, escaping of network
 * bytes for logs, a fast per-thread random generator. No I/O.
 */
#ifndef SL_UTIL_H
#define SL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#define SL_AGAIN (-2) /* "need more" where 0 and -1 are taken */

#define SL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b) ((a) > (b) ? (a) : (b))
#define SL_NELEM(a)  (sizeof(a) / sizeof((a)[0]))

/* For a small function on the path of every request that the compiler
 * would otherwise call (doc/performance.md, instructions per request). */
#define SL_INLINE inline __attribute__((always_inline))

/* memcpy(d, s, n) for the few bytes of a field's name or value: up to 16
 * in two loads and two stores that may overlap, without a call (libc's
 * costs about 20 instructions with its call for a short copy; a head's
 * fields are copied a few dozen times per request). */
static SL_INLINE void
sl_copy_short(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (n >= 8 && n <= 16) {
		uint64_t a, b;

		__builtin_memcpy(&a, sp, 8);
		__builtin_memcpy(&b, sp + n - 8, 8);
		__builtin_memcpy(dp, &a, 8);
		__builtin_memcpy(dp + n - 8, &b, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t a, b;

		__builtin_memcpy(&a, sp, 4);
		__builtin_memcpy(&b, sp + n - 4, 4);
		__builtin_memcpy(dp, &a, 4);
		__builtin_memcpy(dp + n - 4, &b, 4);
	} else if (n < 4) {
		if (n > 0) {
			unsigned char x = sp[0], y = sp[n / 2], z = sp[n - 1];

			dp[0] = x;
			dp[n / 2] = y;
			dp[n - 1] = z;
		}
	} else
		__builtin_memcpy(dp, sp, n);
}

/* FNV-1a over n bytes at p, going on from h (SL_FNV_INIT to start): a
 * quick hash of short strings, not one an attacker cannot collide. */
#define SL_FNV_INIT 14695981039346656037ull
static inline uint64_t
sl_fnv1a(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
	return h;
}

/* Nanoseconds of CLOCK_REALTIME (vDSO): a span's times. */
uint64_t sl_realtime_ns(void);

/* Milliseconds of CLOCK_MONOTONIC (vDSO, no syscall). */
uint64_t sl_now_ms(void);
/* Nanoseconds of CLOCK_MONOTONIC (vDSO): QUIC's clock. */
uint64_t sl_mono_ns(void);

/* Reads CLOCK_MONOTONIC for sl_now_cached and sl_now_us_cached; returns
 * its milliseconds. */
uint64_t sl_now_read(void);

/*
 * The same, read once per event: an event callback calls sl_now_refresh()
 * first, and the code it runs uses sl_now_cached() (a thread-local read,
 * not a clock read per use), or sl_now_us_cached() where milliseconds are
 * too coarse (rate limits, doc/edge.md section 6).
 */
extern _Thread_local uint64_t sl_now_tl;
extern _Thread_local struct timespec sl_now_ts;
static inline uint64_t
sl_now_refresh(void)
{
	return sl_now_read();
}
static inline uint64_t
sl_now_cached(void)
{
	return sl_now_tl;
}
static inline uint64_t
sl_now_us_cached(void)
{
	return (uint64_t)sl_now_ts.tv_sec * 1000000 +
	       (uint64_t)sl_now_ts.tv_nsec / 1000;
}

/*
 * Copies n bytes of s into out (size outsz, always NUL-terminated) with
 * every byte outside printable ASCII, '"' and '\\' escaped as \xHH, so a
 * log line never carries raw network bytes. Returns out.
 */
char *sl_escape(char *out, size_t outsz, const char *s, size_t n);

/* Appends s[0..n) to out as the body of a JSON string (quotes not added),
 * escaping as JSON requires; returns bytes written, never more than outsz. */
size_t sl_json_escape(char *out, size_t outsz, const char *s, size_t n);

/* "1.2.3.4" of 4 bytes into out (16 bytes), without inet_ntop's
 * sprintf. Returns out. */
const char *sl_ipv4_str(const unsigned char b[4], char *out);

/* "1.2.3.4" or "::1" of a socket address into out (INET6_ADDRSTRLEN). */
const char *sl_addr_ip(const struct sockaddr *sa, char *out, size_t outsz);
/* "1.2.3.4:80" or "[::1]:80". */
const char *sl_addr_str(const struct sockaddr *sa, char *out, size_t outsz);

/* A 64-bit finalizer (splitmix64's): every input bit moves every output
 * bit. For hashing, not for secrets. */
static inline uint64_t
sl_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*
 * A seedless 64-bit hash of bytes: FNV-1a 64 (offset basis
 * 0xcbf29ce484222325, prime 0x100000001b3), then the finalizer above.
 * Documented (doc/weighted-routes.md) so that every sluice, and any other
 * program, hashes a key the same way.
 */
static inline uint64_t
sl_hash64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return sl_mix64(h);
}

/*
 * A seeded 64-bit hash of bytes, for a table whose keys a client chooses
 * (a rate limit's keys, the WAF's budgets' clients): so that it cannot
 * choose keys that fall into one bucket. FNV-1a 64 from the offset basis
 * xor the seed, then the finalizer; not a MAC.
 */
static inline uint64_t
sl_hash64_seeded(uint64_t seed, const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return sl_mix64(h ^ (seed >> 32) ^ len);
}

/*
 * Socket writes on the data path: send()/sendmsg() rather than writev()
 * (reads use recv() rather than read()), which go through the VFS layer
 * first, and send() for the common single buffer. MSG_NOSIGNAL: a closed peer
 * is an error return, never SIGPIPE.
 */
static inline ssize_t
sl_sendv(int fd, struct iovec *iov, int niov, int flags)
{
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)niov};

	if (niov == 1)
		return send(fd, iov[0].iov_base, iov[0].iov_len,
			    flags | MSG_NOSIGNAL);
	return sendmsg(fd, &mh, flags | MSG_NOSIGNAL);
}

/*
 * Strings to values, for the names a load checks and looks up (issue 78:
 * a file of 100,000 routes is read in linear time). Keys are borrowed:
 * they must outlive the table. Open addressing over sl_hash64, at most
 * half full. Zero-initialized is empty; not thread-safe.
 */
struct sl_strtab {
	struct sl_strtab_ent {
		const char *key; /* borrowed; NULL: free slot */
		size_t val;
	} * e;
	size_t cap; /* slots, a power of two (0: none yet) */
	size_t n;   /* keys */
};
/* Adds key with val unless the table has key already: then *had (when not
 * NULL) gets the value it has. Returns 1 when added, 0 when key was there,
 * -1 when out of memory. */
int sl_strtab_put(struct sl_strtab *t, const char *key, size_t val,
		  size_t *had);
/* The value of key in *val. Returns 1 when found, else 0. */
int sl_strtab_get(const struct sl_strtab *t, const char *key, size_t *val);
/* Frees the table's slots (not its keys); it is empty again. */
void sl_strtab_free(struct sl_strtab *t);

/* xoshiro256** state, one per thread. */
struct sl_rand {
	uint64_t s[4];
};
void sl_rand_seed(struct sl_rand *r);
uint64_t sl_rand_next(struct sl_rand *r);

/* A generated request id: the 128 bits of a and b as 32 lower-case hex
 * characters and a NUL into out (>= 33 bytes). No run of the id is more
 * than 12 decimal digits long, so that the error log's card number masker
 * (pan.h, 13 digits and up) never rewrites it: the id an operator reads in
 * the error log is the one in X-Request-Id and the access log. */
void sl_request_id_format(uint64_t a, uint64_t b, char *out);

#endif
