/* fsm.c - apply Raft entries to SQLite in batched transactions, exactly once; snapshots. */
#include "meta/fsm.h"
#include "meta/sqlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "meta/entry.h"
#include "meta/lease.h"
#include "meta/lock.h"

/* The schema of the state machine's own tables (docs/metadata-schema.md);
 * the namespace tables belong to meta/ns.c. */
static const char fsm_schema[] =
	"CREATE TABLE IF NOT EXISTS fsm_state ("
	"  key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO fsm_state VALUES ('applied', 0);"
	"INSERT OR IGNORE INTO fsm_state VALUES ('schema', 1);"
	"CREATE TABLE IF NOT EXISTS sessions ("
	"  client_id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  lease_ms INTEGER NOT NULL,"
	"  opened_ns INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS replies ("
	"  client_id INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  reply BLOB NOT NULL,"
	"  PRIMARY KEY (client_id, seq)) WITHOUT ROWID;";

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_SET_APPLIED,
	ST_SESSION_GET,
	ST_SESSION_PUT,
	ST_SESSION_DEL,
	ST_REPLY_GET,
	ST_REPLY_PUT,
	ST_REPLY_TRIM,
	ST_REPLY_DEL_ALL,
	ST__COUNT
};

static const char *const fsm_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_SAVEPOINT] = "SAVEPOINT cmd",
	[ST_RELEASE] = "RELEASE cmd",
	[ST_ROLLBACK_TO] = "ROLLBACK TO cmd",
	[ST_SET_APPLIED] = "UPDATE fsm_state SET value = ? WHERE key = "
			   "'applied'",
	[ST_SESSION_GET] = "SELECT (SELECT coalesce(max(seq), 0) FROM replies "
			   "WHERE client_id = ?1) FROM sessions WHERE "
			   "client_id = ?1",
	[ST_SESSION_PUT] = "INSERT OR REPLACE INTO sessions VALUES "
			   "(?, ?, ?, ?)",
	[ST_SESSION_DEL] = "DELETE FROM sessions WHERE client_id = ?",
	[ST_REPLY_GET] = "SELECT reply FROM replies WHERE client_id = ? AND "
			 "seq = ?",
	[ST_REPLY_PUT] = "INSERT INTO replies VALUES (?, ?, ?)",
	[ST_REPLY_TRIM] = "DELETE FROM replies WHERE client_id = ? AND "
			  "seq <= ?",
	[ST_REPLY_DEL_ALL] = "DELETE FROM replies WHERE client_id = ?",
};

/* Commit the batch transaction after this many entries even within one
 * loop turn, to bound the WAL and the work lost to a crash. */
#define FSM_TX_MAX_ENTRIES 4096

/* ... and once it has been open this long (fsm_flush_due, every loop
 * turn).  A transaction spans loop turns so that a page that many
 * commands change (a directory's entries, the sessions and replies of a
 * client, fsm_state) reaches the WAL once per commit rather than once per
 * command: one create per loop turn wrote about 8 pages.  What a crash
 * loses of it is replayed from the Raft log (fsm.h, idempotent replay). */
#define FSM_TX_MAX_MS 50

/* Checkpoint the WAL into the database once it holds this many frames
 * (4 KiB pages: 8 MiB).  The checkpoint runs in the loop thread and syncs
 * the WAL and the database, so it must stay well below the election
 * timeout (200 ms by default): a 64 MiB WAL took 250-430 ms here, and
 * every server reaches the threshold at about the same log position.
 * SQLite's own autocheckpoint (1000 pages) is off: run after every ~100
 * one-create commits, it cost a third of the create rate.  Never
 * checkpointing is no option either: the WAL then grows by every
 * commit's pages until the server restarts.  A checkpoint copies each
 * page once however often the frames rewrote it. */
#define FSM_WAL_CHECKPOINT_FRAMES 2048

/* A checkpoint slower than this is logged at WARN: it delayed every
 * message of the server, heartbeats included. */
#define FSM_CHECKPOINT_SLOW_MS 100

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames);

struct fsm {
	struct raft_fsm raft;
	struct raft *r;
	sqlite3 *db;
	struct ns *ns;
	struct dmap *dmap;
	struct lockt *locks;
	struct leaset *leases;
	lease_recall_fn recall;
	void *recall_data;
	sqlite3_stmt *st[ST__COUNT];
	char path[4096];
	int in_tx;
	unsigned tx_entries;
	int64_t tx_begun_ms;
	int wal_frames; /* in the WAL after the last commit (wal_hook) */
	int64_t checkpoint_failed_ms; /* last logged failure */
	uint64_t applied;
	fsm_reply_fn reply;
	void *reply_data;
	int failed;
	char why[CFS_ERRMSG_SIZE];
	/* scratch for stored replies handed out by fsm_session_check() */
	uint8_t *held;
	/* the last snapshot image, owned until snapshot_finalize */
	unsigned char *snap;
	struct raft_buffer snap_buf;
	union wire_body body, out; /* large: kept off the stack */
	/* mknods: the mknod of the item being applied, the results so far */
	union wire_body item;
	struct wire_mknods_reply batch;
};

/* The state machine's messages name its file, not a module. */
static int
db_fail(struct fsm *f, char *errmsg, const char *what)
{
	return sqlq_fail(f->db, f->path, what, errmsg);
}

/* Mark the state machine broken: every later apply fails. */
static int
fsm_break(struct fsm *f, const char *why)
{
	if (!f->failed) {
		f->failed = 1;
		snprintf(f->why, sizeof(f->why), "%s", why);
		LOG_ERROR("state machine stopped: %s", why);
	}
	return RAFT_IOERR;
}

static int
step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

static int
exec_st(struct fsm *f, int which, char *errmsg)
{
	if (step_done(f->st[which]) != 0)
		return db_fail(f, errmsg, fsm_sql[which]);
	return 0;
}

static int
load_applied(struct fsm *f, char *errmsg)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(
		f->db, "SELECT value FROM fsm_state WHERE key = 'applied'", -1,
		&s, NULL);
	if (rc != SQLITE_OK)
		return db_fail(f, errmsg, "reading the applied index");
	rc = sqlite3_step(s);
	f->applied = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0)
				      : 0;
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: no applied index: not a CFS metadata "
				"database",
				f->path);
	return 0;
}

