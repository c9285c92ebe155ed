/* SPDX-License-Identifier: MIT */
/*
 * Corpus replayer for make check: calls LLVMFuzzerTestOneInput on every
 * file named on the command line and on every file in the directories
 * named there, so the fuzz drivers run without libFuzzer. Not linked into
 * the libFuzzer builds (libFuzzer has its own main).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Runs one file; returns 0, or -1 when it cannot be read. */
static int
replay_file(const char *path)
{
	FILE *fp;
	uint8_t *data = NULL, *p;
	size_t len = 0, cap = 0, n;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((p = realloc(data, cap)) == NULL) {
				fprintf(stderr, "replay: out of memory\n");
				free(data);
				fclose(fp);
				return -1;
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(data);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	/* An exact-size copy, so ASan sees reads past the end. */
	if ((p = malloc(len ? len : 1)) == NULL) {
		free(data);
		return -1;
	}
	memcpy(p, data, len);
	free(data);
	LLVMFuzzerTestOneInput(p, len);
	free(p);
	return 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir, in name order; returns files run or -1. */
static long
replay_dir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char **names = NULL, **np, *path;
	size_t n = 0, cap = 0, i, plen;
	long count = 0;
	int failed = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((np = realloc(names, cap * sizeof(*names))) ==
			    NULL) {
				failed = 1;
				break;
			}
			names = np;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			failed = 1;
			break;
		}
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && !failed; i++) {
		plen = strlen(dir) + strlen(names[i]) + 2;
		if ((path = malloc(plen)) == NULL) {
			failed = 1;
			break;
		}
		snprintf(path, plen, "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) != 0)
				failed = 1;
			else
				count++;
		}
		free(path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return failed ? -1 : count;
}

int
main(int argc, char **argv)
{
	struct stat st;
	long n, total = 0;
	int i, status = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE ...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
				strerror(errno));
			status = 1;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			n = replay_dir(argv[i]);
		} else {
			n = replay_file(argv[i]) == 0 ? 1 : -1;
		}
		if (n < 0)
			status = 1;
		else
			total += n;
	}
	printf("%s: %ld inputs replayed\n", argv[0], total);
	return status;
}
