/* localread.h - reading replicas from the disk of a data node on this machine, not through the node (short-circuit reads). */
#ifndef CFS_CLIENT_LOCALREAD_H
#define CFS_CLIENT_LOCALREAD_H

/*
 * Why: machines pool their own disks, so a client often runs beside a
 * data node holding a replica of what it reads.  Through the node, every
 * byte is read by the node, copied into a ZeroMQ frame, through the
 * kernel's TCP loopback twice and out of a frame again, on the same
 * cores: a cold sequential read through cfs-fuse kept both cores busy at
 * a fraction of what the disk gives.  Read from the replica file itself,
 * it costs one read (O_DIRECT for whole blocks, straight into the
 * caller's buffer) and the CRC check the node would have made.
 *
 * Which nodes: each node is asked once where it keeps its replicas
 * (node_where: its uuid and data directory).  It is local when DIR/node.uuid,
 * read here, holds the same uuid: the files there are that node's, and
 * this process may read them (root, or permissions that allow it).  Any
 * other answer, or none in a second, and the node is read through the
 * network; asked again after a minute.
 *
 * What is read is checked as the node checks it (data/store.h: header,
 * CRC table, every block's CRC, through a delta's bases) and the
 * replica's whole CRC must be the committed one.  A read that fails in
 * any way is not believed: the caller reads through the node instead,
 * which alone decides whether the replica is bad (a patch in place may
 * have been rewriting the bytes just read, which the node serialises
 * with its reads; a replica deleted or moved since).  Reads wait as
 * long as one through the node would (a disk that hangs must not hang
 * the reader: it fails over), and a node whose read timed out is read
 * through for a minute.
 *
 * Threads: every call may be made from any thread.  Reads started with
 * lread_start run on a few threads of their own (made at the first), so
 * that a reader's next pieces come off the disk while it uses this one.
 */

#include <stddef.h>
#include <stdint.h>

struct lread;
struct lread_job;
struct store;

/* Reads from the disk: new (nothing asked yet).  @zctx: the ZeroMQ
 * context to ask nodes through (borrowed, outlives the lread). */
int lread_new(struct lread **out, void *zctx, char *errmsg);
/* Waits for the reads in progress; NULL-safe; sets *@lp NULL. */
void lread_free(struct lread **lp);

/* The store of node @node (at @addr) if its replicas are on a disk this
 * process reads, else NULL.  A node not asked yet, or due to be asked
 * again, is asked now; threads that want it meanwhile wait for that
 * answer (a second at most). */
struct store *lread_store(struct lread *l, uint64_t node, const char *addr);

/* A local read of node @node failed with @status (@errmsg why; the
 * caller reads through the node): logged, counted.  One that timed out
 * (a disk that hangs) turns local reads of the node off for a minute,
 * so readers fail over as they do through the node. */
void lread_failed(struct lread *l, uint64_t node, int status,
		  const char *errmsg);

/* Read [@off, @off + @n) of replica (@ino, @idx, @version) from store @s
 * (lread_store's) into @dst: 0 if all @n bytes were read and checked
 * and the replica's CRC is @crc; otherwise a CFS_* code, @errmsg saying
 * what (the caller reads through the node). */
int lread_read(struct lread *l, struct store *s, uint64_t ino, uint32_t idx,
	       uint64_t version, uint64_t off, void *dst, size_t n,
	       uint32_t crc, char *errmsg);

/* lread_read on a thread of @l's into a buffer of its own: NULL if no
 * job could be made (out of memory, no thread): read otherwise.  Reads
 * that must be able to give up (every read of a caller that fails over)
 * go through a job. */
struct lread_job *lread_start(struct lread *l, struct store *s, uint64_t ino,
			      uint32_t idx, uint64_t version, uint64_t off,
			      size_t n, uint32_t crc);
/* Wait for @j, @timeout_ms at most (CFS_ETIMEDOUT: the caller lets it
 * go with lread_done): lread_read's result and, on 0, its bytes in
 * *@data (valid until lread_done). */
int lread_finish(struct lread_job *j, int timeout_ms, const uint8_t **data,
		 char *errmsg);
/* The caller is done with @j, finished or not (NULL-safe). */
void lread_done(struct lread_job *j);

/* Reads made from the disk so far, and those that failed. */
void lread_stats(struct lread *l, uint64_t *reads, uint64_t *failed,
		 unsigned *local_nodes);

#endif /* CFS_CLIENT_LOCALREAD_H */