static void
finalize_all(struct fsm *f)
{
	sqlq_finalize(f->st, ST__COUNT);
	lease_close(&f->leases);
	lock_close(&f->locks);
	dmap_close(&f->dmap);
	ns_close(&f->ns);
}

/* (Re)create prepared statements and the namespace over f->db. */
static int
prepare_all(struct fsm *f, char *errmsg)
{
	int rv = sqlq_prepare(f->db, f->path, fsm_schema, fsm_sql, ST__COUNT,
			      f->st, errmsg);
	if (rv != 0)
		return rv;
	/* the data map reads the leases table (dmap.h) */
	rv = ns_open(&f->ns, f->db, errmsg);
	if (rv == 0)
		rv = lease_open(&f->leases, f->db, errmsg);
	if (rv == 0)
		rv = dmap_open(&f->dmap, f->db, f->ns, errmsg);
	if (rv == 0)
		rv = lock_open(&f->locks, f->db, errmsg);
	if (rv == 0)
		dmap_set_recall(f->dmap, f->recall, f->recall_data);
	if (rv != 0) {
		cfs_errmsg_prefix(errmsg, "%s", f->path);
		return rv;
	}
	return load_applied(f, errmsg);
}

/* Refuse files that are not ours, or damaged: a metadata server must never
 * come up with a silently empty or half-read namespace. */
static int
check_database(struct fsm *f, char *errmsg)
{
	sqlite3_stmt *s;
	int rc, ok = 0, tables = 0;

	rc = sqlite3_prepare_v2(f->db, "PRAGMA quick_check", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return cfs_fail(errmsg, CFS_CORRUPT, "%s: not a database: %s",
				f->path, sqlite3_errmsg(f->db));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		if (t && strcmp(t, "ok") == 0)
			ok = 1;
		else if (!ok)
			cfs_fail(errmsg, CFS_CORRUPT, "%s: integrity: %s",
				 f->path, t ? t : "?");
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return cfs_fail(errmsg, CFS_CORRUPT, "%s: unreadable: %s",
				f->path, sqlite3_errmsg(f->db));
	if (!ok)
		return CFS_CORRUPT;
	rc = sqlite3_prepare_v2(f->db,
				"SELECT count(*) FROM sqlite_master WHERE "
				"type = 'table'",
				-1, &s, NULL);
	if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		tables = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (tables == 0)
		return 0; /* a new database */
	rc = sqlite3_prepare_v2(
		f->db, "SELECT value FROM fsm_state WHERE key = 'schema'", -1,
		&s, NULL);
	int schema = -1;
	if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		schema = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (schema != 1)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: has tables but is not a CFS metadata "
				"database (schema %d)",
				f->path, schema);
	return 0;
}

static int fsm_apply_cb(struct raft_fsm *rf, const struct raft_buffer *buf,
			void **result);
static int fsm_snapshot_cb(struct raft_fsm *rf, struct raft_buffer *bufs[],
			   unsigned *n);
static int fsm_snapshot_finalize_cb(struct raft_fsm *rf,
				    struct raft_buffer *bufs[], unsigned *n);
static int fsm_restore_cb(struct raft_fsm *rf, struct raft_buffer *buf);

int
fsm_open(struct fsm **out, const char *path, char *errmsg)
{
	struct fsm *f = calloc(1, sizeof(*f));
	int rv;

	if (f == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "fsm: out of memory");
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (sqlite3_open_v2(path, &f->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rv = cfs_fail(errmsg, CFS_EIO, "%s: cannot open: %s", path,
			      f->db ? sqlite3_errmsg(f->db) : "out of memory");
		goto err_after_alloc;
	}
	sqlite3_extended_result_codes(f->db, 1);
	rv = check_database(f, errmsg);
	if (rv != 0)
		goto err_after_open;
	/* WAL + synchronous=NORMAL: the Raft log is the durable copy; a
	 * database that lost its last commits to a power cut is consistent
	 * and replays them from the log (applied index above).  The one
	 * connection is ours alone: exclusive locking saves the shm. */
	char *err = NULL;
	if (sqlite3_exec(f->db,
			 "PRAGMA journal_mode = WAL;"
			 "PRAGMA synchronous = NORMAL;"
			 "PRAGMA locking_mode = EXCLUSIVE;"
			 "PRAGMA foreign_keys = OFF;"
			 "PRAGMA cache_size = -65536;"
			 "PRAGMA wal_autocheckpoint = 0;"
			 "PRAGMA temp_store = MEMORY;"
			 /* a WAL that grew (a restore, a huge batch) is cut
			  * back when it starts over after a checkpoint */
			 "PRAGMA journal_size_limit = 16777216;",
			 NULL, NULL, &err) != SQLITE_OK) {
		rv = cfs_fail(errmsg, CFS_EIO, "%s: %s", path, err ? err : "?");
		sqlite3_free(err);
		goto err_after_open;
	}
	sqlite3_wal_hook(f->db, wal_hook, f);
	rv = prepare_all(f, errmsg);
	if (rv != 0)
		goto err_after_open;
	f->checkpoint_failed_ms = INT64_MIN / 2; /* the first is logged */
	f->raft.version = 2;
	f->raft.data = f;
	f->raft.apply = fsm_apply_cb;
	f->raft.snapshot = fsm_snapshot_cb;
	f->raft.snapshot_finalize = fsm_snapshot_finalize_cb;
	f->raft.restore = fsm_restore_cb;
	*out = f;
	return 0;

err_after_open:
	finalize_all(f);
	sqlite3_close(f->db);
err_after_alloc:
	free(f);
	return rv;
}

void
fsm_close(struct fsm **fp)
{
	struct fsm *f = *fp;
	char errmsg[CFS_ERRMSG_SIZE];

	if (f == NULL)
		return;
	if (!f->failed)
		fsm_flush(f, errmsg);
	finalize_all(f);
	sqlite3_close(f->db);
	sqlite3_free(f->snap);
	free(f->held);
	free(f);
	*fp = NULL;
}

struct raft_fsm *
fsm_raft(struct fsm *f)
{
	return &f->raft;
}

void
fsm_attach(struct fsm *f, struct raft *r)
{
	f->r = r;
}

void
fsm_set_recall(struct fsm *f, lease_recall_fn fn, void *data)
{
	f->recall = fn;
	f->recall_data = data;
	if (f->dmap != NULL)
		dmap_set_recall(f->dmap, fn, data);
}

void
fsm_set_reply(struct fsm *f, fsm_reply_fn fn, void *data)
{
	f->reply = fn;
	f->reply_data = data;
}

int
fsm_failed(struct fsm *f, const char **why)
{
	if (why)
		*why = f->why;
	return f->failed;
}

uint64_t
fsm_applied(struct fsm *f)
{
	return f->applied;
}

static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	((struct fsm *)arg)->wal_frames = frames;
	return SQLITE_OK;
}

