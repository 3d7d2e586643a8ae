/* dmap_inplace.c - the data map's versions open for patching in place: opening, sealing, and what they refuse meanwhile. */
#include "meta/dmap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

/* docs/data-path.md "Patching in place": a fragment's committed version
 * stays open for patching under its writer's write lease (the fragments'
 * patch_epoch) until the holder seals it (frag_commit in_place = SEAL) or,
 * once the lease is gone, the leader does (frag_seal, dmap_unsealed).
 * Meanwhile a new version of it, a read of it by another client, and a
 * truncation through it are refused. */

/* The write lease @epoch on @ino, if it still exists: 1 (*holder and
 * *session set), 0 gone, -1 SQLite failed. */
static int
lease_of_epoch(struct dmap *d, uint64_t ino, uint64_t epoch, uint64_t *holder,
	       uint64_t *session)
{
	sqlite3_stmt *s = dmap_q(d, Q_LEASE_OF_EPOCH);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)epoch);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*holder = (uint64_t)sqlite3_column_int64(s, 0);
		*session = (uint64_t)sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* A frag_open, or a commit other than its seal, of fragment (@ino, @idx)
 * while it is open for patching in place under write lease @epoch
 * (docs/data-path.md "Patching in place"): a new version over it would
 * lose the patches.  Another mount never gets here while the lease lives
 * (lease_check: LEASE_BUSY and a recall), so the cases are:
 * 1) the lease lives: its own mount, which seals first: CFS_EBUSY;
 * 2) the lease is gone: the leader seals it (dmap_unsealed): until then
 *    CFS_LEASE_BUSY, which the client retries as for a lease in the way
 *    (the lease it waits for is gone; the seal follows within seconds). */
int
dmap_open_refusal(struct dmap *d, uint64_t ino, uint64_t idx, uint64_t epoch,
		  const char *what, char *errmsg)
{
	uint64_t holder = 0, session = 0;
	int found = lease_of_epoch(d, ino, epoch, &holder, &session);

	if (found < 0)
		return dmap_db_error(d, errmsg, Q_LEASE_OF_EPOCH);
	if (found)
		return cfs_fail(errmsg, CFS_EBUSY,
				"%s of fragment %llu/%llu: open for patching "
				"in place under write lease %llu: seal it "
				"first", what, (unsigned long long)ino,
				(unsigned long long)idx,
				(unsigned long long)epoch);
	return cfs_fail(errmsg, CFS_LEASE_BUSY,
			"%s of fragment %llu/%llu: it is being sealed (write "
			"lease %llu ended with it open for patching in "
			"place)", what, (unsigned long long)ino,
			(unsigned long long)idx, (unsigned long long)epoch);
}

/* Every node a commit lists holds an `ok` replica of @version: 0, else
 * CFS_ESTALE naming the first that does not (moved away, found bad). */
int
dmap_listed_hold(struct dmap *d, const struct wire_frag_commit *rq,
		 uint64_t version, char *errmsg)
{
	for (uint32_t i = 0; i < rq->nodes_count; i++) {
		sqlite3_stmt *s = dmap_q(d, Q_HOLDS);
		dmap_bind_key(s, 1, rq->ino, rq->idx, version);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)rq->nodes[i]);
		int rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return dmap_db_error(d, errmsg, Q_HOLDS);
		if (rc == SQLITE_DONE)
			return cfs_fail(errmsg, CFS_ESTALE,
					"fragment %llu/%llu: node %llu no "
					"longer holds v%llu",
					(unsigned long long)rq->ino,
					(unsigned long long)rq->idx,
					(unsigned long long)rq->nodes[i],
					(unsigned long long)version);
	}
	return 0;
}

/* frag_commit in_place = CFS_INPLACE_OPEN_COMMITTED: the version already
 * committed is opened for patching in place, with no new version (the
 * first small write of a fragment under a write lease costs one Raft
 * round, not a version's two and a chain write).  Cases: 1) no lease, or
 * reopen: CFS_EINVAL; 2) open already: dmap_open_refusal(); 3) the committed
 * version, length or crc is not the one named, or it was cut by a
 * truncation (its replicas are longer than its length), or a listed
 * node holds no `ok` replica of it: CFS_ESTALE, and the client writes a
 * version; 4) otherwise patch_epoch is set; the file is not changed. */
