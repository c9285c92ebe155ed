/* SPDX-License-Identifier: MIT */
/*
 * Writes hpack_tab.c, the tables of HPACK (RFC 7541) that sluice's coder
 * needs, on standard output: the static table, the Huffman code for the
 * encoder, the decoder's state machine (a nibble at a time) and a few
 * fields pre-encoded. Nothing of them is copied into the repository: the
 * static table and the Huffman code are asked of the HPACK decoder of
 * Debian's libnghttp2, the same library the tests use as the oracle
 * (doc/design-notes.md, "HPACK of sluice's own"). Run at build time only;
 * not part of libsluice.a.
 */
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpack_tab.h"

#define NSYM	 257 /* 256 octets and EOS */
#define EOS	 256
#define MAX_BITS 30 /* RFC 7541: the longest code */

static const char *prog = "hpack_gen";

static void
die(const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	exit(1);
}

/*
 * Decodes one header block with a fresh nghttp2 inflater. On success
 * copies the first field's name and value out and returns 1; returns 0
 * when nghttp2 refuses the block.
 */
static int
inflate1(const uint8_t *in, size_t len, char *name, size_t *nlen, char *value,
	 size_t *vlen)
{
	nghttp2_hd_inflater *inf;
	nghttp2_nv nv;
	int flags, got = 0;
	ssize_t rv;

	if (nghttp2_hd_inflate_new(&inf) != 0)
		die("out of memory");
	for (;;) {
		flags = 0;
		rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, len, 1);
		if (rv < 0) {
			got = 0;
			break;
		}
		in += rv;
		len -= (size_t)rv;
		if ((flags & NGHTTP2_HD_INFLATE_EMIT) && !got) {
			memcpy(name, nv.name, nv.namelen);
			*nlen = nv.namelen;
			memcpy(value, nv.value, nv.valuelen);
			*vlen = nv.valuelen;
			got = 1;
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL)
			break;
		if (rv == 0 && len == 0)
			break;
	}
	nghttp2_hd_inflate_del(inf);
	return got;
}

/* ---- the static table ----------------------------------------------------*/

#define NSTATIC 61

static char st_name[NSTATIC + 1][64], st_value[NSTATIC + 1][64];
static size_t st_nlen[NSTATIC + 1], st_vlen[NSTATIC + 1];

static void
ask_static(void)
{
	for (int i = 1; i <= NSTATIC; i++) {
		uint8_t b = (uint8_t)(0x80 | i); /* an indexed field */

		if (!inflate1(&b, 1, st_name[i], &st_nlen[i], st_value[i],
			      &st_vlen[i]))
			die("libnghttp2 refused a static table index");
	}
	/* one past the table is an error in every decoder */
	{
		uint8_t b = 0x80 | (NSTATIC + 1);
		char n[64], v[64];
		size_t nl, vl;

		if (inflate1(&b, 1, n, &nl, v, &vl))
			die("libnghttp2's static table is longer than 61");
	}
}

/* ---- the Huffman code ----------------------------------------------------*/

/* The code's tree: node 0 is the root; a leaf holds its symbol. */
struct node {
	int child[2]; /* -1: none yet */
	int sym;      /* a leaf's symbol, or -1 */
	int depth;
	int ones; /* the path from the root is all 1 bits */
};

static struct node tree[2 * NSYM];
static int nnodes = 1;
static uint32_t code[NSYM];
static int bits[NSYM];

/*
 * Which symbol the L-bit code p stands for, or -1 when p is no whole code.
 * p repeated 8 times fills L whole octets with no padding; nghttp2 decodes
 * them to the same symbol 8 times exactly when p is that symbol's code
 * (a proper prefix of longer codes, or a code with something after it,
 * cannot give 8 equal symbols in exactly 8L bits). EOS decodes to an
 * error, so it is never found and the caller places it.
 */
static int
leaf_of(uint32_t p, int L)
{
	uint8_t in[2 + MAX_BITS];
	char name[64], value[64];
	size_t nlen, vlen, n = 0;
	uint64_t acc = 0;
	int accbits = 0;

	/* a literal without indexing, name :authority (index 1), its value
	 * Huffman-coded in L octets */
	in[n++] = 0x01;
	in[n++] = (uint8_t)(0x80 | L);
	for (int r = 0; r < 8; r++) {
		acc = (acc << L) | p;
		accbits += L;
		while (accbits >= 8) {
			in[n++] = (uint8_t)(acc >> (accbits - 8));
			accbits -= 8;
		}
	}
	if (accbits != 0)
		die("Huffman probe is not whole octets");
	if (!inflate1(in, n, name, &nlen, value, &vlen) || vlen != 8)
		return -1;
	for (int i = 1; i < 8; i++)
		if (value[i] != value[0])
			return -1;
	return (uint8_t)value[0];
}

