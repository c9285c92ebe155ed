/* SPDX-License-Identifier: MIT */
/*
 * /metrics' families of the modules (core/module.h), in the module
 * table's order: each module's counters as it describes them, for the
 * routes that use it and summed over the workers. Names no module.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "conf.h"

#include "admin_int.h"

/* A walk over the routes of a configuration that use a module, in the
 * order of the listeners and of their routes: set c and m, leave the rest
 * zero, and call route_walk_next() until it returns NULL. */
struct route_walk {
	const struct sl_conf *c;   /* borrowed */
	const struct sl_module *m; /* borrowed */
	size_t li;		   /* the listener being walked */
	size_t ri;		   /* its next route to look at */
	const char *lname;	   /* the listener of the route last returned */
	const void *slot;	   /* m's slot of the route last returned */
};

/* The next route of w->c that uses w->m, its listener's name in w->lname
 * and its slot in w->slot; NULL at the end. */
static const struct sl_conf_route *
route_walk_next(struct route_walk *w)
{
	for (; w->li < w->c->nlisteners; w->li++, w->ri = 0) {
		const struct sl_conf_listener *l = &w->c->listeners[w->li];

		while (w->ri < l->nroutes) {
			const struct sl_conf_route *r = &l->routes[w->ri++];

			w->slot = sl_route_mod(r, w->m);
			if (w->slot != NULL) {
				w->lname = l->name;
				return r;
			}
		}
	}
	return NULL;
}

/* Whether a route of c uses m. */
static int
used(const struct sl_conf *c, const struct sl_module *m)
{
	struct route_walk w = {.c = c, .m = m};

	return route_walk_next(&w) != NULL;
}

/* Timed family f's lines of m for route r of listener lname: its
 * histogram, or its seconds. */
static void
route_timed(const struct sl_admin_view *v, struct sbuf *b,
	    const struct sl_module *m, const struct sl_mfamily *f,
	    const char *lname, const struct sl_conf_route *r)
{
	const size_t u = sizeof(atomic_uint_fast64_t);
	const size_t at = offsetof(struct sl_counts, mod);
	char labels[160];

	snprintf(labels, sizeof(labels), "listener=\"%s\",route=\"%s\"", lname,
		 r->name);
	if (f->kind == SL_MFAM_HISTOGRAM)
		sl_admin_histogram(b, v, f->name, labels, r->state->counts,
				   at + ((size_t)m->route_at + f->off) * u,
				   at + ((size_t)m->route_at + f->sum_off) * u,
				   f->div);
	else
		sb_printf(b, "%s{%s} %.*f\n", f->name, labels,
			  f->div > 1000.0 ? 6 : 3,
			  (double)counts_sum(
			      v, r->state->counts,
			      at + ((size_t)m->route_at + f->off) * u) /
			      f->div);
}

/* Family f's lines of m for every route that uses m. */
static void
route_lines(const struct sl_admin_view *v, struct sbuf *b,
	    const struct sl_module *m, const struct sl_mfamily *f)
{
	const size_t u = sizeof(atomic_uint_fast64_t);
	const size_t base = offsetof(struct sl_counts, mod) +
			    ((size_t)m->route_at + f->off) * u;
	struct route_walk w = {.c = v->conf, .m = m};
	const struct sl_conf_route *r;

	while ((r = route_walk_next(&w)) != NULL) {
		if (f->kind == SL_MFAM_HISTOGRAM ||
		    f->kind == SL_MFAM_SECONDS) {
			route_timed(v, b, m, f, w.lname, r);
			continue;
		}
		if (f->slot_label != NULL) {
			for (unsigned k = f->first; k < f->n; k++)
				sb_printf(b,
					  "%s{listener=\"%s\",route=\"%s\","
					  "%s=\"%s\",%s=\"%s\"} %llu\n",
					  f->name, w.lname, r->name,
					  f->slot_label, f->slot_value(w.slot),
					  f->label, f->values[k],
					  (unsigned long long)counts_sum(
					      v, r->state->counts,
					      base + (size_t)k * u));
			continue;
		}
		if (f->label == NULL) {
			sb_printf(b, "%s{listener=\"%s\",route=\"%s\"} %llu\n",
				  f->name, w.lname, r->name,
				  (unsigned long long)counts_sum(
				      v, r->state->counts, base));
			continue;
		}
		for (unsigned k = f->first; k < f->n; k++)
			sb_printf(
			    b,
			    "%s{listener=\"%s\",route=\"%s\","
			    "%s=\"%s\"} %llu\n",
			    f->name, w.lname, r->name, f->label, f->values[k],
			    (unsigned long long)counts_sum(
				v, r->state->counts, base + (size_t)k * u));
	}
}

/* Family f's lines of m for each entry of the split of every route that
 * uses m: what its entry says of the entry. */
static void
split_lines(const struct sl_admin_view *v, struct sbuf *b,
	    const struct sl_module *m, const struct sl_mfamily *f)
{
	struct route_walk w = {.c = v->conf, .m = m};
	const struct sl_conf_route *r;

	while ((r = route_walk_next(&w)) != NULL)
		for (size_t k = 0; r->split != NULL && k < r->nsplit; k++)
			sb_printf(b,
				  "%s{listener=\"%s\",route=\"%s\","
				  "cluster=\"%s\"} %llu\n",
				  f->name, w.lname, r->name,
				  r->split[k].cluster->name,
				  (unsigned long long)f->entry(w.slot, k));
}

/* Word off of an item's blocks (item_counts' c, stride bytes apart),
 * summed over the workers; c NULL: 0. */
