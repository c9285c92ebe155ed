/* SPDX-License-Identifier: MIT */
/*
 * The module table (core/module.h; doc/design-notes.md, "A module"): the
 * one place of the configuration that names the features that are
 * modules. It gives each its slot, its counters' first words, and the
 * outline's sections of its keys; the loader, the runtime and the admin
 * read the modules through it, in its order.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"
#include "module.h"
#include "runtime.h" /* SL_COUNTS_MOD_WORDS */
#include "util.h"
#include "wloop.h" /* SL_WSTAT_MOD_WORDS */

extern struct sl_module sl_module_auth;	    /* conf_auth.c */
extern struct sl_module sl_module_waf;	    /* conf_waf.c */
extern struct sl_module sl_module_compress; /* conf_compress.c */
extern struct sl_module sl_module_idem;	    /* conf_idem.c */
extern struct sl_module sl_module_mirror;   /* conf_mirror.c */
extern struct sl_module sl_module_trace;    /* conf_trace.c */
extern struct sl_module sl_module_guard;    /* conf_guard.c */
extern struct sl_module sl_module_rl;	    /* conf_rl.c */
extern struct sl_module sl_module_lua;	    /* conf_lua.c */
extern struct sl_module sl_module_acme;	    /* conf_acme.c */

/* The order of their keys in the top level's and a route's key checks,
 * of their /metrics families and of their fields on the status page. */
static struct sl_module *const modules[] = {
    &sl_module_auth,   &sl_module_waf,	 &sl_module_compress, &sl_module_idem,
    &sl_module_mirror, &sl_module_trace, &sl_module_guard,    &sl_module_rl,
    &sl_module_lua,    &sl_module_acme,
};
_Static_assert(SL_NELEM(modules) <= SL_CONF_MODULES_MAX,
	       "conf_int.h's room for the modules' keys and sections");

