/* server.c - cfs-meta's event loop: set-up of Raft (raft_uv), the state machine and the front, the loop's handles, stopping. */
#include "meta/server.h"

#include <errno.h>
#include <fcntl.h>
#include <raft.h>
#include <raft/uv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "meta/fsm.h"
#include "meta/front.h"
#include "meta/lead.h"
#include "meta/recall.h"
#include "meta/repair.h"
#include "meta/server_int.h"
#include "meta/session.h"
#include "meta/watch.h"
#include "meta/xport.h"

#define TICK_MS 250

/* Data nodes' repair (meta/repair.c) proposes through the front's queue
 * and sees the data map only on a confirmed leader. */
static int
propose_cb(void *data, uint16_t type, const void *body)
{
	return front_enqueue_internal(data, type, body);
}

static struct dmap *
dmap_of_cb(void *data)
{
	struct meta_server *s = data;
	return s->confirmed ? fsm_dmap(s->fsm) : NULL;
}

/* ---- loop handles ---------------------------------------------------------- */

static void
fatal_check(struct meta_server *s)
{
	const char *why;
	if (fsm_failed(s->fsm, &why)) {
		/* A replica that cannot apply an entry must not go on: it
		 * would answer from a state that diverged. */
		LOG_ERROR("fatal: the state machine failed (%s); exiting so "
			  "that this server never serves a diverged state",
			  why);
		exit(1);
	}
}

/* Propose what is queued (group commit: everything one drain read goes
 * into one entry) and start a barrier for queued reads. */
static void
flush_queues(struct meta_server *s)
{
	if (s->stopping)
		return;
	lead_check(s);
	if (!s->leader)
		return;
	if (s->mq.head != NULL)
		lead_propose(s);
	if (s->rq.head != NULL)
		lead_barrier(s, 0);
}

/* Drain, then flush at once: a request found in the prepare phase must not
 * wait for the check phase, which comes only after the loop has blocked
 * in poll (measured: up to one heartbeat, 30 ms, per request). */
static void
zpoll_cb(uv_poll_t *h, int status, int events)
{
	struct meta_server *s = h->data;
	(void)status;
	(void)events;
	front_drain(s);
	flush_queues(s);
}

static void
prepare_cb(uv_prepare_t *h)
{
	struct meta_server *s = h->data;
	front_drain(s);
	flush_queues(s);
}

/* End of every loop turn: propose what arrived, start a barrier for the
 * reads, commit the SQLite transaction of everything applied if it has
 * been open long enough (the tick wakes the loop at least every
 * TICK_MS). */
static void
check_cb(uv_check_t *h)
{
	struct meta_server *s = h->data;
	char errmsg[CFS_ERRMSG_SIZE];

	if (s->stopping)
		return;
	flush_queues(s);
	fsm_flush_due(s->fsm, errmsg);
	fatal_check(s);
}

static void
tick_cb(uv_timer_t *h)
{
	struct meta_server *s = h->data;

	lead_check(s);
	fatal_check(s);
	if (s->leader && s->confirmed) {
		lead_tick(s);
		repair_tick(s->repair, fsm_dmap(s->fsm), fsm_applied(s->fsm),
			    uv_now(&s->loop));
	}
	watch_tick(s);
}

static void
handle_closed(uv_handle_t *h)
{
	(void)h;
}

static void
raft_closed_cb(struct raft *r)
{
	struct meta_server *s = r->data;

	s->raft_closed = 1;
	repair_destroy(&s->repair);
	uv_close((uv_handle_t *)&s->zpoll, handle_closed);
	uv_close((uv_handle_t *)&s->prepare, handle_closed);
	uv_close((uv_handle_t *)&s->check, handle_closed);
	uv_close((uv_handle_t *)&s->tick, handle_closed);
	uv_close((uv_handle_t *)&s->sigint, handle_closed);
	uv_close((uv_handle_t *)&s->sigterm, handle_closed);
	if (s->opt.fault_hooks) {
		uv_close((uv_handle_t *)&s->sigusr1, handle_closed);
		uv_close((uv_handle_t *)&s->sigusr2, handle_closed);
	}
}

