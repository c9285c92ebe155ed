/* SPDX-License-Identifier: MIT */
/*
 * The registry of state shared across workers and generations. The lock
 * protects only the registry lists and reference counts, taken when a
 * generation is bound or freed; counters are atomics.
 */
#include "runtime.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "conf_types.h"
#include "users.h"
#include "util.h"

/* One kind of state (runtime.h's struct sl_runtime_reg): all the state
 * types start with next, key, refs, born_ms. */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sl_runtime_reg lstates;
static struct sl_runtime_reg lcstates;
static struct sl_runtime_reg epstates;
static struct sl_runtime_reg clstates;
static struct sl_runtime_reg rstates;
static struct sl_module *const *mods; /* sl_runtime_set_modules */
static size_t nmods;
static unsigned nworkers = 1; /* per-worker counters in each state */
static uint64_t ip_key[2];    /* keys the per-address hash */
static pthread_once_t ip_key_once = PTHREAD_ONCE_INIT;

static void
ip_key_init(void)
{
	if (getrandom(ip_key, sizeof(ip_key), 0) != (ssize_t)sizeof(ip_key)) {
		ip_key[0] =
		    (uint64_t)(uintptr_t)&ip_key ^ 0x9e3779b97f4a7c15ULL;
		ip_key[1] = 0xbf58476d1ce4e5b9ULL;
	}
}

#define REG_NEXT(e, off) (*(void **)((char *)(e) + (off)))
#define REG_KEY(e, off)	 (*(char **)((char *)(e) + (off)))

static size_t
reg_slot(const struct sl_runtime_reg *r, const char *k, size_t len)
{
	return (size_t)sl_hash64(k, len) & (r->nb - 1);
}

/* Room in r for one more entry: the table doubled (16 buckets at first)
 * once it holds as many entries as buckets. noff and koff: where an
 * entry's next and key are. Returns 0, or -1 when out of memory (r is
 * left as it was). */
static int
reg_room(struct sl_runtime_reg *r, size_t noff, size_t koff)
{
	size_t nb = r->nb > 0 ? r->nb * 2 : 16;
	void **b;

	if (r->n < r->nb)
		return 0;
	if ((b = calloc(nb, sizeof(*b))) == NULL)
		return -1;
	for (size_t i = 0; i < r->nb; i++)
		for (void *e = r->b[i], *next; e != NULL; e = next) {
			const char *k = REG_KEY(e, koff);
			size_t at = (size_t)sl_hash64(k, strlen(k)) & (nb - 1);
			next = REG_NEXT(e, noff);
			REG_NEXT(e, noff) = b[at];
			b[at] = e;
		}
	free(r->b);
	r->b = b;
	r->nb = nb;
	return 0;
}

/* Takes e out of r (it is there). */
static void
reg_remove(struct sl_runtime_reg *r, void *e, size_t noff, size_t koff)
{
	const char *k = REG_KEY(e, koff);
	void **pp = &r->b[reg_slot(r, k, strlen(k))];

	while (*pp != NULL && *pp != e)
		pp = &REG_NEXT(*pp, noff);
	if (*pp == e) {
		*pp = REG_NEXT(e, noff);
		r->n--;
	}
	if (r->n == 0) { /* the last generation went: nothing is kept */
		free(r->b);
		r->b = NULL;
		r->nb = 0;
	}
}

/* Finds the entry of key k in r (a struct sl_runtime_reg of struct type), or
 * makes one (born now, its key in the same allocation), and takes a reference
 * on it. NULL when out of memory. */
