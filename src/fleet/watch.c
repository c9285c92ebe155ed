/* SPDX-License-Identifier: MIT */
/*
 * Follows files for changes with one inotify descriptor (watch.h): the
 * table of watched directories, the walk along symbolic links that says
 * which directories those are, the debounce timer, and the fingerprint of
 * what the files hold. Tells its caller only "something may have changed";
 * it reads no configuration and never calls a reload itself.
 */
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "log.h"

/* Links followed for one path at most, so that a loop ends the walk; a
 * ConfigMap's chain is two long. */
#define WATCH_MAX_HOPS 16

/* Bytes read from the inotify descriptor at a time: a read into less than
 * one event with the longest name fails with EINVAL. */
#define WATCH_BUF 4096
_Static_assert(WATCH_BUF >= sizeof(struct inotify_event) + NAME_MAX + 1,
	       "inotify buffer holds one event with the longest name");

/*
 * What a directory watch reports. Not IN_DONT_FOLLOW: a directory named
 * through a link is to be watched where the link leads (the link itself
 * is covered by watching the directory that holds it). IN_ONLYDIR: a
 * path whose "directory" is a file is skipped, without a race between a
 * stat and the watch. IN_DELETE_SELF and IN_MOVE_SELF: a directory that
 * goes away is a change too, and renewal drops its watch.
 */
#define WATCH_MASK                                                             \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |                 \
	 IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF |             \
	 IN_MOVE_SELF | IN_ONLYDIR)

/* One inotify watch; the kernel gives one wd per directory inode, so two
 * paths to the same directory share an entry. */
struct watch_dir {
	int wd;
	int wanted;   /* set by the renewal under way */
	char *path;   /* owned; the first name it was watched by */
	char **names; /* owned: the entries of it that matter (a watched
			 file, a link on the way to one, where a missing
			 one would appear); events of others are not
			 changes: a log file written beside the
			 configuration must not hold a reload back */
	size_t nnames;
};

/* Owned by the caller of sl_watch_new, freed by sl_watch_free. */
struct sl_watch {
	struct event_base *base; /* borrowed */
	sl_watch_fn *fn;
	void *arg; /* borrowed, fn's */
	int fd;	   /* inotify */
	struct event *ev_read;
	struct event *ev_debounce;
	uint64_t debounce_ms;
	char **paths; /* owned, absolute */
	size_t npaths;
	struct watch_dir *dirs; /* owned */
	size_t ndirs;
	size_t dirs_cap;
	int unfiltered; /* a name could not be noted (out of memory): every
			   event counts until the next renewal */
};

/* ---- the table of watched directories ---------------------------------- */

static struct watch_dir *
dir_find(struct sl_watch *w, int wd)
{
	for (size_t i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == wd)
			return &w->dirs[i];
	return NULL;
}

static void
dir_names_free(struct watch_dir *d)
{
	for (size_t i = 0; i < d->nnames; i++)
		free(d->names[i]);
	free(d->names);
	d->names = NULL;
	d->nnames = 0;
}

static void
dir_drop(struct sl_watch *w, struct watch_dir *d)
{
	free(d->path);
	dir_names_free(d);
	*d = w->dirs[--w->ndirs];
}

/* Whether the entry name (len bytes) of d matters. */
static int
dir_has_name(const struct watch_dir *d, const char *name, size_t len)
{
	for (size_t i = 0; i < d->nnames; i++)
		if (strlen(d->names[i]) == len &&
		    memcmp(d->names[i], name, len) == 0)
			return 1;
	return 0;
}

/* Notes that the entry name (len bytes) of d matters. Returns 0 or -1
 * (out of memory: then every event of d counts, as before there were
 * names). */
static int
dir_add_name(struct watch_dir *d, const char *name, size_t len)
{
	char **v;

	if (dir_has_name(d, name, len))
		return 0;
	if ((v = realloc(d->names, (d->nnames + 1) * sizeof(*v))) == NULL)
		return -1;
	d->names = v;
	if ((v[d->nnames] = strndup(name, len)) == NULL)
		return -1;
	d->nnames++;
	return 0;
}

