/* SPDX-License-Identifier: MIT */
/*
 * The small readers the schema files share (conf_int.h): HTTP tokens,
 * a route's host name (a host: or a line of a hosts_file), a file a key
 * names read whole, true/false, a request key (header:, cookie:, client_ip), an
 * item's name and label, a cluster by its name, and how two socket addresses
 * compare. The floor of the schema: it calls only the YAML layer (conf_yaml.h)
 * and never a section's file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_int.h"
#include "conf_types.h"
#include "util.h"

#define CONF_MAX_HOST 253 /* bytes of a host name */

static int
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int
sl_conf_is_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || strlen(s) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (!is_tchar(s[i]))
			return 0;
	return 1;
}

static int
sockaddr_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

uint16_t
sl_conf_sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

int
sl_conf_sockaddr_same(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family ||
	    sl_conf_sockaddr_port(a) != sl_conf_sockaddr_port(b))
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr,
		      sizeof(struct in6_addr)) == 0;
}

/* Two listening sockets would fight over the same port. */
int
sl_conf_sockaddr_overlap(const struct sockaddr_storage *a,
			 const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family ||
	    sl_conf_sockaddr_port(a) != sl_conf_sockaddr_port(b))
		return 0;
	return sockaddr_is_any(a) || sockaddr_is_any(b);
}

/*
 * "header:NAME", "cookie:NAME" or "client_ip" (sticky: and hash_key:) into
 * k. Returns 0, or -1 with the error reported.
 */
int
sl_conf_parse_key(struct sl_yaml_loader *ld, const char *key,
		  const struct sl_yaml_node *n, struct sl_conf_key *k)
{
	const char *s, *name = NULL;
	enum sl_key_source src;

	if (sl_yaml_get_str(ld, key, n, &s) == -1)
		return -1;
	if (strcmp(s, "client_ip") == 0)
		src = SL_KEY_CLIENT_IP;
	else if (strncmp(s, "header:", 7) == 0) {
		src = SL_KEY_HEADER;
		name = s + 7;
	} else if (strncmp(s, "cookie:", 7) == 0) {
		src = SL_KEY_COOKIE;
		name = s + 7;
	} else {
		sl_yaml_err_node(ld, n,
				 "\"%s\": expected header:NAME, cookie:NAME or "
				 "client_ip, not \"%s\"",
				 key, sl_yaml_qnode(ld, n));
		return -1;
	}
	if (name != NULL && !sl_conf_is_token(name, strlen(name))) {
		sl_yaml_err_node(ld, n, "\"%s\": \"%s\" is not a valid %s name",
				 key, sl_yaml_qstr(ld, name),
				 src == SL_KEY_HEADER ? "header" : "cookie");
		return -1;
	}
	k->source = src;
	if (name != NULL) {
		if ((k->name = sl_yaml_strdup(ld, name)) == NULL)
			return -1;
		k->name_len = strlen(name);
		/* header names compare case-insensitively, cookie names
		 * exactly (RFC 6265) */
		for (size_t i = 0; src == SL_KEY_HEADER && i < k->name_len; i++)
			if (k->name[i] >= 'A' && k->name[i] <= 'Z')
				k->name[i] = (char)(k->name[i] - 'A' + 'a');
	}
	return 0;
}

/* true | false */
int
sl_conf_get_bool(struct sl_yaml_loader *ld, const char *key,
		 const struct sl_yaml_node *n, int *out)
{
	if (n->type == SL_YAML_NODE_BAD)
		return -1;
	if (n->type == SL_YAML_NODE_SCALAR && n->plain &&
	    (strcmp(n->str, "true") == 0 || strcmp(n->str, "false") == 0)) {
		*out = n->str[0] == 't';
		return 0;
	}
	sl_yaml_err_node(ld, n, "\"%s\": expected true or false", key);
	return -1;
}

void
sl_conf_item_name(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
		  const char *what, size_t idx, char *lbl, char **name)
{
	const struct sl_yaml_node *n = sl_yaml_map_get(map, "name", NULL);

	sl_yaml_label(ld, lbl, SL_YAML_LABEL_MAX, what, n, idx);
	if (n == NULL)
		sl_yaml_err_lacks(ld, map, "%s: missing key \"name\"", lbl);
	else
		sl_yaml_get_name(ld, n, name);
}