static void
stop(struct meta_server *s, const char *why)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	LOG_INFO("stopping: %s (reads answered: %llu under the leader's "
		 "read lease, %llu after a barrier)",
		 why, s->reads_local, s->reads_barrier);
	front_fail_queue(s, &s->mq, CFS_SHUTDOWN, "server is shutting down");
	front_fail_queue(s, &s->rq, CFS_SHUTDOWN, "server is shutting down");
	watch_reset(s, 0);
	uv_poll_stop(&s->zpoll);
	uv_timer_stop(&s->tick);
	/* In-flight proposals and barriers fail with their callbacks during
	 * raft_close; their clients get SHUTDOWN/NOTLEADER and retry. */
	raft_close(&s->raft, raft_closed_cb);
}

static void
signal_cb(uv_signal_t *h, int signum)
{
	struct meta_server *s = h->data;
	stop(s, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* The partition fault hook of docs/model.md: only with fault_hooks. */
static void
partition_cb(uv_signal_t *h, int signum)
{
	struct meta_server *s = h->data;
	int on = signum == SIGUSR1;
	LOG_WARN("fault hook: %s", on ? "cut off from the Raft peers (SIGUSR1)"
				       : "Raft peers reachable again (SIGUSR2)");
	xport_isolate(&s->xp, on);
}

/* ---- set-up ------------------------------------------------------------------ */

int
meta_peers_parse(const char *spec, struct meta_peer *peers, unsigned cap,
		 unsigned *n, char *errmsg)
{
	const char *p = spec;

	*n = 0;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char item[600];
		char *eq, *slash, *stop_at;

		if (len == 0 || len >= sizeof(item))
			return cfs_fail(errmsg, CFS_CONFIG,
					"--init-cluster: bad entry at '%.40s'",
					p);
		memcpy(item, p, len);
		item[len] = '\0';
		eq = strchr(item, '=');
		slash = eq ? strchr(eq, '/') : NULL;
		if (eq == NULL || slash == NULL || slash == eq + 1 ||
		    slash[1] == '\0')
			return cfs_fail(errmsg, CFS_CONFIG,
					"--init-cluster: '%s' is not "
					"ID=RAFTHOST:PORT/CLIENTHOST:PORT",
					item);
		*eq = '\0';
		errno = 0;
		unsigned long long id = strtoull(item, &stop_at, 10);
		if (errno || *stop_at || id == 0)
			return cfs_fail(errmsg, CFS_CONFIG,
					"--init-cluster: server id '%s' is not "
					"a positive integer",
					item);
		if (*n == cap)
			return cfs_fail(errmsg, CFS_CONFIG,
					"--init-cluster: more than %u servers",
					cap);
		for (unsigned i = 0; i < *n; i++)
			if (peers[i].id == id)
				return cfs_fail(errmsg, CFS_CONFIG,
						"--init-cluster: server id "
						"%llu twice",
						id);
		peers[*n].id = id;
		snprintf(peers[*n].address, sizeof(peers[*n].address), "%s",
			 eq + 1);
		(*n)++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (*n == 0)
		return cfs_fail(errmsg, CFS_CONFIG, "--init-cluster: empty");
	return 0;
}

static int
exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int
mkdir_p(const char *dir, char *errmsg)
{
	char tmp[1100];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
				return cfs_fail_errno(errmsg, errno, "mkdir %s",
						      tmp);
			*p = '/';
		}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return cfs_fail_errno(errmsg, errno, "mkdir %s", tmp);
	return 0;
}

/* The identity file ties a data directory to one server id, so a
 * directory started under the wrong --id is refused, not reused. */
static int
check_identity(struct meta_server *s, int *fresh, char *errmsg)
{
	char path[1100], buf[128];
	snprintf(path, sizeof(path), "%s/identity", s->opt.dir);
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		if (errno != ENOENT)
			return cfs_fail_errno(errmsg, errno, "%s", path);
		*fresh = 1;
		f = fopen(path, "w");
		if (f == NULL)
			return cfs_fail_errno(errmsg, errno, "%s", path);
		fprintf(f, "cfs-meta id=%lld\n", (long long)s->opt.id);
		if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
			fclose(f);
			return cfs_fail_errno(errmsg, errno, "%s", path);
		}
		fclose(f);
		return 0;
	}
	*fresh = 0;
	long long id = -1;
	if (fgets(buf, sizeof(buf), f) == NULL ||
	    sscanf(buf, "cfs-meta id=%lld", &id) != 1) {
		fclose(f);
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: not a cfs-meta identity file", path);
	}
	fclose(f);
	if (id != s->opt.id)
		return cfs_fail(errmsg, CFS_CONFIG,
				"%s belongs to server %lld, not %lld; use the "
				"right --id or another directory",
				s->opt.dir, id, (long long)s->opt.id);
	return 0;
}