int
dmap_open_committed(struct dmap *d, const struct wire_frag_commit *rq,
		    uint16_t *rt, union wire_body *out, char *errmsg)
{
	uint64_t cur = 0, curlen = 0, epoch = 0;
	sqlite3_stmt *s;
	int rv;

	if (rq->lease_epoch == 0 || rq->reopen)
		return cfs_fail(errmsg, CFS_EINVAL,
				"fragment %llu/%llu: opening for patching in "
				"place needs a write lease and no reopen",
				(unsigned long long)rq->ino,
				(unsigned long long)rq->idx);
	if (dmap_frag_get(d, rq->ino, rq->idx, &cur, &curlen, NULL, &epoch) < 0)
		return dmap_db_error(d, errmsg, Q_FRAG_GET);
	if (epoch != 0)
		return dmap_open_refusal(d, rq->ino, rq->idx, epoch, "open",
					 errmsg);
	if ((rv = dmap_listed_hold(d, rq, rq->version, errmsg)) != 0)
		return rv;
	s = dmap_q(d, Q_OPEN_COMMITTED);
	dmap_bind_key(s, 1, rq->ino, rq->idx, rq->version);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)rq->length);
	sqlite3_bind_int64(s, 5, rq->crc);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)rq->lease_epoch);
	if ((rv = dmap_run(d, Q_OPEN_COMMITTED, errmsg)) != 0)
		return rv;
	if (sqlite3_changes(d->db) != 1)
		return cfs_fail(errmsg, CFS_ESTALE,
				"fragment %llu/%llu: v%llu of %llu bytes is not "
				"what is committed whole (v%llu of %llu)",
				(unsigned long long)rq->ino,
				(unsigned long long)rq->idx,
				(unsigned long long)rq->version,
				(unsigned long long)rq->length,
				(unsigned long long)cur,
				(unsigned long long)curlen);
	rv = ns_attr(d->ns, rq->ino, &out->entry.attr, errmsg);
	if (rv != 0)
		return rv;
	out->entry.reopened = 0;
	*rt = WIRE_T_entry;
	return 0;
}

/* A seal's @length of fragment (@ino, @idx), committed with @curlen
 * bytes: patches keep the length or, appending, make it longer, up to
 * the fragment size (*@fsz).  0, or CFS_EINVAL saying which (@who: whose
 * seal). */
static int
seal_length_check(struct dmap *d, uint64_t ino, uint64_t idx, uint64_t length,
		  uint64_t curlen, const char *who, int64_t *fszp,
		  char *errmsg)
{
	int64_t fsz = 0;

	if (dmap_config_get(d, "fragment_size", &fsz) != 0 || fsz <= 0)
		return cfs_fail(errmsg, CFS_EIO, "no fragment size");
	*fszp = fsz;
	if (length >= curlen && length <= (uint64_t)fsz)
		return 0;
	return cfs_fail(errmsg, CFS_EINVAL,
			"%s seal of fragment %llu/%llu: %llu bytes, committed "
			"are %llu (patches in place keep the length or append, "
			"up to the fragment size %lld)",
			who, (unsigned long long)ino, (unsigned long long)idx,
			(unsigned long long)length,
			(unsigned long long)curlen, (long long)fsz);
}

/* Seal version @version of fragment (@ino, @idx), open for patching in
 * place (the caller checked that it is, and @length): its crc becomes
 * @crc and its length @length (more than committed after appends), it is
 * no longer open, and every `ok` replica of it not on one of @nodes
 * becomes bad (it may lack the last patches, or hold one that was never
 * acknowledged).  CFS_EINVAL, changing nothing, if @nodes is empty or
 * names a node without a replica row of the version. */
