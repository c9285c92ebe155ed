/* SPDX-License-Identifier: MIT */
/*
 * Fleet limits' store: one hiredis asynchronous connection per worker on
 * the worker's event loop, leases asked with one Lua script (EVALSHA, EVAL
 * when Redis does not have it), every command bounded by the store's
 * timeout, reconnection with backoff. Redis's own clock (TIME) times
 * every key, so the fleet shares one clock. A command that times out
 * drops the connection: the state of one whose answer never came is
 * unknown. A connection is ready once its first commands are answered:
 * AUTH when the configuration has a password, then SCRIPT LOAD, pipelined
 * ahead of the first leases and bounded by the connect deadline. Failures
 * reach the waiting requests from the next loop turn, never from inside
 * hiredis.
 */
#include "rlstore.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conf.h"
#include "log.h"
#include "ratelimit_conf.h"
#include "ratelimit_state.h"
#include "runtime.h"
#include "util.h"
#include "wloop.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/*
 * KEYS[1]: a key's theoretical arrival time, in microseconds of Redis's
 * clock. ARGV: the emission interval and the tolerance (microseconds),
 * the cells wanted, and the cells already used (the first request of a
 * key a worker held nothing for: counted whatever the limit says, so that
 * the fleet's total stays exact). Grants as many cells as the tolerance
 * allows now, at most the cells wanted; returns them and the microseconds
 * until the next one. The key expires when its TAT is past: a key at
 * rest holds nothing in Redis.
 */
const char sl_rlstore_script[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local T = tonumber(ARGV[1])\n"
    "local tau = tonumber(ARGV[2])\n"
    "local want = tonumber(ARGV[3])\n"
    "local debt = tonumber(ARGV[4])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or 0) or 0\n"
    "if tat < now then tat = now end\n"
    "tat = tat + debt * T\n"
    "local got = 0\n"
    "if tat - now <= tau then\n"
    "  got = math.floor((tau - (tat - now)) / T) + 1\n"
    "  if got > want then got = want end\n"
    "end\n"
    "tat = tat + got * T\n"
    "if got + debt > 0 then\n"
    "  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX',\n"
    "             math.floor((tat - now) / 1000) + 1)\n"
    "end\n"
    "local wait = tat - tau - now\n"
    "if wait < 0 then wait = 0 end\n"
    "return {got, wait}\n";

/* A lease request in flight, or another module's script (generic:
 * sl_rlstore_eval; its arguments copied after the struct). */
struct rl_cmd {
	TAILQ_ENTRY(rl_cmd) link; /* in s->cmds, oldest first */
	struct sl_rlstore *s;
	sl_rlstore_done *done; /* a command's: its answer's callback (NULL
				  once cancelled) */
	void *arg;
	uint8_t generic;      /* a command's, not a lease's */
	struct sl_conf *conf; /* a reference: keeps st and e alive */
	struct sl_rlstate *st;
	struct sl_rl_lentry *e; /* pinned while the lease is in flight */
	uint64_t h;
	uint32_t want, debt;
	uint64_t sent_ms, deadline_ms;
	int timed_out; /* its deadline passed */
	int evaled;    /* sent again as EVAL after NOSCRIPT */
	const struct sl_rlstore_script *script; /* a generic command's */
	int nkeys, nargs;
	size_t alens[SL_RLSTORE_MAX_ARGS];
	unsigned char args[]; /* the arguments, one after another */
};

/* One worker's connection to the store. */
struct sl_rlstore {
	struct sl_worker *w;
	redisAsyncContext *ac; /* NULL: none (at rest, or backing off) */
	int up;		       /* ready: connected, AUTH and SCRIPT LOAD
				  answered (not just connecting) */
	int was_up;	       /* it was up before it went: say so once */
	char addr[128];	       /* the store's address as written */
	uint64_t generation;   /* of the configuration it follows */
	char host[INET6_ADDRSTRLEN];
	int port;
	char *user, *pass; /* AUTH's, copies of the configuration's (owned;
			      pass wiped when freed); NULL: none */
	uint64_t timeout_ms;
	uint64_t backoff_ms;	/* the next wait after a failure */
	uint64_t retry_at_ms;	/* no connection before; 0: any time */
	uint64_t connect_by_ms; /* connecting: the deadline */
	struct event *timer;	/* the nearest deadline */
	struct event *kick;	/* runs the failed waiters */
	TAILQ_HEAD(, rl_cmd) cmds;
	struct sl_rl_wait *failed; /* waiters to tell: store error */
};

static char script_sha[41];
static pthread_once_t script_sha_once = PTHREAD_ONCE_INIT;

static void store_on_timer(evutil_socket_t, short, void *);
static void store_on_kick(evutil_socket_t, short, void *);
static void store_on_reply(redisAsyncContext *ac, void *r, void *arg);
static int script_send(struct sl_rlstore *s, struct rl_cmd *c);
static void store_on_auth(redisAsyncContext *ac, void *r, void *arg);
static void store_on_ready(redisAsyncContext *ac, void *r, void *arg);

/* The SHA-1 of text in hex into sha (41 bytes), as Redis names a script;
 * "" when the digest fails (the script is then sent whole). */
static void
lua_sha(const char *text, char sha[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	sha[0] = '\0';
	if (EVP_Digest(text, strlen(text), md, &n, EVP_sha1(), NULL) != 1 ||
	    n != 20)
		return;
	for (unsigned i = 0; i < 20; i++)
		snprintf(sha + 2 * i, 3, "%02x", md[i]);
}

static void
script_sha_init(void)
{
	lua_sha(sl_rlstore_script, script_sha);
}

void
sl_rlstore_script_init(struct sl_rlstore_script *sc)
{
	lua_sha(sc->text, sc->sha);
}

/* Arms the timer at the nearest of: the oldest command's deadline, the
 * connect deadline. */
static void
store_schedule(struct sl_rlstore *s)
{
	uint64_t at = UINT64_MAX, now = sl_now_ms();
	struct rl_cmd *c = TAILQ_FIRST(&s->cmds);
	struct timeval tv;

	if (c != NULL)
		at = c->deadline_ms;
	if (s->ac != NULL && !s->up)
		at = SL_MIN(at, s->connect_by_ms);
	if (at == UINT64_MAX) {
		event_del(s->timer);
		return;
	}
	at = at > now ? at - now : 0;
	tv.tv_sec = (time_t)(at / 1000);
	tv.tv_usec = (suseconds_t)(at % 1000) * 1000;
	event_add(s->timer, &tv);
}

/* The connection failed or went: no new one before the backoff. */
static void
store_backoff(struct sl_rlstore *s)
{
	s->up = 0;
	s->retry_at_ms = sl_now_ms() + s->backoff_ms;
	s->backoff_ms = SL_MIN(s->backoff_ms * 2, BACKOFF_MAX_MS);
}

static void
store_set_up(struct sl_rlstore *s, int up)
{
	if (s->up != up)
		SL_STAT_ADD(sl_rl_wcounts(&s->w->stats)->store_up,
			    up ? 1 : (uint64_t)-1);
	s->up = up;
}

static void
store_on_connect(const redisAsyncContext *ac, int status)
{
	struct sl_rlstore *s = ac->data;

	sl_now_refresh();
	if (s == NULL || s->ac != ac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees ac after this; its commands fail */
		SL_STAT_INC(sl_rl_wcounts(&s->w->stats)->store_connects[1]);
		if (s->was_up || s->backoff_ms == BACKOFF_MIN_MS)
			log_warnx("worker %u: rate_limit_store %s: cannot "
				  "connect: %s; trying again in %llu ms",
				  s->w->id, s->addr, ac->errstr,
				  (unsigned long long)s->backoff_ms);
		s->was_up = 0;
		s->ac = NULL;
		store_backoff(s);
		return;
	}
	/* not ready yet: its first commands (AUTH, SCRIPT LOAD) are on
	 * their way, and the connect deadline still runs */
}

/* The connection's first commands were answered: leases may use it. */
static void
store_ready(struct sl_rlstore *s)
{
	SL_STAT_INC(sl_rl_wcounts(&s->w->stats)->store_connects[0]);
	store_set_up(s, 1);
	if (s->backoff_ms > BACKOFF_MIN_MS)
		log_info("worker %u: rate_limit_store %s: connected", s->w->id,
			 s->addr);
	s->was_up = 1;
	s->backoff_ms = BACKOFF_MIN_MS;
	store_schedule(s);
}

/*
 * s's connection failed before it was ready: Redis refused AUTH (or
 * wanted one), or it did not answer by the connect deadline. Counted and
 * said (once per outage) as a connection that could not be made, with
 * what Redis said (text, escaped; NULL: nothing), then dropped: its
 * commands fail, and the next try waits for the backoff. May be called
 * from a hiredis callback (hiredis frees the connection after it).
 */
static void
store_fail(struct sl_rlstore *s, const char *why, const char *text)
{
	redisAsyncContext *ac = s->ac;
	char esc[256] = "";

	if (text != NULL)
		sl_escape(esc, sizeof(esc), text, SL_MIN(strlen(text), 200));
	SL_STAT_INC(sl_rl_wcounts(&s->w->stats)->store_connects[1]);
	if (s->was_up || s->backoff_ms == BACKOFF_MIN_MS)
		log_warnx("worker %u: rate_limit_store %s: %s%s%s; trying "
			  "again in %llu ms",
			  s->w->id, s->addr, why, text != NULL ? ": " : "", esc,
			  (unsigned long long)s->backoff_ms);
	s->was_up = 0;
	s->ac = NULL; /* first: the callbacks below must not use it */
	store_backoff(s);
	ac->data = NULL;
	redisAsyncFree(ac);
}

/* AUTH's answer: an error (WRONGPASS, a Redis without that user or
 * without a password) fails the connection. */
static void
store_on_auth(redisAsyncContext *ac, void *r, void *arg)
{
	struct sl_rlstore *s = ac->data;
	redisReply *reply = r;

	(void)arg;
	sl_now_refresh();
	if (s == NULL || s->ac != ac || reply == NULL)
		return;
	if (reply->type == REDIS_REPLY_ERROR)
		store_fail(s, "AUTH refused", reply->str);
}

/* SCRIPT LOAD's answer, the last of the connection's first commands:
 * ready, unless Redis wants an AUTH sluice was not given. Its other
 * errors (an ACL without SCRIPT) leave the leases to find out: EVAL
 * follows a NOSCRIPT anyway. */
static void
store_on_ready(redisAsyncContext *ac, void *r, void *arg)
{
	struct sl_rlstore *s = ac->data;
	redisReply *reply = r;

	(void)arg;
	sl_now_refresh();
	if (s == NULL || s->ac != ac || reply == NULL)
		return;
	if (reply->type == REDIS_REPLY_ERROR &&
	    strncmp(reply->str, "NOAUTH", 6) == 0) {
		store_fail(s,
			   "Redis wants AUTH, and rate_limit_store has no "
			   "password_file",
			   reply->str);
		return;
	}
	store_ready(s);
}

static void
store_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct sl_rlstore *s = ac->data;

	sl_now_refresh();
	if (s == NULL || s->ac != ac)
		return;
	/* hiredis frees ac after this */
	s->ac = NULL;
	if (!s->up) {
		/* closed before it was ready: it could not be made */
		SL_STAT_INC(sl_rl_wcounts(&s->w->stats)->store_connects[1]);
		if (s->was_up || s->backoff_ms == BACKOFF_MIN_MS)
			log_warnx("worker %u: rate_limit_store %s: cannot "
				  "connect: %s; trying again in %llu ms",
				  s->w->id, s->addr,
				  status != REDIS_OK ? ac->errstr
						     : "connection closed",
				  (unsigned long long)s->backoff_ms);
		s->was_up = 0;
		store_backoff(s);
		return;
	}
	SL_STAT_INC(sl_rl_wcounts(&s->w->stats)->store_lost);
	store_set_up(s, 0);
	if (status != REDIS_OK && s->was_up)
		log_warnx("worker %u: rate_limit_store %s: connection lost: "
			  "%s",
			  s->w->id, s->addr, ac->errstr);
	store_backoff(s);
}

/* Closes the connection without counting or saying it (a reload changed
 * how to reach the store). Its commands fail. */
static void
store_close(struct sl_rlstore *s)
{
	redisAsyncContext *ac = s->ac;

	if (ac == NULL)
		return;
	s->ac = NULL;
	store_set_up(s, 0);
	ac->data = NULL;
	redisAsyncFree(ac);
}

/* Drops the connection (a timeout: its state is unknown). Its commands
 * fail. */
static void
store_drop(struct sl_rlstore *s, const char *why)
{
	redisAsyncContext *ac = s->ac;

	if (ac == NULL)
		return;
	if (s->was_up)
		log_warnx("worker %u: rate_limit_store %s: %s; dropping the "
			  "connection",
			  s->w->id, s->addr, why);
	s->was_up = 0;
	s->ac = NULL; /* first: the callbacks below must not use it */
	SL_STAT_INC(sl_rl_wcounts(&s->w->stats)->store_lost);
	store_set_up(s, 0);
	store_backoff(s);
	ac->data = NULL;
	redisAsyncFree(ac); /* calls store_on_reply with NULL for each */
}

/* A connection to the store, opened now when there is none and the
 * backoff allows. Returns 0 or -1. */
static int
store_connect(struct sl_rlstore *s)
{
	redisAsyncContext *ac;

	if (s->ac != NULL)
		return 0;
	if (s->retry_at_ms > sl_now_ms())
		return -1;
	ac = redisAsyncConnect(s->host, s->port);
	if (ac == NULL)
		return -1;
	if (ac->err) {
		SL_STAT_INC(sl_rl_wcounts(&s->w->stats)->store_connects[1]);
		if (s->was_up || s->backoff_ms == BACKOFF_MIN_MS)
			log_warnx("worker %u: rate_limit_store %s: cannot "
				  "connect: %s; trying again in %llu ms",
				  s->w->id, s->addr, ac->errstr,
				  (unsigned long long)s->backoff_ms);
		s->was_up = 0;
		redisAsyncFree(ac);
		store_backoff(s);
		return -1;
	}
	ac->data = s;
	if (redisLibeventAttach(ac, s->w->base) != REDIS_OK) {
		redisAsyncFree(ac);
		return -1;
	}
	redisAsyncSetConnectCallback(ac, store_on_connect);
	redisAsyncSetDisconnectCallback(ac, store_on_disconnect);
	/* AUTH first, then SCRIPT LOAD (so that EVALSHA finds it; a
	 * NOSCRIPT falls back to EVAL anyway): written ahead of any lease,
	 * in the same packet once connected */
	if ((s->pass != NULL &&
	     (s->user != NULL
		  ? redisAsyncCommand(ac, store_on_auth, NULL, "AUTH %s %s",
				      s->user, s->pass)
		  : redisAsyncCommand(ac, store_on_auth, NULL, "AUTH %s",
				      s->pass)) != REDIS_OK) ||
	    redisAsyncCommand(ac, store_on_ready, NULL, "SCRIPT LOAD %s",
			      sl_rlstore_script) != REDIS_OK) {
		ac->data = NULL;
		redisAsyncFree(ac);
		return -1;
	}
	s->ac = ac;
	s->up = 0;
	s->connect_by_ms = sl_now_ms() + s->timeout_ms;
	store_schedule(s);
	return 0;
}

/* Whether s authenticates as conf says. */
static int
store_creds_same(const struct sl_rlstore *s, const struct sl_conf *conf)
{
	const char *u = conf->fleet_store->username,
		   *p = conf->fleet_store->password;

	return (s->user == NULL ? u == NULL
				: u != NULL && strcmp(s->user, u) == 0) &&
	       (s->pass == NULL ? p == NULL
				: p != NULL && strcmp(s->pass, p) == 0);
}

static void
store_free_creds(struct sl_rlstore *s)
{
	if (s->pass != NULL)
		OPENSSL_cleanse(s->pass, strlen(s->pass));
	free(s->pass);
	free(s->user);
	s->user = s->pass = NULL;
}

/*
 * s takes conf's credentials. A connection made with others goes at once
 * (its leases in flight fail; their requests get on_store_error) and the
 * next is made now: Redis keeps a connection authenticated with a
 * password it no longer accepts, so only a new one tells whether the new
 * credentials work. Returns 0, or -1 (out of memory: s has none, and
 * tries again at the next lease).
 */
static int
store_rekey(struct sl_rlstore *s, const struct sl_conf *conf)
{
	store_free_creds(s);
	if ((conf->fleet_store->username != NULL &&
	     (s->user = strdup(conf->fleet_store->username)) == NULL) ||
	    (conf->fleet_store->password != NULL &&
	     (s->pass = strdup(conf->fleet_store->password)) == NULL)) {
		store_free_creds(s);
		return -1;
	}
	if (s->ac != NULL)
		log_info("worker %u: rate_limit_store %s: new credentials: "
			 "connecting again",
			 s->w->id, s->addr);
	store_close(s);
	s->retry_at_ms = 0;
	/* a refusal of the new ones is said, even within an outage; a
	 * success after one is said too (the backoff is kept) */
	s->was_up = 1;
	return 0;
}

/* w's store object for conf's store: made on first use; a reload that
 * moved the store moves it. NULL when out of memory. */
static struct sl_rlstore *
store_get(struct sl_worker *w, const struct sl_conf *conf)
{
	struct sl_rlstore *s = w->rlstore;
	const struct sockaddr *sa =
	    (const struct sockaddr *)&conf->fleet_store->addr.ss;

	if (s != NULL && (strcmp(s->addr, conf->fleet_store->addr.text) == 0 ||
			  conf->generation < s->generation)) {
		/* a request of an older generation, after a reload that
		 * moved the store, uses the new one: no flapping between the
		 * two while the old requests finish */
		if (conf->generation >= s->generation) {
			s->timeout_ms = conf->fleet_store->timeout_ms;
			s->generation = conf->generation;
			if (!store_creds_same(s, conf) &&
			    store_rekey(s, conf) == -1)
				return NULL;
		}
		return s;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return NULL;
		s->w = w;
		TAILQ_INIT(&s->cmds);
		s->timer = evtimer_new(w->base, store_on_timer, s);
		s->kick = event_new(w->base, -1, 0, store_on_kick, s);
		if (s->timer == NULL || s->kick == NULL) {
			if (s->timer != NULL)
				event_free(s->timer);
			if (s->kick != NULL)
				event_free(s->kick);
			free(s);
			return NULL;
		}
		pthread_once(&script_sha_once, script_sha_init);
		w->rlstore = s;
	} else
		store_drop(s, "the configuration moved the store");
	snprintf(s->addr, sizeof(s->addr), "%s", conf->fleet_store->addr.text);
	s->generation = conf->generation;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, s->host, sizeof(s->host));
		s->port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, s->host, sizeof(s->host));
		s->port = ntohs(s4->sin_port);
	}
	s->timeout_ms = conf->fleet_store->timeout_ms;
	s->backoff_ms = BACKOFF_MIN_MS;
	s->retry_at_ms = 0;
	if (!store_creds_same(s, conf) && store_rekey(s, conf) == -1)
		return NULL;
	s->was_up = 0; /* a new store: its first failure is said anyway */
	return s;
}