static int
setup_raft(struct meta_server *s, const struct meta_peer *peers, unsigned n,
	   int had_state, char *errmsg)
{
	int rv;

	rv = xport_setup(&s->xp, &s->loop, s->opt.raft);
	if (rv != 0)
		return cfs_fail(errmsg, CFS_CONFIG, "raft address %s: %s",
				s->opt.raft, raft_strerror(rv));
	s->xp_inited = 1;
	rv = raft_uv_init(&s->io, &s->loop, s->raft_dir, &s->xp.outer);
	if (rv != 0)
		return cfs_fail(errmsg, CFS_EIO,
				"%s: raft_uv: %s (if this says io_setup, raise "
				"fs.aio-max-nr)",
				s->raft_dir, s->io.errmsg);
	s->io_inited = 1;
	/* A corrupt segment must stop the server, never be skipped
	 * silently (STACK.md). */
	raft_uv_set_auto_recovery(&s->io, false);
	rv = raft_init(&s->raft, &s->io, fsm_raft(s->fsm), (raft_id)s->opt.id,
		       s->self_addr);
	if (rv != 0)
		return cfs_fail(errmsg, CFS_EIO, "raft_init: %s",
				raft_errmsg(&s->raft));
	s->raft_inited = 1;
	s->raft.data = s;
	fsm_attach(s->fsm, &s->raft);
	raft_set_election_timeout(&s->raft, (unsigned)s->opt.election_timeout);
	/* Half the election timeout: room for the followers' clocks running
	 * up to 2x fast against ours (DESIGN.md §5: drift within a bound). */
	s->lease_ns = (uint64_t)s->opt.election_timeout * 1000000ull / 2;
	raft_set_heartbeat_timeout(&s->raft,
				   (unsigned)s->opt.heartbeat_timeout);
	raft_set_pre_vote(&s->raft, s->opt.pre_vote != 0);
	raft_set_snapshot_threshold(&s->raft,
				    (unsigned)s->opt.snapshot_threshold);
	raft_set_snapshot_trailing(&s->raft,
				   (unsigned)s->opt.snapshot_trailing);
	raft_set_install_snapshot_timeout(
		&s->raft, (unsigned)s->opt.install_snapshot_timeout);

	if (n > 0 && !had_state) {
		struct raft_configuration conf;
		int self_found = 0;
		raft_configuration_init(&conf);
		for (unsigned i = 0; i < n; i++) {
			if (peers[i].id == (uint64_t)s->opt.id) {
				if (strcmp(peers[i].address, s->self_addr) != 0) {
					raft_configuration_close(&conf);
					return cfs_fail(
						errmsg, CFS_CONFIG,
						"--init-cluster says server "
						"%llu is %s, but this server "
						"is %s (raft/advertise)",
						(unsigned long long)peers[i].id,
						peers[i].address,
						s->self_addr);
				}
				self_found = 1;
			}
			rv = raft_configuration_add(&conf, peers[i].id,
						    peers[i].address,
						    RAFT_VOTER);
			if (rv != 0) {
				raft_configuration_close(&conf);
				return cfs_fail(errmsg, CFS_CONFIG,
						"--init-cluster: %s",
						raft_strerror(rv));
			}
		}
		if (!self_found) {
			raft_configuration_close(&conf);
			return cfs_fail(errmsg, CFS_CONFIG,
					"--init-cluster does not list this "
					"server's id %lld",
					(long long)s->opt.id);
		}
		rv = raft_bootstrap(&s->raft, &conf);
		raft_configuration_close(&conf);
		if (rv != 0 && rv != RAFT_CANTBOOTSTRAP)
			return cfs_fail(errmsg, CFS_EIO, "bootstrap: %s",
					raft_errmsg(&s->raft));
		LOG_INFO("bootstrapped a new cluster of %u servers", n);
	} else if (n > 0) {
		LOG_INFO("--init-cluster ignored: %s already holds Raft state",
			 s->raft_dir);
	}
	return 0;
}

