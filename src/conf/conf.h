/* SPDX-License-Identifier: MIT */
/*
 * One configuration generation: the YAML file turned into immutable structs
 * (their types are conf_types.h's, which a file that only reads a
 * generation includes instead). conf.c (with conf_edge.c for the edge keys
 * and conf_tls.c for tls) owns parsing and every validation rule; nothing
 * here does I/O other than reading the file, and nothing here opens
 * sockets.
 */
#ifndef SL_CONF_H
#define SL_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf_types.h"

/* The modules (core/module.h), in the table's order (conf_mods.c): what
 * the admin renders and the runtime counts without naming them. Their
 * slots, counters' first words and sections are set by the first load. */
extern struct sl_module *const *const sl_conf_modules;
extern const size_t sl_conf_nmodules;
/* The process ends: each module's process_free (daemon/main.c). */
void sl_conf_modules_exit(void);

/*
 * Loads and validates the file at path. Returns a generation with refcnt 1,
 * or NULL. When errors is not NULL, *errors is set: NULL on success, else a
 * malloc'd string with every problem found, sorted by position, one
 * "FILE:LINE:COL: error: MESSAGE\n" per line (the caller frees it).
 */
struct sl_conf *sl_conf_load(const char *path, char **errors);

/* The same from memory; name is used in error messages in place of FILE. */
struct sl_conf *sl_conf_load_buffer(const char *name, const char *text,
				    size_t len, char **errors);

/*
 * Reads the secrets conf's file names (rate_limit_store.password_file)
 * into conf, once sl_conf_load made it: the one step of loading that opens
 * files other than the configuration, kept out of sl_conf_load_buffer so
 * that parsing (and its fuzzer) opens nothing. Run at start-up, by -t and
 * at every reload, so a rotated password applies on SIGHUP. Returns NULL,
 * or malloc'd "FILE:LINE:COL: error: ..." lines (the caller frees them);
 * warnings (a password file others may read) are appended to *warnings
 * when warnings is not NULL. No message holds the password.
 */
char *sl_conf_load_secrets(struct sl_conf *conf, char **warnings);

/*
 * A new generation parsed from the bytes conf was loaded from (not the
 * file as it is now): the same configuration, its endpoints only those
 * written (the resolver adds what its names resolve to), its TLS contexts
 * and secrets not loaded (sl_tls_share, sl_conf_share_secrets). For the
 * generations the resolver makes (doc/fleet.md section 2). Returns NULL
 * with errno (ENOMEM; EINVAL: conf was not loaded from a file).
 */
struct sl_conf *sl_conf_reparse(const struct sl_conf *conf);

/*
 * Appends to cluster cl (of a generation nobody uses yet) the endpoints
 * that its name k resolved to: n addresses. One already there (written,
 * or from another name) is not added twice. Returns the number added, or
 * -1 when out of memory.
 */
int sl_conf_add_resolved(struct sl_conf_cluster *cl, size_t k,
			 const struct sl_conf_resolved *v, size_t n);

/* The secrets oc read (sl_conf_load_secrets) copied into nc, a
 * generation sl_conf_reparse made from oc. Returns 0 or -1 (out of
 * memory). */
int sl_conf_share_secrets(struct sl_conf *nc, const struct sl_conf *oc);

struct sl_conf *sl_conf_ref(struct sl_conf *conf);
/* Drops one reference; frees the generation with the last one, or hands
 * it to its reap (conf_types.h). */
void sl_conf_unref(struct sl_conf *conf);
/* Frees a generation nobody refers to any more (on_free first): what
 * sl_conf_unref does, or the reaper it handed the generation to. */
void sl_conf_destroy(struct sl_conf *conf);

/*
 * Parses "HOST:PORT" or "[V6]:PORT" (numeric hosts and "localhost" only; no
 * DNS). Returns 0 and fills ss/sslen, or -1.
 */
int sl_conf_parse_addr(const char *text, struct sockaddr_storage *ss,
		       socklen_t *sslen);

/* "250ms" -> 250; returns 0 or -1 (bare integer, bad unit, overflow). */
int sl_conf_parse_duration(const char *text, uint64_t *ms);
/* "16KiB" -> 16384; returns 0 or -1. */
int sl_conf_parse_size(const char *text, uint64_t *bytes);

#endif
