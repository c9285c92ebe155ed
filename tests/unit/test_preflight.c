/* SPDX-License-Identifier: MIT */
/* Unit tests for preflight.c: when an access log path could be opened for
 * appending, when a pid file could be written, the error lines
 * sl_preflight() writes, and that sl_preflight_ports() checks an http3
 * listener's UDP port (with a UDP socket of the test's own). Works in a
 * fresh
 * temporary directory; creates nothing the code under test should have
 * created. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf_types.h"
#include "preflight.h"

static char dir[] = "/tmp/sl-preflight-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
appendable(const char *path, char *why, size_t whysz)
{
	why[0] = '\0';
	return sl_preflight_appendable(path, why, whysz);
}

static void
test_appendable(void **state)
{
	char path[256], why[512], want[512];
	struct stat st;
	FILE *f;

	(void)state;
	/* a new file in a writable directory, created by nobody */
	snprintf(path, sizeof(path), "%s/access.log", dir);
	assert_int_equal(appendable(path, why, sizeof(why)), 0);
	assert_int_equal(stat(path, &st), -1);
	/* an existing writable file */
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(appendable(path, why, sizeof(why)), 0);
	/* a directory that does not exist */
	snprintf(path, sizeof(path), "%s/nope/access.log", dir);
	assert_int_equal(appendable(path, why, sizeof(why)), -1);
	snprintf(want, sizeof(want), "the directory \"%s/nope\" does not exist",
		 dir);
	assert_string_equal(why, want);
	/* the path is a directory */
	assert_int_equal(appendable(dir, why, sizeof(why)), -1);
	assert_string_equal(why, "it is a directory");
	/* a component is a file */
	snprintf(path, sizeof(path), "%s/access.log/x", dir);
	assert_int_equal(appendable(path, why, sizeof(why)), -1);
	assert_string_equal(why, "Not a directory");
	/* a bare name lives in the working directory, "/x" in "/" */
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(appendable("bare.log", why, sizeof(why)), 0);
	if (geteuid() != 0) {
		/* "/" is not writable for others */
		assert_int_equal(
		    appendable("/sl-preflight-test.log", why, sizeof(why)), -1);
		assert_non_null(strstr(why, "cannot be created in \"/\""));
	}
}

static void
test_errors(void **state)
{
	struct sl_conf conf;
	char path[256], want[768], *e;

	(void)state;
	memset(&conf, 0, sizeof(conf));
	conf.path = "my.yaml";
	snprintf(path, sizeof(path), "%s/gone/a.log", dir);
	conf.access_log = path;
	conf.access_log_pos.line = 4;
	conf.access_log_pos.col = 11;
	assert_non_null(e = sl_preflight(&conf, NULL));
	snprintf(want, sizeof(want),
		 "my.yaml:4:11: error: \"access\": cannot open \"%s\" for "
		 "appending: the directory \"%s/gone\" does not exist\n",
		 path, dir);
	assert_string_equal(e, want);
	free(e);
	/* what is open already is not checked again (a reload) */
	assert_null(sl_preflight(&conf, path));
	/* nothing to open */
	conf.access_log = "off";
	assert_null(sl_preflight(&conf, NULL));
	conf.access_log = "stdout";
	assert_null(sl_preflight(&conf, NULL));
	conf.access_log = "stderr";
	assert_null(sl_preflight(&conf, NULL));
}

static void
test_pidfile(void **state)
{
	char path[256], why[512], want[512];
	struct stat st;
	FILE *f;

	(void)state;
	/* a new file in a writable directory, created by nobody */
	snprintf(path, sizeof(path), "%s/sluice.pid", dir);
	why[0] = '\0';
	assert_int_equal(sl_preflight_pidfile(path, why, sizeof(why)), 0);
	assert_int_equal(stat(path, &st), -1);
	/* an existing one, even read-only: it is replaced by a rename */
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(chmod(path, 0444), 0);
	assert_int_equal(sl_preflight_pidfile(path, why, sizeof(why)), 0);
	assert_int_equal(unlink(path), 0);
	/* a missing directory */
	snprintf(path, sizeof(path), "%s/run/sluice.pid", dir);
	assert_int_equal(sl_preflight_pidfile(path, why, sizeof(why)), -1);
	snprintf(want, sizeof(want), "the directory \"%s/run\" does not exist",
		 dir);
	assert_string_equal(why, want);
	/* a directory in its place */
	assert_int_equal(sl_preflight_pidfile(dir, why, sizeof(why)), -1);
	assert_string_equal(why, "it is a directory");
	assert_int_equal(sl_preflight_pidfile("", why, sizeof(why)), -1);
	/* a directory that is not writable (root writes anywhere) */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "%s/ro", dir);
		assert_int_equal(mkdir(path, 0555), 0);
		snprintf(path, sizeof(path), "%s/ro/sluice.pid", dir);
		assert_int_equal(sl_preflight_pidfile(path, why, sizeof(why)),
				 -1);
		assert_non_null(strstr(why, "cannot be created in"));
	}
}

static void
test_ports_udp(void **state)
{
	struct sl_conf conf;
	struct sl_conf_listener l;
	struct sockaddr_in *sin = (struct sockaddr_in *)&l.addr.ss;
	socklen_t len = sizeof(struct sockaddr_in);
	char text[32], comm[32] = "", want[256], *e, *warn;
	FILE *f;
	int fd;

	(void)state;
	/* issue 77: an http3 listener whose UDP port a process holds (the
	 * test itself, with nothing on the TCP port) was called free */
	memset(&conf, 0, sizeof(conf));
	memset(&l, 0, sizeof(l));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	snprintf(text, sizeof(text), "127.0.0.1:%u", ntohs(sin->sin_port));
	l.name = "pub";
	l.addr.text = text;
	l.addr.sslen = len;
	l.addr_pos.line = 4;
	l.addr_pos.col = 14;
	conf.path = "my.yaml"; /* no such file: no sluice serves it */
	conf.listeners = &l;
	conf.nlisteners = 1;
	/* without http3 the UDP port is none of its business */
	e = sl_preflight_ports(&conf, "/nonexistent", NULL, 0, 0, &warn);
	if (warn != NULL)
		skip(); /* no socket table to read here */
	/* (a TCP line, only if some connection happens to hold the port) */
	assert_true(e == NULL || strstr(e, "UDP") == NULL);
	free(e);
	l.http3.enabled = 1;
	assert_non_null(
	    e = sl_preflight_ports(&conf, "/nonexistent", NULL, 0, 0, &warn));
	assert_null(warn);
	assert_non_null(f = fopen("/proc/self/comm", "r"));
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(want, sizeof(want),
		 "my.yaml:4:14: error: listener \"pub\" UDP %s (http3): "
		 "address already in use by pid %ld (%s)\n",
		 text, (long)getpid(), comm);
	assert_non_null(strstr(e, want));
	free(e);
	close(fd);
	/* once it is closed, the port is free again (a TCP line only if
	 * some connection of another test happens to hold the port) */
	e = sl_preflight_ports(&conf, "/nonexistent", NULL, 0, 0, &warn);
	assert_true(e == NULL || strstr(e, "UDP") == NULL);
	free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_appendable),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_pidfile),
	    cmocka_unit_test(test_ports_udp),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