#define LOOKUP(type, r, k)                                                     \
	({                                                                     \
		const char *k_ = (k);                                          \
		size_t kl_ = strlen(k_);                                       \
		struct type *e_ = NULL;                                        \
		if ((r).nb > 0)                                                \
			for (e_ = (r).b[reg_slot(&(r), k_, kl_)]; e_ != NULL;  \
			     e_ = e_->next)                                    \
				if (strcmp(e_->key, k_) == 0)                  \
					break;                                 \
		if (e_ == NULL &&                                              \
		    reg_room(&(r), offsetof(struct type, next),                \
			     offsetof(struct type, key)) == 0 &&               \
		    (e_ = calloc(1, sizeof(*e_) + kl_ + 1)) != NULL) {         \
			size_t at_ = reg_slot(&(r), k_, kl_);                  \
			e_->key = (char *)(e_ + 1);                            \
			memcpy(e_->key, k_, kl_ + 1);                          \
			e_->next = (r).b[at_];                                 \
			(r).b[at_] = e_;                                       \
			(r).n++;                                               \
			e_->born_ms = sl_now_ms();                             \
		}                                                              \
		if (e_ != NULL)                                                \
			e_->refs++;                                            \
		e_;                                                            \
	})

/* Drops a reference on e (NULL: none); the last one takes it out of r
 * and frees it (what it points to is the caller's to free before). */
#define RELEASE(type, r, e)                                                    \
	do {                                                                   \
		struct type *x_ = (e);                                         \
		if (x_ == NULL || --x_->refs > 0)                              \
			break;                                                 \
		reg_remove(&(r), x_, offsetof(struct type, next),              \
			   offsetof(struct type, key));                        \
		free(x_);                                                      \
	} while (0)

void
sl_runtime_set_workers(unsigned n)
{
	nworkers = n > 0 ? n : 1;
}

unsigned
sl_runtime_nworkers(void)
{
	return nworkers;
}

void *
sl_runtime_entry_get(struct sl_runtime_reg *r, const char *k, size_t size)
{
	const size_t noff = offsetof(struct sl_runtime_entry, next);
	const size_t koff = offsetof(struct sl_runtime_entry, key);
	size_t kl = strlen(k);
	struct sl_runtime_entry *e = NULL;

	if (r->nb > 0)
		for (e = r->b[reg_slot(r, k, kl)]; e != NULL; e = e->next)
			if (strcmp(e->key, k) == 0)
				break;
	if (e == NULL && reg_room(r, noff, koff) == 0 &&
	    (e = calloc(1, size + kl + 1)) != NULL) {
		size_t at = reg_slot(r, k, kl);
		e->key = (char *)e + size;
		memcpy(e->key, k, kl + 1);
		e->next = r->b[at];
		r->b[at] = e;
		r->n++;
		e->born_ms = sl_now_ms();
	}
	if (e != NULL)
		e->refs++;
	return e;
}

void
sl_runtime_entry_put(struct sl_runtime_reg *r, void *e)
{
	struct sl_runtime_entry *x = e;

	if (x == NULL || --x->refs > 0)
		return;
	reg_remove(r, x, offsetof(struct sl_runtime_entry, next),
		   offsetof(struct sl_runtime_entry, key));
	free(x);
}

/* Per-worker counters for a state that has none yet. Returns 0 or -1. */
static int
counts_alloc(struct sl_counts **c)
{
	if (*c != NULL)
		return 0;
	*c = aligned_alloc(64, nworkers * sizeof(**c));
	if (*c == NULL)
		return -1;
	memset(*c, 0, nworkers * sizeof(**c));
	return 0;
}

/* ---- the modules' state (core/module.h's route_bind: each module keeps
 * its own registries, struct sl_runtime_reg, under the registry's lock)
 * ----------------------------------------------------------------------- */

void
sl_runtime_set_modules(struct sl_module *const *m, size_t n)
{
	mods = m;
	nmods = n;
}

/* The modules' route_bind of route r of listener l. Returns 0 or -1. */
static int
mods_bind(const struct sl_conf_listener *l, struct sl_conf_route *r)
{
	for (size_t i = 0; r->mod != NULL && i < nmods; i++)
		if (mods[i]->route_bind != NULL &&
		    r->mod[mods[i]->slot] != NULL &&
		    mods[i]->route_bind(r->mod[mods[i]->slot], l, r,
					nworkers) == -1)
			return -1;
	return 0;
}

