/* SPDX-License-Identifier: MIT */
/*
 * A module: what one feature gives the rest of sluice besides its filter
 * (doc/design-notes.md, "A module"): its configuration keys, kept in its
 * own slots of the generation; its counters, a block of each route's
 * per-worker counts and of each worker's stats; the /metrics families and
 * the status page's fields made of them; and its /config text. conf/ reads
 * the keys through it (conf_mods.c's table, the one place that names every
 * module), the runtime makes room for the counters, the admin renders them,
 * and none of them names the feature. Its request operations are its
 * filter's (proxy/filter.h), which points at its module.
 *
 * Types only, here in core, the lowest layer: conf/ fills the slots, edge/
 * sizes the counters, admin/ renders them.
 */
#ifndef SL_MODULE_H
#define SL_MODULE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct sl_conf;
struct sl_conf_listener;
struct sl_conf_pos;
struct sl_conf_route;
struct sl_conf_section_def;
struct sl_yaml_loader;
struct sl_yaml_node;

/*
 * Where a module writes JSON (/config): text as it is, and a string
 * quoted and escaped. The admin hands one in; a module never sees the
 * admin's buffer.
 */
struct sl_jout {
	void *ctx;
	void (*printf)(void *ctx, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	void (*str)(void *ctx, const char *s); /* NULL: null */
};

/* A /metrics family of a module's counters. */
enum sl_mfam_kind {
	SL_MFAM_COUNTER = 0,
	SL_MFAM_GAUGE,
	/* SL_HIST_N words from off (hist.h's buckets, not cumulative), the
	 * sum at sum_off, divided by div as seconds; SL_MFAM_ROUTE or
	 * SL_MFAM_WORKERS, without a label */
	SL_MFAM_HISTOGRAM,
	/* a counter of microseconds (div 1e6, shown to the microsecond) or
	 * milliseconds (1000, to the millisecond) as seconds; SL_MFAM_ROUTE
	 * only, without a label */
	SL_MFAM_SECONDS,
};
enum sl_mfam_scope {
	SL_MFAM_ROUTE = 0, /* a line per route that uses the module, labelled
			      listener and route: its workers' sum */
	SL_MFAM_WORKERS,   /* one line: every worker's stats, summed */
	SL_MFAM_PROCESS,   /* one line: what read says (a store the workers
			      share) */
	SL_MFAM_SPLIT,	   /* a line per entry of the split of a route that
			      uses the module, labelled listener, route and
			      cluster: what entry says of it (a state of the
			      module's, not its counters) */
	SL_MFAM_ITEM,	   /* a line per item of each route that uses the
			      module (sl_module's items: a route's rate
			      limits), labelled listener, route and the
			      module's item_label: word off of the item's
			      blocks, summed over the workers */
};
struct sl_mfamily {
	const char *name; /* "sluice_compress_responses_total" */
	const char *help;
	uint8_t kind;  /* enum sl_mfam_kind */
	uint8_t scope; /* enum sl_mfam_scope */
	/* its counters: words first .. n-1 of the block from word off, a
	 * line each, labelled label="values[k]"; label NULL: one line, of
	 * word off */
	uint16_t off;
	uint8_t first, n;
	const char *label;
	const char *const *values;
	uint64_t (*read)(void); /* SL_MFAM_PROCESS's value */
	/* SL_MFAM_SPLIT's value: of entry k of the route whose slot is
	 * slot */
	uint64_t (*entry)(const void *slot, size_t k);
	/* SL_MFAM_ROUTE: a label of the route's slot's, before label (the
	 * mirror's cluster="..."); NULL: none */
	const char *slot_label;
	const char *(*slot_value)(const void *slot);
	/* SL_MFAM_HISTOGRAM: its sum's word; and SL_MFAM_SECONDS too: what
	 * the words are divided by */
	uint16_t sum_off;
	double div;
	/* rendered, its HELP and TYPE too, only while shown says so of the
	 * generation (the rate limits' store's: while one is configured);
	 * NULL: always */
	int (*shown)(const struct sl_conf *conf);
	/* SL_MFAM_ITEM: a line only for the items item_shown says of
	 * (fleet limits only); NULL: every item */
	int (*item_shown)(const void *slot, size_t k);
};

/* A file a module appends to from the start (its log of its own): the
 * start's checks (-t) look that it can be opened. */
struct sl_mfile {
	const char *path;
	const struct sl_conf_pos *pos; /* of the key that names it */
	const char *key;	       /* "waf: \"log\"" */
};

/* The words the modules' status fields take (a count one, a ratio two),
 * the table's sum (conf/conf_mods.c checks it; admin_status.c's room):
 * auth's 1, the WAF's 1, compression's 2, idempotency's 2, rate
 * limits' 1, Lua's 2. */
#define SL_MSTATUS_MOD_WORDS 9

/* A field of a route's "features_1m" on the status page: the minute's
 * growth of the sum of its words (num), or of num over den (a ratio);
 * null when the route does not use the module, or (a ratio) den did not
 * grow. The words are the route's counts', or, for a module with items
 * (sl_module's items), its items' blocks' (counted from a block's start,
 * summed over the route's items). */
struct sl_mstatus {
	const char *name; /* "compress_ratio" */
	uint16_t num_off, den_off;
	uint8_t num_n, den_n; /* den_n 0: a count, not a ratio */
	/* a count's second run of words, summed with the first (auth's
	 * refusals: the token's, then the service's); num2_n 0: none */
	uint16_t num2_off;
	uint8_t num2_n;
};

/*
 * Where a module writes the /metrics families its descriptor cannot
 * describe (labels made of its slots: auth's kind and result, its key
 * sets' URLs): text as it is, and the workers' sums of its own words of a
 * route's counts. The admin hands one in.
 */
struct sl_mout {
	const struct sl_module *m; /* the module written for: its slots */
	void *ctx;
	void (*printf)(void *ctx, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	/* word k of the module's block of route r's counts, every
	 * worker's summed */
	uint64_t (*route_word)(void *ctx, const struct sl_conf_route *r,
			       unsigned k);
	/* a histogram's lines, name{labels,le=...}: SL_HIST_N words from k
	 * of the module's block of r, their sum at sum_k, divided by div */
	void (*route_hist)(void *ctx, const char *name, const char *labels,
			   const struct sl_conf_route *r, unsigned k,
			   unsigned sum_k, double div);
};

struct sl_module {
	const char *name;
	/* ---- configuration: the key, at the top level and in a route,
	 * whose value lives in the module's slot (NULL: none there) */
	const char *key;
	/* the top-level key, when it is not key (rate limits': a route's
	 * rate_limit, the top level's rate_limit_store); NULL: key */
	const char *top_key;
	/* a listener's key, when it has one (listener_parse) */
	const char *listener_key;
	/* The top-level value, or its defaults (v NULL: the key is not
	 * written): *slot its state, owned. conf: the generation, its
	 * clusters read. NULL: no top-level key. */
	void (*top_parse)(struct sl_yaml_loader *ld,
			  const struct sl_yaml_node *v, void **slot,
			  struct sl_conf *conf);
	void (*top_free)(void *slot);
	/* top_parse makes the module's slot of the generation (v NULL), but
	 * the top level has no key of the module's: a state of the
	 * generation's only (auth's key sets fetched from URLs) */
	uint8_t top_hidden;
	/* A route's value (written: v not NULL): *slot NULL (the route does
	 * not use the module, as "key: false") or its state, owned. r: the
	 * route as read so far (the keys before the modules'); conf: the
	 * generation, its top level read. NULL: no route key. */
	void (*route_parse)(struct sl_yaml_loader *ld, const char *lbl,
			    const struct sl_yaml_node *v, void **slot,
			    const struct sl_conf_route *r,
			    struct sl_conf *conf);
	void (*route_free)(void *slot);
	/* Whether the route's requests, as slot says, carry a caller the
	 * module verifies (a token's issuer and subject): the loader sets
	 * the route's caller for the modules after it, keyed on who calls
	 * (the Idempotency-Key store's "caller: jwt"). NULL: never. */
	int (*route_caller)(const void *slot);
	/* A file of the route's slot that a watch follows and a reload
	 * reads again (a key set's), NULL: none. NULL: none ever. */
	const char *(*route_file)(const void *slot);
	/* A listener's value (written: v not NULL) into its slot, as a
	 * route's; l: the listener as read so far. NULL: no listener key. */
	void (*listener_parse)(struct sl_yaml_loader *ld, const char *lbl,
			       const struct sl_yaml_node *v, void **slot,
			       const struct sl_conf_listener *l,
			       struct sl_conf *conf);
	/* route_free, listener_free NULL: the slots hold values the module
	 * encodes in them, not memory (tracing's sample: a traced route
	 * costs no allocation of its own) */
	void (*listener_free)(void *slot);
	/* The whole file read, each route of each listener l in turn: *slot
	 * the route's, which the module may set or clear (a route it takes
	 * on without its key written: tracing's default share). Every
	 * module's, before any module's settle. NULL: none. */
	void (*route_settle)(struct sl_yaml_loader *ld, void **slot,
			     const struct sl_conf_route *r,
			     const struct sl_conf_listener *l,
			     const struct sl_conf *conf);
	/* The whole file read: checks across the routes and listeners, and
	 * what the module sets in them. NULL: none. */
	void (*settle)(struct sl_yaml_loader *ld, struct sl_conf *conf);
	/* The files of secrets its keys name, read once the file loaded
	 * (start, -t, each reload; conf.h's sl_conf_load_secrets): each
	 * problem a "FILE:LINE:COL: LEVEL: TEXT" line appended to *errors
	 * or *warnings. NULL: none. */
	void (*secrets)(struct sl_conf *conf, char **errors, char **warnings);
	/* A reload: the secrets oc read that nc names the same way, copied
	 * into nc (sl_conf_share_secrets). Returns 0, or -1 (no memory).
	 * NULL: none. */
	int (*share)(struct sl_conf *nc, const struct sl_conf *oc);
	/* Whether it holds state of its own though no route uses it (a
	 * store of the workers'): its families are rendered while it does.
	 * NULL: only while a route uses it. */
	int (*alive)(void);
	/* The process ends: what the module keeps for it (a store the
	 * workers share) goes. NULL: nothing. */
	void (*process_free)(void);
	/* /config: ,"key":VALUE of the top level's and of a route's slot
	 * (NULL: "null"). */
	void (*top_print)(const struct sl_jout *o, const void *slot);
	void (*route_print)(const struct sl_jout *o, const void *slot);
	void (*listener_print)(const struct sl_jout *o, const void *slot);
	/* The status page, beside a route's split (a module that acts on
	 * it: the canary guard): ,"key":VALUE in split entry k's object
	 * (split_status), and after the route's "split" (route_status);
	 * slot NULL (the route does not use it, or has no split): null.
	 * NULL: none. */
	void (*split_status)(const struct sl_jout *o, const void *slot,
			     size_t k);
	void (*route_status)(const struct sl_jout *o, const void *slot);
	/* the outline's sections of its keys (conf_int.h's
	 * sl_conf_section_def), for the key checks: the top level's and a
	 * route's value, NULL: none; and nsecs sections inside them (a
	 * parent of SL_CONF_SEC_MOD_TOP, SL_CONF_SEC_MOD_ROUTE or
	 * SL_CONF_SEC_MOD_SUB(k), conf_int.h: the module's own) */
	const struct sl_conf_section_def *top_sec, *route_sec, *secs;
	uint8_t nsecs;
	/* ---- state the runtime keeps across generations (edge/runtime.c's
	 * registry: sl_runtime_bind, its lock held; the module's own
	 * registries, runtime.h's sl_runtime_entry_get and _put) */
	/* Route r of listener l uses the module (slot, its): the slot's
	 * state found by a key of the module's, or made (nworkers: the
	 * per-worker counters' number); it may set what the route's core
	 * reads of it (split_held). Returns 0, or -1 (no memory: the
	 * generation is not bound). NULL: none. */
	int (*route_bind)(void *slot, const struct sl_conf_listener *l,
			  struct sl_conf_route *r, unsigned nworkers);
	/* What route_bind took is let go (also after a route_bind that
	 * failed, or was not called: the slot's state may be NULL). */
	void (*route_unbind)(void *slot, struct sl_conf_route *r);
	/* ---- the process (daemon/, through conf_mods.c) */
	/* -V's line of its library (NULL: none) */
	const char *(*version)(void);
	/* The process starts with conf (the main thread, its access log
	 * open): what it opens for its life (its log). Returns 0, or -1
	 * with what failed in why (errno set). NULL: nothing. */
	int (*start)(const struct sl_conf *conf, char *why, size_t whysz);
	/* SIGUSR1: its log reopened (it says what failed). NULL: none. */
	void (*reopen)(void);
	/* A reload to nc: it warns of what nc changes that only a restart
	 * or an upgrade takes (what start kept). NULL: nothing. */
	void (*reload)(const struct sl_conf *nc);
	/* Generation conf was loaded, at the start or by a reload (why: "start"
	 * or the reload's cause): what the module logs of it (the key sets
	 * it read). NULL: nothing. */
	void (*loaded)(const struct sl_conf *conf, const char *why);
	/* Its log file of its own in conf, for the start's checks: 1 and
	 * *f, or 0 (none). NULL: none. */
	int (*log_file)(const struct sl_conf *conf, struct sl_mfile *f);
	/* ---- counters: words in each route's per-worker counts and in
	 * each worker's stats; where they start is the module's (below) */
	uint16_t route_words, worker_words;
	const struct sl_mfamily *families;
	uint8_t nfamilies;
	/* its families' HELP and TYPE even while no route uses it */
	uint8_t families_always;
	const struct sl_mstatus *status;
	uint8_t nstatus;
	/* Its families the table cannot describe, written after its
	 * described ones while a route uses it (conf: the generation
	 * served). NULL: none. */
	void (*metrics)(const struct sl_mout *o, const struct sl_conf *conf);
	/* ---- a route's items (a rate limit of its rate_limit list): the
	 * slot's parts with counters of their own, outside the route's
	 * counts (a limit's are kept by its name across reloads), for the
	 * SL_MFAM_ITEM families and the items' status fields. NULL items:
	 * none. */
	size_t (*items)(const void *slot);
	const char *(*item_name)(const void *slot, size_t k);
	/* item k's block of the first worker, the next workers' following
	 * item_stride bytes apart (a block's words are
	 * atomic_uint_fast64_t); NULL: none yet, zeros */
	const void *(*item_counts)(const void *slot, size_t k);
	size_t item_stride;
	const char *item_label; /* "limit" */
	/* The table has given the module its slot and its counters' first
	 * words (below), once for the process: a module whose lower files
	 * read its slots keeps the descriptor where they find it (rate
	 * limits: edge/ratelimit_conf.h). NULL: none. */
	void (*placed)(const struct sl_module *m);
	/* ---- set by the table (conf_mods.c), once for the process: the
	 * module's slot, and its counters' first words */
	uint8_t slot;
	uint16_t route_at, worker_at;
	/* the outline's numbers of top_sec and route_sec, and of secs[0]
	 * (secs[k] is sec_id + k) */
	uint16_t top_sec_id, route_sec_id, sec_id;
};

#endif