static int
add_node(int parent, int bit)
{
	int n = nnodes++;

	if (n >= 2 * NSYM)
		die("the Huffman tree has too many nodes");
	tree[n].child[0] = tree[n].child[1] = -1;
	tree[n].sym = -1;
	tree[n].depth = tree[parent].depth + 1;
	tree[n].ones = tree[parent].ones && bit;
	tree[parent].child[bit] = n;
	return n;
}

/* Walks the code from node n (path p of L bits), depth first. */
static void
explore(int n, uint32_t p, int L)
{
	for (int bit = 0; bit <= 1; bit++) {
		uint32_t q = (p << 1) | (uint32_t)bit;
		int c = add_node(n, bit), s;

		if (L + 1 == MAX_BITS) {
			/* the longest codes: whole or EOS (all ones) */
			s = leaf_of(q, L + 1);
			if (s < 0) {
				if (q != (1u << MAX_BITS) - 1)
					die("a 30-bit code is no symbol");
				s = EOS;
			}
		} else {
			s = leaf_of(q, L + 1);
		}
		if (s >= 0) {
			if (bits[s] != 0)
				die("a symbol has two codes");
			tree[c].sym = s;
			code[s] = q;
			bits[s] = L + 1;
		} else {
			explore(c, q, L + 1);
		}
	}
}

static void
ask_huffman(void)
{
	tree[0].child[0] = tree[0].child[1] = -1;
	tree[0].sym = -1;
	tree[0].ones = 1;
	explore(0, 0, 0);
	for (int s = 0; s < NSYM; s++)
		if (bits[s] == 0)
			die("a symbol has no code");
	if (bits[EOS] != MAX_BITS)
		die("EOS is not the 30-bit all-ones code");
}

/* ---- output --------------------------------------------------------------*/

static void
put_cstr(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			putchar(c);
		else
			printf("\\%03o", c);
	}
	putchar('"');
}

/* The decoder's states: the tree's inner nodes, root first. */
static int state_of[2 * NSYM], node_of[NSYM];
static int nstates;

static void
number_states(void)
{
	for (int n = 0; n < nnodes; n++) {
		state_of[n] = -1;
		if (tree[n].sym < 0) {
			if (nstates >= 256)
				die("more than 256 inner nodes");
			state_of[n] = nstates;
			node_of[nstates++] = n;
		}
	}
}

static void
put_decoder(void)
{
	printf("\n/* The decoder: from a state (an inner node of the code's "
	       "tree; 0 is the\n * root) and the next 4 bits, the next "
	       "state, what happened and the\n * symbol found, if one was. "
	       "*/\nconst struct sl_hpack_huff_step "
	       "sl_hpack_huff_dec[256][16] = {\n");
	for (int st = 0; st < nstates; st++) {
		printf("\t{");
		for (int x = 0; x < 16; x++) {
			int n = node_of[st], flags = 0, sym = 0;

			for (int b = 3; b >= 0; b--) {
				int c = tree[n].child[(x >> b) & 1];

				if (c < 0)
					die("an incomplete Huffman tree");
				if (tree[c].sym == EOS) {
					flags |= SL_GEN_FAIL;
					n = 0;
					break;
				}
				if (tree[c].sym >= 0) {
					if (flags & SL_GEN_SYM)
						die("two symbols in 4 bits");
					flags |= SL_GEN_SYM;
					sym = tree[c].sym;
					n = 0;
				} else {
					n = c;
				}
			}
			if (!(flags & SL_GEN_FAIL) && tree[n].ones &&
			    tree[n].depth <= 7)
				flags |= SL_GEN_ACCEPT;
			printf("{%d,%d,%d,0}%s",
			       (flags & SL_GEN_FAIL) ? 0 : state_of[n], flags,
			       sym, x < 15 ? "," : "");
		}
		printf("},\n");
	}
	printf("};\n");
}

/* A field pre-encoded: a literal without indexing, its name indexed in the
 * static table when it is there, both strings Huffman-coded when that is
 * shorter (as sl_hpack_enc_field writes it). */