static void
mods_unbind(struct sl_conf_route *r)
{
	for (size_t i = 0; r->mod != NULL && i < nmods; i++)
		if (mods[i]->route_unbind != NULL &&
		    r->mod[mods[i]->slot] != NULL)
			mods[i]->route_unbind(r->mod[mods[i]->slot], r);
}

static void
lstate_release(struct sl_lstate *ls)
{
	if (ls != NULL && ls->refs == 1) {
		free(atomic_load(&ls->per_ip));
		free(atomic_load(&ls->tun_per_ip));
	}
	RELEASE(sl_lstate, lstates, ls);
}

static void
lcstate_release(struct sl_lcstate *lc)
{
	if (lc != NULL && lc->refs == 1)
		free(lc->counts);
	RELEASE(sl_lcstate, lcstates, lc);
}

static void
unbind_locked(struct sl_conf *conf)
{
	for (size_t i = 0; i < conf->nlisteners; i++) {
		struct sl_conf_listener *l = &conf->listeners[i];
		lstate_release(l->state);
		l->state = NULL;
		lcstate_release(l->counters);
		l->counters = NULL;
		for (size_t j = 0; j < l->nroutes; j++) {
			struct sl_rstate *r = l->routes[j].state;
			if (r != NULL && r->refs == 1) {
				free(atomic_load(&r->counts));
				free(atomic_load(&r->users));
			}
			RELEASE(sl_rstate, rstates, r);
			l->routes[j].state = NULL;
			mods_unbind(&l->routes[j]);
		}
	}
	for (size_t i = 0; i < conf->nclusters; i++) {
		struct sl_conf_cluster *c = &conf->clusters[i];
		if (c->state != NULL && c->state->refs == 1)
			free(c->state->counts);
		RELEASE(sl_clstate, clstates, c->state);
		c->state = NULL;
		for (size_t j = 0; j < c->nendpoints; j++) {
			struct sl_epstate *e = c->endpoints[j].state;
			if (e != NULL && e->refs == 1)
				free(e->counts);
			RELEASE(sl_epstate, epstates, c->endpoints[j].state);
			c->endpoints[j].state = NULL;
		}
	}
}

int
sl_runtime_bind(struct sl_conf *conf)
{
	char key[512];
	int ok = 1;

	pthread_once(&ip_key_once, ip_key_init);
	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < conf->nlisteners && ok; i++) {
		struct sl_conf_listener *l = &conf->listeners[i];
		l->state = LOOKUP(sl_lstate, lstates, l->addr.text);
		l->counters = LOOKUP(sl_lcstate, lcstates, l->name);
		ok = l->state != NULL && l->counters != NULL &&
		     counts_alloc(&l->counters->counts) == 0;
		if (ok && l->limits.max_connections_per_ip > 0 &&
		    atomic_load(&l->state->per_ip) == NULL) {
			atomic_uint *t = calloc(SL_PER_IP_SLOTS, sizeof(*t));
			ok = t != NULL;
			atomic_store(&l->state->per_ip, t);
		}
		if (ok && l->limits.max_tunnels_per_ip > 0 &&
		    atomic_load(&l->state->tun_per_ip) == NULL) {
			atomic_uint *t = calloc(SL_PER_IP_SLOTS, sizeof(*t));
			ok = t != NULL;
			atomic_store(&l->state->tun_per_ip, t);
		}
		for (size_t j = 0; j < l->nroutes && ok; j++) {
			struct sl_conf_route *r = &l->routes[j];
			snprintf(key, sizeof(key), "%s %s", l->name, r->name);
			/* its counters wait for its first request
			 * (sl_runtime_route_counts) */
			r->state = LOOKUP(sl_rstate, rstates, key);
			ok = r->state != NULL && mods_bind(l, r) == 0;
			if (ok && r->nsplit > 0 &&
			    r->sticky.source != SL_KEY_NONE &&
			    atomic_load(&r->state->users) == NULL) {
				struct sl_users *u = calloc(1, sizeof(*u));
				ok = u != NULL;
				atomic_store(&r->state->users, u);
			}
		}
	}
	for (size_t i = 0; i < conf->nclusters && ok; i++) {
		struct sl_conf_cluster *c = &conf->clusters[i];
		c->state = LOOKUP(sl_clstate, clstates, c->name);
		ok = c->state != NULL && counts_alloc(&c->state->counts) == 0;
		for (size_t j = 0; j < c->nendpoints && ok; j++) {
			snprintf(key, sizeof(key), "%s %s", c->name,
				 c->endpoints[j].addr.text);
			c->endpoints[j].state =
			    LOOKUP(sl_epstate, epstates, key);
			ok = c->endpoints[j].state != NULL &&
			     counts_alloc(&c->endpoints[j].state->counts) == 0;
		}
	}
	if (!ok)
		unbind_locked(conf);
	else {
		conf->bound = 1;
		/* the last reference of conf lets go of the shared state */
		conf->on_free = sl_runtime_unbind;
	}
	pthread_mutex_unlock(&reg_lock);
	return ok ? 0 : -1;
}