/* Copy the WAL into the database and start it over (the one connection
 * has no readers to wait for, so a passive checkpoint copies every frame
 * and the next commit writes from the WAL's start again; the file keeps
 * its size, about FSM_WAL_CHECKPOINT_FRAMES pages).  A failure is logged
 * and costs nothing but a longer WAL: the commits are in it. */
static void
checkpoint(struct fsm *f)
{
	int logged = 0, copied = 0;
	int64_t t0 = cfs_now_ms();
	int rc = sqlite3_wal_checkpoint_v2(f->db, NULL,
					   SQLITE_CHECKPOINT_PASSIVE, &logged,
					   &copied);
	if (rc != SQLITE_OK) {
		/* tried again after the next commit; say so once a minute */
		int64_t now = cfs_now_ms();
		if (now - f->checkpoint_failed_ms >= 60000) {
			LOG_WARN("%s: WAL checkpoint of %d frames: %s", f->path,
				 f->wal_frames, sqlite3_errmsg(f->db));
			f->checkpoint_failed_ms = now;
		}
		return;
	}
	f->wal_frames = 0;
	int64_t ms = cfs_now_ms() - t0;
	if (ms >= FSM_CHECKPOINT_SLOW_MS)
		LOG_WARN("%s: WAL checkpoint of %d frames took %lld ms (the "
			 "disk is slow or busy; heartbeats waited as long)",
			 f->path, logged, (long long)ms);
	else
		LOG_DEBUG("%s: WAL checkpoint: %d frames, %d copied, %lld ms",
			  f->path, logged, copied, (long long)ms);
}

int
fsm_flush_due(struct fsm *f, char *errmsg)
{
	if (!f->in_tx || cfs_now_ms() - f->tx_begun_ms < FSM_TX_MAX_MS)
		return 0;
	return fsm_flush(f, errmsg);
}

int
fsm_flush(struct fsm *f, char *errmsg)
{
	if (!f->in_tx)
		return 0;
	f->in_tx = 0;
	f->tx_entries = 0;
	if (exec_st(f, ST_COMMIT, errmsg) != 0) {
		fsm_break(f, errmsg);
		return CFS_INTERNAL;
	}
	if (f->wal_frames >= FSM_WAL_CHECKPOINT_FRAMES)
		checkpoint(f);
	return 0;
}

int
fsm_error_frame(const struct wire_header *h, int status, const char *message,
		const char *leader, uint8_t **frame, size_t *len)
{
	struct wire_header rh = *h;
	struct wire_error e;
	char ignored[CFS_ERRMSG_SIZE];

	memset(&e, 0, sizeof(e));
	snprintf(e.message, sizeof(e.message), "%s",
		 message && *message ? message : cfs_strerror(status));
	snprintf(e.leader, sizeof(e.leader), "%s", leader ? leader : "");
	rh.type = WIRE_T_error;
	rh.flags = WIRE_F_REPLY;
	rh.status = status;
	return wire_encode(&rh, &e, frame, len, ignored);
}

/* Encode the reply of @h: @status with @errmsg, or @type with @body. */
static int
reply_frame(const struct wire_header *h, int status, const char *errmsg,
	    uint16_t type, const void *body, uint8_t **frame, size_t *len)
{
	struct wire_header rh = *h;
	char ignored[CFS_ERRMSG_SIZE];

	rh.request_id = 0;
	if (status != 0)
		return fsm_error_frame(&rh, status, errmsg, NULL, frame, len);
	rh.type = type;
	rh.flags = WIRE_F_REPLY;
	rh.status = 0;
	int rv = wire_encode(&rh, body, frame, len, ignored);
	if (rv == CFS_TOOBIG)
		return fsm_error_frame(&rh, CFS_TOOBIG, ignored, NULL, frame,
				       len);
	return rv;
}

static void
send_reply(struct fsm *f, const struct wire_header *h, const uint8_t *frame,
	   size_t len)
{
	if (f->reply != NULL)
		f->reply(f->reply_data, h->client_id, h->sequence, frame, len);
}

/*
 * Exactly once with a window (Raft thesis §6.3).  A client may have up to
 * CFS_SESSION_WINDOW requests in flight.  The reply of every applied
 * (client, sequence) is kept in table `replies` until the client is a
 * window further: applying sequence s deletes the replies at or below
 * s - WINDOW.  So:
 *  - a sequence with a stored reply was applied: answer it again;
 *  - a sequence at or below last_seq - WINDOW without a stored reply may
 *    have been applied and forgotten: refuse it (a client never goes back
 *    that far: it never has more than WINDOW in flight);
 *  - anything else was never applied: execute it.
 * last_seq is the highest sequence with a stored reply; trimming deletes
 * only replies at or below (a stored sequence) - WINDOW, so a deleted reply
 * is always at or below last_seq - WINDOW, which makes the second rule
 * safe.
 */