/* "unknown cluster", with the closest cluster name when one is close. */
static void
unknown_cluster(struct sl_yaml_loader *ld, const char *lbl,
		const struct sl_yaml_node *n, const struct sl_conf *conf)
{
	char mean[SL_YAML_LABEL_MAX] = "";
	const char *best = NULL;
	unsigned bestd = 0;
	size_t i;

	for (i = 0; i < conf->nclusters; i++)
		if (conf->clusters[i].name != NULL)
			sl_yaml_suggest(n->str, conf->clusters[i].name, &best,
					&bestd);
	if (best != NULL)
		snprintf(mean, sizeof(mean), " (did you mean \"%s\"?)", best);
	sl_yaml_err_node(ld, n, "%s: unknown cluster \"%s\"%s", lbl,
			 sl_yaml_qnode(ld, n), mean);
}

/* The cluster a string node names, or NULL (reported, with a suggestion
 * when one is close). */
struct sl_conf_cluster *
sl_conf_find_cluster(struct sl_yaml_loader *ld, const char *lbl,
		     const char *key, const struct sl_yaml_node *n,
		     struct sl_conf *conf)
{
	const char *s;

	if (sl_yaml_get_str(ld, key, n, &s) == -1)
		return NULL;
	if (conf->cluster_names != NULL) {
		size_t i;
		if (sl_strtab_get(conf->cluster_names, s, &i))
			return &conf->clusters[i];
	} else
		for (size_t i = 0; i < conf->nclusters; i++)
			if (conf->clusters[i].name != NULL &&
			    strcmp(conf->clusters[i].name, s) == 0)
				return &conf->clusters[i];
	if (!ld->names_cut)
		unknown_cluster(ld, lbl, n, conf);
	return NULL;
}

int
sl_conf_host_pattern(const char *s, size_t len, int *wild)
{
	const char *p, *name;
	size_t i, nlen;

	*wild = 0;
	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		*wild = 1;
		s++;
		len--;
	}
	if (len > 0 && s[0] == '[') {
		/* An IPv6 literal as it appears in a Host header. */
		p = memchr(s, ']', len);
		if (*wild || p == NULL || p == s + 1)
			return -1;
		if (p + 1 < s + len)
			return p[1] == ':' ? -2 : -1;
		for (i = 1; s + i < p; i++)
			if (strchr("0123456789abcdefABCDEF:.", s[i]) == NULL ||
			    s[i] == '\0')
				return -1;
		return 0;
	}
	if (memchr(s, ':', len) != NULL)
		return -2;
	/* Dot-separated non-empty labels of [A-Za-z0-9_-]. */
	name = s + *wild; /* after the "." of "*." */
	nlen = len - (size_t)*wild;
	if (nlen == 0 || nlen > CONF_MAX_HOST || name[0] == '.' ||
	    name[nlen - 1] == '.')
		return -1;
	for (i = 0; i < nlen; i++) {
		char c = name[i];

		if (c == '.' && i + 1 < nlen && name[i + 1] == '.')
			return -1;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return -1;
	}
	return 0;
}

int
sl_conf_read_file(struct sl_yaml_loader *ld, const char *lbl, const char *key,
		  const struct sl_yaml_node *n, const char *path, size_t max,
		  const char *max_text, char **buf, size_t *len)
{
	struct stat st;
	ssize_t r;
	int fd;

	*buf = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO named by mistake does not hang a reload */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		sl_yaml_err_node(ld, n, "%s: \"%s\": cannot read \"%s\": %s",
				 lbl, key, sl_yaml_qstr(ld, path),
				 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > max) {
		sl_yaml_err_node(ld, n,
				 "%s: \"%s\": \"%s\" is not a regular file "
				 "of at most %s",
				 lbl, key, sl_yaml_qstr(ld, path), max_text);
		close(fd);
		return -1;
	}
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		ld->oom = 1;
		close(fd);
		return -1;
	}
	while (*len < (size_t)st.st_size &&
	       (r = read(fd, *buf + *len, (size_t)st.st_size - *len)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			sl_yaml_err_node(
			    ld, n, "%s: \"%s\": cannot read \"%s\": %s", lbl,
			    key, sl_yaml_qstr(ld, path), strerror(errno));
			free(*buf);
			*buf = NULL;
			close(fd);
			return -1;
		}
		*len += (size_t)r;
	}
	(*buf)[*len] = '\0';
	close(fd);
	return 0;
}

