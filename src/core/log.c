/* SPDX-License-Identifier: MIT */
/*
 * Error log and access log. The error log writes each line with a single
 * write(2) to stderr so lines of different threads never interleave; the
 * access log batches lines per worker.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "pan.h"

#define SL_LOG_MIN(a, b) ((a) < (b) ? (a) : (b))

static atomic_int log_level = SL_LOG_INFO;
static int access_fd = -1;	 /* stays the same number across reopen */
static char *access_path;	 /* NULL unless logging to a file */
static atomic_int access_fmt;	 /* enum sl_access_format */
static atomic_int log_query;	 /* enum sl_log_query */
static atomic_int log_cards = 1; /* card numbers masked (pan.h) */

void
sl_log_set_level(enum sl_log_level level)
{
	atomic_store(&log_level, (int)level);
}

int
sl_log_enabled(enum sl_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

static void
vlog(enum sl_log_level level, const char *prefix, int with_errno,
     const char *fmt, va_list ap)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int saved = errno, cut = 0;
	int r;

	if (!sl_log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s: %s",
		     ts.tv_nsec / 1000000, names[level], prefix);
	if (r > 0)
		n += (size_t)r;
	if (n < sizeof(line)) {
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (r > 0) {
			cut = n + (size_t)r > sizeof(line) - 2;
			n = SL_LOG_MIN(n + (size_t)r, sizeof(line) - 1);
		}
	}
	if (with_errno && n < sizeof(line)) {
		r = snprintf(line + n, sizeof(line) - n, ": %s",
			     strerror(saved));
		if (r > 0)
			n = SL_LOG_MIN(n + (size_t)r, sizeof(line) - 1);
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	/* a card number in a target, a header value or a peer's message
	 * never reaches the error log */
	if (sl_log_cards())
		sl_pan_mask(line, n, cut);
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
	errno = saved;
}

#define DEFINE_LOG(fn, level, with_errno)                                      \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		vlog(level, "", with_errno, fmt, ap);                          \
		va_end(ap);                                                    \
	}

