/* SPDX-License-Identifier: MIT */
/*
 * What start-up needs beyond a valid file, checked without side effects:
 * files that must open (the access log today; certificates and keys when
 * TLS comes). Used by `sluice -t`, at start and before a reload applies, so
 * that a file -t calls OK does not then fail to start. Creates, opens and
 * changes nothing; only asks the file system (stat, access).
 */
#ifndef SL_PREFLIGHT_H
#define SL_PREFLIGHT_H

#include <stddef.h>

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

#endif