struct sl_counts *
sl_runtime_route_counts_make(struct sl_rstate *rs)
{
	struct sl_counts *c, *had = NULL;

	if ((c = aligned_alloc(64, nworkers * sizeof(*c))) == NULL)
		return NULL;
	memset(c, 0, nworkers * sizeof(*c));
	/* published once, complete (release); a worker that lost the race
	 * takes the winner's */
	if (!atomic_compare_exchange_strong_explicit(&rs->counts, &had, c,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		free(c);
		return had;
	}
	return c;
}

void
sl_runtime_unbind(struct sl_conf *conf)
{
	if (!conf->bound)
		return;
	pthread_mutex_lock(&reg_lock);
	unbind_locked(conf);
	conf->bound = 0;
	pthread_mutex_unlock(&reg_lock);
}

static unsigned
ip_slot(const struct sockaddr *sa)
{
	uint64_t w[2] = {0, 0}, h;

	if (sa->sa_family == AF_INET) {
		memcpy(&w[0], &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(w, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
	h = sl_mix64(w[0] ^ ip_key[0]);
	h = sl_mix64(h ^ w[1] ^ ip_key[1]);
	return (unsigned)(h & (SL_PER_IP_SLOTS - 1));
}

static int
ip_take(atomic_uint *t, const struct sockaddr *sa, uint64_t max)
{
	unsigned slot;

	if (max == 0 || t == NULL)
		return SL_RUNTIME_IP_UNCOUNTED;
	slot = ip_slot(sa);
	if (atomic_fetch_add(&t[slot], 1) >= max) {
		atomic_fetch_sub(&t[slot], 1);
		return -1;
	}
	return (int)slot;
}

int
sl_runtime_ip_take(struct sl_lstate *ls, const struct sockaddr *sa,
		   uint64_t max)
{
	return ip_take(atomic_load(&ls->per_ip), sa, max);
}

void
sl_runtime_ip_release(struct sl_lstate *ls, int slot)
{
	atomic_uint *t = atomic_load(&ls->per_ip);

	if (slot >= 0 && t != NULL)
		atomic_fetch_sub(&t[slot], 1);
}

int
sl_runtime_tunnel_ip_take(struct sl_lstate *ls, const struct sockaddr *sa,
			  uint64_t max)
{
	return ip_take(atomic_load(&ls->tun_per_ip), sa, max);
}

void
sl_runtime_tunnel_ip_release(struct sl_lstate *ls, int slot)
{
	atomic_uint *t = atomic_load(&ls->tun_per_ip);

	if (slot >= 0 && t != NULL)
		atomic_fetch_sub(&t[slot], 1);
}

int
sl_runtime_take(atomic_uint_fast64_t *counter, uint64_t max)
{
	if (atomic_fetch_add(counter, 1) >= max && max > 0) {
		atomic_fetch_sub(counter, 1);
		return 0;
	}
	return 1;
}

void
sl_runtime_release(atomic_uint_fast64_t *counter)
{
	atomic_fetch_sub(counter, 1);
}

const char *
sl_close_kind_str(enum sl_close_kind k)
{
	static const char *const s[SL_CLOSE_NKINDS] = {
	    "connection_close", "client_closed", "idle_timeout",
	    "request_timeout",	"send_timeout",	 "min_send_rate",
	    "refused",		"tls",		 "draining",
	    "upstream_cut",	"out_of_memory",
	};

	return (unsigned)k < SL_CLOSE_NKINDS ? s[k] : "refused";
}

enum sl_close_kind
sl_close_kind_of(const char *r)
{
	static const struct {
		const char *reason;
		enum sl_close_kind kind;
	} map[] = {
	    {"close", SL_CLOSE_CONNECTION_CLOSE},
	    {"eof", SL_CLOSE_CLIENT_CLOSED},
	    {"client_closed", SL_CLOSE_CLIENT_CLOSED},
	    {"client_closed_in_head", SL_CLOSE_CLIENT_CLOSED},
	    {"client_closed_in_body", SL_CLOSE_CLIENT_CLOSED},
	    {"client_closed_in_handshake", SL_CLOSE_CLIENT_CLOSED},
	    {"client_read_error", SL_CLOSE_CLIENT_CLOSED},
	    {"client_write_error", SL_CLOSE_CLIENT_CLOSED},
	    {"idle_timeout", SL_CLOSE_IDLE_TIMEOUT},
	    {"request_timeout", SL_CLOSE_REQUEST_TIMEOUT},
	    {"header_timeout", SL_CLOSE_REQUEST_TIMEOUT},
	    {"body_timeout", SL_CLOSE_REQUEST_TIMEOUT},
	    {"min_body_rate", SL_CLOSE_REQUEST_TIMEOUT},
	    {"send_timeout", SL_CLOSE_SEND_TIMEOUT},
	    {"min_send_rate", SL_CLOSE_MIN_SEND_RATE},
	    {"tls_handshake_timeout", SL_CLOSE_TLS},
	    {"tls_handshake_failed", SL_CLOSE_TLS},
	    {"plain_http_on_tls_port", SL_CLOSE_TLS},
	    {"client_tls_error", SL_CLOSE_TLS},
	    {"draining", SL_CLOSE_DRAINING},
	    {"drain_timeout", SL_CLOSE_DRAINING},
	    {"listener_removed", SL_CLOSE_DRAINING},
	    {"out_of_memory", SL_CLOSE_OUT_OF_MEMORY},
	    {"upstream_bad_chunk", SL_CLOSE_UPSTREAM_CUT},
	    {"proxy_protocol_truncated", SL_CLOSE_CLIENT_CLOSED},
	    {"proxy_protocol_timeout", SL_CLOSE_REQUEST_TIMEOUT},
	    /* a tunnel's ends (tunnel.c): the upstream closing first is an
	     * end the protocol chose, a budget's end an idle or send
	     * timeout, the lifetime like a max_requests close */
	    {"upstream_closed", SL_CLOSE_CONNECTION_CLOSE},
	    {"tunnel_idle_timeout", SL_CLOSE_IDLE_TIMEOUT},
	    {"tunnel_lifetime", SL_CLOSE_CONNECTION_CLOSE},
	    {"client_error", SL_CLOSE_CLIENT_CLOSED},
	    {"upstream_error", SL_CLOSE_UPSTREAM_CUT},
	    /* min_send_rate: above, as for a response */
	};

	if (r == NULL)
		return SL_CLOSE_REFUSED;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(r, map[i].reason) == 0)
			return map[i].kind;
	/* an upstream failure that cut a response (class 3) */
	if (strncmp(r, "upstream_", 9) == 0)
		return SL_CLOSE_UPSTREAM_CUT;
	/* the other codes are refused requests' (bad_request, ...) */
	return SL_CLOSE_REFUSED;
}