/* Sends c (again): EVALSHA, or EVAL after a NOSCRIPT. Returns 0 or -1. */
static int
cmd_send(struct sl_rlstore *s, struct rl_cmd *c)
{
	const struct sl_rl_spec *sp = &c->st->spec;
	char key[256];

	snprintf(key, sizeof(key), "%s%s:%016llx", c->conf->fleet_store->prefix,
		 c->st->fleet_id, (unsigned long long)c->h);
	if (c->evaled || script_sha[0] == '\0')
		return redisAsyncCommand(
		    s->ac, store_on_reply, c, "EVAL %s 1 %s %llu %llu %u %u",
		    sl_rlstore_script, key, (unsigned long long)sp->interval_us,
		    (unsigned long long)sp->tolerance_us, c->want, c->debt);
	return redisAsyncCommand(
	    s->ac, store_on_reply, c, "EVALSHA %s 1 %s %llu %llu %u %u",
	    script_sha, key, (unsigned long long)sp->interval_us,
	    (unsigned long long)sp->tolerance_us, c->want, c->debt);
}

int
sl_rlstore_lease(struct sl_worker *w, struct sl_conf *conf,
		 struct sl_rlstate *st, struct sl_rl_lentry *e, uint64_t h,
		 uint32_t want, uint32_t debt)
{
	struct sl_rlstore *s;
	struct rl_cmd *c;

	if (conf->fleet_store == NULL || (s = store_get(w, conf)) == NULL ||
	    store_connect(s) == -1)
		return -1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->s = s;
	c->conf = sl_conf_ref(conf);
	c->st = st;
	c->e = e;
	c->h = h;
	c->want = want;
	c->debt = debt;
	c->sent_ms = sl_now_ms();
	c->deadline_ms = c->sent_ms + s->timeout_ms;
	if (cmd_send(s, c) != REDIS_OK) {
		sl_conf_unref(c->conf);
		free(c);
		return -1;
	}
	TAILQ_INSERT_TAIL(&s->cmds, c, link);
	sl_rl_lease_sent(e);
	if (TAILQ_FIRST(&s->cmds) == c)
		store_schedule(s);
	return 0;
}

