/* SPDX-License-Identifier: MIT */
/*
 * The status page's figures (doc/dashboard.md): once a second the admin
 * thread reads the counters the workers keep anyway (per-worker, summed
 * here) of every listener, route, cluster and endpoint of the running
 * generation: the latest reading, and every five seconds a snapshot
 * into a ring a minute long and a sparkline point (rate, errors, p99)
 * into a ring of five minutes. /status is written from those rings and from the
 * states read now. The workers do nothing for it: no history of their own, no
 * work when the page is read. Nothing is kept on disk.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acmeslot.h"
#include "admin_int.h"
#include "conf.h"
#include "health.h"
#include "resolve.h"
#include "route.h"
#include "users.h"
#include "util.h"

#define SPARK_STEP 5  /* seconds a snapshot and a sparkline point */
#define STEPS	   13 /* snapshots kept: a minute, and the one before */
#define SPARK_N	   60 /* points of a sparkline */
/* the tracks' table: as many chains as tracks at most, so that the tick's
 * lookup of every route of a file of 100,000 (issue 78), followed or not,
 * walks about one entry (256 chains of 16 made it 40 ms a second) */
#define TAB_N SL_ADMIN_RING_MAX

/* What one snapshot of a listener, route or cluster holds: requests,
 * responses by class (1xx to 5xx), the duration histogram, the features'
 * counts, and a split's entries. An endpoint's holds its connects. */
enum {
	V_REQ = 0,
	V_RESP = 1,	    /* 5 */
	V_DUR = V_RESP + 5, /* SL_HIST_N */
	V_FEAT = V_DUR + SL_HIST_N,
	F_MOD = 0, /* the modules' fields (core/module.h's sl_mstatus, in
		      the table's order: a count's sum, or a ratio's
		      numerator and denominator) */
	F_MOD_END = F_MOD + SL_MSTATUS_MOD_WORDS,
	F_RETRY1,     /* clusters: retried failures, class 1 */
	F_RETRY2,     /* class 2 */
	F_NO_HEALTHY, /* clusters: 503 no_healthy_upstream */
	F_OVERLOADED, /* clusters: 503 upstream_overloaded */
	NFEAT,
	V_SPLIT = V_FEAT + NFEAT, /* SL_SPLIT_SEEN, then as many sticky */
	NV_COUNTS = V_SPLIT,	  /* without a split */
};

enum track_kind { T_LISTENER, T_ROUTE, T_CLUSTER, T_ENDPOINT };

/* One object's history. */
struct track {
	const void *id; /* its state (sl_lcstate, sl_rstate, ...) */
	char *key;	/* the state's key, copied: another state at a freed
			   one's address is not taken for it */
	enum track_kind kind;
	unsigned nval;
	uint64_t sig;	  /* a route's: its split's clusters, in order */
	uint64_t born;	  /* the first tick it was read at */
	uint64_t seen;	  /* the last */
	uint64_t base_ms; /* zero_base: when its counters were zero */
	/* the first step (tick / SPARK_STEP) its ring holds; zero_base:
	 * that step's snapshot is the zeros its counters began at (a state
	 * new to the page), as at tick born - 1 */
	uint64_t first_step;
	int zero_base;
	uint64_t *snap; /* STEPS snapshots of nval, then the latest */
	float *spark;	/* SPARK_N x 3: rate, errors a second, p99 (ms);
			   -1: no request */
	struct track *next;
};

struct sl_admin_ring {
	struct track *tab[TAB_N];
	uint64_t tick; /* ticks taken (about one a second) */
	/* when (monotonic ms) the latest tick read the counters, the one
	 * before, and each step's snapshot (by step % STEPS): figures are
	 * per second of the clock, not per tick, which a busy admin
	 * thread may delay */
	uint64_t now_ms, prev_ms, step_ms[STEPS];
	size_t ntracks;
};

struct sl_admin_ring *
sl_admin_ring_new(void)
{
	return calloc(1, sizeof(struct sl_admin_ring));
}

static void
track_free(struct track *t)
{
	free(t->key);
	free(t->snap);
	free(t->spark);
	free(t);
}

void
sl_admin_ring_free(struct sl_admin_ring *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < TAB_N; i++)
		while (r->tab[i] != NULL) {
			struct track *t = r->tab[i];
			r->tab[i] = t->next;
			track_free(t);
		}
	free(r);
}

static size_t
slot_of(const void *id)
{
	uintptr_t p = (uintptr_t)id;

	return (size_t)(sl_mix64((uint64_t)p) & (TAB_N - 1));
}

/* The track of state id (key, kind, nval), made when new; NULL when out
 * of memory or past the bound of tracks kept. */
