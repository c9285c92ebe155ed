/* SPDX-License-Identifier: MIT */
/* Unit tests for portcheck.c's pure parts: which listening addresses
 * overlap, the /proc/net/tcp* parser of the fallback path (netlink covers
 * the integration tests, so the parser is checked here against lines as
 * the kernel prints them) and of connections in every state, how a
 * holder and a connection are named, which ports the kernel gives
 * outgoing connections, and which configuration file a sluice command
 * line serves; the /proc/net/udp* parser and, with a UDP socket of the
 * test's own, how the holder of an http3 listener's UDP port is found
 * and named (issue 77). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "portcheck.h"

static struct sockaddr_storage
addr(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return ss;
}

static int
overlap(const char *a, unsigned pa, const char *b, unsigned pb, int v6only)
{
	struct sockaddr_storage sa = addr(a, pa);
	struct sl_listen_sock ls = {.ss = addr(b, pb), .v6only = v6only};

	return sl_portcheck_overlap(&sa, &ls);
}

static void
test_overlap(void **state)
{
	(void)state;
	/* same family */
	assert_true(overlap("127.0.0.1", 80, "127.0.0.1", 80, 0));
	assert_false(overlap("127.0.0.1", 80, "127.0.0.1", 81, 0));
	assert_false(overlap("127.0.0.1", 80, "127.0.0.2", 80, 0));
	assert_true(overlap("127.0.0.1", 80, "0.0.0.0", 80, 0));
	assert_true(overlap("0.0.0.0", 80, "10.1.2.3", 80, 0));
	assert_true(overlap("::1", 80, "::1", 80, 1));
	assert_true(overlap("::1", 80, "::", 80, 1));
	assert_false(overlap("::1", 80, "::2", 80, 1));
	/* an IPv4 address and IPv6 sockets */
	assert_true(overlap("127.0.0.1", 80, "::", 80, 0));
	assert_false(overlap("127.0.0.1", 80, "::", 80, 1));
	assert_true(overlap("127.0.0.1", 80, "::ffff:127.0.0.1", 80, 0));
	assert_true(overlap("0.0.0.0", 80, "::ffff:10.0.0.1", 80, 0));
	assert_false(overlap("127.0.0.1", 80, "::ffff:10.0.0.1", 80, 0));
	assert_false(overlap("127.0.0.1", 80, "::1", 80, 0));
	assert_false(overlap("127.0.0.1", 80, "::", 81, 0));
	/* sluice's IPv6 listeners are V6ONLY: IPv4 sockets never meet them */
	assert_false(overlap("::", 80, "0.0.0.0", 80, 0));
}

static void
test_v4_alias(void **state)
{
	struct sockaddr_storage a, v4;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&v4;
	char ip[INET_ADDRSTRLEN];

	(void)state;
	/* a dual-stack socket on [::] takes 0.0.0.0 too */
	a = addr("::", 9901);
	assert_int_equal(sl_portcheck_v4_alias(&a, &v4), 1);
	assert_int_equal(v4.ss_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 9901);
	assert_non_null(inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)));
	assert_string_equal(ip, "0.0.0.0");
	a = addr("::ffff:127.0.0.1", 80);
	assert_int_equal(sl_portcheck_v4_alias(&a, &v4), 1);
	assert_non_null(inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)));
	assert_string_equal(ip, "127.0.0.1");
	a = addr("::1", 80);
	assert_int_equal(sl_portcheck_v4_alias(&a, &v4), 0);
	a = addr("127.0.0.1", 80);
	assert_int_equal(sl_portcheck_v4_alias(&a, &v4), 0);
}

static void
test_parse_proc_v4(void **state)
{
	struct sl_listen_sock ls;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ls.ss;
	char ip[INET_ADDRSTRLEN];

	(void)state;
	assert_int_equal(
	    sl_portcheck_parse_proc(
		"  sl  local_address rem_address   st tx_queue rx_queue tr "
		"tm->when retrnsmt   uid  timeout inode\n",
		AF_INET, &ls),
	    0);
	assert_int_equal(
	    sl_portcheck_parse_proc(
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 "
		"00:00000000 00000000     0        0 123456 1 0000000000000000 "
		"100 0 0 10 0\n",
		AF_INET, &ls),
	    1);
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 8080);
	assert_non_null(inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)));
	assert_string_equal(ip, "127.0.0.1");
	assert_int_equal(ls.inode, 123456);
	assert_int_equal(ls.uid, 0);
	assert_int_equal(
	    sl_portcheck_parse_proc(
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 "
		"00:00000000 00000000  1000        0 4242 1 0000000000000000 "
		"100 0 0 10 0\n",
		AF_INET, &ls),
	    1);
	assert_int_equal(ls.uid, 1000);
	assert_int_equal(ls.inode, 4242);
	/* an established connection is not a listener */
	assert_int_equal(
	    sl_portcheck_parse_proc(
		"   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 "
		"00:00000000 00000000     0        0 7 1\n",
		AF_INET, &ls),
	    0);
	assert_int_equal(
	    sl_portcheck_parse_proc("   2: garbage\n", AF_INET, &ls), -1);
}

