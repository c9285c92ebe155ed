/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the configuration loader: any bytes go through
 * sl_conf_load_buffer(); the generation and the error text are freed.
 * Without libFuzzer, tests/fuzz/replay.c replays the corpus through it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "conf.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_conf *conf;
	char *errors = NULL;

	conf =
	    sl_conf_load_buffer("fuzz.yaml", (const char *)data, size, &errors);
	/* Exactly one of the two: a generation, or why there is none. */
	if ((conf == NULL) == (errors == NULL))
		abort();
	sl_conf_unref(conf);
	free(errors);
	return 0;
}
