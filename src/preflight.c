/* SPDX-License-Identifier: MIT */
/*
 * Start-up needs that a valid file does not guarantee, checked with stat()
 * and access() only: nothing is created or opened. See preflight.h.
 */
#include "preflight.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

int
sl_preflight_appendable(const char *path, char *why, size_t whysz)
{
	char dir[4096];
	const char *slash;
	struct stat st;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(why, whysz, "it is a directory");
			return -1;
		}
		/* EROFS too: a read-only file system fails here, root or
		 * not */
		if (access(path, W_OK) == -1) {
			snprintf(why, whysz, "%s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		/* a component is not a directory, or not searchable */
		snprintf(why, whysz, "%s", strerror(errno));
		return -1;
	}
	/* the file would be created: its directory must let us */
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &st) == -1) {
		if (errno == ENOENT)
			snprintf(why, whysz,
				 "the directory \"%.200s\" does not exist",
				 dir);
		else
			snprintf(why, whysz, "the directory \"%.200s\": %s",
				 dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whysz, "\"%.200s\" is not a directory", dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(why, whysz, "it cannot be created in \"%.200s\": %s",
			 dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Appends one error line to *out (growing it); gives up quietly when out
 * of memory, leaving what it has. */
static void __attribute__((format(printf, 4, 5)))
add_error(char **out, const struct sl_conf *conf, const struct sl_conf_pos *pos,
	  const char *fmt, ...)
{
	char msg[1024], line[1400];
	size_t have = *out ? strlen(*out) : 0, n;
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (pos != NULL && pos->line > 0)
		snprintf(line, sizeof(line), "%s:%u:%u: error: %s\n",
			 conf->path, pos->line, pos->col, msg);
	else
		snprintf(line, sizeof(line), "%s: error: %s\n", conf->path,
			 msg);
	n = strlen(line);
	if ((p = realloc(*out, have + n + 1)) == NULL)
		return;
	memcpy(p + have, line, n + 1);
	*out = p;
}

char *
sl_preflight(const struct sl_conf *conf, const char *running_access)
{
	const char *a = conf->access_log;
	char *errors = NULL, why[512];

	if (strcmp(a, "off") != 0 && strcmp(a, "stdout") != 0 &&
	    strcmp(a, "stderr") != 0 &&
	    (running_access == NULL || strcmp(a, running_access) != 0) &&
	    sl_preflight_appendable(a, why, sizeof(why)) == -1)
		add_error(&errors, conf, &conf->access_log_pos,
			  "\"access\": cannot open \"%.512s\" for appending: "
			  "%s",
			  a, why);
	return errors;
}