static struct track *
track_get(struct sl_admin_ring *r, const void *id, const char *key,
	  enum track_kind kind, unsigned nval, uint64_t sig, uint64_t born_ms,
	  int make)
{
	struct track **pp = &r->tab[slot_of(id)], *t;
	int again = 0;

	for (; (t = *pp) != NULL; pp = &t->next)
		if (t->id == id && t->kind == kind && strcmp(t->key, key) == 0)
			break;
	if (t != NULL && (t->nval != nval || t->sig != sig)) {
		/* a reload gave the route another split: afresh, its
		 * entries' counts being by place */
		*pp = t->next;
		track_free(t);
		r->ntracks--;
		t = NULL;
		again = 1;
	}
	if (t != NULL || !make)
		return t;
	if (r->ntracks >= SL_ADMIN_RING_MAX ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->id = id;
	t->kind = kind;
	t->nval = nval;
	t->sig = sig;
	/* A state made since the last tick (or by the start, at the first)
	 * is new: its counters began at 0, which is its snapshot of the
	 * step before (zeroed by calloc), so that what it counted since is
	 * in its last minute. Any other (one that had a track when a
	 * reload changed its split, one past SL_ADMIN_RING_MAX that got
	 * room, one named again after a reload left it out) starts from its
	 * first snapshot, not from counts that may be hours old. */
	t->born = r->tick;
	t->zero_base = !again && (r->tick == 1 || born_ms >= r->prev_ms);
	t->base_ms = r->prev_ms;
	t->first_step = t->zero_base ? (r->tick - 1) / SPARK_STEP
				     : (r->tick + SPARK_STEP - 1) / SPARK_STEP;
	t->key = strdup(key);
	t->snap = calloc((size_t)(STEPS + 1) * nval, sizeof(uint64_t));
	if (kind != T_ENDPOINT)
		t->spark = malloc(SPARK_N * 3 * sizeof(float));
	if (t->key == NULL || t->snap == NULL ||
	    (kind != T_ENDPOINT && t->spark == NULL)) {
		track_free(t);
		return NULL;
	}
	for (size_t i = 0; kind != T_ENDPOINT && i < SPARK_N * 3; i++)
		t->spark[i] = -2; /* not measured yet */
	t->next = r->tab[slot_of(id)];
	r->tab[slot_of(id)] = t;
	r->ntracks++;
	return t;
}

/* The snapshot of step k (within the last STEPS). */
static uint64_t *
step_at(const struct track *t, uint64_t k)
{
	return t->snap + (size_t)(k % STEPS) * t->nval;
}

/* The latest reading. */
static uint64_t *
cur_of(const struct track *t)
{
	return t->snap + (size_t)STEPS * t->nval;
}

/* When step k's snapshot stands for (monotonic ms). */
static uint64_t
step_time(const struct sl_admin_ring *r, const struct track *t, uint64_t k)
{
	return k == t->first_step && t->zero_base ? t->base_ms
						  : r->step_ms[k % STEPS];
}

/*
 * The snapshot to measure the last `back` seconds against, at the latest
 * tick: the newest step at least that many ticks old (so a minute is 60
 * to 64 s), or the oldest there is; NULL when there is none yet. *secs:
 * the seconds of the clock since it.
 */
static const uint64_t *
older(const struct sl_admin_ring *r, const struct track *t, uint64_t back,
      double *secs)
{
	uint64_t cur = r->tick / SPARK_STEP, k, at;

	k = cur >= back / SPARK_STEP ? cur - back / SPARK_STEP : 0;
	if (k < t->first_step)
		k = t->first_step;
	if (k > cur || (at = step_time(r, t, k)) >= r->now_ms)
		return NULL;
	*secs = (double)(r->now_ms - at) / 1000;
	return step_at(t, k);
}

/* ---- reading the counters ------------------------------------------ */

static void
read_counts(const struct sl_admin_view *v, const struct sl_counts *c,
	    uint64_t *s)
{
	s[V_REQ] = counts_sum(v, c, COUNT_OFF(requests));
	for (int k = 0; k < 5; k++)
		s[V_RESP + k] =
		    counts_sum(v, c,
			       COUNT_OFF(responses) +
				   (size_t)(k + 1) * sizeof(c->requests));
	for (int k = 0; k < SL_HIST_N; k++)
		s[V_DUR + k] = counts_sum(
		    v, c, COUNT_OFF(dur) + (size_t)k * sizeof(c->requests));
}

/* The sum of n words of a route's module counts from word at. */
static uint64_t
mod_sum(const struct sl_admin_view *v, const struct sl_counts *c, size_t at,
	unsigned n)
{
	uint64_t t = 0;

	for (unsigned k = 0; k < n; k++)
		t += counts_sum(v, c,
				COUNT_OFF(mod) +
				    (at + k) * sizeof(atomic_uint_fast64_t));
	return t;
}

/* The sum of n words from word at of the blocks of route r's items of
 * module m (its item_counts). */
static uint64_t
item_sum(const struct sl_admin_view *v, const struct sl_module *m,
	 const struct sl_conf_route *r, size_t at, unsigned n)
{
	const void *slot = sl_route_mod(r, m);
	size_t items = slot != NULL ? m->items(slot) : 0;
	uint64_t t = 0;

	for (size_t k = 0; k < items; k++) {
		const char *c = m->item_counts(slot, k);
		for (unsigned w = 0; c != NULL && w < v->nworkers; w++)
			for (unsigned j = 0; j < n; j++)
				t += SL_STAT_GET(
				    *(atomic_uint_fast64_t
					  *)(c + w * m->item_stride +
					     (at + j) *
						 sizeof(atomic_uint_fast64_t)));
	}
	return t;
}

/* n words from word off of a status field of module m for route r (its
 * counts c): of the route's counts, or of its items' blocks. */
static uint64_t
field_sum(const struct sl_admin_view *v, const struct sl_module *m,
	  const struct sl_conf_route *r, const struct sl_counts *c, size_t off,
	  unsigned n)
{
	if (m->items != NULL)
		return item_sum(v, m, r, off, n);
	return mod_sum(v, c, (size_t)m->route_at + off, n);
}

/* The modules' status fields of route r (its counts c) into f (F_MOD's). */
static void
read_modules(const struct sl_admin_view *v, const struct sl_conf_route *r,
	     const struct sl_counts *c, uint64_t *f)
{
	size_t w = 0;

	for (size_t i = 0; i < sl_conf_nmodules; i++) {
		const struct sl_module *m = sl_conf_modules[i];
		for (size_t k = 0; k < m->nstatus; k++) {
			const struct sl_mstatus *st = &m->status[k];
			if (w + 1 + (st->den_n != 0) > F_MOD_END - F_MOD)
				return; /* F_MOD is to grow with the table */
			f[w++] =
			    field_sum(v, m, r, c, st->num_off, st->num_n) +
			    field_sum(v, m, r, c, st->num2_off, st->num2_n);
			if (st->den_n != 0)
				f[w++] = field_sum(v, m, r, c, st->den_off,
						   st->den_n);
		}
	}
}

static void
read_route(const struct sl_admin_view *v, const struct sl_conf_route *r,
	   uint64_t *s)
{
	const struct sl_counts *c = r->state->counts;
	uint64_t *f = s + V_FEAT;
	const size_t u = sizeof(c->requests);

	read_counts(v, c, s);
	read_modules(v, r, c, f + F_MOD);
	for (size_t k = 0; r->split != NULL && k < SL_SPLIT_SEEN; k++) {
		s[V_SPLIT + k] = counts_sum(v, c, COUNT_OFF(split) + k * u);
		s[V_SPLIT + SL_SPLIT_SEEN + k] =
		    counts_sum(v, c, COUNT_OFF(sticky) + k * u);
	}
}

/* The duration (ms) below which a share q of the requests of histogram
 * delta h ended: linear within its bucket, as Prometheus's
 * histogram_quantile; the last bound for the +Inf bucket; -1 when h is
 * empty. */
double
sl_admin_quantile(const uint64_t *h, double q)
{
	static const double bounds[SL_HIST_N - 1] = SL_HIST_BOUNDS;
	uint64_t n = 0, cum = 0;
	double want;

	for (int i = 0; i < SL_HIST_N; i++)
		n += h[i];
	if (n == 0)
		return -1;
	want = q * (double)n;
	for (int i = 0; i < SL_HIST_N; i++) {
		if (h[i] == 0 || (double)(cum + h[i]) < want) {
			cum += h[i];
			continue;
		}
		if (i == SL_HIST_N - 1)
			return bounds[SL_HIST_N - 2];
		double lo = i == 0 ? 0 : bounds[i - 1];
		return lo +
		       (bounds[i] - lo) * (want - (double)cum) / (double)h[i];
	}
	return bounds[SL_HIST_N - 2];
}

/* The delta of n values from snapshot sa (older) to sb. */
static void
delta(const uint64_t *sa, const uint64_t *sb, unsigned n, uint64_t *out)
{
	for (unsigned i = 0; i < n; i++)
		out[i] = sb[i] >= sa[i] ? sb[i] - sa[i] : 0;
}

/* At a step's tick: the latest reading becomes its snapshot, and the
 * sparkline gets the point of the step since the one before. */
static void
step_taken(const struct sl_admin_ring *r, struct track *t)
{
	uint64_t k = r->tick / SPARK_STEP, d[V_DUR + SL_HIST_N], then;
	float *p, secs;

	memcpy(step_at(t, k), cur_of(t), t->nval * sizeof(uint64_t));
	if (t->spark == NULL || k == 0 || k - 1 < t->first_step)
		return;
	then = step_time(r, t, k - 1);
	if (then >= r->now_ms)
		return;
	secs = (float)(r->now_ms - then) / 1000;
	p = t->spark + (size_t)(k % SPARK_N) * 3;
	delta(step_at(t, k - 1), step_at(t, k), V_DUR + SL_HIST_N, d);
	p[0] = (float)d[V_REQ] / secs;
	p[1] = (float)d[V_RESP + 4] / secs;
	p[2] = (float)sl_admin_quantile(d + V_DUR, 0.99);
}

static unsigned
route_nval(const struct sl_conf_route *r)
{
	return r->split != NULL ? NV_COUNTS + 2 * SL_SPLIT_SEEN : NV_COUNTS;
}

/* What names a route's split: its clusters in order (FNV-1a); 0 for a
 * route to one cluster. */
static uint64_t
route_sig(const struct sl_conf_route *r)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	if (r->split == NULL)
		return 0;
	for (size_t i = 0; i < r->nsplit; i++)
		for (const char *p = r->split[i].cluster->name;; p++) {
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
			if (*p == '\0')
				break;
		}
	return h;
}

