/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for health-check responses (sl_health_response): the
 * whole input, every prefix of it and a tight cap must agree with each
 * other; a verdict of 1 has a final status of 200..599, -1 names its rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "health.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	const char *why = NULL, *why2;
	int status = -1, status2, r, r2;
	size_t n;

	if (size > 16384)
		return 0;
	r = sl_health_response(buf, size, 8192, &status, &why);
	CHECK(r == 1 || r == 0 || r == -1);
	if (r == 1)
		CHECK(status >= 200 && status <= 599);
	if (r == -1)
		CHECK(why != NULL && why[0] != '\0');
	/* the checker reads in pieces: a prefix never decides otherwise than
	 * the whole, once it has decided */
	for (n = 0; n < size; n += 1 + n / 8) {
		why2 = NULL;
		status2 = -1;
		r2 = sl_health_response(buf, n, 8192, &status2, &why2);
		if (r2 == 0)
			continue;
		CHECK(r2 == r);
		if (r2 == 1)
			CHECK(status2 == status);
		else
			CHECK(strcmp(why2, why) == 0 || size > 8192);
		break;
	}
	/* a cap smaller than the head is "too large" or the same verdict */
	why2 = NULL;
	r2 = sl_health_response(buf, size, 64, &status2, &why2);
	CHECK(r2 == 1 || r2 == 0 || r2 == -1);
	if (r2 == 1)
		CHECK(r == 1 && status2 == status);
	return 0;
}