static uint64_t
item_sum(const struct sl_admin_view *v, const void *c, size_t stride,
	 size_t off)
{
	const size_t u = sizeof(atomic_uint_fast64_t);
	uint64_t total = 0;

	for (unsigned i = 0; c != NULL && i < v->nworkers; i++)
		total += SL_STAT_GET(*(
		    atomic_uint_fast64_t *)((char *)c + i * stride + off * u));
	return total;
}

/* Family f's lines of m: one for each item of every route that uses m. */
static void
item_lines(const struct sl_admin_view *v, struct sbuf *b,
	   const struct sl_module *m, const struct sl_mfamily *f)
{
	struct route_walk w = {.c = v->conf, .m = m};
	const struct sl_conf_route *r;

	while ((r = route_walk_next(&w)) != NULL) {
		size_t n = m->items(w.slot);

		for (size_t k = 0; k < n; k++) {
			if (f->item_shown != NULL && !f->item_shown(w.slot, k))
				continue;
			sb_printf(b,
				  "%s{listener=\"%s\",route=\"%s\","
				  "%s=\"%s\"} %llu\n",
				  f->name, w.lname, r->name, m->item_label,
				  m->item_name(w.slot, k),
				  (unsigned long long)item_sum(
				      v, m->item_counts(w.slot, k),
				      m->item_stride, f->off));
		}
	}
}

/* Family f's line of m's words in every worker's stats, summed: one, or
 * one a label's value, or a histogram. */
static void
worker_lines(const struct sl_admin_view *v, struct sbuf *b,
	     const struct sl_module *m, const struct sl_mfamily *f)
{
	const size_t u = sizeof(atomic_uint_fast64_t);
	const size_t at =
	    offsetof(struct sl_worker_stats, mod) + (size_t)m->worker_at * u;
	const size_t base = at + (size_t)f->off * u;

	if (f->kind == SL_MFAM_HISTOGRAM) {
		uint64_t slots[SL_HIST_N];
		for (int i = 0; i < SL_HIST_N; i++)
			slots[i] = wsum(v, base + (size_t)i * u);
		sl_admin_histogram_of(b, f->name, NULL, slots,
				      wsum(v, at + (size_t)f->sum_off * u),
				      f->div);
		return;
	}
	if (f->label == NULL) {
		sb_printf(b, "%s %llu\n", f->name,
			  (unsigned long long)wsum(v, base));
		return;
	}
	for (unsigned k = f->first; k < f->n; k++)
		sb_printf(b, "%s{%s=\"%s\"} %llu\n", f->name, f->label,
			  f->values[k],
			  (unsigned long long)wsum(v, base + (size_t)k * u));
}

/* What a module's own metrics hook writes through (core/module.h's
 * struct sl_mout): the page, the view, and the module whose words it
 * reads. */
struct mout {
	struct sbuf *b;
	const struct sl_admin_view *v;
	const struct sl_module *m;
};

static void __attribute__((format(printf, 2, 3)))
mout_printf(void *ctx, const char *fmt, ...)
{
	struct mout *o = ctx;
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(o->b, fmt, ap);
	va_end(ap);
}

static uint64_t
mout_word(void *ctx, const struct sl_conf_route *r, unsigned k)
{
	const struct mout *o = ctx;

	return counts_sum(o->v, r->state->counts,
			  offsetof(struct sl_counts, mod) +
			      ((size_t)o->m->route_at + k) *
				  sizeof(atomic_uint_fast64_t));
}

static void
mout_hist(void *ctx, const char *name, const char *labels,
	  const struct sl_conf_route *r, unsigned k, unsigned sum_k, double div)
{
	const struct mout *o = ctx;
	const size_t u = sizeof(atomic_uint_fast64_t);
	const size_t at = offsetof(struct sl_counts, mod);

	sl_admin_histogram(o->b, o->v, name, labels, r->state->counts,
			   at + ((size_t)o->m->route_at + k) * u,
			   at + ((size_t)o->m->route_at + sum_k) * u, div);
}

/* Module m's families its descriptor cannot describe: its own hook's. */
static void
own_lines(const struct sl_admin_view *v, struct sbuf *b,
	  const struct sl_module *m)
{
	struct mout mo = {b, v, m};
	struct sl_mout o = {m, &mo, mout_printf, mout_word, mout_hist};

	m->metrics(&o, v->conf);
}

void
sl_admin_metrics_modules(const struct sl_admin_view *v, struct sbuf *b)
{
	for (size_t i = 0; i < sl_conf_nmodules; i++) {
		const struct sl_module *m = sl_conf_modules[i];

		/* a module no route uses has no family, but while it holds
		 * state of its own (a store a reload left) */
		if ((m->nfamilies == 0 && m->metrics == NULL) ||
		    (!m->families_always && !used(v->conf, m) &&
		     (m->alive == NULL || !m->alive())))
			continue;
		for (size_t k = 0; k < m->nfamilies; k++) {
			const struct sl_mfamily *f = &m->families[k];

			if (f->shown != NULL && !f->shown(v->conf))
				continue;
			sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name,
				  f->help, f->name,
				  f->kind == SL_MFAM_GAUGE	 ? "gauge"
				  : f->kind == SL_MFAM_HISTOGRAM ? "histogram"
								 : "counter");
			if (f->scope == SL_MFAM_ROUTE)
				route_lines(v, b, m, f);
			else if (f->scope == SL_MFAM_SPLIT)
				split_lines(v, b, m, f);
			else if (f->scope == SL_MFAM_ITEM)
				item_lines(v, b, m, f);
			else if (f->scope == SL_MFAM_PROCESS)
				sb_printf(b, "%s %llu\n", f->name,
					  (unsigned long long)f->read());
			else
				worker_lines(v, b, m, f);
		}
		if (m->metrics != NULL)
			own_lines(v, b, m);
	}
}
