/* SPDX-License-Identifier: MIT */
/*
 * The error log (stderr, one write per line, safe from any thread) and the
 * access log (a shared file descriptor written in batches by each worker).
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdarg.h>
#include <stddef.h>

/*
 * The log's own settings. The configuration names them (log: in
 * sluice.yaml, conf_types.h includes this header); the log knows nothing
 * of the configuration.
 */
enum sl_log_level {
	SL_LOG_ERROR = 0,
	SL_LOG_WARN,
	SL_LOG_INFO,
	SL_LOG_DEBUG,
};

enum sl_access_format {
	SL_ACCESS_JSON = 0,
	SL_ACCESS_COMBINED,
};

/* How request targets (and Referer values) appear in the logs: their
 * query strings may carry card numbers or tokens. */
enum sl_log_query {
	SL_LOG_QUERY_NAMES = 0, /* parameter names kept, values replaced */
	SL_LOG_QUERY_FULL,	/* as received */
	SL_LOG_QUERY_OFF,	/* the whole query left out */
};

void sl_log_set_level(enum sl_log_level level);
int sl_log_enabled(enum sl_log_level level);

/* log_warn appends ": strerror(errno)"; the x variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Access log destination: "off", "stdout", "stderr" or a file path opened
 * for appending. Called by the main thread at start. Returns 0 or -1.
 */
int sl_access_open(const char *dest, enum sl_access_format format);
/* Reopens the access log file in place (SIGUSR1); workers never see a
 * closed descriptor. Returns 0 or -1. */
int sl_access_reopen(void);
int sl_access_enabled(void);
/* Switches the line format (a reload); any thread. */
void sl_access_set_format(enum sl_access_format format);
enum sl_access_format sl_access_format(void);

/* How query strings are logged (log.query; a reload applies it at once);
 * any thread. */
void sl_log_set_query(enum sl_log_query q);
enum sl_log_query sl_log_query(void);

/* Whether card numbers are masked in both logs (log.mask_card_numbers,
 * on unless turned off; a reload applies it at once); any thread. */
void sl_log_set_cards(int mask);
int sl_log_cards(void);

/*
 * Copies a request target (or a URL such as a Referer value) s[0..n) into
 * out (outsz bytes, always NUL-terminated, cut when longer) as the logs
 * show it under q: with SL_LOG_QUERY_NAMES every value of the query is
 * replaced by "*" ("?card=*&amount=*"; an empty value stays empty), with
 * SL_LOG_QUERY_OFF the query is left out ("?" included). With cards set,
 * every card number left in it is then masked (sl_pan_mask), whatever q
 * is; a cut text counts as cut for that. Returns the length written.
 * Pure.
 */
size_t sl_log_target(char *out, size_t outsz, const char *s, size_t n,
		     enum sl_log_query q, int cards);

/* A worker's batch of access log lines; flushed when nearly full or by the
 * worker's flush timer. */
struct sl_access_buf {
	size_t len;
	char data[32768];
};
/* Appends one complete line (with its '\n'); flushes first if needed. */
void sl_access_append(struct sl_access_buf *b, const char *line, size_t n);
void sl_access_flush(struct sl_access_buf *b);

/*
 * A log of a feature's own beside the access log (the WAF's): "access"
 * (the worker's access-log batch, or stderr when the access log is off),
 * "off", "stdout", "stderr" or a file path. Opened by the main thread at
 * start, after the access log; reopened on SIGUSR1. sl_sidelog_write
 * takes one whole line (b: the worker's access batch). Its fd starts at
 * -1 (off): SL_SIDELOG_INIT.
 */
struct sl_sidelog {
	int fd;	    /* -2: the access log's batch; -1: off */
	char *path; /* its file's, to reopen; NULL: none */
};
#define SL_SIDELOG_INIT                                                        \
	{                                                                      \
		-1, NULL                                                       \
	}
int sl_sidelog_open(struct sl_sidelog *l, const char *dest);
int sl_sidelog_reopen(struct sl_sidelog *l);
static inline int
sl_sidelog_enabled(const struct sl_sidelog *l)
{
	return l->fd != -1;
}
void sl_sidelog_write(struct sl_sidelog *l, struct sl_access_buf *b,
		      const char *line, size_t n);

#endif