static void
test_parse_proc_v6(void **state)
{
	struct sl_listen_sock ls;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ls.ss;
	char ip[INET6_ADDRSTRLEN];

	(void)state;
	/* ::1 as the kernel prints it: four host-order words */
	assert_int_equal(sl_portcheck_parse_proc(
			     "   0: 00000000000000000000000001000000:0050 "
			     "00000000000000000000000000000000:0000 0A "
			     "00000000:00000000 00:00000000 00000000  1000 "
			     "0 99 1\n",
			     AF_INET6, &ls),
			 1);
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(s6->sin6_port), 80);
	assert_non_null(inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip)));
	assert_string_equal(ip, "::1");
	assert_int_equal(ls.inode, 99);
	/* ::ffff:127.0.0.1 */
	assert_int_equal(sl_portcheck_parse_proc(
			     "   1: 0000000000000000FFFF00000100007F:0050 "
			     "00000000000000000000000000000000:0000 0A "
			     "00000000:00000000 00:00000000 00000000  1000 "
			     "0 98 1\n",
			     AF_INET6, &ls),
			 1);
	assert_non_null(inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip)));
	assert_string_equal(ip, "::ffff:127.0.0.1");
	/* an IPv4-length address in the IPv6 table is malformed */
	assert_int_equal(sl_portcheck_parse_proc(
			     "   2: 0100007F:0050 00000000:0000 0A "
			     "00000000:00000000 00:00000000 00000000  1000 "
			     "0 97 1\n",
			     AF_INET6, &ls),
			 -1);
}

static void
test_describe(void **state)
{
	struct sl_port_holder h = {.inode = 7, .uid = 33, .pid = 4242};
	char out[128];

	(void)state;
	snprintf(h.comm, sizeof(h.comm), "nginx");
	sl_portcheck_describe(&h, out, sizeof(out));
	assert_string_equal(out, "pid 4242 (nginx)");
	/* found in /proc but its name could not be read */
	h.comm[0] = '\0';
	sl_portcheck_describe(&h, out, sizeof(out));
	assert_string_equal(out, "pid 4242 (?)");
	/* another user's process: only the socket's owner is known */
	h.pid = 0;
	sl_portcheck_describe(&h, out, sizeof(out));
	assert_string_equal(out, "a process this user cannot see (uid 33)");
}