/*
 * Watches the directory dir (or finds that it already is, under this or
 * another name) and marks it wanted. Returns 0, or -1 with errno when it
 * cannot be watched: quietly when it does not exist or is no directory,
 * with a warning otherwise (no permission, the user's watches used up).
 */
static struct watch_dir *
dir_add(struct sl_watch *w, const char *dir)
{
	struct watch_dir *d;
	int wd;

	wd = inotify_add_watch(w->fd, dir, WATCH_MASK);
	if (wd == -1) {
		int saved = errno;
		if (errno == ENOENT || errno == ENOTDIR)
			log_debug("watch: %s: skipped, no such directory", dir);
		else
			log_warn("watch: cannot watch %s", dir);
		errno = saved;
		return NULL;
	}
	if ((d = dir_find(w, wd)) != NULL) {
		d->wanted = 1;
		return d;
	}
	if (w->ndirs == w->dirs_cap) {
		size_t cap = w->dirs_cap != 0 ? 2 * w->dirs_cap : 8;
		struct watch_dir *n = realloc(w->dirs, cap * sizeof(*n));
		if (n == NULL)
			goto nomem;
		w->dirs = n;
		w->dirs_cap = cap;
	}
	d = &w->dirs[w->ndirs];
	if ((d->path = strdup(dir)) == NULL)
		goto nomem;
	d->wd = wd;
	d->wanted = 1;
	d->names = NULL;
	d->nnames = 0;
	w->ndirs++;
	log_debug("watch: watching %s (wd %d)", dir, wd);
	return d;
nomem:
	/* no entry has this wd (dir_find above), so no other path shares
	 * the kernel's watch */
	(void)inotify_rm_watch(w->fd, wd);
	log_warnx("watch: out of memory watching %s", dir);
	errno = ENOMEM;
	return NULL;
}

/* Watches the directory of the entry name (len bytes) at dir, and notes
 * that the entry matters. Returns 0, or -1 with errno. */
static int
dir_add_entry(struct sl_watch *w, const char *dir, const char *name, size_t len)
{
	struct watch_dir *d = dir_add(w, dir);

	if (d == NULL)
		return -1;
	if (dir_add_name(d, name, len) == -1)
		w->unfiltered = 1;
	return 0;
}

/* ---- which directories a path needs ------------------------------------ */

/*
 * The directory part of the absolute path abs into out (PATH_MAX bytes):
 * "/a/b/c" -> "/a/b", "/a" -> "/", trailing slashes ignored.
 */
static void
path_dir(const char *abs, char *out)
{
	size_t len = strlen(abs);

	while (len > 1 && abs[len - 1] == '/')
		len--;
	while (len > 0 && abs[len - 1] != '/')
		len--;
	while (len > 1 && abs[len - 1] == '/')
		len--;
	if (len == 0)
		len = 1; /* abs is absolute: the root */
	memcpy(out, abs, len);
	out[len] = '\0';
}

/* The last component of the absolute path abs ("/a/b/c/" -> "c/"): its
 * length without the trailing slashes by path_base_len. */
static const char *
path_base(const char *abs)
{
	size_t len = strlen(abs);

	while (len > 1 && abs[len - 1] == '/')
		len--;
	while (len > 0 && abs[len - 1] != '/')
		len--;
	return abs + len;
}

static size_t
path_base_len(const char *base)
{
	size_t n = 0;

	while (base[n] != '\0' && base[n] != '/')
		n++;
	return n;
}

/*
 * Resolves the absolute path abs component by component, as the kernel
 * does, and watches the directory holding each component that matters
 * for what abs names: every symbolic link met on the way (a link in the
 * middle, like a ConfigMap's "..data", as well as the file's own), the
 * last component (the real file), or the first one missing (where it
 * would appear). res only ever holds directories reached without links,
 * so ".." is taken from it by name, and what is watched is real. Gives up
 * after WATCH_MAX_HOPS links (a loop), or on a path too long.
 */