DEFINE_LOG(log_warn, SL_LOG_WARN, 1)
DEFINE_LOG(log_warnx, SL_LOG_WARN, 0)
DEFINE_LOG(log_error, SL_LOG_ERROR, 0)
DEFINE_LOG(log_info, SL_LOG_INFO, 0)
DEFINE_LOG(log_debug, SL_LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(SL_LOG_ERROR, "fatal: ", 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(SL_LOG_ERROR, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}

int
sl_access_open(const char *dest, enum sl_access_format format)
{
	sl_access_set_format(format);
	if (strcmp(dest, "off") == 0) {
		access_fd = -1;
		return 0;
	}
	if (strcmp(dest, "stdout") == 0) {
		access_fd = STDOUT_FILENO;
		return 0;
	}
	if (strcmp(dest, "stderr") == 0) {
		access_fd = STDERR_FILENO;
		return 0;
	}
	access_fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (access_fd == -1)
		return -1;
	free(access_path);
	access_path = strdup(dest);
	return access_path == NULL ? -1 : 0;
}

int
sl_sidelog_open(struct sl_sidelog *l, const char *dest)
{
	/* a file of an earlier open is no longer the one to reopen */
	free(l->path);
	l->path = NULL;
	if (strcmp(dest, "access") == 0) {
		/* beside the access lines; with the access log off, still
		 * somewhere: what it logs never goes unlogged */
		l->fd = access_fd != -1 ? -2 : STDERR_FILENO;
		return 0;
	}
	if (strcmp(dest, "off") == 0) {
		l->fd = -1;
		return 0;
	}
	if (strcmp(dest, "stdout") == 0 || strcmp(dest, "stderr") == 0) {
		l->fd = dest[3] == 'o' ? STDOUT_FILENO : STDERR_FILENO;
		return 0;
	}
	l->fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (l->fd == -1)
		return -1;
	l->path = strdup(dest);
	return l->path == NULL ? -1 : 0;
}

int
sl_sidelog_reopen(struct sl_sidelog *l)
{
	int fd;

	if (l->path == NULL)
		return 0;
	fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (dup2(fd, l->fd) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void
sl_sidelog_write(struct sl_sidelog *l, struct sl_access_buf *b,
		 const char *line, size_t n)
{
	size_t off = 0;

	if (l->fd == -2) {
		sl_access_append(b, line, n);
		return;
	}
	/* its own file: at once (a line is one write, rare) */
	while (off < n && l->fd >= 0) {
		ssize_t w = write(l->fd, line + off, n - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

int
sl_access_reopen(void)
{
	int fd;

	if (access_path == NULL)
		return 0;
	fd = open(access_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	/* dup2 swaps the file under the same number atomically: a worker
	 * writing at this moment writes to the old or the new file, never to
	 * a closed or reused descriptor */
	if (dup2(fd, access_fd) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
sl_access_enabled(void)
{
	return access_fd != -1;
}

enum sl_access_format
sl_access_format(void)
{
	return (enum sl_access_format)atomic_load_explicit(
	    &access_fmt, memory_order_relaxed);
}

void
sl_access_set_format(enum sl_access_format format)
{
	atomic_store(&access_fmt, (int)format);
}

void
sl_access_flush(struct sl_access_buf *b)
{
	size_t off = 0;

	while (off < b->len && access_fd != -1) {
		ssize_t n = write(access_fd, b->data + off, b->len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* a full disk loses lines, not requests */
		off += (size_t)n;
	}
	b->len = 0;
}

void
sl_access_append(struct sl_access_buf *b, const char *line, size_t n)
{
	if (b->len + n > sizeof(b->data))
		sl_access_flush(b);
	if (n > sizeof(b->data))
		n = sizeof(b->data);
	memcpy(b->data + b->len, line, n);
	b->len += n;
}

void
sl_log_set_query(enum sl_log_query q)
{
	atomic_store(&log_query, (int)q);
}

enum sl_log_query
sl_log_query(void)
{
	return (enum sl_log_query)atomic_load_explicit(&log_query,
						       memory_order_relaxed);
}

void
sl_log_set_cards(int mask)
{
	atomic_store(&log_cards, mask != 0);
}

int
sl_log_cards(void)
{
	return atomic_load_explicit(&log_cards, memory_order_relaxed);
}

/* What a query's byte is to sl_log_target: a separator of its pairs, the
 * '=' of one, or another. */
enum { Q_BYTE = 0, Q_SEP, Q_EQ };
static const uint8_t query_byte[256] = {
    ['&'] = Q_SEP, [';'] = Q_SEP, ['?'] = Q_SEP, ['='] = Q_EQ};

size_t
sl_log_target(char *out, size_t outsz, const char *s, size_t n,
	      enum sl_log_query q, int cards)
{
	const char *qm = memchr(s, '?', n);
	size_t o = 0, i;

	if (outsz == 0)
		return 0;
	if (qm == NULL || q == SL_LOG_QUERY_FULL)
		i = n; /* nothing to hide: copied below */
	else
		i = (size_t)(qm - s);
	/* the path, and the whole target when nothing is hidden */
	o = SL_LOG_MIN(i, outsz - 1);
	if (o > 0)
		memcpy(out, s, o);
	if (qm != NULL && q == SL_LOG_QUERY_NAMES) {
		/* names kept, each non-empty value becomes one "*": a name's
		 * bytes and the separators copied, a value skipped to the
		 * next separator, a table look-up a byte (a branch for each
		 * of four bytes before: 15 instructions a byte) */
		while (i < n && o < outsz - 1) {
			char ch = s[i++];
			out[o++] = ch;
			if (query_byte[(unsigned char)ch] != Q_EQ)
				continue;
			if (i < n && s[i] != '&' && s[i] != ';' &&
			    o < outsz - 1)
				out[o++] = '*';
			while (i < n &&
			       query_byte[(unsigned char)s[i]] != Q_SEP)
				i++;
		}
	}
	out[o] = '\0';
	/* a full buffer counts as cut: a digit run at its end may go on */
	if (cards)
		sl_pan_mask(out, o, o == outsz - 1);
	return o;
}