static void
test_parse_tcp(void **state)
{
	struct sl_tcp_sock t;
	struct sockaddr_in *l4 = (struct sockaddr_in *)&t.local;
	struct sockaddr_in *r4 = (struct sockaddr_in *)&t.remote;
	struct sockaddr_in6 *l6 = (struct sockaddr_in6 *)&t.local;
	char ip[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(
	    sl_portcheck_parse_tcp(
		"  sl  local_address rem_address   st tx_queue rx_queue tr "
		"tm->when retrnsmt   uid  timeout inode\n",
		AF_INET, &t),
	    0);
	/* an outgoing connection 127.0.0.1:50000 -> 127.0.0.1:8080 */
	assert_int_equal(
	    sl_portcheck_parse_tcp(
		"   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 "
		"00:00000000 00000000  1000        0 777 1 0000000000000000 "
		"20 4 30 10 -1\n",
		AF_INET, &t),
	    1);
	assert_int_equal(t.state, 1);
	assert_string_equal(sl_portcheck_state_str(t.state), "ESTABLISHED");
	assert_int_equal(ntohs(l4->sin_port), 50000);
	assert_int_equal(ntohs(r4->sin_port), 8080);
	assert_non_null(inet_ntop(AF_INET, &r4->sin_addr, ip, sizeof(ip)));
	assert_string_equal(ip, "127.0.0.1");
	assert_int_equal(t.inode, 777);
	assert_int_equal(t.uid, 1000);
	/* TIME_WAIT, as the kernel prints it: no uid, no inode */
	assert_int_equal(
	    sl_portcheck_parse_tcp(
		"   2: 0100007F:C350 0200007F:0050 06 00000000:00000000 "
		"03:000015F5 00000000     0        0 0 3 0000000000000000\n",
		AF_INET, &t),
	    1);
	assert_string_equal(sl_portcheck_state_str(t.state), "TIME_WAIT");
	assert_int_equal(t.inode, 0);
	assert_non_null(inet_ntop(AF_INET, &r4->sin_addr, ip, sizeof(ip)));
	assert_string_equal(ip, "127.0.0.2");
	/* a listener parses too (the caller tells them apart) */
	assert_int_equal(
	    sl_portcheck_parse_tcp(
		"   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 "
		"00:00000000 00000000     0        0 5 1\n",
		AF_INET, &t),
	    1);
	assert_string_equal(sl_portcheck_state_str(t.state), "LISTEN");
	/* IPv6: ::1 port 443, connected to ::1 port 50001 */
	assert_int_equal(sl_portcheck_parse_tcp(
			     "   0: 00000000000000000000000001000000:01BB "
			     "00000000000000000000000001000000:C351 01 "
			     "00000000:00000000 00:00000000 00000000  1000 "
			     "0 99 1\n",
			     AF_INET6, &t),
			 1);
	assert_int_equal(ntohs(l6->sin6_port), 443);
	assert_non_null(inet_ntop(AF_INET6, &l6->sin6_addr, ip, sizeof(ip)));
	assert_string_equal(ip, "::1");
	/* a remote address of the wrong length is malformed */
	assert_int_equal(
	    sl_portcheck_parse_tcp(
		"   3: 0100007F:C350 0100:1F90 01 00000000:00000000 "
		"00:00000000 00000000  1000        0 7 1\n",
		AF_INET, &t),
	    -1);
	assert_string_equal(sl_portcheck_state_str(0), "?");
	assert_string_equal(sl_portcheck_state_str(13), "?");
	assert_string_equal(sl_portcheck_state_str(-1), "?");
}

static void
test_describe_conn(void **state)
{
	struct sl_conn_holder h;
	char out[256];

	(void)state;
	memset(&h, 0, sizeof(h));
	h.sock.state = 1;
	h.sock.inode = 777;
	h.sock.uid = 33;
	h.sock.remote = addr("127.0.0.1", 8080);
	h.pid = 4242;
	snprintf(h.comm, sizeof(h.comm), "curl");
	sl_portcheck_describe_conn(&h, out, sizeof(out));
	assert_string_equal(out, "a connection (state ESTABLISHED, to "
				 "127.0.0.1:8080) owned by pid 4242 (curl)");
	/* another user's */
	h.pid = 0;
	h.comm[0] = '\0';
	sl_portcheck_describe_conn(&h, out, sizeof(out));
	assert_string_equal(out, "a connection (state ESTABLISHED, to "
				 "127.0.0.1:8080) owned by a process this "
				 "user cannot see (uid 33)");
	/* closed: TIME_WAIT, and an orphan in another state */
	h.sock.inode = 0;
	h.sock.state = 6;
	h.sock.remote = addr("::1", 443);
	sl_portcheck_describe_conn(&h, out, sizeof(out));
	assert_string_equal(out, "a connection (state TIME_WAIT, to [::1]:443) "
				 "that no process owns (the kernel keeps it "
				 "60 s after its close)");
	h.sock.state = 5;
	sl_portcheck_describe_conn(&h, out, sizeof(out));
	assert_string_equal(out, "a connection (state FIN_WAIT2, to [::1]:443) "
				 "that no process owns (closed; the kernel "
				 "ends it on its own)");
}

static void
test_ephemeral(void **state)
{
	unsigned lo = 0, hi = 0;

	(void)state;
	/* as /proc/sys/net/ipv4/ip_local_port_range prints it */
	assert_int_equal(
	    sl_portcheck_ephemeral("32768\t60999\n", "\n", 40000, &lo, &hi), 1);
	assert_int_equal(lo, 32768);
	assert_int_equal(hi, 60999);
	assert_int_equal(
	    sl_portcheck_ephemeral("32768\t60999\n", NULL, 32768, &lo, &hi), 1);
	assert_int_equal(
	    sl_portcheck_ephemeral("32768\t60999\n", "", 60999, &lo, &hi), 1);
	assert_int_equal(
	    sl_portcheck_ephemeral("32768\t60999\n", "", 8080, &lo, &hi), 0);
	assert_int_equal(
	    sl_portcheck_ephemeral("32768\t60999\n", "", 61000, &lo, &hi), 0);
	/* reserved ports are never given out */
	assert_int_equal(sl_portcheck_ephemeral("32768 60999",
						"8080,40000-40010,50000\n",
						40005, &lo, &hi),
			 0);
	assert_int_equal(sl_portcheck_ephemeral("32768 60999",
						"8080,40000-40010,50000\n",
						50000, &lo, &hi),
			 0);
	assert_int_equal(sl_portcheck_ephemeral("32768 60999",
						"8080,40000-40010,50000\n",
						40011, &lo, &hi),
			 1);
	/* what does not parse tells nothing */
	assert_int_equal(sl_portcheck_ephemeral("", "", 40000, &lo, &hi), 0);
	assert_int_equal(
	    sl_portcheck_ephemeral("60999 32768", "", 40000, &lo, &hi), 0);
	/* a reserved list is read up to what is no port or range (the
	 * kernel prints none such) */
	assert_int_equal(
	    sl_portcheck_ephemeral("32768 60999", "x,40000", 40000, &lo, &hi),
	    1);
	assert_int_equal(sl_portcheck_ephemeral("32768 60999", "40000-,40000",
						40000, &lo, &hi),
			 1);
}

/* The configuration file of the command line args (NULL-terminated), as
 * /proc/PID/cmdline holds it: each argument followed by a NUL. */
static const char *
conf_of(char *buf, size_t bufsz, const char *const *args)
{
	size_t len = 0;

	for (; *args != NULL; args++) {
		size_t n = strlen(*args) + 1;
		assert_true(len + n <= bufsz);
		memcpy(buf + len, *args, n);
		len += n;
	}
	return sl_portcheck_cmdline_conf(buf, len, "/etc/sluice/sluice.yaml");
}

#define CONF_OF(...)                                                           \
	conf_of(buf, sizeof(buf), (const char *const[]){__VA_ARGS__, NULL})

static void
test_cmdline_conf(void **state)
{
	char buf[512];

	(void)state;
	/* no -c: the default file */
	assert_string_equal(CONF_OF("sluice"), "/etc/sluice/sluice.yaml");
	assert_string_equal(CONF_OF("/usr/sbin/sluice", "-p", "/run/s.pid"),
			    "/etc/sluice/sluice.yaml");
	/* -c FILE, -cFILE, the last one wins (getopt) */
	assert_string_equal(CONF_OF("sluice", "-c", "/a.yaml"), "/a.yaml");
	assert_string_equal(CONF_OF("sluice", "-c/a.yaml"), "/a.yaml");
	assert_string_equal(CONF_OF("sluice", "-c", "a.yaml", "-c", "b.yaml"),
			    "b.yaml");
	assert_string_equal(
	    CONF_OF("sluice", "-p", "/run/s.pid", "-c", "/x/s.yaml"),
	    "/x/s.yaml");
	assert_string_equal(CONF_OF("sluice", "-p/run/s.pid", "-c", "-t"),
			    "-t");
	assert_string_equal(CONF_OF("sluice", "-c", "/a.yaml", "--"),
			    "/a.yaml");
	/* command lines that run no server */
	assert_null(CONF_OF("sluice", "-t", "-c", "/a.yaml"));
	assert_null(CONF_OF("sluice", "-c", "/a.yaml", "-t"));
	assert_null(CONF_OF("sluice", "-tc", "/a.yaml"));
	assert_null(CONF_OF("sluice", "-V"));
	assert_null(CONF_OF("sluice", "-h"));
	assert_null(CONF_OF("sluice", "-x"));
	assert_null(CONF_OF("sluice", "-c"));
	assert_null(CONF_OF("sluice", "-c", "/a.yaml", "extra"));
	assert_null(CONF_OF("sluice", "-c", "/a.yaml", "--", "extra"));
	assert_null(CONF_OF("sluice", "-"));
	assert_null(sl_portcheck_cmdline_conf("", 0, "/d"));
	/* a command line cut short (no final NUL): not known */
	memcpy(buf, "sluice\0-c\0/a.yaml\0", 18);
	assert_string_equal(sl_portcheck_cmdline_conf(buf, 18, "/d"),
			    "/a.yaml");
	assert_null(sl_portcheck_cmdline_conf(buf, 17, "/d"));
	assert_null(sl_portcheck_cmdline_conf(buf, 10, "/d"));
	assert_null(sl_portcheck_cmdline_conf(buf, 6, "/d"));
	assert_string_equal(sl_portcheck_cmdline_conf(buf, 7, "/d"), "/d");
}

static void
test_parse_udp(void **state)
{
	struct sl_listen_sock ls;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ls.ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ls.ss;
	char ip[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(
	    sl_portcheck_parse_udp(
		"   sl  local_address rem_address   st tx_queue rx_queue tr "
		"tm->when retrnsmt   uid  timeout inode ref pointer drops\n",
		AF_INET, &ls),
	    0);
	/* a bound socket is in 07 (CLOSE): UDP has no LISTEN state, and
	 * the TCP parser calls it no listener */
	static const char bound[] =
	    " 1234: 0100007F:20FB 00000000:0000 07 00000000:00000000 "
	    "00:00000000 00000000     0        0 98765 2 0000000000000000 0\n";
	assert_int_equal(sl_portcheck_parse_proc(bound, AF_INET, &ls), 0);
	assert_int_equal(sl_portcheck_parse_udp(bound, AF_INET, &ls), 1);
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 8443);
	assert_non_null(inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)));
	assert_string_equal(ip, "127.0.0.1");
	assert_int_equal(ls.inode, 98765);
	assert_int_equal(ls.uid, 0);
	/* a connected one (01) holds its port too */
	assert_int_equal(
	    sl_portcheck_parse_udp(
		" 1300: 0100007F:20FB 0100007F:0035 01 00000000:00000000 "
		"00:00000000 00000000  1000        0 555 2 0000000000000000 "
		"0\n",
		AF_INET, &ls),
	    1);
	assert_int_equal(ls.uid, 1000);
	assert_int_equal(ls.inode, 555);
	/* a socket on no port holds none */
	assert_int_equal(
	    sl_portcheck_parse_udp(
		"   12: 00000000:0000 00000000:0000 07 00000000:00000000 "
		"00:00000000 00000000     0        0 556 2 0000000000000000 "
		"0\n",
		AF_INET, &ls),
	    0);
	/* udp6: ::1 port 8443 */
	assert_int_equal(
	    sl_portcheck_parse_udp(
		" 1234: 00000000000000000000000001000000:20FB "
		"00000000000000000000000000000000:0000 07 00000000:00000000 "
		"00:00000000 00000000     0        0 777 2 0000000000000000 "
		"0\n",
		AF_INET6, &ls),
	    1);
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(s6->sin6_port), 8443);
	assert_non_null(inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip)));
	assert_string_equal(ip, "::1");
	assert_int_equal(
	    sl_portcheck_parse_udp("   2: garbage\n", AF_INET, &ls), -1);
}