static void
path_follow(struct sl_watch *w, const char *abs)
{
	char res[PATH_MAX], rest[PATH_MAX], next[PATH_MAX], target[PATH_MAX];
	const char *p, *c, *q;
	size_t rlen = 0, clen;
	int hops = 0, last, missing, link;
	struct stat st;
	ssize_t tlen;

	res[0] = '\0'; /* the root, without its slash */
	if (strlen(abs) >= sizeof(rest))
		return;
	strcpy(rest, abs);
	p = rest;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return;
		c = p;
		while (*p != '\0' && *p != '/')
			p++;
		clen = (size_t)(p - c);
		if (clen == 1 && c[0] == '.')
			continue;
		if (clen == 2 && c[0] == '.' && c[1] == '.') {
			while (rlen > 0 && res[rlen - 1] != '/')
				rlen--;
			if (rlen > 0)
				rlen--;
			res[rlen] = '\0';
			continue;
		}
		if (rlen + 1 + clen >= sizeof(res))
			return;
		res[rlen] = '/';
		memcpy(res + rlen + 1, c, clen);
		res[rlen + 1 + clen] = '\0';

		q = p;
		while (*q == '/')
			q++;
		last = *q == '\0';
		missing = lstat(res, &st) == -1;
		link = !missing && S_ISLNK(st.st_mode);

		if (link) {
			tlen = readlink(res, target, sizeof(target) - 1);
			if (tlen <= 0)
				missing = 1;
			else
				target[tlen] = '\0';
		}
		if (missing || link || last) {
			res[rlen] = '\0';
			(void)dir_add_entry(w, rlen > 0 ? res : "/", c, clen);
		}
		if (missing)
			return;
		if (!link) {
			if (last || !S_ISDIR(st.st_mode))
				return; /* the file, or ENOTDIR */
			rlen += 1 + clen;
			continue;
		}
		if (++hops > WATCH_MAX_HOPS) {
			log_debug("watch: %s: more than %d symbolic links", abs,
				  WATCH_MAX_HOPS);
			return;
		}
		/* the target in place of the link, before what follows it;
		 * relative targets go on from the link's directory, which
		 * res (cut back above) already is */
		if ((size_t)snprintf(next, sizeof(next), "%s%s", target, p) >=
		    sizeof(next))
			return;
		if (target[0] == '/')
			rlen = 0;
		res[rlen] = '\0';
		strcpy(rest, next);
		p = rest;
	}
}

/*
 * Watches what the paths need now and drops the watches no longer
 * needed. Returns the number of paths whose own directory is watched;
 * errno is that of the last one that is not.
 */
static int
watch_renew(struct sl_watch *w)
{
	char dir[PATH_MAX];
	int count = 0, err = 0;

	w->unfiltered = 0;
	for (size_t i = 0; i < w->ndirs; i++) {
		w->dirs[i].wanted = 0;
		dir_names_free(&w->dirs[i]);
	}
	for (size_t i = 0; i < w->npaths; i++) {
		const char *base;
		path_dir(w->paths[i], dir);
		base = path_base(w->paths[i]);
		if (dir_add_entry(w, dir, base, path_base_len(base)) == -1) {
			/* skipped whole: a watch on an ancestor where the
			 * directory would appear is not what was asked */
			err = errno;
			continue;
		}
		count++;
		path_follow(w, w->paths[i]);
	}
	for (size_t i = 0; i < w->ndirs;) {
		struct watch_dir *d = &w->dirs[i];
		if (d->wanted) {
			i++;
			continue;
		}
		log_debug("watch: no longer watching %s (wd %d)", d->path,
			  d->wd);
		/* EINVAL when the kernel dropped it already (the directory
		 * is gone and its IN_IGNORED not read yet) */
		(void)inotify_rm_watch(w->fd, d->wd);
		dir_drop(w, d);
	}
	errno = err;
	return count;
}

/* ---- events ------------------------------------------------------------ */

static const char *
event_str(uint32_t mask)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
	    {IN_Q_OVERFLOW, "queue overflow"},
	    {IN_IGNORED, "ignored"},
	    {IN_CREATE, "create"},
	    {IN_DELETE, "delete"},
	    {IN_MOVED_FROM, "moved from"},
	    {IN_MOVED_TO, "moved to"},
	    {IN_CLOSE_WRITE, "close write"},
	    {IN_MODIFY, "modify"},
	    {IN_ATTRIB, "attrib"},
	    {IN_DELETE_SELF, "delete self"},
	    {IN_MOVE_SELF, "move self"},
	    {IN_UNMOUNT, "unmount"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (mask & names[i].bit)
			return names[i].name;
	return "other";
}

