/* SPDX-License-Identifier: MIT */
/*
 * Card numbers (PANs) kept out of the logs, as PCI DSS asks: every run of
 * 13 to 19 digits that passes the Luhn check is written with its first six
 * and last four digits only, wherever it stands in a logged string and
 * however it is written (plain, split by spaces, dashes or '+', digits or
 * separators percent-encoded). Pure: no I/O, no allocation.
 */
#ifndef SL_PAN_H
#define SL_PAN_H

#include <stddef.h>

/*
 * Masks, in place, every card number in s[0..n). A digit is '0'..'9' or
 * its percent-encoding "%30".."%39"; a separator is one ' ', '-', '+',
 * "%20", "%2B" or "%2D" between two digits. Digits joined by single
 * separators form a run of groups; a card number is any stretch of whole
 * groups of such a run (it starts at a group's first digit and ends at a
 * group's last) with 13 to 19 digits and a valid Luhn check digit. Each of
 * its digits but the first six and the last four becomes '*' (a
 * percent-encoded one "%2A", the encoding of '*'), so the length does not
 * change and the separators stay where they were.
 *
 * A group of plain digits inside a run of at least SL_PAN_DIGEST_MIN
 * characters that are hexadecimal (0-9, a-f, A-F) or '*' (so that a digit
 * masked already still counts) is part of a digest (a configuration's
 * SHA-256 in a log line), not of a card number, and is left as it is; the
 * groups before it and after it are runs of their own. About one SHA-256
 * digest in 230 holds a run of 13 to 19 decimal digits that passes Luhn,
 * and was logged masked; one in about 930 begins with digits that, after
 * the "256 " of its label, did.
 *
 * cut says that s is the start of a longer text that was cut at n: the
 * digits of a run that reaches the end could be the start of a card
 * number whose end is lost, so each of them past the sixth of its group
 * stretch is masked as well.
 *
 * Returns the number of digits masked.
 */
#define SL_PAN_DIGEST_MIN 32 /* an MD5's hex length, the shortest digest */

size_t sl_pan_mask(char *s, size_t n, int cut);

/* The Luhn check of the n decimal digit values d[0..n): 1 when valid. */
int sl_pan_luhn(const unsigned char *d, size_t n);

#endif