static int
seal_rows(struct dmap *d, const struct ns_env *env, uint64_t ino,
	  uint64_t idx, uint64_t version, uint64_t length, uint32_t crc,
	  const uint64_t *nodes, uint32_t n, unsigned *bad, char *errmsg)
{
	struct dmap_frag *f = &d->frag;
	sqlite3_stmt *s;
	int rv;

	*bad = 0;
	if (n == 0)
		return cfs_fail(errmsg, CFS_EINVAL,
				"fragment %llu/%llu: seal names no replica",
				(unsigned long long)ino,
				(unsigned long long)idx);
	if ((rv = dmap_holders(d, ino, idx, version, NULL, errmsg)) != 0)
		return rv;
	for (uint32_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < f->n && f->r[j].node != nodes[i])
			j++;
		if (j == f->n)
			return cfs_fail(errmsg, CFS_EINVAL,
					"fragment %llu/%llu v%llu: node %llu "
					"holds no replica of it",
					(unsigned long long)ino,
					(unsigned long long)idx,
					(unsigned long long)version,
					(unsigned long long)nodes[i]);
	}
	for (size_t j = 0; j < f->n; j++) {
		int listed = 0;
		for (uint32_t i = 0; i < n && !listed; i++)
			listed = nodes[i] == f->r[j].node;
		if (listed || f->r[j].state != DMAP_OK)
			continue;
		s = dmap_q(d, Q_REPLICA_SET_STATE);
		sqlite3_bind_int(s, 1, DMAP_BAD);
		sqlite3_bind_int64(s, 2, env->now_ns);
		dmap_bind_key(s, 3, ino, idx, version);
		sqlite3_bind_int64(s, 6, (sqlite3_int64)f->r[j].node);
		if ((rv = dmap_run(d, Q_REPLICA_SET_STATE, errmsg)) != 0)
			return rv;
		(*bad)++;
	}
	s = dmap_q(d, Q_FRAG_SEAL);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)idx);
	sqlite3_bind_int64(s, 3, crc);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)length);
	return dmap_run(d, Q_FRAG_SEAL, errmsg);
}

/* The holder's seal (frag_commit in_place = CFS_INPLACE_SEAL): cases
 * 1) the version is not the committed one, or not open under the
 *    commit's lease: CFS_ESTALE (sealed already, by the leader after the
 *    lease was lost, or rewritten); 2) a length shorter than committed or
 *    past the fragment size (seal_length_check), reopen asked, a listed
 *    node without a row: CFS_EINVAL; 3) otherwise seal_rows(), and the
 *    file's times and size as a commit sets them (the patches wrote it;
 *    appends made it longer). */
int
dmap_seal_commit(struct dmap *d, const struct ns_env *env,
		 const struct wire_frag_commit *rq, uint16_t *rt,
		 union wire_body *out, char *errmsg)
{
	uint64_t cur = 0, curlen = 0, epoch = 0;
	unsigned bad;
	int rv;

	if (dmap_frag_get(d, rq->ino, rq->idx, &cur, &curlen, NULL, &epoch) < 0)
		return dmap_db_error(d, errmsg, Q_FRAG_GET);
	if (cur != rq->version || epoch == 0 || epoch != rq->lease_epoch)
		return cfs_fail(errmsg, CFS_ESTALE,
				"seal of fragment %llu/%llu v%llu under write "
				"lease %llu: committed is v%llu, %s %llu",
				(unsigned long long)rq->ino,
				(unsigned long long)rq->idx,
				(unsigned long long)rq->version,
				(unsigned long long)rq->lease_epoch,
				(unsigned long long)cur,
				epoch ? "open under lease" : "not open",
				(unsigned long long)epoch);
	int64_t fsz = 0;
	if ((rv = seal_length_check(d, rq->ino, rq->idx, rq->length, curlen,
				    "the holder's", &fsz, errmsg)) != 0)
		return rv;
	if (rq->reopen)
		return cfs_fail(errmsg, CFS_EINVAL,
				"a seal cannot open the next version ahead");
	rv = seal_rows(d, env, rq->ino, rq->idx, rq->version, rq->length,
		       rq->crc, rq->nodes, rq->nodes_count, &bad, errmsg);
	if (rv != 0)
		return rv;
	rv = ns_file_written(d->ns, env, rq->ino, rq->size, &out->entry.attr,
			     errmsg);
	if (rv != 0)
		return rv;
	out->entry.reopened = 0;
	*rt = WIRE_T_entry;
	return 0;
}

