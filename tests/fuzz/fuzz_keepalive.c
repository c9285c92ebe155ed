/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the Keep-Alive field parser (sl_h1_keep_alive):
 * the input is one field value from an upstream. It must never read past
 * the value (ASan), a parameter it reports must be named in the value,
 * and a reported value is at least 1 (0 means "not said").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "h1_parse.h"

/* Whether the value names the parameter at all, in any case. */
static int
names(const char *v, size_t n, const char *name)
{
	size_t l = strlen(name);

	for (size_t i = 0; i + l <= n; i++)
		if (strncasecmp(v + i, name, l) == 0)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes: ASan sees any read past it */
	char *v = malloc(size ? size : 1);
	uint32_t timeout = 7, max = 7, t2, m2;

	if (v == NULL)
		return 0;
	memcpy(v, data, size);
	sl_h1_keep_alive(v, size, &timeout, &max);
	CHECK(timeout == 0 || names(v, size, "timeout"));
	CHECK(max == 0 || names(v, size, "max"));
	/* the same bytes, the same answer */
	sl_h1_keep_alive(v, size, &t2, &m2);
	CHECK(t2 == timeout && m2 == max);
	free(v);
	return 0;
}