/* Tells the waiters of failed leases, from the loop (not from inside
 * hiredis). */
static void
store_on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct sl_rlstore *s = arg;
	struct sl_rl_wait *list = s->failed;

	(void)fd;
	(void)what;
	sl_now_refresh();
	s->failed = NULL;
	sl_rl_wait_run(list, SL_RL_STORE_ERROR, 0);
}

/* c's lease failed: its entry lets go, its waiters hear of it soon. */
static void
cmd_failed(struct sl_rlstore *s, struct rl_cmd *c)
{
	struct sl_rl_wait **tail = &s->failed;

	while (*tail != NULL)
		tail = &(*tail)->next;
	sl_rl_lease_failed(c->e, tail);
	if (s->failed != NULL)
		event_active(s->kick, 0, 1);
}

static void
cmd_done(struct sl_rlstore *s, struct rl_cmd *c, int result)
{
	struct sl_rl_wcounts *ws = sl_rl_wcounts(&s->w->stats);
	uint64_t ms = sl_now_ms() - c->sent_ms;

	SL_STAT_INC(ws->store[result]);
	SL_STAT_INC(ws->store_dur[sl_hist_slot(ms)]);
	SL_STAT_ADD(ws->store_dur_sum_ms, ms);
	TAILQ_REMOVE(&s->cmds, c, link);
	sl_conf_unref(c->conf);
	free(c);
}