/* The leader's seal of a fragment left open by a lease that ended
 * (docs/data-path.md "Patching in place", "The leader's seal").  Cases:
 * 1) no longer open under @epoch (the holder sealed it after all, it was
 *    rewritten, truncated away or deleted, or this is a second proposal
 *    of the same seal): nothing changes, `ok`; 2) a length shorter than
 *    committed or past the fragment size, or a node without a row:
 *    CFS_EINVAL; 3) otherwise as the holder's seal, the file's size
 *    raised to the fragment's new end: appends the holder acknowledged
 *    (its fsync returned once every node held them) made it longer, and
 *    its seal never came.  Its mtime and ctime move to this entry's time,
 *    as a holder's seal sets them: the data changed after the last
 *    commit set them, and whoever compares times must see it. */
int
dmap_op_frag_seal(struct dmap *d, const struct ns_env *env,
		  const struct wire_frag_seal *rq, uint16_t *rt, char *errmsg)
{
	uint64_t cur = 0, curlen = 0, epoch = 0;
	struct wire_attr a;
	unsigned bad;
	int rv;

	*rt = WIRE_T_ok;
	if (dmap_frag_get(d, rq->ino, rq->idx, &cur, &curlen, NULL, &epoch) < 0)
		return dmap_db_error(d, errmsg, Q_FRAG_GET);
	if (cur != rq->version || epoch == 0 || epoch != rq->epoch)
		return 0;
	int64_t fsz = 0;
	if ((rv = seal_length_check(d, rq->ino, rq->idx, rq->length, curlen,
				    "the leader's", &fsz, errmsg)) != 0)
		return rv;
	rv = seal_rows(d, env, rq->ino, rq->idx, rq->version, rq->length,
		       rq->crc, rq->nodes, rq->nodes_count, &bad, errmsg);
	if (rv == 0)
		rv = ns_file_written(d->ns, env, rq->ino,
				     rq->idx * (uint64_t)fsz + rq->length, &a,
				     errmsg);
	if (rv != 0)
		return rv;
	LOG_INFO("fragment %llu/%llu v%llu sealed after write lease %llu "
		 "ended: %llu bytes (%llu committed), crc %08x, on %u nodes; "
		 "%u other replicas marked bad",
		 (unsigned long long)rq->ino, (unsigned long long)rq->idx,
		 (unsigned long long)rq->version,
		 (unsigned long long)rq->epoch,
		 (unsigned long long)rq->length, (unsigned long long)curlen,
		 rq->crc, rq->nodes_count, bad);
	return 0;
}

/* frag_locate of a range holding fragment (@ino, @idx), open for
 * patching in place under write lease @epoch, by anyone but that lease's
 * holder naming it: the version's bytes change under the reader until
 * it is sealed.  1) the lease lives: CFS_LEASE_BUSY, and its holder is
 * recalled (it seals, then releases) as for any request in the way of a
 * lease (docs/leases.md "Recall"); 2) it is gone: CFS_LEASE_BUSY too
 * until the leader sealed it, with no one to recall.  The client retries
 * both (metaclient.c), so a reader waits rather than fails. */
int
dmap_locate_refusal(struct dmap *d, uint64_t ino, uint64_t idx, uint64_t epoch,
		    char *errmsg)
{
	uint64_t holder = 0, session = 0;
	int found = lease_of_epoch(d, ino, epoch, &holder, &session);

	if (found < 0)
		return dmap_db_error(d, errmsg, Q_LEASE_OF_EPOCH);
	if (!found)
		return cfs_fail(errmsg, CFS_LEASE_BUSY,
				"fragment %llu/%llu is being sealed (write "
				"lease %llu ended with it open for patching "
				"in place)", (unsigned long long)ino,
				(unsigned long long)idx,
				(unsigned long long)epoch);
	if (d->recall != NULL)
		d->recall(d->recall_data, holder, session, ino);
	return cfs_fail(errmsg, CFS_LEASE_BUSY,
			"inode %llu: fragment %llu is open for patching in "
			"place under write lease %llu of client %016llx "
			"(recalled)", (unsigned long long)ino,
			(unsigned long long)idx, (unsigned long long)epoch,
			(unsigned long long)holder);
}