int
meta_server_create(struct meta_server **out, const struct meta_options *opt,
		   const struct meta_peer *peers, unsigned n_peers,
		   char *errmsg)
{
	struct meta_server *s = calloc(1, sizeof(*s));
	int rv, fresh = 0;

	if (s == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "out of memory");
	s->opt = *opt;
	plist_init(&s->mq);
	plist_init(&s->rq);
	if (s->opt.id < 1 || !s->opt.dir[0] || !s->opt.raft[0]) {
		free(s);
		return cfs_fail(errmsg, CFS_CONFIG,
				"id, dir and raft must be set (--id, --dir, "
				"--raft or a config file)");
	}
	const char *adv = s->opt.advertise[0] ? s->opt.advertise
					      : s->opt.listen;
	if (strncmp(adv, "tcp://", 6) == 0)
		adv += 6;
	if (strncmp(adv, "0.0.0.0", 7) == 0 || strchr(adv, '/')) {
		free(s);
		return cfs_fail(errmsg, CFS_CONFIG,
				"client address '%s' cannot be given to "
				"clients: set advertise = HOST:PORT",
				adv);
	}
	snprintf(s->client_addr, sizeof(s->client_addr), "%s", adv);
	snprintf(s->self_addr, sizeof(s->self_addr), "%s/%s", s->opt.raft,
		 s->client_addr);
	snprintf(s->db_path, sizeof(s->db_path), "%s/meta.db", s->opt.dir);
	snprintf(s->raft_dir, sizeof(s->raft_dir), "%s/raft", s->opt.dir);

	rv = mkdir_p(s->opt.dir, errmsg);
	if (rv == 0)
		rv = check_identity(s, &fresh, errmsg);
	if (rv != 0)
		goto err;
	char probe[1200];
	snprintf(probe, sizeof(probe), "%s/metadata1", s->raft_dir);
	int had_state = exists(probe);
	snprintf(probe, sizeof(probe), "%s/metadata2", s->raft_dir);
	had_state |= exists(probe);
	int had_db = exists(s->db_path);
	if (had_state && !had_db) {
		rv = cfs_fail(errmsg, CFS_CORRUPT,
			      "%s is missing but %s holds Raft state: refusing "
			      "to start with an empty namespace (restore the "
			      "file, or wipe %s and add this server back as a "
			      "new member)",
			      s->db_path, s->raft_dir, s->opt.dir);
		goto err;
	}
	if (!fresh && !had_state && had_db) {
		/* The database without its log: checked after opening. */
	}
	rv = mkdir_p(s->raft_dir, errmsg);
	if (rv != 0)
		goto err;
	rv = fsm_open(&s->fsm, s->db_path, errmsg);
	if (rv != 0)
		goto err;
	if (!had_state && fsm_applied(s->fsm) > 0) {
		rv = cfs_fail(errmsg, CFS_CORRUPT,
			      "%s holds state up to log index %llu but the "
			      "Raft log in %s is missing: refusing to start",
			      s->db_path,
			      (unsigned long long)fsm_applied(s->fsm),
			      s->raft_dir);
		goto err;
	}
	fsm_set_reply(s->fsm, lead_on_apply_reply, s);
	fsm_set_recall(s->fsm, watch_on_recall, s);
	s->recalls = recall_new();
	if (s->recalls == NULL) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "out of memory");
		goto err;
	}
	if (uv_loop_init(&s->loop) != 0) {
		rv = cfs_fail(errmsg, CFS_EIO, "uv_loop_init failed");
		goto err;
	}
	rv = setup_raft(s, peers, n_peers, had_state, errmsg);
	if (rv == 0)
		rv = front_setup(s, errmsg);
	if (rv != 0)
		goto err;
	*out = s;
	return 0;