static void
watch_arm(struct sl_watch *w)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(w->debounce_ms / 1000);
	tv.tv_usec = (suseconds_t)(w->debounce_ms % 1000 * 1000);
	/* adding a pending timer moves it: the quiet time starts again */
	if (evtimer_add(w->ev_debounce, &tv) == -1)
		log_warnx("watch: cannot arm the debounce timer");
}

/* Takes one event; returns whether it may mean a change. */
static int
watch_event(struct sl_watch *w, const struct inotify_event *ev)
{
	struct watch_dir *d;

	if (ev->mask & IN_Q_OVERFLOW) {
		/* events were lost: any file may have changed */
		log_debug("watch: event queue overflow");
		return 1;
	}
	if ((d = dir_find(w, ev->wd)) == NULL)
		return 0; /* a watch renewal removed; queued before that */
	/* an entry that is no watched file nor on the way to one: not a
	 * change, and not said (sluice's own log beside its configuration
	 * would otherwise feed itself) */
	if (ev->len > 0 && !w->unfiltered &&
	    !dir_has_name(d, ev->name, strnlen(ev->name, ev->len)))
		return 0;
	log_debug("watch: %s%s%s: %s", d->path, ev->len > 0 ? "/" : "",
		  ev->len > 0 ? ev->name : "", event_str(ev->mask));
	if (ev->mask & IN_IGNORED) {
		/* the kernel dropped the watch (directory removed, file
		 * system unmounted); renewal watches what exists now */
		dir_drop(w, d);
	}
	return 1;
}

static void
watch_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sl_watch *w = arg;
	/* the kernel writes whole events, each name padded so that the next
	 * event is aligned: a buffer of the struct's alignment serves */
	char buf[WATCH_BUF]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	int changed = 0;
	ssize_t n;

	(void)what;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("watch: read inotify");
			break;
		}
		if (n == 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev =
			    (const struct inotify_event *)(void *)p;
			if ((size_t)(buf + n - p) < sizeof(*ev) ||
			    (size_t)(buf + n - p) < sizeof(*ev) + ev->len)
				break; /* cannot happen: whole events */
			changed |= watch_event(w, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (changed)
		watch_arm(w);
}

static void
watch_on_debounce(evutil_socket_t fd, short what, void *arg)
{
	struct sl_watch *w = arg;

	(void)fd;
	(void)what;
	/* links first: a ConfigMap's swap changed where they lead, and the
	 * caller reads the files after this, so that a change after the
	 * renewal shows as another event and one before it in the files */
	if (watch_renew(w) == 0 && w->npaths > 0)
		log_warnx("watch: none of the %zu files can be watched now; "
			  "changes go unnoticed until a reload",
			  w->npaths);
	w->fn(w->arg); /* may free w */
}

/* ---- the interface ------------------------------------------------------ */

struct sl_watch *
sl_watch_new(struct event_base *base, sl_watch_fn *fn, void *arg)
{
	struct sl_watch *w;
	int saved;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->base = base;
	w->fn = fn;
	w->arg = arg;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd == -1)
		goto fail;
	w->ev_read =
	    event_new(base, w->fd, EV_READ | EV_PERSIST, watch_on_read, w);
	w->ev_debounce = evtimer_new(base, watch_on_debounce, w);
	if (w->ev_read == NULL || w->ev_debounce == NULL ||
	    event_add(w->ev_read, NULL) == -1) {
		errno = ENOMEM;
		goto fail;
	}
	return w;
fail:
	saved = errno;
	sl_watch_free(w);
	errno = saved;
	return NULL;
}