/* "pid N (comm)" of this process, as sl_portcheck_describe names it. */
static void
me(char *out, size_t outsz)
{
	char comm[32] = "";
	FILE *f = fopen("/proc/self/comm", "r");

	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(out, outsz, "pid %ld (%s)", (long)getpid(), comm);
}

static void
test_udp_holders(void **state)
{
	struct sockaddr_storage ss = addr("127.0.0.1", 0);
	socklen_t len = sizeof(ss);
	struct sl_port_holder h[8];
	char out[768], who[128], want[256];
	int fd;

	(void)state;
	/* a UDP socket of this process on 127.0.0.1 (without SO_REUSEADDR
	 * or SO_REUSEPORT: no other can share its address): the UDP tables
	 * name it (the process is visible, the same user's, not "a process
	 * this user cannot see") */
	assert_true((fd = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	assert_int_equal(
	    bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	me(who, sizeof(who));
	assert_int_equal(sl_portcheck_udp_holders(&ss, NULL, 0, h, 8), 1);
	assert_int_equal(h[0].pid, (long)getpid());
	/* a wildcard meets it (and any socket on another address) */
	{
		struct sockaddr_storage any = addr(
		    "0.0.0.0", ntohs(((struct sockaddr_in *)&ss)->sin_port));
		assert_true(sl_portcheck_udp_holders(&any, NULL, 0, h, 8) >= 1);
	}
	snprintf(want, sizeof(want), "address already in use by %s", who);
	sl_portcheck_udp_in_use(&ss, NULL, 0, out, sizeof(out));
	assert_non_null(strstr(out, want));
	/* one of the caller's own sockets is nobody else's */
	assert_int_equal(sl_portcheck_udp_holders(&ss, &fd, 1, h, 8), 0);
	sl_portcheck_udp_in_use(&ss, &fd, 1, out, sizeof(out));
	assert_non_null(strstr(out, "no UDP socket on port"));
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_overlap),
	    cmocka_unit_test(test_v4_alias),
	    cmocka_unit_test(test_parse_proc_v4),
	    cmocka_unit_test(test_parse_proc_v6),
	    cmocka_unit_test(test_describe),
	    cmocka_unit_test(test_parse_tcp),
	    cmocka_unit_test(test_describe_conn),
	    cmocka_unit_test(test_ephemeral),
	    cmocka_unit_test(test_cmdline_conf),
	    cmocka_unit_test(test_parse_udp),
	    cmocka_unit_test(test_udp_holders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
