/* SPDX-License-Identifier: MIT */
/*
 * What every libFuzzer driver here shares: the entry point libFuzzer (or
 * replay.c, in make check) calls, and CHECK, which stops a run on a broken
 * invariant so that the fuzzer keeps the input.
 */
#ifndef SL_FUZZ_H
#define SL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                               \
	do {                                                                   \
		if (!(x))                                                      \
			abort();                                               \
	} while (0)

#endif