/* A command's answer (reply NULL: none, the connection went or was
 * dropped). */
static void
cmd_answered(struct rl_cmd *c, redisReply *reply)
{
	struct sl_rlstore *s = c->s;
	int result = reply == NULL ? (c->timed_out ? SL_RLSTORE_TIMEOUT
						   : SL_RLSTORE_ERROR)
		     : reply->type == REDIS_REPLY_ERROR ? SL_RLSTORE_ERROR
							: SL_RLSTORE_OK;
	sl_rlstore_done *done = c->done;
	void *arg = c->arg;

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		log_warnx("worker %u: rate_limit_store %s: an error answer: "
			  "%.200s",
			  s->w->id, s->addr, reply->str);
	cmd_done(s, c, result);
	if (done != NULL)
		done(arg, result == SL_RLSTORE_OK ? reply : NULL, result);
}

static void
store_on_reply(redisAsyncContext *ac, void *r, void *arg)
{
	struct rl_cmd *c = arg;
	struct sl_rlstore *s = c->s;
	redisReply *reply = r;
	struct sl_rl_wait *served = NULL, *refused = NULL;
	uint64_t wait_us, now;
	long long got;

	sl_now_refresh();
	if (c->generic) {
		if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
		    !c->evaled && strncmp(reply->str, "NOSCRIPT", 8) == 0 &&
		    ac == s->ac) {
			/* the store forgot the script (restarted, flushed):
			 * sent whole, once, which teaches it again */
			c->evaled = 1;
			if (script_send(s, c) == REDIS_OK) {
				TAILQ_REMOVE(&s->cmds, c, link);
				TAILQ_INSERT_TAIL(&s->cmds, c, link);
				return;
			}
		}
		cmd_answered(c, reply);
		return;
	}
	if (reply == NULL) {
		/* the connection went (or was dropped) */
		cmd_failed(s, c);
		cmd_done(s, c,
			 c->timed_out ? SL_RLSTORE_TIMEOUT : SL_RLSTORE_ERROR);
		return;
	}
	if (reply->type == REDIS_REPLY_ERROR && !c->evaled &&
	    strncmp(reply->str, "NOSCRIPT", 8) == 0 && ac == s->ac) {
		/* the store forgot the script (restarted, flushed): send
		 * it whole, once */
		c->evaled = 1;
		if (cmd_send(s, c) == REDIS_OK) {
			/* still in flight: moved to the end of the queue */
			TAILQ_REMOVE(&s->cmds, c, link);
			TAILQ_INSERT_TAIL(&s->cmds, c, link);
			return;
		}
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER ||
	    reply->element[1]->type != REDIS_REPLY_INTEGER ||
	    reply->element[0]->integer < 0 || reply->element[1]->integer < 0) {
		log_warnx("worker %u: rate_limit_store %s: unexpected answer "
			  "to a lease%s%.200s",
			  s->w->id, s->addr,
			  reply->type == REDIS_REPLY_ERROR ? ": " : "",
			  reply->type == REDIS_REPLY_ERROR ? reply->str : "");
		cmd_failed(s, c);
		cmd_done(s, c, SL_RLSTORE_ERROR);
		return;
	}
	got = reply->element[0]->integer;
	wait_us = (uint64_t)reply->element[1]->integer;
	now = sl_ratelimit_now_us();
	if (sl_rl_lease_granted(c->e, (uint32_t)SL_MIN(got, UINT32_MAX),
				wait_us, now, &served, &refused)) {
		/* requests still wait, and more cells are there: ask */
		if (sl_rlstore_lease(s->w, c->conf, c->st, c->e, c->h,
				     SL_MAX(c->st->lease, 1), 0) == -1)
			cmd_failed(s, c);
	}
	cmd_done(s, c, SL_RLSTORE_OK);
	sl_rl_wait_run(served, SL_RL_CELL, 0);
	sl_rl_wait_run(refused, SL_RL_REFUSED, wait_us);
}

