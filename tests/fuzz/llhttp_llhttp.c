/* SPDX-License-Identifier: MIT */
/*
 * Compiles llhttp's llhttp.c from the system's copy of its C sources (Debian's
 * node-llhttp installs them in /usr/share/llhttp; configure's LLHTTP_DIR)
 * for the differential fuzz target. Nothing of llhttp is in this
 * repository.
 */
#include "llhttp.c"
