/* SPDX-License-Identifier: MIT */
/* Unit tests for watch.c on real files in a temporary directory and a
 * real event loop: each way a file is replaced (in place, rename over,
 * delete and create, a Kubernetes ConfigMap's swap of "..data") calls the
 * callback, a burst of events calls it once, and the fingerprint changes
 * exactly when contents do. The machine may be loaded, so no upper
 * bound on time is asserted: a wait for the callback has a generous one,
 * "no callback" means none within several times the debounce, and the
 * one bound asserted is a lower one (the debounce), which load cannot
 * break. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "watch.h"

#define DEBOUNCE_MS 50
#define WAIT_MS	    10000 /* for a callback that must come */
#define QUIET_MS    300	  /* for one that must not */

struct fix {
	char dir[64];
	char path[8][PATH_MAX]; /* scratch names under dir */
	struct event_base *base;
	struct event *deadline;
	struct sl_watch *w;
	int fired;
	uint64_t fired_at; /* ms, CLOCK_MONOTONIC, of the last */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
on_change(void *arg)
{
	struct fix *f = arg;

	f->fired++;
	f->fired_at = now_ms();
	event_base_loopbreak(f->base);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct fix *f = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(f->base);
}

/* Runs the loop until the callback has fired `want` times in all or ms
 * pass; returns how many times it has. */
static int
run_until(struct fix *f, int want, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(f->deadline, &tv);
	while (f->fired < want) {
		event_base_dispatch(f->base);
		if (!evtimer_pending(f->deadline, NULL))
			break;
	}
	evtimer_del(f->deadline);
	return f->fired;
}

/* Waits for one more callback; fails the test when none comes. */
#define EXPECT_CHANGE(f)                                                       \
	do {                                                                   \
		int want_ = (f)->fired + 1;                                    \
		assert_int_equal(run_until((f), want_, WAIT_MS), want_);       \
	} while (0)

/* Fails the test when a callback comes within QUIET_MS. */
#define EXPECT_QUIET(f)                                                        \
	do {                                                                   \
		int had_ = (f)->fired;                                         \
		assert_int_equal(run_until((f), had_ + 1, QUIET_MS), had_);    \
	} while (0)

/* dir/name into f->path[i]; returns it. */
static char *
name(struct fix *f, int i, const char *rel)
{
	int n = snprintf(f->path[i], sizeof(f->path[i]), "%s/%s", f->dir, rel);

	assert_true(n > 0 && (size_t)n < sizeof(f->path[i]));
	return f->path[i];
}

/* Writes s[0..n) over path in place: the same inode, truncated. */
static void
put_bytes(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd != -1);
	assert_int_equal(write(fd, s, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
}

static void
put(const char *path, const char *s)
{
	put_bytes(path, s, strlen(s));
}

/* As an editor saves: a new file renamed over the old one. */
static void
put_rename(const char *path, const char *s)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s.tmp~", path);
	put(tmp, s);
	assert_int_equal(rename(tmp, path), 0);
}

static void
mkdir_at(struct fix *f, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void
symlink_at(struct fix *f, const char *target, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	assert_int_equal(symlink(target, p), 0);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_tree(const char *path)
{
	assert_int_equal(nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/sl_watch.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->base = event_base_new();
	f->deadline = evtimer_new(f->base, on_deadline, f);
	f->w = sl_watch_new(f->base, on_change, f);
	if (f->base == NULL || f->deadline == NULL || f->w == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	sl_watch_free(f->w);
	event_free(f->deadline);
	event_base_free(f->base);
	rm_tree(f->dir);
	free(f);
	return 0;
}

static void
watch1(struct fix *f, const char *path)
{
	assert_int_equal(sl_watch_set(f->w, &path, 1, DEBOUNCE_MS), 1);
}

/* ---- the ways a file is replaced ---------------------------------------- */

static void
test_write_in_place(void **state)
{
	struct fix *f = *state;
	char *conf = name(f, 0, "sluice.yaml");

	put(conf, "a: 1\n");
	watch1(f, conf);
	EXPECT_QUIET(f);
	put(conf, "a: 2\n");
	EXPECT_CHANGE(f);
	/* once more: the watch is still there after a callback */
	put(conf, "a: 3\n");
	EXPECT_CHANGE(f);
	EXPECT_QUIET(f);
}

static void
test_rename_over(void **state)
{
	struct fix *f = *state;
	char *conf = name(f, 0, "sluice.yaml");

	put(conf, "a: 1\n");
	watch1(f, conf);
	put_rename(conf, "a: 2\n");
	EXPECT_CHANGE(f);
	put_rename(conf, "a: 3\n");
	EXPECT_CHANGE(f);
}

static void
test_delete_create(void **state)
{
	struct fix *f = *state;
	char *conf = name(f, 0, "sluice.yaml");

	put(conf, "a: 1\n");
	watch1(f, conf);
	assert_int_equal(unlink(conf), 0);
	EXPECT_CHANGE(f);
	put(conf, "a: 2\n");
	EXPECT_CHANGE(f);
	/* both before the loop runs: one callback */
	assert_int_equal(unlink(conf), 0);
	put(conf, "a: 3\n");
	EXPECT_CHANGE(f);
	EXPECT_QUIET(f);
}

/* ---- a Kubernetes ConfigMap ---------------------------------------------- */

/* What the kubelet does on an update: the new data in a directory of its
 * own, "..data_tmp" pointing at it renamed over "..data", the old
 * directory removed. */
static void
cm_swap(struct fix *f, const char *old, const char *new, const char *s)
{
	char p[PATH_MAX], tmp[PATH_MAX];

	mkdir_at(f, new);
	snprintf(p, sizeof(p), "%s/%s/sluice.yaml", f->dir, new);
	put(p, s);
	symlink_at(f, new, "..data_tmp");
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", f->dir);
	snprintf(p, sizeof(p), "%s/..data", f->dir);
	assert_int_equal(rename(tmp, p), 0);
	snprintf(p, sizeof(p), "%s/%s", f->dir, old);
	rm_tree(p);
}

static void
test_configmap(void **state)
{
	struct fix *f = *state;
	const char *t1 = "..2024_01_01_00_00_00.123";
	const char *t2 = "..2024_01_01_00_05_00.456";
	const char *t3 = "..2024_01_01_00_10_00.789";
	const char *conf = name(f, 0, "sluice.yaml");
	char fp0[65], fp1[65], fp2[65], fp3[65], p[PATH_MAX];

	mkdir_at(f, t1);
	put(name(f, 1, "..2024_01_01_00_00_00.123/sluice.yaml"), "v: 1\n");
	symlink_at(f, t1, "..data");
	symlink_at(f, "..data/sluice.yaml", "sluice.yaml");
	watch1(f, conf);
	assert_int_equal(sl_watch_fingerprint(&conf, 1, fp0), 0);

	cm_swap(f, t1, t2, "v: 2\n");
	EXPECT_CHANGE(f);
	assert_int_equal(sl_watch_fingerprint(&conf, 1, fp1), 0);
	assert_string_not_equal(fp0, fp1);

	/* the watcher followed "..data" to the new directory: a write
	 * there, which the ConfigMap's own directory does not see, shows */
	EXPECT_QUIET(f);
	snprintf(p, sizeof(p), "%s/%s/sluice.yaml", f->dir, t2);
	put(p, "v: 2b\n");
	EXPECT_CHANGE(f);
	assert_int_equal(sl_watch_fingerprint(&conf, 1, fp2), 0);
	assert_string_not_equal(fp1, fp2);

	cm_swap(f, t2, t3, "v: 3\n");
	EXPECT_CHANGE(f);
	assert_int_equal(sl_watch_fingerprint(&conf, 1, fp3), 0);
	assert_string_not_equal(fp2, fp3);
	EXPECT_QUIET(f);
	snprintf(p, sizeof(p), "%s/%s/sluice.yaml", f->dir, t3);
	put(p, "v: 3b\n");
	EXPECT_CHANGE(f);
}

/* A path through a link in its middle ("..data/sluice.yaml", as a
 * ConfigMap's files can be named too): the directory holding the link
 * is watched, not only the one the path ends in. */
static void
test_link_in_middle(void **state)
{
	struct fix *f = *state;
	const char *conf = name(f, 0, "..data/sluice.yaml");

	mkdir_at(f, "..2024_a");
	put(name(f, 1, "..2024_a/sluice.yaml"), "v: 1\n");
	symlink_at(f, "..2024_a", "..data");
	watch1(f, conf);
	cm_swap(f, "..2024_a", "..2024_b", "v: 2\n");
	EXPECT_CHANGE(f);
	put(name(f, 1, "..2024_b/sluice.yaml"), "v: 2b\n");
	EXPECT_CHANGE(f);
}

/* ---- several files, links, directories ----------------------------------- */

static void
test_cert_elsewhere(void **state)
{
	struct fix *f = *state;
	const char *paths[4];

	mkdir_at(f, "conf");
	mkdir_at(f, "tls");
	mkdir_at(f, "real");
	mkdir_at(f, "ca");
	paths[0] = name(f, 0, "conf/sluice.yaml");
	paths[1] = name(f, 1, "tls/tls.crt");
	/* a key linked to a file of a third directory, by a relative link
	 * with ".." in it, and a CA by an absolute link to a fourth */
	paths[2] = name(f, 2, "tls/tls.key");
	paths[3] = name(f, 3, "tls/ca.crt");
	put(paths[0], "tls: ...\n");
	put(paths[1], "CERT 1\n");
	put(name(f, 4, "real/key.pem"), "KEY 1\n");
	put(name(f, 5, "ca/ca.pem"), "CA 1\n");
	symlink_at(f, "../real/./key.pem", "tls/tls.key");
	symlink_at(f, f->path[5], "tls/ca.crt");
	assert_int_equal(sl_watch_set(f->w, paths, 4, DEBOUNCE_MS), 4);
	put(paths[1], "CERT 2\n");
	EXPECT_CHANGE(f);
	put(f->path[4], "KEY 2\n");
	EXPECT_CHANGE(f);
	put(f->path[5], "CA 2\n");
	EXPECT_CHANGE(f);
	put(paths[0], "tls: !\n");
	EXPECT_CHANGE(f);
	EXPECT_QUIET(f);
}

/* A link to a directory that does not exist yet: where it would appear
 * is watched, and once it does, the file in it. */
static void
test_dangling_link(void **state)
{
	struct fix *f = *state;
	const char *conf = name(f, 0, "sluice.yaml");

	symlink_at(f, "later/sluice.yaml", "sluice.yaml");
	watch1(f, conf);
	mkdir_at(f, "later");
	EXPECT_CHANGE(f);
	put(name(f, 1, "later/sluice.yaml"), "v: 1\n");
	EXPECT_CHANGE(f);
	put(f->path[1], "v: 2\n");
	EXPECT_CHANGE(f);
}

/* Links in a loop end the walk; the path's own directory is watched. */
static void
test_link_loop(void **state)
{
	struct fix *f = *state;
	const char *conf = name(f, 0, "a");

	symlink_at(f, "b", "a");
	symlink_at(f, "a", "b");
	watch1(f, conf);
	/* the walk ended, and the link itself is watched: the loop broken
	 * by a file in its place is a change; a file beside it is not */
	put(name(f, 1, "c"), "x\n");
	EXPECT_QUIET(f);
	assert_int_equal(unlink(conf), 0);
	put(conf, "x\n");
	EXPECT_CHANGE(f);
}

/* A file beside the watched one, written all the time (a log): not a
 * change, and it does not hold a change of the watched file back. */
static void
busy_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	put(arg, "busy\n");
}

static void
test_busy_neighbour(void **state)
{
	struct fix *f = *state;
	const char *conf = name(f, 0, "sluice.yaml");
	struct timeval every = {0, 10000};
	struct event *busy;

	put(conf, "a: 1\n");
	watch1(f, conf);
	busy = event_new(f->base, -1, EV_PERSIST, busy_write,
			 name(f, 1, "busy.log"));
	assert_non_null(busy);
	assert_int_equal(event_add(busy, &every), 0);
	EXPECT_QUIET(f);
	put(conf, "a: 2\n");
	EXPECT_CHANGE(f);
	event_free(busy);
}

static void
test_relative_path(void **state)
{
	struct fix *f = *state;
	const char *rel = "rel.yaml";
	char cwd[PATH_MAX];

	put(name(f, 0, "rel.yaml"), "a: 1\n");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(sl_watch_set(f->w, &rel, 1, DEBOUNCE_MS), 1);
	/* taken as it was when set, whatever the directory is now */
	assert_int_equal(chdir(cwd), 0);
	put(f->path[0], "a: 2\n");
	EXPECT_CHANGE(f);
}

/* ---- debounce --------------------------------------------------------------
 */

static void
test_debounce(void **state)
{
	struct fix *f = *state;
	const char *conf = name(f, 0, "sluice.yaml");
	const uint64_t debounce_ms = 300, gap_ms = 100;
	uint64_t start[5], read[5];
	int steady = 1;

	put(conf, "a: 0\n");
	watch1(f, conf);
	/* a burst before the loop runs: read at once, one callback */
	for (int i = 0; i < 20; i++) {
		char s[16];
		snprintf(s, sizeof(s), "a: %d\n", i);
		put_rename(conf, s);
	}
	EXPECT_CHANGE(f);
	EXPECT_QUIET(f);
	assert_int_equal(f->fired, 1);

	/*
	 * Events spread over more than the debounce time, each within it of
	 * the one before: each read starts the quiet time again, so one
	 * callback, after the last. Only the loop's own runs can call it:
	 * between start[i] and read[i+1] the timer armed by event i (at
	 * start[i] or later) cannot expire when that is shorter than the
	 * debounce. A machine too slow for that is told apart, not failed.
	 */
	assert_int_equal(sl_watch_set(f->w, &conf, 1, debounce_ms), 1);
	for (int i = 0; i < 5; i++) {
		start[i] = now_ms();
		put(conf, "b\n");
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		read[i] = now_ms();
		if (i > 0 && read[i] - start[i - 1] + 20 >= debounce_ms)
			steady = 0;
		if (i < 4)
			usleep((useconds_t)gap_ms * 1000);
	}
	if (steady)
		assert_int_equal(f->fired, 1);
	else
		print_message("test_debounce: the machine stalled, the "
			      "burst spread out; one callback not checked\n");
	EXPECT_CHANGE(f);
	/* whatever the load: the last callback comes a debounce time after
	 * the last event at the earliest (less libevent's coarse clock) */
	assert_true(f->fired_at + 20 >= start[4] + debounce_ms);
	assert_int_equal(run_until(f, f->fired + 1, 3 * (int)debounce_ms),
			 f->fired);
	assert_true(read[4] - start[0] > debounce_ms);
}

/* ---- sl_watch_set ---------------------------------------------------------
 */

static void
test_replace_set(void **state)
{
	struct fix *f = *state;
	const char *old = name(f, 0, "a/old.yaml");
	const char *new = name(f, 1, "b/new.yaml");

	mkdir_at(f, "a");
	mkdir_at(f, "b");
	put(old, "1\n");
	put(new, "1\n");
	watch1(f, old);
	put(old, "2\n");
	EXPECT_CHANGE(f);
	watch1(f, new);
	put(old, "3\n");
	EXPECT_QUIET(f);
	put(new, "2\n");
	EXPECT_CHANGE(f);
	/* an empty set watches nothing */
	assert_int_equal(sl_watch_set(f->w, NULL, 0, DEBOUNCE_MS), 0);
	put(new, "3\n");
	EXPECT_QUIET(f);
}

static void
test_missing_dir(void **state)
{
	struct fix *f = *state;
	const char *paths[2];

	paths[0] = name(f, 0, "nodir/sluice.yaml");
	paths[1] = name(f, 1, "here.yaml");
	assert_int_equal(sl_watch_set(f->w, paths, 2, DEBOUNCE_MS), 1);
	put(paths[1], "x\n");
	EXPECT_CHANGE(f);

	errno = 0;
	assert_int_equal(sl_watch_set(f->w, paths, 1, DEBOUNCE_MS), -1);
	assert_int_equal(errno, ENOENT);
	put(paths[1], "y\n");
	EXPECT_QUIET(f);
	/* a "directory" that is a file */
	paths[0] = name(f, 2, "here.yaml/x");
	assert_int_equal(sl_watch_set(f->w, paths, 1, DEBOUNCE_MS), -1);
	assert_int_equal(errno, ENOTDIR);
}

/* The watched directory itself removed: a change, and no stale watch. */
static void
test_dir_removed(void **state)
{
	struct fix *f = *state;
	const char *conf = name(f, 0, "d/sluice.yaml");

	mkdir_at(f, "d");
	put(conf, "1\n");
	watch1(f, conf);
	rm_tree(name(f, 1, "d"));
	EXPECT_CHANGE(f);
	/* nothing left to watch until the caller sets it again */
	mkdir_at(f, "d");
	put(conf, "2\n");
	EXPECT_QUIET(f);
	watch1(f, conf);
	put(conf, "3\n");
	EXPECT_CHANGE(f);
}

/* sl_watch_set from the callback, as the caller's reload does. */
static struct fix *reset_fix;
static const char *reset_path;

static void
on_change_reset(void *arg)
{
	on_change(arg);
	assert_int_equal(
	    sl_watch_set(reset_fix->w, &reset_path, 1, DEBOUNCE_MS), 1);
}

static void
test_set_from_callback(void **state)
{
	struct fix *f = *state;

	reset_fix = f;
	reset_path = name(f, 0, "sluice.yaml");
	put(reset_path, "1\n");
	sl_watch_free(f->w);
	f->w = sl_watch_new(f->base, on_change_reset, f);
	assert_non_null(f->w);
	watch1(f, reset_path);
	put_rename(reset_path, "2\n");
	EXPECT_CHANGE(f);
	put_rename(reset_path, "3\n");
	EXPECT_CHANGE(f);
}

static void
test_free_null(void **state)
{
	(void)state;
	sl_watch_free(NULL);
}

/* ---- fingerprint -----------------------------------------------------------
 */

static int
is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

static void
test_fingerprint(void **state)
{
	struct fix *f = *state;
	const char *paths[2];
	char a[65], b[65], c[65];

	paths[0] = name(f, 0, "one");
	paths[1] = name(f, 1, "two");
	put(paths[0], "hello\n");
	put(paths[1], "");
	assert_int_equal(sl_watch_fingerprint(paths, 2, a), 0);
	assert_true(is_hex64(a));
	assert_int_equal(sl_watch_fingerprint(paths, 2, b), 0);
	assert_string_equal(a, b);
	/* same contents by another way: the same */
	put_rename(paths[0], "hello\n");
	assert_int_equal(sl_watch_fingerprint(paths, 2, b), 0);
	assert_string_equal(a, b);
	/* one byte more */
	put(paths[0], "hello!\n");
	assert_int_equal(sl_watch_fingerprint(paths, 2, b), 0);
	assert_string_not_equal(a, b);
	put(paths[0], "hello\n");
	assert_int_equal(sl_watch_fingerprint(paths, 2, b), 0);
	assert_string_equal(a, b);
	/* missing is not empty */
	assert_int_equal(unlink(paths[1]), 0);
	assert_int_equal(sl_watch_fingerprint(paths, 2, b), 0);
	assert_string_not_equal(a, b);
	put(paths[1], "");
	/* unreadable (a directory) is neither */
	assert_int_equal(unlink(paths[1]), 0);
	assert_int_equal(mkdir(paths[1], 0755), 0);
	assert_int_equal(sl_watch_fingerprint(paths, 2, c), 0);
	assert_string_not_equal(a, c);
	assert_string_not_equal(b, c);
	assert_int_equal(rmdir(paths[1]), 0);
	put(paths[1], "");
	assert_int_equal(sl_watch_fingerprint(paths, 2, b), 0);
	assert_string_equal(a, b);
	/* the order and the names count */
	const char *swapped[2] = {paths[1], paths[0]};
	assert_int_equal(sl_watch_fingerprint(swapped, 2, b), 0);
	assert_string_not_equal(a, b);
	/* "hello\n" + name2 + NUL + "x" and nothing, against "hello\n" and
	 * "x" + name2 + NUL: the same bytes if names and contents were
	 * only strung together */
	char tricky[PATH_MAX + 8];
	int n = snprintf(tricky, sizeof(tricky), "hello\n%s", paths[1]);
	tricky[n + 1] = 'x';
	put_bytes(paths[0], tricky, (size_t)n + 2);
	put(paths[1], "");
	assert_int_equal(sl_watch_fingerprint(paths, 2, b), 0);
	n = snprintf(tricky, sizeof(tricky), "x%s", paths[1]);
	put(paths[0], "hello\n");
	put_bytes(paths[1], tricky, (size_t)n + 1);
	assert_int_equal(sl_watch_fingerprint(paths, 2, c), 0);
	assert_string_not_equal(b, c);
	/* no paths: the digest of nothing */
	assert_int_equal(sl_watch_fingerprint(NULL, 0, a), 0);
	assert_string_equal(a, "e3b0c44298fc1c149afbf4c8996fb924"
			       "27ae41e4649b934ca495991b7852b855");
	/* reading them is no change */
	watch1(f, paths[0]);
	assert_int_equal(sl_watch_fingerprint(paths, 2, a), 0);
	EXPECT_QUIET(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write_in_place, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rename_over, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_create, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_configmap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_in_middle, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_cert_elsewhere, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_dangling_link, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_link_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_busy_neighbour, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_relative_path, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_debounce, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replace_set, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_removed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_from_callback, setup,
					    teardown),
	    cmocka_unit_test(test_free_null),
	    cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
