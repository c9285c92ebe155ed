/* SPDX-License-Identifier: MIT */
#include "fuzz.h"
#include "hpack.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;
}