/* The absolute form of path into a new string; NULL with errno. */
static char *
path_abs(const char *path)
{
	char cwd[PATH_MAX];
	size_t clen, plen = strlen(path);
	char *abs;

	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	clen = strlen(cwd);
	if (clen + 1 + plen >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if ((abs = malloc(clen + 1 + plen + 1)) == NULL)
		return NULL;
	memcpy(abs, cwd, clen);
	abs[clen] = '/';
	memcpy(abs + clen + 1, path, plen + 1);
	return abs;
}

static void
paths_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

int
sl_watch_set(struct sl_watch *w, const char *const *paths, size_t n,
	     uint64_t debounce_ms)
{
	char **abs;
	int count;

	/* the new set is complete before the old one goes: out of memory
	 * keeps watching what was */
	if ((abs = calloc(n != 0 ? n : 1, sizeof(*abs))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		/* made absolute now: a later chdir must not move them */
		if ((abs[i] = path_abs(paths[i])) == NULL) {
			int saved = errno;
			paths_free(abs, i);
			errno = saved;
			return -1;
		}
	}
	paths_free(w->paths, w->npaths);
	w->paths = abs;
	w->npaths = n;
	w->debounce_ms = debounce_ms;
	count = watch_renew(w);
	if (count == 0 && n > 0)
		return -1;
	return count;
}

void
sl_watch_free(struct sl_watch *w)
{
	if (w == NULL)
		return;
	if (w->ev_read != NULL)
		event_free(w->ev_read);
	if (w->ev_debounce != NULL)
		event_free(w->ev_debounce);
	if (w->fd != -1)
		close(w->fd); /* removes every watch */
	for (size_t i = 0; i < w->ndirs; i++) {
		free(w->dirs[i].path);
		dir_names_free(&w->dirs[i]);
	}
	free(w->dirs);
	paths_free(w->paths, w->npaths);
	free(w);
}

/* ---- fingerprint -------------------------------------------------------- */

/*
 * Feeds one file into md: a tag, and for a file that could be read the
 * SHA-256 of its bytes. The bytes go in as a digest of their own, not as
 * they are, so that where one file ends and the next path begins is never
 * in doubt. Returns 0, or -1 when the digest fails (out of memory).
 */
static int
fingerprint_file(EVP_MD_CTX *md, const char *path)
{
	unsigned char buf[16384], sum[EVP_MAX_MD_SIZE];
	unsigned int sumlen = 0;
	EVP_MD_CTX *file;
	struct stat st;
	char tag;
	ssize_t n;
	int fd, ret = -1;

	/* O_NONBLOCK: a FIFO put in a file's place must not stop the main
	 * thread in open() */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		tag = errno == ENOENT || errno == ENOTDIR ? 'M' : 'E';
		return EVP_DigestUpdate(md, &tag, 1) == 1 ? 0 : -1;
	}
	if ((file = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(file, EVP_sha256(), NULL) != 1)
		goto out;
	tag = 'F';
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		tag = 'E';
	while (tag == 'F') {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			tag = 'E';
		if (n <= 0)
			break;
		if (EVP_DigestUpdate(file, buf, (size_t)n) != 1)
			goto out;
	}
	if (EVP_DigestUpdate(md, &tag, 1) != 1)
		goto out;
	if (tag == 'F' && (EVP_DigestFinal_ex(file, sum, &sumlen) != 1 ||
			   EVP_DigestUpdate(md, sum, sumlen) != 1))
		goto out;
	ret = 0;
out:
	EVP_MD_CTX_free(file);
	close(fd);
	return ret;
}

int
sl_watch_fingerprint(const char *const *paths, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int sumlen = 0;
	EVP_MD_CTX *md;
	int ret = -1;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	for (size_t i = 0; i < n; i++) {
		/* the name with its NUL: no name runs into what follows */
		if (EVP_DigestUpdate(md, paths[i], strlen(paths[i]) + 1) != 1 ||
		    fingerprint_file(md, paths[i]) == -1)
			goto out;
	}
	if (EVP_DigestFinal_ex(md, sum, &sumlen) != 1 || sumlen != 32)
		goto out;
	for (unsigned int i = 0; i < sumlen; i++) {
		out[2 * i] = hex[sum[i] >> 4];
		out[2 * i + 1] = hex[sum[i] & 0x0f];
	}
	out[64] = '\0';
	ret = 0;
out:
	EVP_MD_CTX_free(md);
	return ret;
}