/* Store the reply of (client, seq), advance last_seq, trim the window. */
static int
session_store(struct fsm *f, const struct wire_header *h, const uint8_t *frame,
	      size_t len, char *errmsg)
{
	sqlite3_stmt *s = f->st[ST_REPLY_PUT];

	sqlite3_bind_int64(s, 1, (sqlite3_int64)h->client_id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)h->sequence);
	sqlite3_bind_blob(s, 3, frame, (int)len, SQLITE_STATIC);
	int rc = step_done(s);
	sqlite3_clear_bindings(s);
	if (rc)
		return db_fail(f, errmsg, "storing a reply");
	/* Trim the window every 16th sequence: deterministic, and one
	 * statement less per command. */
	if (h->sequence > CFS_SESSION_WINDOW && h->sequence % 16 == 0) {
		s = f->st[ST_REPLY_TRIM];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)h->client_id);
		sqlite3_bind_int64(
			s, 2,
			(sqlite3_int64)(h->sequence - CFS_SESSION_WINDOW));
		if (step_done(s))
			return db_fail(f, errmsg, "trimming replies");
	}
	return 0;
}

/* Look up a session: -1 unknown, else 0 with its last applied sequence. */
static int
session_get(struct fsm *f, uint64_t client_id, uint64_t *last)
{
	sqlite3_stmt *s = f->st[ST_SESSION_GET];
	int found = -1;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)client_id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		found = 0;
		*last = (uint64_t)sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	return found;
}

/* The stored reply of (client, seq), copied into f->held: 1 found, 0 not. */
static int
reply_get(struct fsm *f, uint64_t client_id, uint64_t seq, size_t *len)
{
	sqlite3_stmt *s = f->st[ST_REPLY_GET];
	int found = 0;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)client_id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(s, 0);
		free(f->held);
		f->held = malloc(*len ? *len : 1);
		if (f->held != NULL) {
			memcpy(f->held, sqlite3_column_blob(s, 0), *len);
			found = 1;
		}
	}
	sqlite3_reset(s);
	return found;
}

int
fsm_session_check(struct fsm *f, uint64_t client_id, uint64_t seq,
		  const uint8_t **frame, size_t *len)
{
	uint64_t last = 0;

	if (session_get(f, client_id, &last) < 0)
		return 0;
	if (reply_get(f, client_id, seq, len)) {
		*frame = f->held;
		return 2;
	}
	if (last >= CFS_SESSION_WINDOW && seq <= last - CFS_SESSION_WINDOW)
		return 3;
	return 1;
}

/* Session bookkeeping commands. */
static int
exec_session(struct fsm *f, int64_t now_ns, const struct wire_header *h,
	     const union wire_body *b, union wire_body *out, uint16_t *otype,
	     char *errmsg)
{
	sqlite3_stmt *s;
	uint64_t last;

	switch (h->type) {
	case WIRE_T_session_open:
		s = f->st[ST_SESSION_PUT];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)h->client_id);
		sqlite3_bind_text(s, 2, b->session_open.client_name, -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, b->session_open.lease_ms);
		sqlite3_bind_int64(s, 4, now_ns);
		if (step_done(s) != 0)
			return db_fail(f, errmsg, "opening a session");
		if (lease_session_opened(f->leases, h->client_id,
					 b->session_open.lease_owner,
					 errmsg) != 0)
			return CFS_INTERNAL;
		memset(&out->session_opened, 0, sizeof(out->session_opened));
		out->session_opened.client_id = h->client_id;
		out->session_opened.lease_ms = b->session_open.lease_ms;
		*otype = WIRE_T_session_opened;
		return 0;
	case WIRE_T_session_close:
	case WIRE_T_session_expire: {
		uint64_t id = h->type == WIRE_T_session_close
				      ? h->client_id
				      : b->session_expire.client_id;
		if (session_get(f, id, &last) < 0)
			return cfs_fail(errmsg, CFS_NOSESSION,
					"session %016llx is not open",
					(unsigned long long)id);
		s = f->st[ST_SESSION_DEL];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
		if (step_done(s) != 0)
			return db_fail(f, errmsg, "closing a session");
		s = f->st[ST_REPLY_DEL_ALL];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
		if (step_done(s) != 0)
			return db_fail(f, errmsg, "closing a session");
		/* Leases and locks of the session go with it: a client
		 * killed while holding a lock or a lease frees it when its
		 * session expires (docs/locks.md, docs/leases.md). */
		if (lock_drop_session(f->locks, id, errmsg) != 0 ||
		    lease_drop_session(f->leases, id, errmsg) != 0)
			return CFS_INTERNAL;
		*otype = WIRE_T_ok;
		return 0;
	}
	default:
		return cfs_fail(errmsg, CFS_BADTYPE, "not a session command");
	}
}

/* Whether attributes @a (a lookup's, a getattr's, a lease grant's) may
 * go to session @client_id: a regular file's size is not known to this
 * server while appends patched in place may have made its last fragment
 * longer (dmap_size_refusal: CFS_LEASE_BUSY, the holder recalled if
 * @recall; the client retries).  0 otherwise. */
static int
size_known(struct fsm *f, uint64_t client_id, const struct wire_attr *a,
	   int recall, char *errmsg)
{
	uint64_t owner = 0;
	int rv;

	if ((a->mode & S_IFMT) != S_IFREG)
		return 0;
	if ((rv = lease_owner(f->leases, client_id, &owner, errmsg)) != 0)
		return rv;
	return dmap_size_refusal(f->dmap, a->ino, a->size, owner, recall,
				 errmsg);
}

/* What a lookup of each entry of listing page @p (one that shows
 * attributes) would be refused: a regular file's size this server may not
 * know (size_known; skipped while no fragment is open anywhere), a
 * directory under another mount's write lease (lease_dir_check: its
 * times may move with creates answered ahead; not "." and "..").  Every
 * holder in the way is recalled (one at a time, a page of a log directory
 * with many appenders would take a retry each); the first refusal. */