/* ---- secrets' messages ----------------------------------------------------
 */

void
sl_conf_msg(char **out, const struct sl_conf *conf, const char *level,
	    const struct sl_conf_pos *pos, const char *fmt, ...)
{
	char text[1024], line[1400];
	size_t have = *out != NULL ? strlen(*out) : 0, n;
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s:%u:%u: %s: %s\n",
		 conf->path != NULL ? conf->path : "?", pos->line, pos->col,
		 level, text);
	n = strlen(line);
	if ((p = realloc(*out, have + n + 1)) == NULL)
		return;
	memcpy(p + have, line, n + 1);
	*out = p;
}

/* The bytes of secret file f, at most cap of them, into buf: its open (a
 * FIFO named by mistake does not hang a reload), a regular file, a
 * warning when others may read it. Returns the bytes read (cap when the
 * file holds more), or -1 with the reason in *errors (key names the key
 * that named the file). The caller cleanses buf. */
ssize_t
sl_conf_secret_read(const struct sl_conf *conf, const struct sl_conf_file *f,
		    const char *key, void *buf, size_t cap, char **errors,
		    char **warnings)
{
	size_t len = 0;
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(f->path,
		       O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		sl_conf_msg(errors, conf, "error", &f->pos,
			    "\"%s\": cannot read \"%s\": %s", key, f->path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		sl_conf_msg(errors, conf, "error", &f->pos,
			    "\"%s\": \"%s\" is not a regular file", key,
			    f->path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH))
		sl_conf_msg(warnings, conf, "warning", &f->pos,
			    "\"%s\": \"%s\" is readable by others "
			    "(mode %04o): chmod o-rwx",
			    key, f->path, (unsigned)(st.st_mode & 07777));
	while (len < cap && (n = read(fd, (char *)buf + len, cap - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			sl_conf_msg(errors, conf, "error", &f->pos,
				    "\"%s\": cannot read \"%s\": %s", key,
				    f->path, strerror(errno));
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	return (ssize_t)len;
}

#define SECRET_MAX 4096 /* bytes of a password file */

/*
 * The password in the file f: its bytes, line ends (LF, CR LF) at the end
 * removed; one line of bytes other than controls (below 0x20, 0x7f).
 * Returns a malloc'd string, or NULL with the reason in *errors. Here, not
 * in conf_secret.c, which calls the modules: a module's secrets read
 * passwords too (the rate limits' store, conf_rl.c).
 */
char *
sl_conf_read_password(const struct sl_conf *conf, const struct sl_conf_file *f,
		      const char *key, const char *what, char **errors,
		      char **warnings)
{
	char buf[SECRET_MAX + 1], *pw = NULL;
	ssize_t got = sl_conf_secret_read(conf, f, key, buf, sizeof(buf),
					  errors, warnings);
	size_t len;

	if (got < 0)
		return NULL;
	len = (size_t)got;
	if (len > SECRET_MAX) {
		sl_conf_msg(errors, conf, "error", &f->pos,
			    "\"%s\": \"%s\" is larger than %d bytes: "
			    "not a %s",
			    key, f->path, SECRET_MAX, what);
		goto out;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 0) {
		sl_conf_msg(errors, conf, "error", &f->pos,
			    "\"%s\": \"%s\" is empty", key, f->path);
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\n' || c == '\r') {
			sl_conf_msg(errors, conf, "error", &f->pos,
				    "\"%s\": \"%s\" holds more than "
				    "one line (the %s alone, on one line)",
				    key, f->path, what);
			goto out;
		}
		/* the byte's value only: never the characters around it */
		if (c < 0x20 || c == 0x7f) {
			sl_conf_msg(errors, conf, "error", &f->pos,
				    "\"%s\": the %s in \"%s\" "
				    "holds a control byte (0x%02x); it must be "
				    "printable",
				    key, what, f->path, c);
			goto out;
		}
	}
	if ((pw = malloc(len + 1)) == NULL) {
		sl_conf_msg(errors, conf, "error", &f->pos,
			    "\"%s\": \"%s\": out of memory", key, f->path);
		goto out;
	}
	memcpy(pw, buf, len);
	pw[len] = '\0';
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return pw;
}