/* A track whose counts went back (another state at a freed one's
 * address, of the same name): a new state, from zero. */
static void
track_restart(const struct sl_admin_ring *r, struct track *t)
{
	memset(t->snap, 0, (size_t)STEPS * t->nval * sizeof(uint64_t));
	t->born = r->tick;
	t->zero_base = 1;
	t->base_ms = r->prev_ms;
	t->first_step = (r->tick - 1) / SPARK_STEP;
	for (size_t i = 0; t->spark != NULL && i < SPARK_N * 3; i++)
		t->spark[i] = -2;
}

/* Reads one object's counters into its snapshot of this tick, which it
 * returns (NULL: not followed). */
static uint64_t *
take(struct sl_admin_ring *r, const struct sl_admin_view *v,
     enum track_kind kind, const void *id, const char *key, uint64_t born_ms,
     unsigned nval, const struct sl_conf_route *route,
     const struct sl_counts *c)
{
	uint64_t sig = route != NULL ? route_sig(route) : 0;
	struct track *t = track_get(r, id, key, kind, nval, sig, born_ms, 1);
	uint64_t *s, before;

	if (t == NULL)
		return NULL;
	t->seen = r->tick;
	s = cur_of(t);
	before = s[0];
	memset(s, 0, nval * sizeof(*s));
	if (kind == T_ENDPOINT)
		s[0] = counts_sum(v, c, COUNT_OFF(connects));
	else if (route != NULL)
		read_route(v, route, s);
	else
		read_counts(v, c, s);
	if (kind == T_CLUSTER) {
		const struct sl_clstate *cs = id;
		s[V_FEAT + F_RETRY1] =
		    load((atomic_uint_fast64_t *)&cs->retries[1]);
		s[V_FEAT + F_RETRY2] =
		    load((atomic_uint_fast64_t *)&cs->retries[2]);
		s[V_FEAT + F_NO_HEALTHY] =
		    load((atomic_uint_fast64_t *)&cs->no_healthy);
		s[V_FEAT + F_OVERLOADED] =
		    load((atomic_uint_fast64_t *)&cs->overloaded);
	}
	/* counts that went back, or a state made since the last tick under
	 * a track that had one before (another state at a freed one's
	 * address, of the same name): a new state, from zero */
	if (s[0] < before || (t->born != r->tick && born_ms >= r->prev_ms))
		track_restart(r, t);
	return s;
}