static int
page_known(struct fsm *f, const struct lease_ctx *c,
	   const struct wire_dirents *p, char *errmsg)
{
	uint64_t owner = 0;
	int any_open = dmap_any_open(f->dmap, errmsg);
	int rv, first = 0;

	if (any_open != 0 && any_open != 1)
		return any_open;
	if (any_open &&
	    (rv = lease_owner(f->leases, c->client_id, &owner, errmsg)) != 0)
		return rv;
	for (uint32_t i = 0; i < p->entries_count; i++) {
		const struct wire_dirent *e = &p->entries[i];
		char msg[CFS_ERRMSG_SIZE];
		char *m = first ? msg : errmsg;
		if (S_ISREG(e->attr.mode) && any_open)
			rv = dmap_size_refusal(f->dmap, e->attr.ino,
					       e->attr.size, owner, 1, m);
		else if (S_ISDIR(e->attr.mode) && strcmp(e->name, ".") != 0 &&
			 strcmp(e->name, "..") != 0)
			rv = lease_dir_check(f->leases, c, e->attr.ino, m);
		else
			continue;
		if (rv == CFS_INTERNAL) { /* (the database: that, not a wait) */
			if (first != 0)
				cfs_errmsg_set(errmsg, "%s", msg);
			return rv;
		}
		if (first == 0)
			first = rv;
	}
	return first;
}

/* The part of f->out cleared before each command: the reply structs that
 * operations fill only in part (entry's lease fields, lease_granted). */
#define OUT_CLEAR                                                            \
	(sizeof(struct wire_entry) > sizeof(struct wire_lease_granted)       \
		 ? sizeof(struct wire_entry)                                 \
		 : sizeof(struct wire_lease_granted))

/* Apply the creates of a mknods command one by one, each as a mknod of
 * its own (in a savepoint of its own: one failing leaves the others),
 * into f->out.mknods_reply.  CFS_INTERNAL is fatal, as for any command. */
static int
exec_mknods(struct fsm *f, const struct ns_env *env,
	    const struct lease_ctx *lc, uint16_t *otype, char *opmsg)
{
	const struct wire_mknods *b = &f->body.mknods;
	struct wire_mknods_reply *out = &f->batch;

	out->results_count = 0;
	for (uint32_t i = 0; i < b->items_count; i++) {
		const struct wire_mknod_item *it = &b->items[i];
		struct wire_mknod *m = &f->item.mknod;
		struct wire_mknod_result *res = &out->results[i];
		char msg[CFS_ERRMSG_SIZE] = "";
		uint16_t t = 0;
		int rv;

		memset(m, 0, sizeof(*m));
		m->cred = b->cred;
		m->parent = it->parent;
		memcpy(m->name, it->name, sizeof(m->name));
		m->mode = it->mode;
		m->rdev = it->rdev;
		m->flags = it->flags;
		m->ino = it->ino;
		m->lease_epoch = it->lease_epoch;
		m->time_ns = it->time_ns;
		memset(&f->out, 0, OUT_CLEAR);
		if (exec_st(f, ST_SAVEPOINT, opmsg) != 0)
			return CFS_INTERNAL;
		rv = lease_check(f->leases, lc, WIRE_T_mknod, &f->item, msg);
		if (rv == 0)
			rv = ns_exec(f->ns, env, WIRE_T_mknod, &f->item, &t,
				     &f->out, msg);
		if (rv == 0)
			rv = lease_after(f->leases, lc, WIRE_T_mknod, &f->item,
					 &f->out, msg);
		if (rv == CFS_INTERNAL)
			return cfs_fail(opmsg, CFS_INTERNAL,
					"create %u of %u ('%s' in %llu): %s",
					i + 1, b->items_count, it->name,
					(unsigned long long)it->parent, msg);
		if (rv != 0 && exec_st(f, ST_ROLLBACK_TO, opmsg) != 0)
			return CFS_INTERNAL;
		if (exec_st(f, ST_RELEASE, opmsg) != 0)
			return CFS_INTERNAL;
		memset(res, 0, sizeof(*res));
		res->status = (uint32_t)rv;
		if (rv != 0) {
			snprintf(res->message, sizeof(res->message), "%s",
				 *msg ? msg : cfs_strerror(rv));
		} else {
			res->attr = f->out.entry.attr;
			res->lease = f->out.entry.lease;
			res->lease_epoch = f->out.entry.lease_epoch;
		}
		out->results_count = i + 1;
	}
	f->out.mknods_reply.results_count = out->results_count;
	memcpy(f->out.mknods_reply.results, out->results,
	       out->results_count * sizeof(out->results[0]));
	*otype = WIRE_T_mknods_reply;
	return 0;
}

/* Run one session request (inside its savepoint): a lease request, or a
 * lock, fragment or namespace request that first waits for no other
 * mount's lease (docs/leases.md) and may grant one as it succeeds. */
static int
exec_request(struct fsm *f, const struct ns_env *env, uint64_t index,
	     const struct wire_header *h, uint16_t *otype, char *opmsg)
{
	struct lease_ctx lc = {.client_id = h->client_id,
			       .index = index,
			       .recall = f->recall,
			       .recall_data = f->recall_data};
	int rv;

	if (h->type == WIRE_T_ino_reserve) {
		uint32_t n = f->body.ino_reserve.count;
		if (n == 0 || n > CFS_INO_RESERVE_MAX)
			return cfs_fail(opmsg, CFS_EINVAL,
					"ino_reserve of %u inode numbers (1 "
					"to %u)",
					n, CFS_INO_RESERVE_MAX);
		rv = ns_ino_reserve(f->ns, n, &f->out.ino_reserved.first,
				    opmsg);
		f->out.ino_reserved.count = n;
		if (rv != 0)
			return rv;
	}
	if (lease_handles(h->type)) {
		rv = lease_exec(f->leases, &lc, h->type, &f->body, otype,
				&f->out, opmsg);
		if (rv == 0 && h->type == WIRE_T_lease_get)
			rv = ns_attr(f->ns, f->body.lease_get.ino,
				     &f->out.lease_granted.attr, opmsg);
		/* (a lease that lives is in the way of any other already:
		 * what is left is one gone, its appends not yet sealed) */
		if (rv == 0 && h->type == WIRE_T_lease_get)
			rv = size_known(f, h->client_id,
					&f->out.lease_granted.attr, 0, opmsg);
		return rv;
	}
	if (lock_handles(h->type))
		return lock_exec(f->locks, h->client_id, h->type, &f->body,
				 otype, &f->out, opmsg);
	if (h->type == WIRE_T_mknods)
		return exec_mknods(f, env, &lc, otype, opmsg);
	rv = lease_check(f->leases, &lc, h->type, &f->body, opmsg);
	if (rv != 0)
		return rv;
	rv = dmap_handles(h->type)
		     ? dmap_exec(f->dmap, env, h->type, &f->body, otype,
				 &f->out, opmsg)
		     : ns_exec(f->ns, env, h->type, &f->body, otype, &f->out,
			       opmsg);
	if (rv == 0)
		rv = lease_after(f->leases, &lc, h->type, &f->body, &f->out,
				 opmsg);
	return rv;
}