static void
store_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sl_rlstore *s = arg;
	uint64_t now = sl_now_refresh();
	struct rl_cmd *c;
	int late = 0;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(c, &s->cmds, link)
	if (c->deadline_ms <= now) {
		c->timed_out = 1;
		late = 1;
	}
	if (s->ac != NULL && !s->up && (late || now >= s->connect_by_ms))
		/* not ready in time: a connection that could not be made */
		store_fail(s,
			   !(s->ac->c.flags & REDIS_CONNECTED)
			       ? "cannot connect: no connection within the "
				 "timeout"
			   : s->pass != NULL
			       ? "cannot connect: no answer to AUTH or "
				 "SCRIPT LOAD within the timeout"
			       : "cannot connect: no answer to SCRIPT LOAD "
				 "within the timeout",
			   NULL);
	else if (late)
		store_drop(s, "no answer within the timeout");
	/* commands a dropped connection failed were freed by hiredis's
	 * callbacks; what is left (none) sets the next deadline */
	store_schedule(s);
}

/* Sends c, a script's (again): EVALSHA, or EVAL after a NOSCRIPT (or
 * when the script has no SHA-1). Returns REDIS_OK or REDIS_ERR. */
static int
script_send(struct sl_rlstore *s, struct rl_cmd *c)
{
	const char *argv[3 + SL_RLSTORE_MAX_ARGS];
	size_t lens[3 + SL_RLSTORE_MAX_ARGS];
	const unsigned char *p = c->args;
	int eval = c->evaled || c->script->sha[0] == '\0';
	char nk[2] = {(char)('0' + c->nkeys), '\0'}; /* nkeys <= 8 */

	argv[0] = eval ? "EVAL" : "EVALSHA";
	argv[1] = eval ? c->script->text : c->script->sha;
	argv[2] = nk;
	for (int i = 0; i < 3; i++)
		lens[i] = strlen(argv[i]);
	for (int i = 0; i < c->nargs; i++) {
		argv[3 + i] = (const char *)p;
		lens[3 + i] = c->alens[i];
		p += c->alens[i];
	}
	return redisAsyncCommandArgv(s->ac, store_on_reply, c, 3 + c->nargs,
				     argv, lens);
}