err:
	meta_server_free(&s);
	return rv;
}

int
meta_server_run(struct meta_server *s, char *errmsg)
{
	int rv;

	uv_poll_init(&s->loop, &s->zpoll, s->zfd);
	uv_prepare_init(&s->loop, &s->prepare);
	uv_check_init(&s->loop, &s->check);
	uv_timer_init(&s->loop, &s->tick);
	uv_signal_init(&s->loop, &s->sigint);
	uv_signal_init(&s->loop, &s->sigterm);
	s->zpoll.data = s->prepare.data = s->check.data = s;
	s->tick.data = s->sigint.data = s->sigterm.data = s;
	uv_poll_start(&s->zpoll, UV_READABLE, zpoll_cb);
	uv_prepare_start(&s->prepare, prepare_cb);
	uv_check_start(&s->check, check_cb);
	uv_timer_start(&s->tick, tick_cb, TICK_MS, TICK_MS);
	uv_signal_start(&s->sigint, signal_cb, SIGINT);
	uv_signal_start(&s->sigterm, signal_cb, SIGTERM);
	if (s->opt.fault_hooks) {
		uv_signal_init(&s->loop, &s->sigusr1);
		uv_signal_init(&s->loop, &s->sigusr2);
		s->sigusr1.data = s->sigusr2.data = s;
		uv_signal_start(&s->sigusr1, partition_cb, SIGUSR1);
		uv_signal_start(&s->sigusr2, partition_cb, SIGUSR2);
		LOG_WARN("fault hooks on: SIGUSR1/SIGUSR2 partition this "
			 "server (tests only)");
	}

	struct repair_options ro = {
		.dead_after_ms = s->opt.node_dead_after,
		.reserve_bytes = s->opt.node_reserve,
		.degraded_writes = s->opt.degraded_writes,
		.spread_label = s->opt.spread_label,
		.rate = s->opt.repair_rate,
		.inflight = (int)s->opt.repair_inflight,
		.rebalance = s->opt.rebalance,
	};
	rv = repair_create(&s->repair, &s->loop, &ro, propose_cb, dmap_of_cb,
			   s, errmsg);
	if (rv != 0)
		return rv;
	rv = raft_start(&s->raft);
	if (rv != 0) {
		cfs_fail(errmsg, CFS_CORRUPT,
			 "cannot start Raft from %s: %s (a corrupt log is "
			 "never skipped; see docs/operations.md)",
			 s->raft_dir, raft_errmsg(&s->raft));
		stop(s, "raft_start failed");
		uv_run(&s->loop, UV_RUN_DEFAULT);
		return CFS_CORRUPT;
	}
	LOG_INFO("server %lld: raft %s, clients %s, data %s",
		 (long long)s->opt.id, s->opt.raft, s->client_addr, s->opt.dir);
	front_drain(s); /* messages that arrived before the poll started */
	uv_run(&s->loop, UV_RUN_DEFAULT);
	return 0;
}

static void
raft_closed_quiet(struct raft *r)
{
	((struct meta_server *)r->data)->raft_closed = 1;
}

void
meta_server_free(struct meta_server **sp)
{
	struct meta_server *s = *sp;

	if (s == NULL)
		return;
	if (s->raft_inited && !s->raft_closed) {
		/* created but never run: close Raft synchronously */
		raft_close(&s->raft, raft_closed_quiet);
		uv_run(&s->loop, UV_RUN_DEFAULT);
	}
	if (s->io_inited)
		raft_uv_close(&s->io);
	if (s->xp_inited) {
		uv_run(&s->loop, UV_RUN_DEFAULT);
		raft_uv_tcp_close(&s->xp.tcp);
	}
	if (s->router)
		zmq_close(s->router);
	if (s->zctx)
		zmq_ctx_term(s->zctx);
	if (s->raft_inited || s->xp_inited) {
		uv_run(&s->loop, UV_RUN_DEFAULT);
		uv_loop_close(&s->loop);
	}
	session_clock_clear(&s->sessions);
	recall_free(&s->recalls, NULL, NULL);
	fsm_close(&s->fsm);
	free(s);
	*sp = NULL;
}