/* Execute one command of an entry.  Returns 0 (a reply was produced and
 * handed out, whatever its status) or CFS_INTERNAL (fatal). */
static int
apply_command(struct fsm *f, int64_t now_ns, uint64_t index,
	      const uint8_t *frame, size_t len, char *errmsg)
{
	struct wire_header h;
	uint16_t otype = WIRE_T_ok;
	char opmsg[CFS_ERRMSG_SIZE] = "";
	uint8_t *rframe = NULL;
	size_t rlen = 0;
	int rv, dedupe = 0;

	rv = wire_decode(frame, len, &h, &f->body, errmsg);
	if (rv != 0) {
		cfs_errmsg_prefix(errmsg, "undecodable command in the log");
		return CFS_INTERNAL;
	}
	struct ns_env env = {.now_ns = now_ns};
	/* Operations fill their reply structs; clearing the whole union
	 * (46 KiB: a page of dirents) per command cost more than the SQLite
	 * work of a create. */
	memset(&f->out, 0, OUT_CLEAR);

	if (h.type == WIRE_T_session_open || h.type == WIRE_T_session_close ||
	    h.type == WIRE_T_session_expire) {
		rv = exec_session(f, now_ns, &h, &f->body, &f->out, &otype,
				  opmsg);
		/* SQLite failing is fatal here as everywhere: a replica
		 * that kept a closed session's locks would diverge. */
		if (rv == CFS_INTERNAL)
			return cfs_fail(errmsg, CFS_INTERNAL, "%s: %s",
					wire_type_name(h.type), opmsg);
	} else if (h.type == WIRE_T_format) {
		struct ns_format fmt = {
			.fragment_size = f->body.format.fragment_size,
			.default_goal = f->body.format.default_goal,
		};
		rv = ns_format(f->ns, &env, &fmt, opmsg);
	} else if (dmap_handles(h.type) && !dmap_needs_session(h.type)) {
		/* From data nodes or the leader itself: no session; their
		 * effects are idempotent, so a duplicate does no harm. */
		if (exec_st(f, ST_SAVEPOINT, errmsg) != 0)
			return CFS_INTERNAL;
		rv = dmap_exec(f->dmap, &env, h.type, &f->body, &otype,
			       &f->out, opmsg);
		if (rv == CFS_INTERNAL)
			return cfs_fail(errmsg, CFS_INTERNAL, "%s: %s",
					wire_type_name(h.type), opmsg);
		if (rv != 0 && exec_st(f, ST_ROLLBACK_TO, errmsg) != 0)
			return CFS_INTERNAL;
		if (exec_st(f, ST_RELEASE, errmsg) != 0)
			return CFS_INTERNAL;
	} else if (ns_handles(h.type) || dmap_handles(h.type) ||
		   lock_handles(h.type) || lease_is_mutation(h.type)) {
		uint64_t last = 0;
		size_t slen = 0;
		if (session_get(f, h.client_id, &last) < 0) {
			rv = cfs_fail(opmsg, CFS_NOSESSION,
				      "session %016llx is not open",
				      (unsigned long long)h.client_id);
		} else if (reply_get(f, h.client_id, h.sequence, &slen)) {
			/* Applied already: a retry that reached the log
			 * twice.  Answer as the first time; change
			 * nothing. */
			send_reply(f, &h, f->held, slen);
			return 0;
		} else if (last >= CFS_SESSION_WINDOW &&
			   h.sequence <= last - CFS_SESSION_WINDOW) {
			rv = cfs_fail(opmsg, CFS_EINVAL,
				      "sequence %llu is outside the session's "
				      "window (last %llu)",
				      (unsigned long long)h.sequence,
				      (unsigned long long)last);
		} else {
			dedupe = 1;
			if (exec_st(f, ST_SAVEPOINT, errmsg) != 0)
				return CFS_INTERNAL;
			rv = exec_request(f, &env, index, &h, &otype, opmsg);
			if (rv == CFS_INTERNAL)
				return cfs_fail(errmsg, CFS_INTERNAL, "%s: %s",
						wire_type_name(h.type), opmsg);
			if (rv != 0 &&
			    exec_st(f, ST_ROLLBACK_TO, errmsg) != 0)
				return CFS_INTERNAL;
			if (exec_st(f, ST_RELEASE, errmsg) != 0)
				return CFS_INTERNAL;
		}
	} else {
		rv = cfs_fail(opmsg, CFS_BADTYPE, "%s is not a command",
			      wire_type_name(h.type));
	}

	if (reply_frame(&h, rv, opmsg, otype, &f->out, &rframe, &rlen) != 0)
		return cfs_fail(errmsg, CFS_INTERNAL,
				"cannot encode the reply of %s",
				wire_type_name(h.type));
	if (dedupe && session_store(f, &h, rframe, rlen, errmsg) != 0) {
		free(rframe);
		return CFS_INTERNAL;
	}
	send_reply(f, &h, rframe, rlen);
	free(rframe);
	return 0;
}

static int
fsm_apply_cb(struct raft_fsm *rf, const struct raft_buffer *buf,
	     void **result)
{
	struct fsm *f = rf->data;
	char errmsg[CFS_ERRMSG_SIZE];
	struct entry_reader rd;
	const uint8_t *frame;
	size_t len;
	int rv;

	*result = NULL;
	if (f->failed)
		return RAFT_IOERR;
	/* apply() is not told its index (STACK.md); the entry being applied
	 * is the one after the last applied. */
	uint64_t index = raft_last_applied(f->r) + 1;
	if (index <= f->applied)
		return 0; /* replayed over a database that holds it already */
	if (entry_open(&rd, buf->base, buf->len, errmsg) != 0)
		return fsm_break(f, errmsg);
	if (!f->in_tx) {
		if (exec_st(f, ST_BEGIN, errmsg) != 0)
			return fsm_break(f, errmsg);
		f->in_tx = 1;
		f->tx_begun_ms = cfs_now_ms();
	}
	while ((rv = entry_next(&rd, &frame, &len, errmsg)) > 0)
		if (apply_command(f, rd.now_ns, index, frame, len, errmsg) !=
		    0)
			return fsm_break(f, errmsg);
	if (rv < 0)
		return fsm_break(f, errmsg);
	sqlite3_bind_int64(f->st[ST_SET_APPLIED], 1, (sqlite3_int64)index);
	if (exec_st(f, ST_SET_APPLIED, errmsg) != 0)
		return fsm_break(f, errmsg);
	f->applied = index;
	if (++f->tx_entries >= FSM_TX_MAX_ENTRIES &&
	    fsm_flush(f, errmsg) != 0)
		return RAFT_IOERR;
	return 0;
}