struct sl_module *const *const sl_conf_modules = modules;
const size_t sl_conf_nmodules = SL_NELEM(modules);

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void __attribute__((noreturn, format(printf, 2, 3)))
bad_module(const struct sl_module *m, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sluice: module %s: ", m->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* What the readers of a descriptor take for granted, checked once: a
 * section's parent among the module's own comes before it; a timed
 * family is unlabelled, with its divisor, a route's (a histogram may be
 * the workers' too); a split's family a gauge, with its entry; an item's
 * family has the items. */
static void
check_module(const struct sl_module *m)
{
	for (unsigned k = 0; k < m->nsecs; k++) {
		unsigned p = m->secs[k].parent;
		if ((p == SL_CONF_SEC_MOD_TOP && m->top_sec == NULL) ||
		    (p == SL_CONF_SEC_MOD_ROUTE && m->route_sec == NULL) ||
		    (p >= SL_CONF_SEC_MOD_SUB(0) &&
		     p - SL_CONF_SEC_MOD_SUB(0) >= k))
			bad_module(m, "section %u's parent is not before it",
				   k);
	}
	for (unsigned k = 0; k < m->nfamilies; k++) {
		const struct sl_mfamily *f = &m->families[k];
		if (f->scope == SL_MFAM_SPLIT &&
		    (f->entry == NULL || f->kind != SL_MFAM_GAUGE))
			bad_module(m,
				   "%s: a split's family is a gauge of its "
				   "entry",
				   f->name);
		if ((f->kind == SL_MFAM_HISTOGRAM ||
		     f->kind == SL_MFAM_SECONDS) &&
		    ((f->scope != SL_MFAM_ROUTE &&
		      (f->kind != SL_MFAM_HISTOGRAM ||
		       f->scope != SL_MFAM_WORKERS)) ||
		     f->label != NULL || f->slot_label != NULL ||
		     !(f->div > 0)))
			bad_module(m,
				   "%s: a timed family is a route's (or a "
				   "workers' histogram), without a label, with "
				   "its divisor",
				   f->name);
		if (f->scope == SL_MFAM_ITEM &&
		    (m->items == NULL || f->kind != SL_MFAM_COUNTER))
			bad_module(m, "%s: an item's counter needs the items",
				   f->name);
	}
}

static void
init(void)
{
	unsigned rw = 0, ww = 0, secs = 0, st = 0;

	for (size_t i = 0; i < SL_NELEM(modules); i++) {
		struct sl_module *m = modules[i];

		secs +=
		    (m->top_sec != NULL) + (m->route_sec != NULL) + m->nsecs;
		for (unsigned k = 0; k < m->nstatus; k++)
			st += 1 + (m->status[k].den_n != 0);
		check_module(m);
		m->slot = (uint8_t)i;
		m->route_at = (uint16_t)rw;
		m->worker_at = (uint16_t)ww;
		rw += m->route_words;
		ww += m->worker_words;
	}
	if (secs > SL_CONF_MODULES_SECS_MAX || st != SL_MSTATUS_MOD_WORDS) {
		fprintf(stderr,
			"sluice: the modules have %u sections and %u words of "
			"status fields; the outline holds %u more, the status "
			"page %u\n",
			secs, st, (unsigned)SL_CONF_MODULES_SECS_MAX,
			(unsigned)SL_MSTATUS_MOD_WORDS);
		abort();
	}
	for (size_t i = 0; i < SL_NELEM(modules); i++)
		if (modules[i]->placed != NULL)
			modules[i]->placed(modules[i]);
	/* the counts' room is sized for the table: a module that grows its
	 * counters grows the room (runtime.h, wloop.h) */
	if (rw != SL_COUNTS_MOD_WORDS || ww != SL_WSTAT_MOD_WORDS) {
		fprintf(stderr,
			"sluice: the modules' counters take %u and %u words, "
			"the counts hold %u and %u\n",
			rw, ww, (unsigned)SL_COUNTS_MOD_WORDS,
			(unsigned)SL_WSTAT_MOD_WORDS);
		abort();
	}
	/* the runtime binds their state without naming them */
	sl_runtime_set_modules(modules, SL_NELEM(modules));
}

void
sl_conf_modules_init(void)
{
	pthread_once(&once, init);
}

unsigned
sl_conf_modules_sections(struct sl_conf_section_def *o, unsigned n)
{
	sl_conf_modules_init();
	for (size_t i = 0; i < SL_NELEM(modules); i++) {
		struct sl_module *m = modules[i];
		if (m->top_sec != NULL) {
			m->top_sec_id = (uint16_t)n;
			o[n++] = *m->top_sec;
		}
		if (m->route_sec != NULL) {
			m->route_sec_id = (uint16_t)n;
			o[n++] = *m->route_sec;
		}
		m->sec_id = (uint16_t)n;
		for (unsigned k = 0; k < m->nsecs; k++) {
			/* a parent among the module's own: its number */
			unsigned p = m->secs[k].parent;
			o[n] = m->secs[k];
			if (p == SL_CONF_SEC_MOD_TOP)
				o[n].parent =
				    (enum sl_conf_section)m->top_sec_id;
			else if (p == SL_CONF_SEC_MOD_ROUTE)
				o[n].parent =
				    (enum sl_conf_section)m->route_sec_id;
			else if (p >= SL_CONF_SEC_MOD_SUB(0))
				o[n].parent = (enum sl_conf_section)(
				    m->sec_id + p - SL_CONF_SEC_MOD_SUB(0));
			n++;
		}
	}
	return n;
}

/* A module's key at the top level. */
static const char *
top_key(const struct sl_module *m)
{
	return m->top_key != NULL ? m->top_key : m->key;
}

void
sl_conf_modules_keys(const char **keys, const struct sl_conf_keydef *t,
		     const char *const *names, enum sl_conf_mod_where where)
{
	size_t n = 0;

	for (; t != NULL && t->name != NULL; t++)
		keys[n++] = t->name;
	for (; names != NULL && *names != NULL; names++)
		keys[n++] = *names;
	for (size_t i = 0; i < SL_NELEM(modules); i++)
		if (where == SL_CONF_MOD_TOP ? modules[i]->top_parse != NULL &&
						   !modules[i]->top_hidden
		    : where == SL_CONF_MOD_ROUTE
			? modules[i]->route_parse != NULL
			: modules[i]->listener_parse != NULL)
			keys[n++] = where == SL_CONF_MOD_LISTENER
					? modules[i]->listener_key
				    : where == SL_CONF_MOD_TOP
					? top_key(modules[i])
					: modules[i]->key;
	keys[n] = NULL;
}

void
sl_conf_modules_top(struct sl_yaml_loader *ld, const struct sl_yaml_node *root,
		    struct sl_conf *conf)
{
	if (conf->mod == NULL &&
	    (conf->mod = calloc(SL_NELEM(modules), sizeof(void *))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (size_t i = 0; i < SL_NELEM(modules); i++)
		if (modules[i]->top_parse != NULL)
			modules[i]->top_parse(
			    ld,
			    root != NULL && !modules[i]->top_hidden
				? sl_yaml_map_get(root, top_key(modules[i]),
						  NULL)
				: NULL,
			    &conf->mod[i], conf);
}

/* The slot array of a route or listener, made at its first slot. */
static void **
slots_of(void ***mod)
{
	if (*mod == NULL)
		*mod = calloc(SL_NELEM(modules), sizeof(void *));
	return *mod;
}

void
sl_conf_modules_route(struct sl_yaml_loader *ld, const char *lbl,
		      const struct sl_yaml_node *map, struct sl_conf_route *r,
		      struct sl_conf *conf)
{
	for (size_t i = 0; i < SL_NELEM(modules); i++) {
		const struct sl_yaml_node *v;
		void *slot = NULL;

		if (modules[i]->route_parse == NULL ||
		    (v = sl_yaml_map_get(map, modules[i]->key, &ld->mod_key)) ==
			NULL)
			continue;
		modules[i]->route_parse(ld, lbl, v, &slot, r, conf);
		ld->mod_key = NULL;
		if (slot == NULL)
			continue;
		if (modules[i]->route_caller != NULL &&
		    modules[i]->route_caller(slot))
			r->caller = 1;
		/* a route's slots are made with its first module: a plain
		 * route holds one pointer */
		if (slots_of(&r->mod) == NULL) {
			if (modules[i]->route_free != NULL)
				modules[i]->route_free(slot);
			ld->oom = 1;
			return;
		}
		r->mod[i] = slot;
	}
}

void
sl_conf_modules_listener(struct sl_yaml_loader *ld, const char *lbl,
			 const struct sl_yaml_node *map,
			 struct sl_conf_listener *l, struct sl_conf *conf)
{
	for (size_t i = 0; i < SL_NELEM(modules); i++) {
		const struct sl_yaml_node *v;
		void *slot = NULL;

		if (modules[i]->listener_parse == NULL ||
		    (v = sl_yaml_map_get(map, modules[i]->listener_key,
					 NULL)) == NULL)
			continue;
		modules[i]->listener_parse(ld, lbl, v, &slot, l, conf);
		if (slot == NULL)
			continue;
		if (slots_of(&l->mod) == NULL) {
			if (modules[i]->listener_free != NULL)
				modules[i]->listener_free(slot);
			ld->oom = 1;
			return;
		}
		l->mod[i] = slot;
	}
}

void
sl_conf_modules_listener_free(struct sl_conf_listener *l)
{
	if (l->mod == NULL)
		return;
	for (size_t i = 0; i < SL_NELEM(modules); i++)
		if (l->mod[i] != NULL && modules[i]->listener_free != NULL)
			modules[i]->listener_free(l->mod[i]);
	free(l->mod);
	l->mod = NULL;
}

/* Module i's route_settle of every route. */
static void
routes_settle(struct sl_yaml_loader *ld, size_t i, struct sl_conf *conf)
{
	for (size_t li = 0; li < conf->nlisteners; li++) {
		struct sl_conf_listener *l = &conf->listeners[li];
		for (size_t j = 0; j < l->nroutes; j++) {
			struct sl_conf_route *r = &l->routes[j];
			void *slot = r->mod != NULL ? r->mod[i] : NULL;
			modules[i]->route_settle(ld, &slot, r, l, conf);
			if (slot == NULL && r->mod == NULL)
				continue;
			if (slots_of(&r->mod) == NULL) {
				ld->oom = 1;
				return;
			}
			r->mod[i] = slot;
		}
	}
}

void
sl_conf_modules_settle(struct sl_yaml_loader *ld, struct sl_conf *conf)
{
	/* every route's slots final before any module's checks: a check
	 * that costs (the WAF's rule sets loaded) is skipped when an
	 * earlier one found the file bad */
	for (size_t i = 0; i < SL_NELEM(modules); i++)
		if (modules[i]->route_settle != NULL)
			routes_settle(ld, i, conf);
	for (size_t i = 0; i < SL_NELEM(modules); i++)
		if (modules[i]->settle != NULL)
			modules[i]->settle(ld, conf);
}

void
sl_conf_modules_secrets(struct sl_conf *conf, char **errors, char **warnings)
{
	for (size_t i = 0; i < SL_NELEM(modules); i++)
		if (modules[i]->secrets != NULL)
			modules[i]->secrets(conf, errors, warnings);
}

int
sl_conf_modules_share(struct sl_conf *nc, const struct sl_conf *oc)
{
	for (size_t i = 0; i < SL_NELEM(modules); i++)
		if (modules[i]->share != NULL && modules[i]->share(nc, oc) != 0)
			return -1;
	return 0;
}

void
sl_conf_modules_exit(void)
{
	for (size_t i = 0; i < SL_NELEM(modules); i++)
		if (modules[i]->process_free != NULL)
			modules[i]->process_free();
}

void
sl_conf_modules_route_free(struct sl_conf_route *r)
{
	if (r->mod == NULL)
		return;
	for (size_t i = 0; i < SL_NELEM(modules); i++)
		if (r->mod[i] != NULL && modules[i]->route_free != NULL)
			modules[i]->route_free(r->mod[i]);
	free(r->mod);
	r->mod = NULL;
}

void
sl_conf_modules_top_free(struct sl_conf *conf)
{
	if (conf->mod == NULL)
		return;
	for (size_t i = 0; i < SL_NELEM(modules); i++)
		if (conf->mod[i] != NULL && modules[i]->top_free != NULL)
			modules[i]->top_free(conf->mod[i]);
	free(conf->mod);
	conf->mod = NULL;
}