static void
put_pre(const char *id, const char *name, const char *value)
{
	uint8_t out[256];
	size_t n = 0, idx = 0;
	const char *s[2] = {name, value};

	for (int i = 1; i <= NSTATIC && !idx; i++)
		if (st_nlen[i] == strlen(name) &&
		    memcmp(st_name[i], name, st_nlen[i]) == 0)
			idx = (size_t)i;
	if (idx != 0 && idx < 15) {
		out[n++] = (uint8_t)idx;
	} else if (idx != 0) {
		out[n++] = 0x0f;
		out[n++] = (uint8_t)(idx - 15);
	} else {
		out[n++] = 0x00;
	}
	for (int k = idx ? 1 : 0; k < 2; k++) {
		size_t len = strlen(s[k]), hbits = 0;

		for (size_t i = 0; i < len; i++)
			hbits += (size_t)bits[(unsigned char)s[k][i]];
		if ((hbits + 7) / 8 < len && (hbits + 7) / 8 < 127) {
			uint64_t acc = 0;
			int accbits = 0;

			out[n++] = (uint8_t)(0x80 | ((hbits + 7) / 8));
			for (size_t i = 0; i < len; i++) {
				unsigned char c = (unsigned char)s[k][i];

				acc = (acc << bits[c]) | code[c];
				accbits += bits[c];
				while (accbits >= 8) {
					out[n++] =
					    (uint8_t)(acc >> (accbits - 8));
					accbits -= 8;
				}
			}
			if (accbits > 0)
				out[n++] = (uint8_t)((acc << (8 - accbits)) |
						     (0xffu >> accbits));
		} else {
			if (len >= 127)
				die("a pre-encoded string is too long");
			out[n++] = (uint8_t)len;
			memcpy(out + n, s[k], len);
			n += len;
		}
	}
	printf("const uint8_t %s[%zu] = {", id, n);
	for (size_t i = 0; i < n; i++)
		printf("%s0x%02x", i ? "," : "", out[i]);
	printf("};\n");
}

int
main(int argc, char **argv)
{
	(void)argc;
	if (argv[0] != NULL)
		prog = argv[0];
	ask_static();
	ask_huffman();
	number_states();

	printf("/* Generated by hpack_gen from libnghttp2 %s at build time: "
	       "do not edit. */\n#include \"hpack_tab.h\"\n\n",
	       nghttp2_version(0)->version_str);
	printf("/* RFC 7541 appendix A, index 1 to 61 (0 is no entry). "
	       "*/\nconst struct sl_hpack_entry sl_hpack_static[62] = {\n"
	       "\t{\"\", \"\", 0, 0},\n");
	for (int i = 1; i <= NSTATIC; i++) {
		printf("\t{");
		put_cstr(st_name[i], st_nlen[i]);
		printf(", ");
		put_cstr(st_value[i], st_vlen[i]);
		printf(", %zu, %zu},\n", st_nlen[i], st_vlen[i]);
	}
	printf("};\n");

	/* the encoder's lookup: the static indexes of each name length */
	printf("\n/* For a name of length L (1..%d), the first static entry "
	       "of each name of\n * that length, 0-terminated. */\nconst "
	       "uint8_t sl_hpack_by_len[%d][8] = {\n",
	       SL_HPACK_NAME_MAX, SL_HPACK_NAME_MAX + 1);
	for (int L = 0; L <= SL_HPACK_NAME_MAX; L++) {
		int k = 0;

		printf("\t{");
		for (int i = 1; i <= NSTATIC; i++) {
			if ((int)st_nlen[i] != L)
				continue;
			if (i > 1 && st_nlen[i - 1] == st_nlen[i] &&
			    memcmp(st_name[i - 1], st_name[i], st_nlen[i]) == 0)
				continue; /* the same name again */
			if (k == 7)
				die("too many static names of one length");
			printf("%s%d", k ? "," : "", i);
			k++;
		}
		printf("%s0},\n", k ? "," : "");
	}
	printf("};\n");
	for (int i = 1; i <= NSTATIC; i++)
		if ((int)st_nlen[i] > SL_HPACK_NAME_MAX)
			die("a static name is longer than SL_HPACK_NAME_MAX");

	printf("\n/* The Huffman code of each symbol (256 is EOS), right "
	       "aligned, and its\n * length in bits. */\nconst uint32_t "
	       "sl_hpack_huff_code[257] = {\n");
	for (int s = 0; s < NSYM; s++)
		printf("%s0x%x%s", s % 8 ? " " : "\t", code[s],
		       s == NSYM - 1 ? "\n" : (s % 8 == 7 ? ",\n" : ","));
	printf("};\nconst uint8_t sl_hpack_huff_bits[257] = {\n");
	for (int s = 0; s < NSYM; s++)
		printf("%s%d%s", s % 16 ? " " : "\t", bits[s],
		       s == NSYM - 1 ? "\n" : (s % 16 == 15 ? ",\n" : ","));
	printf("};\n");
	put_decoder();

	printf("\n/* Fields pre-encoded, as sl_hpack_enc_field writes them. "
	       "*/\n");
	put_pre("sl_hpack_pre_grpc_ct", "content-type", "application/grpc");
	put_pre("sl_hpack_pre_te_trailers", "te", "trailers");
	put_pre("sl_hpack_pre_grpc_status0", "grpc-status", "0");
	return ferror(stdout) ? 1 : 0;
}