struct sl_rlstore_cmd *
sl_rlstore_eval(struct sl_worker *w, struct sl_conf *conf,
		const struct sl_rlstore_script *sc, int nkeys, int nargs,
		const char **argv, const size_t *argvlen, sl_rlstore_done *done,
		void *arg)
{
	struct sl_rlstore *s;
	struct rl_cmd *c;
	size_t total = 0;
	unsigned char *p;

	if (nargs < nkeys || nkeys < 0 || nargs > SL_RLSTORE_MAX_ARGS)
		return NULL;
	for (int i = 0; i < nargs; i++)
		total += argvlen[i];
	if (conf->fleet_store == NULL || (s = store_get(w, conf)) == NULL ||
	    store_connect(s) == -1)
		return NULL;
	if ((c = calloc(1, sizeof(*c) + total)) == NULL)
		return NULL;
	c->s = s;
	c->conf = sl_conf_ref(conf);
	c->generic = 1;
	c->done = done;
	c->arg = arg;
	c->script = sc;
	c->nkeys = nkeys;
	c->nargs = nargs;
	p = c->args;
	for (int i = 0; i < nargs; p += argvlen[i], i++) {
		c->alens[i] = argvlen[i];
		memcpy(p, argv[i], argvlen[i]);
	}
	c->sent_ms = sl_now_ms();
	c->deadline_ms = c->sent_ms + s->timeout_ms;
	if (script_send(s, c) != REDIS_OK) {
		sl_conf_unref(c->conf);
		free(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&s->cmds, c, link);
	if (TAILQ_FIRST(&s->cmds) == c)
		store_schedule(s);
	return (struct sl_rlstore_cmd *)c;
}

void
sl_rlstore_cancel(struct sl_rlstore_cmd *cmd)
{
	struct rl_cmd *c = (struct rl_cmd *)cmd;

	c->done = NULL; /* its answer, when it comes, goes nowhere */
}

void
sl_rlstore_worker_free(struct sl_worker *w)
{
	struct sl_rlstore *s = w->rlstore;

	if (s == NULL)
		return;
	if (s->ac != NULL) {
		redisAsyncContext *ac = s->ac;
		s->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	store_set_up(s, 0);
	store_free_creds(s);
	/* nothing waits any more: the worker's clients are gone */
	sl_rl_wait_run(s->failed, SL_RL_STORE_ERROR, 0);
	event_free(s->timer);
	event_free(s->kick);
	free(s);
	w->rlstore = NULL;
}
