/* SPDX-License-Identifier: MIT */
/*
 * The fields code of the operator's may put in a head (fieldcheck.h).
 */
#include "fieldcheck.h"

#include <strings.h>

/* RFC 9110's tchar. */
static const unsigned char tchars[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,
    ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
    ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1,
    ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,
    ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
    ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1};

/* The bytes a value may not hold: controls but the tab, and DEL. */
static const unsigned char ctl[256] = {
    [0] = 1,  [1] = 1,	[2] = 1,  [3] = 1,  [4] = 1,  [5] = 1,	[6] = 1,
    [7] = 1,  [8] = 1,	[10] = 1, [11] = 1, [12] = 1, [13] = 1, [14] = 1,
    [15] = 1, [16] = 1, [17] = 1, [18] = 1, [19] = 1, [20] = 1, [21] = 1,
    [22] = 1, [23] = 1, [24] = 1, [25] = 1, [26] = 1, [27] = 1, [28] = 1,
    [29] = 1, [30] = 1, [31] = 1, [127] = 1};

int
sl_fieldcheck_framing(const char *p, size_t n)
{
#define IS(s) (strncasecmp(p, s, n) == 0)
	switch (n) {
	case 2:
		return IS("te");
	case 4:
		return IS("host");
	case 6:
		return IS("expect");
	case 7:
		return IS("trailer") || IS("upgrade");
	case 9:
		return IS("forwarded");
	case 10:
		return IS("connection") || IS("keep-alive");
	case 12:
		return IS("x-request-id");
	case 14:
		return IS("content-length");
	case 15:
		return IS("x-forwarded-for");
	case 16:
		return IS("proxy-connection");
	case 17:
		return IS("transfer-encoding") || IS("x-forwarded-proto");
	default:
		return 0;
	}
#undef IS
}

enum sl_fieldcheck
sl_fieldcheck_name(const char *p, size_t n)
{
	unsigned char bad = 0;

	if (n == 0 || n > 256)
		return SL_FC_NAME_LENGTH;
	for (size_t k = 0; k < n; k++)
		bad |= !tchars[(unsigned char)p[k]];
	if (bad)
		return SL_FC_NAME_TOKEN;
	return sl_fieldcheck_framing(p, n) ? SL_FC_NAME_FRAMING : SL_FC_OK;
}

enum sl_fieldcheck
sl_fieldcheck_value(const char *p, size_t n)
{
	unsigned char bad = 0;

	if (n > SL_FIELDCHECK_VALUE_MAX)
		return SL_FC_VALUE_LENGTH;
	for (size_t k = 0; k < n; k++)
		bad |= ctl[(unsigned char)p[k]];
	if (bad)
		return SL_FC_VALUE_CTL;
	if (n > 0 && (p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' ||
		      p[n - 1] == '\t'))
		return SL_FC_VALUE_SPACE;
	return SL_FC_OK;
}

const char *
sl_fieldcheck_str(enum sl_fieldcheck e)
{
	switch (e) {
	case SL_FC_OK:
		return "good";
	case SL_FC_NAME_LENGTH:
		return "a field's name is 1 to 256 bytes";
	case SL_FC_NAME_TOKEN:
		return "a field's name holds a byte a token does not";
	case SL_FC_NAME_FRAMING:
		return "a field of the framing or of sluice's forwarding, "
		       "which a script does not set";
	case SL_FC_VALUE_LENGTH:
		return "a value is at most 8192 bytes";
	case SL_FC_VALUE_CTL:
		return "a value holds a control character";
	case SL_FC_VALUE_SPACE:
		return "a value begins or ends with white space";
	}
	return "?";
}