void
sl_admin_ring_tick(struct sl_admin_ring *r, const struct sl_admin_view *v,
		   uint64_t now_ms)
{
	const struct sl_conf *c = v->conf;

	/* the first tick's "before" is the start: a state's counters were
	 * zero then */
	r->prev_ms = r->tick > 0 ? r->now_ms : SL_MIN(v->start_ms, now_ms);
	r->now_ms = now_ms;
	r->tick++;
	if (r->tick % SPARK_STEP == 0)
		r->step_ms[(r->tick / SPARK_STEP) % STEPS] = now_ms;
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct sl_conf_listener *l = &c->listeners[i];
		take(r, v, T_LISTENER, l->counters, l->counters->key,
		     l->counters->born_ms, NV_COUNTS, NULL,
		     l->counters->counts);
		for (size_t j = 0; j < l->nroutes; j++) {
			const struct sl_conf_route *rt = &l->routes[j];
			take(r, v, T_ROUTE, rt->state, rt->state->key,
			     rt->state->born_ms, route_nval(rt), rt,
			     rt->state->counts);
		}
	}
	for (size_t i = 0; i < c->nclusters; i++) {
		const struct sl_conf_cluster *cl = &c->clusters[i];
		take(r, v, T_CLUSTER, cl->state, cl->state->key,
		     cl->state->born_ms, NV_COUNTS, NULL, cl->state->counts);
		for (size_t j = 0; j < cl->nendpoints; j++) {
			const struct sl_epstate *e = cl->endpoints[j].state;
			take(r, v, T_ENDPOINT, e, e->key, e->born_ms, 1, NULL,
			     e->counts);
		}
	}
	/* what the generation no longer names goes at once: its state may
	 * be let go, and another made at its address (a reload loop of two
	 * files made a track a cycle, kept 5 minutes: 6 MB in 200 reloads,
	 * which tls_test_reload measured); the others get their snapshot
	 * every SPARK_STEP ticks. One named again is a new track, from its
	 * first snapshot (its state's counts are not its minute's). */
	for (size_t i = 0; i < TAB_N; i++)
		for (struct track **pp = &r->tab[i], *t; (t = *pp) != NULL;)
			if (t->seen != r->tick) {
				*pp = t->next;
				track_free(t);
				r->ntracks--;
			} else {
				if (r->tick % SPARK_STEP == 0)
					step_taken(r, t);
				pp = &t->next;
			}
}

/* ---- /status --------------------------------------------------------- */

/* A figure: null when negative (not measured), else as an integer when
 * it is one, else to 3 significant digits. Most of a page's numbers are
 * sparkline points, null or whole: those skip printf. */
static void
jnum(struct sbuf *b, double x)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t u;

	if (x < 0 || !isfinite(x)) {
		sb_put(b, "null", 4);
		return;
	}
	if (x != floor(x) || x >= 1e15) {
		sb_printf(b, "%.3g", x);
		return;
	}
	u = (uint64_t)x;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	sb_put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void
jkv_num(struct sbuf *b, const char *key, double x)
{
	sb_printf(b, ",\"%s\":", key);
	jnum(b, x);
}

/* A track's traffic: rate over the last 10 s, the last minute's
 * requests, classes and percentiles, its sparklines; its figures over
 * the minute in d (V_* indexed) for the caller. */
