/* SPDX-License-Identifier: MIT */
/*
 * Following files for changes with inotify (doc/fleet.md section 3): the
 * configuration and the files it names (certificates, keys, CAs, the
 * password file). What is watched for each file is its directory, and the
 * directory of every file a symbolic link on its way leads to, so that
 * each way a file is replaced shows: a write in place, an editor's write
 * to a new file and rename over the old one, a Kubernetes ConfigMap's
 * swap of its "..data" link, a file deleted and created again. Events are
 * debounced: the callback runs once the watched directories were quiet
 * for the debounce time, and says only "something may have changed"; the
 * caller compares contents (sl_watch_fingerprint). Main thread only; one
 * inotify descriptor, one timer.
 */
#ifndef SL_WATCH_H
#define SL_WATCH_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sl_watch;

typedef void sl_watch_fn(void *arg);

/* A watcher on base that calls fn(arg) after changes (fn may call
 * sl_watch_set or sl_watch_free). Returns NULL with errno (inotify_init1
 * failed, out of memory). */
struct sl_watch *sl_watch_new(struct event_base *base, sl_watch_fn *fn,
			      void *arg);

/*
 * From now on watches the n paths (absolute or relative to the current
 * directory), in place of what was watched, and debounces by debounce_ms.
 * Symbolic links are resolved now, so call it again after each reload
 * (the watcher also renews its watches itself before each call of fn).
 * A path whose directory does not exist is skipped. Returns the number of
 * paths watched (0 for n == 0), or -1 with errno (the last path's) when
 * none could be (the caller warns).
 */
int sl_watch_set(struct sl_watch *w, const char *const *paths, size_t n,
		 uint64_t debounce_ms);

/* Stops watching and frees w (NULL is fine). */
void sl_watch_free(struct sl_watch *w);

/*
 * The SHA-256 of what the n paths hold now, as 64 hex digits and a NUL in
 * out: each path's name, then the SHA-256 of its bytes (or a mark that it
 * is missing, or another that it is unreadable), in order, so that two
 * calls agree exactly when every file holds what it held. Relative paths
 * are read from the current directory. Returns 0, or -1 when out of
 * memory.
 */
int sl_watch_fingerprint(const char *const *paths, size_t n, char out[65]);

#endif