int
fsm_read(struct fsm *f, const struct wire_header *h,
	 const union wire_body *req, uint8_t **frame, size_t *len,
	 char *errmsg)
{
	char opmsg[CFS_ERRMSG_SIZE] = "";
	uint16_t otype = WIRE_T_ok;
	struct ns_env env = {.now_ns = 0};
	int rv;

	memset(&f->out, 0, OUT_CLEAR);
	struct lease_ctx rc = {.client_id = h->client_id,
			       .recall = f->recall,
			       .recall_data = f->recall_data};
	if (lease_handles(h->type)) {
		struct lease_ctx lc = {.client_id = h->client_id};
		rv = lease_exec(f->leases, &lc, h->type, req, &otype, &f->out,
				opmsg);
	} else if ((rv = lease_read_check(f->leases, &rc, h->type, req,
					  opmsg)) != 0) {
		; /* refused (or the database failed) */
	} else if (lock_handles(h->type))
		rv = lock_exec(f->locks, h->client_id, h->type, req, &otype,
			       &f->out, opmsg);
	else if (dmap_handles(h->type))
		rv = dmap_exec(f->dmap, &env, h->type, req, &otype, &f->out,
			       opmsg);
	else
		rv = ns_exec(f->ns, &env, h->type, req, &otype, &f->out,
			     opmsg);
	if (rv == 0 && (h->type == WIRE_T_getattr || h->type == WIRE_T_lookup))
		rv = size_known(f, h->client_id, &f->out.entry.attr, 1, opmsg);
	if (rv == 0 && h->type == WIRE_T_lookup &&
	    S_ISDIR(f->out.entry.attr.mode))
		rv = lease_dir_check(f->leases, &rc, f->out.entry.attr.ino,
				     opmsg);
	if (rv == 0 && h->type == WIRE_T_readdir && !req->readdir.names_only)
		rv = page_known(f, &rc, &f->out.dirents, opmsg);
	if (rv == CFS_INTERNAL) {
		fsm_break(f, opmsg);
		return cfs_fail(errmsg, CFS_INTERNAL, "%s", opmsg);
	}
	rv = reply_frame(h, rv, opmsg, otype, &f->out, frame, len);
	if (rv != 0)
		return cfs_fail(errmsg, rv, "encoding the reply of %s",
				wire_type_name(h->type));
	return 0;
}

int
fsm_sessions(struct fsm *f,
	     void (*fn)(void *data, uint64_t client_id, uint32_t lease_ms),
	     void *data)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(f->db,
			       "SELECT client_id, lease_ms FROM sessions", -1,
			       &s, NULL) != SQLITE_OK)
		return CFS_INTERNAL;
	while (sqlite3_step(s) == SQLITE_ROW)
		fn(data, (uint64_t)sqlite3_column_int64(s, 0),
		   (uint32_t)sqlite3_column_int64(s, 1));
	sqlite3_finalize(s);
	return 0;
}