/* Is a fragment of @ino open for patching in place that reaches past
 * @size (its last: appends may have moved the file's end)?  1 and the
 * epoch of the write lease it is open under, 0 if none, or -1 (Q_SIZE_OPEN
 * failed). */
static int
last_open_epoch(struct dmap *d, uint64_t ino, uint64_t size, uint64_t *epoch)
{
	sqlite3_stmt *s = dmap_q(d, Q_SIZE_OPEN);

	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*epoch = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
dmap_any_open(struct dmap *d, char *errmsg)
{
	sqlite3_stmt *s = dmap_q(d, Q_ANY_OPEN);
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return dmap_db_error(d, errmsg, Q_ANY_OPEN);
}

int
dmap_size_refusal(struct dmap *d, uint64_t ino, uint64_t size, uint64_t owner,
		  int recall, char *errmsg)
{
	uint64_t epoch = 0, holder = 0, session = 0;
	int open = last_open_epoch(d, ino, size, &epoch);

	if (open < 0)
		return dmap_db_error(d, errmsg, Q_SIZE_OPEN);
	if (open == 0)
		return 0;
	int found = lease_of_epoch(d, ino, epoch, &holder, &session);
	if (found < 0)
		return dmap_db_error(d, errmsg, Q_LEASE_OF_EPOCH);
	if (found && holder == owner)
		return 0;
	if (!found)
		return cfs_fail(errmsg, CFS_LEASE_BUSY,
				"inode %llu: its size waits for the seal of "
				"its last fragment (write lease %llu ended "
				"with it open for patching in place)",
				(unsigned long long)ino,
				(unsigned long long)epoch);
	if (recall && d->recall != NULL)
		d->recall(d->recall_data, holder, session, ino);
	return cfs_fail(errmsg, CFS_LEASE_BUSY,
			"inode %llu: its last fragment is open for patching "
			"in place under write lease %llu of client %016llx, "
			"which alone knows where the file ends%s",
			(unsigned long long)ino, (unsigned long long)epoch,
			(unsigned long long)holder,
			recall ? " (recalled)" : "");
}

/* A size change of @ino from @old to @size (ns_shrink_check_fn, set by
 * dmap_open): refused CFS_EBUSY if it would cut a fragment open for
 * patching in place in the middle (its holder patches bytes the
 * truncation would have cut; it seals first), or if the file's last
 * fragment is open (appends may have made the file longer than @old: a
 * truncation to a size in between would be undone by the seal, which
 * raises the size to the fragment's end).  Another mount never gets here
 * while the lease lives (lease_check); once it is gone, both are
 * CFS_LEASE_BUSY until the leader seals, which the client retries.  One
 * that drops an open fragment whole drops it. */
int
dmap_shrink_check(void *arg, uint64_t ino, uint64_t old, uint64_t size,
		  char *errmsg)
{
	struct dmap *d = arg;
	uint64_t idx = 0, epoch = 0;
	int rc = SQLITE_DONE, which = Q_SIZE_OPEN;

	if (size < old) {
		sqlite3_stmt *s = dmap_q(d, Q_CUT_OPEN);
		sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			idx = (uint64_t)sqlite3_column_int64(s, 0);
			epoch = (uint64_t)sqlite3_column_int64(s, 1);
		}
		sqlite3_reset(s);
		which = Q_CUT_OPEN;
	}
	if (rc == SQLITE_DONE) {
		int open = last_open_epoch(d, ino, old, &epoch);
		rc = open == 1 ? SQLITE_ROW : open == 0 ? SQLITE_DONE
							: SQLITE_ERROR;
		which = Q_SIZE_OPEN;
	}
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return dmap_db_error(d, errmsg, which);
	char why[96];
	if (which == Q_CUT_OPEN)
		snprintf(why, sizeof(why), "would cut fragment %llu, open for "
			 "patching in place", (unsigned long long)idx);
	else
		snprintf(why, sizeof(why), "of a file whose last fragment is "
			 "open for patching in place (appends move its end)");
	uint64_t holder = 0, session = 0;
	int found = lease_of_epoch(d, ino, epoch, &holder, &session);
	if (found < 0)
		return dmap_db_error(d, errmsg, Q_LEASE_OF_EPOCH);
	if (!found) /* the leader seals it within seconds: retried */
		return cfs_fail(errmsg, CFS_LEASE_BUSY,
				"truncating inode %llu to %llu bytes: a size "
				"change %s, which is being sealed (write "
				"lease %llu ended)",
				(unsigned long long)ino,
				(unsigned long long)size, why,
				(unsigned long long)epoch);
	return cfs_fail(errmsg, CFS_EBUSY,
			"truncating inode %llu to %llu bytes: a size change "
			"%s under write lease %llu: seal it first",
			(unsigned long long)ino, (unsigned long long)size, why,
			(unsigned long long)epoch);
}

