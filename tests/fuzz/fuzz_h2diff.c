/* SPDX-License-Identifier: MIT */
/* Being written: h2conn.c against an nghttp2 server session. */
#include "fuzz.h"
#include "h2conn.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;
}