static void
traffic(struct sbuf *b, const struct sl_admin_ring *r, const struct track *t,
	uint64_t *d)
{
	static const char *const cls[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
	uint64_t now = r->tick, d10 = 0;
	double w = 0, w10 = 0;
	const uint64_t *cur = cur_of(t), *o;

	memset(d, 0, t->nval * sizeof(*d));
	if ((o = older(r, t, 60, &w)) != NULL)
		delta(o, cur, t->nval, d);
	if ((o = older(r, t, 10, &w10)) != NULL)
		delta(o, cur, 1, &d10);
	sb_printf(b, ",\"window_s\":%.0f", w);
	jkv_num(b, "rps", w10 > 0 ? (double)d10 / w10 : -1);
	sl_admin_jkv_u64(b, "requests", cur[V_REQ]);
	sl_admin_jkv_u64(b, "requests_1m", d[V_REQ]);
	sb_printf(b, ",\"status_1m\":{");
	for (int k = 0; k < 5; k++)
		sb_printf(b, "%s\"%s\":%llu", k ? "," : "", cls[k],
			  (unsigned long long)d[V_RESP + k]);
	sb_printf(b, "}");
	jkv_num(b, "p50_ms", sl_admin_quantile(d + V_DUR, 0.50));
	jkv_num(b, "p95_ms", sl_admin_quantile(d + V_DUR, 0.95));
	jkv_num(b, "p99_ms", sl_admin_quantile(d + V_DUR, 0.99));
	if (t->spark == NULL)
		return;
	/* oldest first; a point not measured yet is null */
	static const char *const series[3] = {"rps", "errors", "p99_ms"};
	sb_printf(b, ",\"spark\":{\"step_s\":%d", SPARK_STEP);
	for (int k = 0; k < 3; k++) {
		sb_printf(b, ",\"%s\":[", series[k]);
		for (size_t i = 0; i < SPARK_N; i++) {
			uint64_t at = now / SPARK_STEP + 1 + i;
			float x = t->spark[(at % SPARK_N) * 3 + (size_t)k];
			if (i > 0)
				sb_put(b, ",", 1);
			jnum(b, x);
		}
		sb_put(b, "]", 1);
	}
	sb_printf(b, "}");
}

/* An empty traffic block: a track not read yet (a reload a moment ago). */
static void
no_traffic(struct sbuf *b)
{
	sb_printf(b, ",\"window_s\":0,\"rps\":null,\"requests\":0,"
		     "\"requests_1m\":0,\"status_1m\":{\"1xx\":0,\"2xx\":0,"
		     "\"3xx\":0,\"4xx\":0,\"5xx\":0},\"p50_ms\":null,"
		     "\"p95_ms\":null,\"p99_ms\":null");
}

/* t when the latest tick read it, else NULL: between a reload that
 * names an object again and the next tick, its snapshots are not yet
 * of the present (take() mends them) */
static struct track *
read_at_tick(const struct sl_admin_ring *r, struct track *t)
{
	return t != NULL && t->seen == r->tick ? t : NULL;
}

/* The modules' values beside a route's split (core/module.h's
 * split_status of entry k, or route_status; k SIZE_MAX), null where the
 * route does not use them. */
static void
status_split_modules(struct sbuf *b, const struct sl_conf_route *rt, size_t k)
{
	struct sl_jout o;

	sl_admin_jout(&o, b);
	for (size_t i = 0; i < sl_conf_nmodules; i++) {
		const struct sl_module *m = sl_conf_modules[i];
		const void *slot =
		    rt->split != NULL ? sl_route_mod(rt, m) : NULL;
		if (k != SIZE_MAX && m->split_status != NULL)
			m->split_status(&o, slot, k);
		else if (k == SIZE_MAX && m->route_status != NULL)
			m->route_status(&o, slot);
	}
}

static void
status_split(struct sbuf *b, const struct sl_conf_route *rt, const uint64_t *d,
	     int have)
{
	struct sl_users *u = rt->sticky.source != SL_KEY_NONE
				 ? atomic_load(&rt->state->users)
				 : NULL;
	uint64_t total = 0, now = sl_now_ms();

	for (size_t k = 0; have && k < rt->nsplit && k < SL_SPLIT_SEEN; k++)
		total += d[V_SPLIT + k];
	sb_printf(b, ",\"split\":[");
	for (size_t k = 0; k < rt->nsplit; k++) {
		int seen = have && k < SL_SPLIT_SEEN;

		sb_printf(b, "%s{\"cluster\":", k ? "," : "");
		sl_admin_jstr(b, rt->split[k].cluster->name);
		sb_printf(b, ",\"weight\":%u,\"effective_weight\":%u",
			  rt->split[k].weight,
			  sl_route_split_held(rt, k) ? 0 : rt->split[k].weight);
		jkv_num(b, "share_1m",
			seen && total > 0
			    ? (double)d[V_SPLIT + k] / (double)total
			    : -1);
		if (seen) {
			sl_admin_jkv_u64(b, "requests_1m", d[V_SPLIT + k]);
			sl_admin_jkv_u64(b, "sticky_1m",
					 d[V_SPLIT + SL_SPLIT_SEEN + k]);
		} else
			sb_printf(b,
				  ",\"requests_1m\":null,\"sticky_1m\":null");
		/* distinct keys, estimated (users.h); null without a key */
		if (u != NULL && k < SL_USERS_ENTRIES)
			sl_admin_jkv_u64(b, "users_1m",
					 sl_users_count(u, k, now));
		else
			sb_printf(b, ",\"users_1m\":null");
		status_split_modules(b, rt, k);
		sb_printf(b, "}");
	}
	sb_printf(b, "]");
	status_split_modules(b, rt, SIZE_MAX);
}

/* The modules' fields of a route's features_1m from the minute's f (F_MOD's
 * deltas), the object's only ones: null where the route does not use the
 * module. */
static void
status_modules(struct sbuf *b, const struct sl_conf_route *rt,
	       const uint64_t *f)
{
	size_t w = 0;

	for (size_t i = 0; i < sl_conf_nmodules; i++) {
		const struct sl_module *m = sl_conf_modules[i];
		int on = sl_route_mod(rt, m) != NULL;
		for (size_t k = 0; k < m->nstatus; k++) {
			const struct sl_mstatus *st = &m->status[k];
			if (w + 1 + (st->den_n != 0) > F_MOD_END - F_MOD)
				return;
			sb_printf(b, "%s\"%s\":", w > 0 ? "," : "", st->name);
			if (st->den_n == 0)
				jnum(b, on ? (double)f[w] : -1);
			else
				jnum(b, on && f[w + 1] > 0
					    ? (double)f[w] / (double)f[w + 1]
					    : -1);
			w += st->den_n != 0 ? 2 : 1;
		}
	}
}

static void
status_route(struct sbuf *b, struct sl_admin_ring *r,
	     const struct sl_conf_route *rt)
{
	struct track *t =
	    read_at_tick(r, track_get(r, rt->state, rt->state->key, T_ROUTE,
				      route_nval(rt), route_sig(rt), 0, 0));
	uint64_t d[NV_COUNTS + 2 * SL_SPLIT_SEEN] = {0};
	const uint64_t *f = d + V_FEAT;

	sb_printf(b, "{\"name\":");
	sl_admin_jstr(b, rt->name);
	sl_admin_jkv_str(b, "cluster",
			 rt->cluster != NULL ? rt->cluster->name : NULL);
	if (t != NULL)
		traffic(b, r, t, d);
	else
		no_traffic(b);
	sb_printf(b, ",\"features_1m\":{");
	status_modules(b, rt, f + F_MOD);
	sb_printf(b, "}");
	if (rt->split != NULL)
		status_split(b, rt, d, t != NULL);
	else {
		sb_printf(b, ",\"split\":null");
		status_split_modules(b, rt, SIZE_MAX);
	}
	sb_printf(b, "}");
}

/* ---- paging and searching (doc/dashboard.md 5.11) -------------------- */

#define PAGE_DEFAULT 100   /* rows of a table when the query names none */
#define PAGE_MAX     10000 /* and at most */
#define Q_MAX	     128   /* bytes of a search, decoded */

/* What the query asks of the tables that grow with the file: the routes
 * (of each listener) and the clusters, a window of each, of the rows
 * whose text holds a search. */
struct page {
	size_t routes_offset, routes_limit;
	size_t clusters_offset, clusters_limit;
	char routes_q[Q_MAX + 1], clusters_q[Q_MAX + 1]; /* lowercase */
};

static int
hexval(int c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* A query value, percent-decoded ('+' a space), lowercased, cut at
 * Q_MAX bytes. */
static void
q_value(const char *p, size_t n, char *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k < Q_MAX; i++) {
		int c = (unsigned char)p[i];
		if (c == '+')
			c = ' ';
		else if (c == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 &&
			 hexval(p[i + 2]) >= 0) {
			c = hexval(p[i + 1]) * 16 + hexval(p[i + 2]);
			i += 2;
		}
		out[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[k] = '\0';
}

/* A count of the query: digits only, else def; at most max. */
static size_t
q_count(const char *p, size_t n, size_t def, size_t max)
{
	size_t x = 0;

	if (n == 0 || n > 9)
		return def;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return def;
		x = x * 10 + (size_t)(p[i] - '0');
	}
	return x > max ? max : x;
}

static void
page_parse(struct page *pg, const char *q, size_t qlen)
{
	memset(pg, 0, sizeof(*pg));
	pg->routes_limit = pg->clusters_limit = PAGE_DEFAULT;
	for (size_t i = 0; i < qlen;) {
		size_t end = i, eq;
		while (end < qlen && q[end] != '&')
			end++;
		for (eq = i; eq < end && q[eq] != '='; eq++)
			;
		const char *k = q + i, *val = eq < end ? q + eq + 1 : q + end;
		size_t kn = eq - i, vn = eq < end ? end - eq - 1 : 0;
#define KEY_IS(s) (kn == sizeof(s) - 1 && memcmp(k, s, kn) == 0)
		if (KEY_IS("routes_offset"))
			pg->routes_offset = q_count(val, vn, 0, SIZE_MAX);
		else if (KEY_IS("routes_limit"))
			pg->routes_limit =
			    q_count(val, vn, PAGE_DEFAULT, PAGE_MAX);
		else if (KEY_IS("routes_q"))
			q_value(val, vn, pg->routes_q);
		else if (KEY_IS("clusters_offset"))
			pg->clusters_offset = q_count(val, vn, 0, SIZE_MAX);
		else if (KEY_IS("clusters_limit"))
			pg->clusters_limit =
			    q_count(val, vn, PAGE_DEFAULT, PAGE_MAX);
		else if (KEY_IS("clusters_q"))
			q_value(val, vn, pg->clusters_q);
#undef KEY_IS
		i = end + 1;
	}
}

/* Whether s holds q (lowercase), ignoring case. */
static int
holds(const char *s, const char *q)
{
	size_t qn = strlen(q);

	if (qn == 0)
		return 1;
	for (; s != NULL && *s != '\0'; s++) {
		size_t i = 0;
		while (i < qn && s[i] != '\0' &&
		       (s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]) == q[i])
			i++;
		if (i == qn)
			return 1;
	}
	return 0;
}

/* Whether route rt is among what search q finds: its name, its host or
 * a name of its hosts_file (so a merchant's host finds the route that
 * serves it), its path, the cluster it names or one of its split. */
static int
route_found(const struct sl_conf_route *rt, const char *q)
{
	if (*q == '\0' || holds(rt->name, q) || holds(rt->host, q) ||
	    holds(rt->path, q))
		return 1;
	for (size_t k = 0; rt->hosts != NULL && k < rt->hosts->n; k++)
		if (holds(rt->hosts->names + rt->hosts->at[k].off, q))
			return 1;
	if (rt->cluster != NULL && holds(rt->cluster->name, q))
		return 1;
	for (size_t k = 0; rt->split != NULL && k < rt->nsplit; k++)
		if (holds(rt->split[k].cluster->name, q))
			return 1;
	return 0;
}

/* Whether cluster cl is among what search q finds: its name, or the
 * address or DNS name of one of its endpoints. */
static int
cluster_found(const struct sl_conf_cluster *cl, const char *q)
{
	if (*q == '\0' || holds(cl->name, q))
		return 1;
	for (size_t j = 0; j < cl->nendpoints; j++)
		if (holds(cl->endpoints[j].addr.text, q) ||
		    holds(cl->endpoints[j].dns_name, q))
			return 1;
	return 0;
}

static void
status_listener(struct sbuf *b, struct sl_admin_ring *r,
		const struct sl_conf_listener *l, const struct page *pg)
{
	size_t matched = 0, shown = 0;

	struct track *t =
	    read_at_tick(r, track_get(r, l->counters, l->counters->key,
				      T_LISTENER, NV_COUNTS, 0, 0, 0));
	uint64_t d[NV_COUNTS];

	sb_printf(b, "{\"name\":");
	sl_admin_jstr(b, l->name);
	sl_admin_jkv_str(b, "address", l->addr.text);
	sl_admin_jkv_bool(b, "tls", l->tls.certs != NULL);
	sl_admin_jkv_bool(b, "http3", l->http3.enabled);
	sl_admin_jkv_u64(b, "connections", load(&l->state->conns));
	if (t != NULL)
		traffic(b, r, t, d);
	else
		no_traffic(b);
	sb_printf(b, ",\"routes\":[");
	for (size_t j = 0; j < l->nroutes; j++) {
		if (!route_found(&l->routes[j], pg->routes_q))
			continue;
		if (matched++ < pg->routes_offset || shown >= pg->routes_limit)
			continue;
		sb_printf(b, "%s", shown++ ? "," : "");
		status_route(b, r, &l->routes[j]);
	}
	sb_printf(b, "]");
	sl_admin_jkv_u64(b, "routes_total", l->nroutes);
	sl_admin_jkv_u64(b, "routes_matched", matched);
	sl_admin_jkv_u64(b, "routes_offset", pg->routes_offset);
	sb_printf(b, "}");
}

/* An endpoint's health: "up", "down" (active checks), "ejected"
 * (outlier detection), with the reason and since when. */
static void
status_endpoint(struct sbuf *b, struct sl_admin_ring *r,
		const struct sl_admin_view *v, const struct sl_conf_cluster *cl,
		const struct sl_conf_endpoint *e)
{
	struct sl_epstate *st = e->state;
	struct track *t =
	    read_at_tick(r, track_get(r, st, st->key, T_ENDPOINT, 1, 0, 0, 0));
	uint64_t now = sl_now_ms(), until = load(&st->ejected_until_ms);
	uint64_t idle = counts_sum(v, st->counts, COUNT_OFF(idle));
	uint64_t conns = load(&st->conns), since = 0;
	const char *state = "up", *reason = NULL;
	char why[64];

	if (cl->health.enabled && atomic_load(&st->unhealthy)) {
		state = "down";
		reason = sl_health_error_str(
		    (enum sl_health_error)atomic_load(&st->check_error));
		since = load(&st->health_since_ms);
	} else if (cl->outlier.enabled && until > now) {
		state = "ejected";
		snprintf(why, sizeof(why), "outlier: %u errors in a row",
			 cl->outlier.consecutive_errors);
		reason = why;
		since = load(&st->ejected_since_ms);
	} else if (cl->health.enabled)
		since = load(&st->health_since_ms);
	sb_printf(b, "{\"address\":");
	sl_admin_jstr(b, e->addr.text);
	sl_admin_jkv_str(b, "name", e->dns_name);
	sb_printf(b, ",\"weight\":%u", e->weight);
	sl_admin_jkv_str(b, "state", state);
	sl_admin_jkv_str(b, "reason", reason);
	if (since != 0 && since <= now)
		sl_admin_jkv_u64(b, "since_s_ago", (now - since) / 1000);
	else
		sb_printf(b, ",\"since_s_ago\":null");
	sl_admin_jkv_u64(b, "in_flight",
			 counts_sum(v, st->counts, COUNT_OFF(inflight)));
	sb_printf(b, ",\"pool\":{\"idle\":%llu,\"busy\":%llu",
		  (unsigned long long)idle,
		  (unsigned long long)(conns > idle ? conns - idle : 0));
	const uint64_t *o;
	uint64_t dc;
	double w;
	if (t != NULL && (o = older(r, t, 60, &w)) != NULL) {
		delta(o, cur_of(t), 1, &dc);
		jkv_num(b, "connects_per_s", (double)dc / w);
	} else
		sb_printf(b, ",\"connects_per_s\":null");
	sb_printf(b, "}");
	if (cl->health.enabled)
		sb_printf(b,
			  ",\"checks\":{\"ok\":%llu,\"failed\":%llu,"
			  "\"last_status\":%d}",
			  (unsigned long long)load(&st->checks_ok),
			  (unsigned long long)load(&st->checks_failed),
			  atomic_load(&st->check_status));
	else
		sb_printf(b, ",\"checks\":null");
	sl_admin_jkv_u64(b, "ejections", load(&st->ejections));
	sb_printf(b, "}");
}

static void
status_cluster(struct sbuf *b, struct sl_admin_ring *r,
	       const struct sl_admin_view *v, const struct sl_conf_cluster *cl)
{
	struct sl_clstate *cs = cl->state;
	struct track *t = read_at_tick(
	    r, track_get(r, cs, cs->key, T_CLUSTER, NV_COUNTS, 0, 0, 0));
	uint64_t d[NV_COUNTS] = {0}, now = sl_now_ms();

	sb_printf(b, "{\"name\":");
	sl_admin_jstr(b, cl->name);
	if (t != NULL)
		traffic(b, r, t, d);
	else
		no_traffic(b);
	sb_printf(b, ",\"retries_1m\":{\"class1\":%llu,\"class2\":%llu}",
		  (unsigned long long)d[V_FEAT + F_RETRY1],
		  (unsigned long long)d[V_FEAT + F_RETRY2]);
	sl_admin_jkv_u64(b, "pending", load(&cs->pending));
	sl_admin_jkv_u64(b, "no_healthy_1m", d[V_FEAT + F_NO_HEALTHY]);
	sl_admin_jkv_u64(b, "overloaded_1m", d[V_FEAT + F_OVERLOADED]);
	sb_printf(b, ",\"endpoints\":[");
	for (size_t j = 0; j < cl->nendpoints; j++) {
		sb_printf(b, "%s", j ? "," : "");
		status_endpoint(b, r, v, cl, &cl->endpoints[j]);
	}
	sb_printf(b, "],\"dns\":[");
	for (size_t k = 0; k < cl->nnames; k++) {
		const struct sl_conf_dns_name *nm = &cl->names[k];
		struct sl_resolver_state st;
		sb_printf(b, "%s{\"name\":", k ? "," : "");
		sl_admin_jstr(b, nm->srv ? nm->name : nm->text);
		sl_admin_jkv_bool(b, "srv", nm->srv);
		if (sl_resolver_state(v->resolver, cl->name, nm->text, &st) ==
		    0) {
			sl_admin_jkv_str(
			    b, "result",
			    st.looked_up ? sl_dns_result_str(st.last) : "none");
			sl_admin_jkv_u64(b, "addresses",
					 st.have ? st.naddrs : 0);
			if (st.good_ms != 0 && st.good_ms <= now)
				sl_admin_jkv_u64(b, "answer_age_s",
						 (now - st.good_ms) / 1000);
			else
				sb_printf(b, ",\"answer_age_s\":null");
			sl_admin_jkv_u64(b, "ttl_s", st.ttl_s);
		} else
			sb_printf(b, ",\"result\":null,\"addresses\":0,"
				     "\"answer_age_s\":null,\"ttl_s\":null");
		sb_printf(b, "}");
	}
	sb_printf(b, "]}");
}

void
sl_admin_page_status(const struct sl_admin_view *v, struct sl_admin_ring *r,
		     struct sbuf *b)
{
	sl_admin_page_status_q(v, r, "", 0, b);
}

/* ACME's certificates (doc/tls.md, "ACME"): how many, and those that need
 * an operator's eye (none yet, the last order failed, or 14 days or less
 * left), the first ACME_ATTENTION_MAX of them found; null without
 * ACME. */
#define ACME_ATTENTION_MAX 100
struct acme_sum {
	struct sbuf *b;
	int64_t now;
	size_t names, certs, failing, shown;
	int64_t soonest; /* seconds left of the one that expires first */
};

static void
acme_one(const struct sl_acme_slot *s, void *arg)
{
	struct acme_sum *a = arg;
	int64_t na = atomic_load(&s->not_after);
	int64_t next = atomic_load(&s->next_at);
	int failed = atomic_load(&s->result) == SL_ACME_R_FAILED;

	a->names++;
	a->certs += na > 0;
	a->failing += failed;
	if (na > 0 && (a->soonest == INT64_MAX || na - a->now < a->soonest))
		a->soonest = na - a->now;
	if (!(na == 0 || failed || na - a->now <= 14 * 86400) ||
	    a->shown >= ACME_ATTENTION_MAX)
		return;
	sb_printf(a->b, "%s{\"name\":", a->shown++ ? "," : "");
	sl_admin_jstr(a->b, s->name);
	if (na > 0)
		sb_printf(a->b, ",\"expires_in_s\":%lld",
			  (long long)(na - a->now));
	else
		sb_printf(a->b, ",\"expires_in_s\":null");
	sl_admin_jkv_str(a->b, "last",
			 failed					   ? "failed"
			 : atomic_load(&s->result) == SL_ACME_R_OK ? "ok"
								   : NULL);
	sl_admin_jkv_u64(a->b, "failures", atomic_load(&s->failures));
	sl_admin_jkv_str(a->b, "error", failed ? s->error : NULL);
	if (next > 0)
		sb_printf(a->b, ",\"next_attempt_in_s\":%lld}",
			  (long long)(next > a->now ? next - a->now : 0));
	else
		sb_printf(a->b, ",\"next_attempt_in_s\":null}");
}

static void
status_acme(struct sbuf *b, int64_t now)
{
	struct acme_sum a = {b, now, 0, 0, 0, 0, INT64_MAX};

	if (sl_acme_slots_count() == 0) {
		sb_printf(b, ",\"acme\":null");
		return;
	}
	sb_printf(b, ",\"acme\":{\"attention\":[");
	sl_acme_slots_each(acme_one, &a);
	sb_printf(b, "],\"names\":%zu,\"certificates\":%zu,\"failing\":%zu",
		  a.names, a.certs, a.failing);
	if (a.soonest != INT64_MAX)
		sb_printf(b, ",\"soonest_expiry_s\":%lld}",
			  (long long)a.soonest);
	else
		sb_printf(b, ",\"soonest_expiry_s\":null}");
}

void
sl_admin_page_status_q(const struct sl_admin_view *v, struct sl_admin_ring *r,
		       const char *query, size_t query_len, struct sbuf *b)
{
	const struct sl_conf *c = v->conf;
	size_t matched = 0, shown = 0;
	struct page pg;
	uint64_t active = wsum(v, offsetof(struct sl_worker_stats, active));
	uint64_t h2 = wsum(v, offsetof(struct sl_worker_stats, h2_conns));
	uint64_t now_ms = sl_now_ms();
	struct timespec ts;

	page_parse(&pg, query, query_len);
	clock_gettime(CLOCK_REALTIME, &ts);
	sb_printf(b, "{\"schema\":1,\"sluice\":{\"version\":\"%s\"",
		  PACKAGE_VERSION);
	sl_admin_jkv_u64(b, "pid", (uint64_t)getpid());
	sl_admin_jkv_u64(b, "time_s", (uint64_t)ts.tv_sec);
	sl_admin_jkv_u64(b, "uptime_s",
			 (now_ms - SL_MIN(now_ms, v->start_ms)) / 1000);
	sl_admin_jkv_u64(b, "workers", v->nworkers);
	sl_admin_jkv_bool(b, "draining", v->draining);
	sb_printf(b, ",\"config\":{\"generation\":%llu",
		  (unsigned long long)c->generation);
	sl_admin_jkv_str(b, "sha256", c->sha256[0] != '\0' ? c->sha256 : NULL);
	sl_admin_jkv_str(b, "path", c->path);
	sb_printf(b, "},\"reloads\":{\"applied\":%llu,\"refused\":%llu",
		  (unsigned long long)v->reloads_ok,
		  (unsigned long long)v->reloads_failed);
	if (v->last_reload_ms != 0) {
		uint64_t wall =
		    (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		sb_printf(b, ",\"last\":{\"time_s\":%llu",
			  (unsigned long long)(v->last_reload_ms / 1000));
		sl_admin_jkv_u64(b, "s_ago",
				 (wall - SL_MIN(wall, v->last_reload_ms)) /
				     1000);
		sl_admin_jkv_str(b, "result",
				 v->last_reload_ok ? "applied" : "refused");
		sl_admin_jkv_str(b, "why", v->last_reload_why);
		sl_admin_jkv_str(b, "error",
				 v->last_reload_ok ? NULL
						   : v->last_reload_error);
		sb_printf(b, "}}");
	} else
		sb_printf(b, ",\"last\":null}");
	sb_printf(b,
		  ",\"connections\":{\"http1\":%llu,\"http2\":%llu,"
		  "\"http3\":%llu}",
		  (unsigned long long)(active > h2 ? active - h2 : 0),
		  (unsigned long long)h2,
		  (unsigned long long)wsum(
		      v, offsetof(struct sl_worker_stats, quic_conns)));
	sb_printf(b, "}");
	status_acme(b, (int64_t)ts.tv_sec);
	sb_printf(b, ",\"listeners\":[");
	for (size_t i = 0; i < c->nlisteners; i++) {
		sb_printf(b, "%s", i ? "," : "");
		status_listener(b, r, &c->listeners[i], &pg);
	}
	sb_printf(b, "],\"clusters\":[");
	for (size_t i = 0; i < c->nclusters; i++) {
		if (!cluster_found(&c->clusters[i], pg.clusters_q))
			continue;
		if (matched++ < pg.clusters_offset ||
		    shown >= pg.clusters_limit)
			continue;
		sb_printf(b, "%s", shown++ ? "," : "");
		status_cluster(b, r, v, &c->clusters[i]);
	}
	sb_printf(b, "]");
	sl_admin_jkv_u64(b, "clusters_total", c->nclusters);
	sl_admin_jkv_u64(b, "clusters_matched", matched);
	sl_admin_jkv_u64(b, "clusters_offset", pg.clusters_offset);
	sb_printf(b, ",\"page\":{\"routes_offset\":%zu,\"routes_limit\":%zu",
		  pg.routes_offset, pg.routes_limit);
	sl_admin_jkv_str(b, "routes_q", pg.routes_q);
	sl_admin_jkv_u64(b, "clusters_offset", pg.clusters_offset);
	sl_admin_jkv_u64(b, "clusters_limit", pg.clusters_limit);
	sl_admin_jkv_str(b, "clusters_q", pg.clusters_q);
	sb_printf(b, "}}\n");
}