int
dmap_unsealed(struct dmap *d, unsigned limit,
	      int (*cb)(void *arg, const struct dmap_open_frag *f), void *arg,
	      char *errmsg)
{
	struct dmap_open_frag *rows = calloc(limit ? limit : 1, sizeof(*rows));
	sqlite3_stmt *s = dmap_q(d, Q_UNSEALED);
	size_t n = 0;
	int rc, rv = 0;

	if (rows == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "seal scan");
	sqlite3_bind_int64(s, 1, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < limit) {
		struct dmap_open_frag *f = &rows[n++];
		f->ino = (uint64_t)sqlite3_column_int64(s, 0);
		f->idx = (uint64_t)sqlite3_column_int64(s, 1);
		f->version = (uint64_t)sqlite3_column_int64(s, 2);
		f->epoch = (uint64_t)sqlite3_column_int64(s, 3);
		f->length = (uint64_t)sqlite3_column_int64(s, 4);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		rv = dmap_db_error(d, errmsg, Q_UNSEALED);
	for (size_t i = 0; rv == 0 && i < n; i++) {
		struct dmap_open_frag *f = &rows[i];
		s = dmap_q(d, Q_OK_ADDRS);
		dmap_bind_key(s, 1, f->ino, f->idx, f->version);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW &&
		       f->n < sizeof(f->nodes) / sizeof(f->nodes[0])) {
			f->nodes[f->n].id = (uint64_t)sqlite3_column_int64(s, 0);
			snprintf(f->nodes[f->n].addr, sizeof(f->nodes[0].addr),
				 "%s", (const char *)sqlite3_column_text(s, 1));
			f->n++;
		}
		sqlite3_reset(s);
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			rv = dmap_db_error(d, errmsg, Q_OK_ADDRS);
	}
	for (size_t i = 0; rv == 0 && i < n; i++)
		if (cb(arg, &rows[i]) != 0)
			break;
	free(rows);
	return rv;
}

int
dmap_recall_needy(struct dmap *d, unsigned limit, unsigned *recalled,
		  char *errmsg)
{
	sqlite3_stmt *s = dmap_q(d, Q_OPEN_NEEDY);
	int rc;

	*recalled = 0;
	sqlite3_bind_int64(s, 1, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t holder = (uint64_t)sqlite3_column_int64(s, 0);
		uint64_t session = (uint64_t)sqlite3_column_int64(s, 1);
		uint64_t ino = (uint64_t)sqlite3_column_int64(s, 2);
		if (d->recall != NULL)
			d->recall(d->recall_data, holder, session, ino);
		(*recalled)++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : dmap_db_error(d, errmsg, Q_OPEN_NEEDY);
}