static int64_t
count_rows(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	int64_t n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

int
fsm_info(struct fsm *f, struct fsm_info *info)
{
	memset(info, 0, sizeof(*info));
	info->formatted = ns_is_formatted(f->ns);
	int64_t n = count_rows(f->db, "SELECT count(*) FROM sessions");
	info->sessions = n > 0 ? (uint64_t)n : 0;
	n = count_rows(f->db, "SELECT count(*) FROM inodes");
	info->inodes = n > 0 ? (uint64_t)n : 0;
	n = count_rows(f->db, "SELECT value FROM config WHERE key = "
			      "'fragment_size'");
	info->fragment_size = n > 0 ? (uint64_t)n : 0;
	n = count_rows(f->db, "SELECT value FROM config WHERE key = "
			      "'default_goal'");
	info->default_goal = n > 0 ? (uint32_t)n : 0;
	return 0;
}

/* ---- dump ----------------------------------------------------------------
 * Every table, every row, in primary-key order, one line per row.  Two
 * replicas at the same applied index must produce identical dumps. */

struct strbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void
sb_add(struct strbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (b->len + n + 1 > cap)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct strbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
dump_value(struct strbuf *b, sqlite3_stmt *s, int col)
{
	char tmp[64];

	switch (sqlite3_column_type(s, col)) {
	case SQLITE_INTEGER:
		snprintf(tmp, sizeof(tmp), "%lld",
			 (long long)sqlite3_column_int64(s, col));
		sb_str(b, tmp);
		break;
	case SQLITE_FLOAT:
		snprintf(tmp, sizeof(tmp), "%.17g",
			 sqlite3_column_double(s, col));
		sb_str(b, tmp);
		break;
	case SQLITE_NULL:
		sb_str(b, "NULL");
		break;
	default: {
		/* text and blobs in hex: unambiguous and diff-able */
		const unsigned char *p = sqlite3_column_blob(s, col);
		int n = sqlite3_column_bytes(s, col);
		sb_str(b, "x'");
		for (int i = 0; i < n; i++) {
			snprintf(tmp, sizeof(tmp), "%02x", p[i]);
			sb_add(b, tmp, 2);
		}
		sb_str(b, "'");
	}
	}
}

int
fsm_dump(struct fsm *f, char **text, size_t *len, char *errmsg)
{
	struct strbuf b = {0};
	sqlite3_stmt *tables, *rows;
	char sql[512];

	if (sqlite3_prepare_v2(f->db,
			       "SELECT name FROM sqlite_master WHERE type = "
			       "'table' AND name NOT LIKE 'sqlite_%' ORDER BY "
			       "name",
			       -1, &tables, NULL) != SQLITE_OK)
		return db_fail(f, errmsg, "dump");
	while (sqlite3_step(tables) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(tables, 0);
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY 1, 2",
			 name);
		if (sqlite3_prepare_v2(f->db, sql, -1, &rows, NULL) !=
		    SQLITE_OK) {
			/* single-column tables: order by the one column */
			snprintf(sql, sizeof(sql),
				 "SELECT * FROM \"%s\" ORDER BY 1", name);
			if (sqlite3_prepare_v2(f->db, sql, -1, &rows, NULL) !=
			    SQLITE_OK) {
				sqlite3_finalize(tables);
				free(b.p);
				return db_fail(f, errmsg, sql);
			}
		}
		sb_str(&b, "[");
		sb_str(&b, name);
		sb_str(&b, "]\n");
		while (sqlite3_step(rows) == SQLITE_ROW) {
			int n = sqlite3_column_count(rows);
			for (int i = 0; i < n; i++) {
				if (i)
					sb_str(&b, "|");
				dump_value(&b, rows, i);
			}
			sb_str(&b, "\n");
		}
		sqlite3_finalize(rows);
	}
	sqlite3_finalize(tables);
	if (b.oom) {
		free(b.p);
		return cfs_fail(errmsg, CFS_ENOMEM, "dump: out of memory");
	}
	*text = b.p;
	*len = b.len;
	return 0;
}

/* ---- snapshots ------------------------------------------------------------
 * A snapshot is the serialized database file (applied index inside it). */

static int
fsm_snapshot_cb(struct raft_fsm *rf, struct raft_buffer *bufs[], unsigned *n)
{
	struct fsm *f = rf->data;
	char errmsg[CFS_ERRMSG_SIZE];
	sqlite3_int64 size = 0;

	if (f->failed || fsm_flush(f, errmsg) != 0)
		return RAFT_IOERR;
	if (f->snap != NULL)
		return RAFT_BUSY; /* the previous one is still being written */
	f->snap = sqlite3_serialize(f->db, "main", &size, 0);
	if (f->snap == NULL) {
		LOG_ERROR("%s: snapshot: cannot serialize the database",
			  f->path);
		return RAFT_NOMEM;
	}
	f->snap_buf.base = f->snap;
	f->snap_buf.len = (size_t)size;
	*bufs = &f->snap_buf;
	*n = 1;
	LOG_INFO("snapshot at applied index %llu: %lld bytes",
		 (unsigned long long)f->applied, (long long)size);
	return 0;
}

static int
fsm_snapshot_finalize_cb(struct raft_fsm *rf, struct raft_buffer *bufs[],
			 unsigned *n)
{
	struct fsm *f = rf->data;

	sqlite3_free(f->snap);
	f->snap = NULL;
	*bufs = NULL;
	*n = 0;
	return 0;
}

/* Read the applied index stored inside a snapshot image. */
static int
image_applied(sqlite3 *mem, uint64_t *applied)
{
	int64_t v = count_rows(mem, "SELECT value FROM fsm_state WHERE key = "
				    "'applied'");
	if (v < 0)
		return CFS_CORRUPT;
	*applied = (uint64_t)v;
	return 0;
}

static int
fsm_restore_cb(struct raft_fsm *rf, struct raft_buffer *buf)
{
	struct fsm *f = rf->data;
	char errmsg[CFS_ERRMSG_SIZE];
	sqlite3 *mem = NULL;
	uint64_t snap_applied = 0;
	int rv = RAFT_CORRUPT;
	unsigned char *img = buf->base;

	if (f->failed || fsm_flush(f, errmsg) != 0) {
		raft_free(buf->base);
		return RAFT_IOERR;
	}
	/* A WAL database's header says "WAL" in bytes 18-19 (value 2); an
	 * in-memory image must say "rollback" (1) or the first read fails. */
	if (buf->len < 100 || memcmp(img, "SQLite format 3", 16) != 0) {
		LOG_ERROR("%s: snapshot of %zu bytes is not a database image",
			  f->path, buf->len);
		goto out;
	}
	img[18] = img[19] = 1;
	if (sqlite3_open(":memory:", &mem) != SQLITE_OK ||
	    sqlite3_deserialize(mem, "main", img, (sqlite3_int64)buf->len,
				(sqlite3_int64)buf->len,
				SQLITE_DESERIALIZE_READONLY) != SQLITE_OK ||
	    image_applied(mem, &snap_applied) != 0) {
		LOG_ERROR("%s: snapshot image unreadable", f->path);
		goto out;
	}
	if (snap_applied <= f->applied) {
		/* Start-up: libraft restores the last snapshot, but the
		 * database already holds it and more (its applied index is
		 * ahead); the log entries after it are skipped on replay. */
		LOG_INFO("snapshot at %llu already contained in the database "
			 "(applied %llu): kept the database",
			 (unsigned long long)snap_applied,
			 (unsigned long long)f->applied);
		rv = 0;
		goto out;
	}
	finalize_all(f);
	sqlite3_backup *bk = sqlite3_backup_init(f->db, "main", mem, "main");
	if (bk == NULL || sqlite3_backup_step(bk, -1) != SQLITE_DONE) {
		LOG_ERROR("%s: restoring snapshot: %s", f->path,
			  sqlite3_errmsg(f->db));
		sqlite3_backup_finish(bk);
		fsm_break(f, "snapshot restore failed");
		rv = RAFT_IOERR;
		goto out;
	}
	sqlite3_backup_finish(bk);
	if (prepare_all(f, errmsg) != 0) {
		fsm_break(f, errmsg);
		rv = RAFT_IOERR;
		goto out;
	}
	LOG_INFO("%s: restored a snapshot at applied index %llu", f->path,
		 (unsigned long long)f->applied);
	rv = 0;
out:
	sqlite3_close(mem);
	raft_free(buf->base);
	return rv;
}

struct dmap *
fsm_dmap(struct fsm *f)
{
	return f->dmap;
}
