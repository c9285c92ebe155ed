/* SPDX-License-Identifier: MIT */
/* HTTP/2 frames (RFC 9113 sections 4 to 6): being written. */
#ifndef SL_H2_FRAME_H
#define SL_H2_FRAME_H
#endif
