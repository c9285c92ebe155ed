/* SPDX-License-Identifier: MIT */
/*
 * What start-up needs beyond a valid file, checked without side effects:
 * files that must open (the access log, the pid file; certificates and
 * keys are tls.c's), and addresses that no other process listens on. Used
 * by `sluice -t`, at start and before a reload applies, so that a file -t
 * calls OK does not then fail to start. Creates, opens and changes no
 * file, and nothing listens; asks the file system (stat, access), the
 * kernel's table of listening sockets, and, for an address no listener
 * holds, the kernel itself with a bind that never listens and is closed
 * at once (portcheck.h: a connection may hold the port).
 */
#ifndef SL_PREFLIGHT_H
#define SL_PREFLIGHT_H

#include <stddef.h>
#include <sys/socket.h>

struct sl_conf;

/*
 * Checks what conf will open at start. running_access is the access log
 * destination already open (a reload), or NULL: an unchanged destination
 * is not checked again. Returns NULL when all is usable, else a malloc'd
 * string of error lines in the loader's form ("FILE:LINE:COL: error:
 * MESSAGE\n" each) that the caller frees.
 */
char *sl_preflight(const struct sl_conf *conf, const char *running_access);

/*
 * Whether path could be opened for appending, as the access log is
 * (O_WRONLY | O_APPEND | O_CREAT), without creating it. Returns 0, or -1
 * with a reason in why (whysz bytes), such as "the directory
 * \"/var/log/sluice\" does not exist".
 */
int sl_preflight_appendable(const char *path, char *why, size_t whysz);

/*
 * Whether a pid file could be written at path as sluice writes it (a
 * temporary file in the same directory, renamed over path). Returns 0, or
 * -1 with a reason in why (whysz bytes).
 */
int sl_preflight_pidfile(const char *path, char *why, size_t whysz);

/*
 * Checks that no other process listens on conf's listener and admin
 * addresses, as start-up would find when it binds them: the same address,
 * or a wildcard on the same port (see portcheck.h). A sluice serving this
 * same file (by real path; default_conf is the file a sluice without -c
 * reads) does not count: the check that runs before its reload must pass.
 * Nor do the sockets of running (a pid; 0 for none) when it is a sluice:
 * the one a staged copy of its file is meant for (-t with -p, whose file
 * names it), which holds the addresses the copy shares with it.
 * Returns NULL, or a malloc'd string of error lines as sl_preflight writes
 * them, naming who holds each address ("listener \"public\"
 * 127.0.0.1:8080: address already in use by pid 4242 (nginx)", or "...
 * by a connection (state ESTABLISHED, to ...) owned by pid 77 (curl)"
 * when no listener does and the bind would fail); and, for an http3
 * listener, who holds a UDP socket on its address ("listener \"pub\" UDP
 * 127.0.0.1:8443 (http3): address already in use by pid 1234
 * (python3)"). When the
 * socket table cannot be read, *warnings (when not NULL) gets a warning
 * line and nothing is checked; it is NULL otherwise. An address of
 * given[0..ngiven) (sockets this process was given by an upgrade or
 * systemd) is not checked: whoever else holds it holds this socket.
 */
char *sl_preflight_ports(const struct sl_conf *conf, const char *default_conf,
			 const struct sockaddr_storage *given, size_t ngiven,
			 long running, char **warnings);

#endif
