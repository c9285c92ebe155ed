/* SPDX-License-Identifier: MIT */
/* HTTP/2 frames (RFC 9113 sections 4 to 6): being written. */
#include "frame.h"
