/* proto.h - the CFS protocol catalog: every record and message, declared once. */
#ifndef CFS_COMMON_PROTO_H
#define CFS_COMMON_PROTO_H

/*
 * Included by common/wire.h, which generates from these lists the structs,
 * sizes, encoders and decoders.  Rules (docs/wire-format.md):
 *  - a message type number is never reused or renumbered;
 *  - a new field is only ever appended at the end of a message, and old
 *    decoders ignore it (they ignore trailing bytes);
 *  - anything else (removing, reordering, retyping) is a new message type.
 * Type ranges: 1-99 session and generic replies, 100-299 namespace
 * (123-139 fragments, 140-149 advisory locks, 150-159 leases),
 * 300-399 administration, 400-499 data node service, 500-599 data node to
 * metadata leader.
 */

#include <stdint.h>

#define CFS_NAME_MAX 255
#define CFS_PATH_MAX 4096
#define CFS_XATTR_NAME_MAX 255
#define CFS_XATTR_VALUE_MAX 65536
#define CFS_ADDR_MAX 255
#define CFS_GROUPS_MAX 32
/* the most replicas a directory's goal may ask for */
#define CFS_GOAL_MAX 16
/* Requests one client session may have in flight (exactly-once window,
 * docs/raft-log.md "Applying"). */
#define CFS_SESSION_WINDOW 64

/* ---- records --------------------------------------------------------- */

/* Who is asking: the caller's credentials for permission checks. */
#define PROTO_CRED(F)                                                        \
	F(u32, uid, 0)                                                       \
	F(u32, gid, 0)                                                       \
	F(u64v, groups, CFS_GROUPS_MAX)
WIRE_DECLARE(cred, PROTO_CRED)

/* Inode attributes as the metadata service reports them.  Times are
 * nanoseconds since the epoch. */
#define PROTO_ATTR(F)                                                        \
	F(u64, ino, 0)                                                       \
	F(u64, generation, 0)                                                \
	F(u32, mode, 0)                                                      \
	F(u32, nlink, 0)                                                     \
	F(u32, uid, 0)                                                       \
	F(u32, gid, 0)                                                       \
	F(u64, size, 0)                                                      \
	F(u64, rdev, 0)                                                      \
	F(i64, atime_ns, 0)                                                  \
	F(i64, mtime_ns, 0)                                                  \
	F(i64, ctime_ns, 0)                                                  \
	F(u32, goal, 0)
WIRE_DECLARE(attr, PROTO_ATTR)

/* One directory entry.  `cookie` resumes a listing after this entry.  A
 * listing page holds up to 512 (a 10,000-entry listing through cfs-fuse:
 * 169k entries/s with pages of 128, 227k with 512); servers cap a
 * request's max_entries at theirs, so older clients still get 128. */
#define WIRE_MAX_dirent 512
#define PROTO_DIRENT(F)                                                      \
	F(u64, cookie, 0)                                                    \
	F(str, name, CFS_NAME_MAX)                                           \
	F(sub, attr, attr)
WIRE_DECLARE(dirent, PROTO_DIRENT)

/* One metadata server as the cluster configuration knows it. */
#define WIRE_MAX_member 16
#define PROTO_MEMBER(F)                                                      \
	F(u64, id, 0)                                                        \
	F(str, raft_addr, CFS_ADDR_MAX)                                      \
	F(str, client_addr, CFS_ADDR_MAX)                                    \
	F(u8, role, 0) /* CFS_ROLE_* */                                      \
	F(u8, reachable, 0) /* leader's view: heard from recently */         \
	F(u64, match_index, 0) /* leader's view: replicated up to */
WIRE_DECLARE(member, PROTO_MEMBER)

/* A data node as a chain member or a replica location. */
#define WIRE_MAX_nodeaddr 256
#define PROTO_NODEADDR(F)                                                    \
	F(u64, id, 0)                                                        \
	F(str, addr, CFS_ADDR_MAX)
WIRE_DECLARE(nodeaddr, PROTO_NODEADDR)

/* The committed version of one fragment and the nodes that hold it. */
#define WIRE_MAX_fraginfo 64
#define PROTO_FRAGINFO(F)                                                    \
	F(u64, idx, 0)                                                       \
	F(u64, version, 0)                                                   \
	F(u64, length, 0) /* readable bytes */                               \
	F(u32, crc, 0)    /* CRC32C of the replica data as written */        \
	F(u32, goal, 0)                                                      \
	F(u64v, nodes, CFS_GOAL_MAX) /* healthy replicas, best first */
WIRE_DECLARE(fraginfo, PROTO_FRAGINFO)

/* A data node as the registry knows it (cfsctl status, node list). */
#define WIRE_MAX_nodeinfo 256
#define PROTO_NODEINFO(F)                                                    \
	F(u64, id, 0)                                                        \
	F(str, uuid, 36)                                                     \
	F(str, addr, CFS_ADDR_MAX)                                           \
	F(str, labels, CFS_ADDR_MAX)                                         \
	F(u8, state, 0) /* CFS_NODE_* */                                     \
	F(u8, draining, 0)                                                   \
	F(u64, capacity, 0)                                                  \
	F(u64, free, 0)                                                      \
	F(u64, replicas, 0)                                                  \
	F(u64, silent_ms, 0) /* leader's view: since the last heartbeat */   \
	F(u32, load, 0)
WIRE_DECLARE(nodeinfo, PROTO_NODEINFO)

/* One replica: a fragment version on a node (garbage collection). */
#define WIRE_MAX_replica 512
#define PROTO_REPLICA(F)                                                     \
	F(u64, ino, 0)                                                       \
	F(u64, idx, 0)                                                       \
	F(u64, version, 0)                                                   \
	F(u64, node, 0)
WIRE_DECLARE(replica, PROTO_REPLICA)

/* One lease (cfsctl leases): who holds what since when. */
#define WIRE_MAX_leaseinfo 512
#define PROTO_LEASEINFO(F)                                                   \
	F(u64, ino, 0)                                                       \
	F(u64, holder, 0)  /* the mount (lease owner) */                     \
	F(u64, session, 0) /* the session whose life it shares */            \
	F(u8, type, 0)     /* CFS_LEASE_READ, CFS_LEASE_WRITE */             \
	F(u64, epoch, 0)   /* the Raft index of the grant */
WIRE_DECLARE(leaseinfo, PROTO_LEASEINFO)

/* One create of a batch (mknods): a mknod's fields but the caller's
 * credentials, which the batch names once. */
#define WIRE_MAX_mknod_item 64
#define PROTO_MKNOD_ITEM(F)                                                  \
	F(u64, parent, 0)                                                    \
	F(str, name, CFS_NAME_MAX)                                           \
	F(u32, mode, 0)                                                      \
	F(u64, rdev, 0)                                                      \
	F(u32, flags, 0)                                                     \
	F(u64, ino, 0)                                                       \
	F(u64, lease_epoch, 0)                                               \
	F(u64, time_ns, 0)
WIRE_DECLARE(mknod_item, PROTO_MKNOD_ITEM)

/* What one create of a batch came to: `status` CFS_OK with the entry
 * (attributes, lease) as a mknod's, else the error and its message. */
#define WIRE_MAX_mknod_result WIRE_MAX_mknod_item
#define PROTO_MKNOD_RESULT(F)                                                \
	F(u32, status, 0)                                                    \
	F(str, message, 255)                                                 \
	F(sub, attr, attr)                                                   \
	F(u8, lease, 0)                                                      \
	F(u64, lease_epoch, 0)
WIRE_DECLARE(mknod_result, PROTO_MKNOD_RESULT)

/* Every record, for common/wire.c to implement: add new records here. */
#define WIRE_RECORDS(X)                                                      \
	X(cred, PROTO_CRED)                                                  \
	X(attr, PROTO_ATTR)                                                  \
	X(dirent, PROTO_DIRENT)                                              \
	X(member, PROTO_MEMBER)                                              \
	X(nodeaddr, PROTO_NODEADDR)                                          \
	X(fraginfo, PROTO_FRAGINFO)                                          \
	X(nodeinfo, PROTO_NODEINFO)                                          \
	X(replica, PROTO_REPLICA)                                            \
	X(leaseinfo, PROTO_LEASEINFO)                                        \
	X(mknod_item, PROTO_MKNOD_ITEM)                                      \
	X(mknod_result, PROTO_MKNOD_RESULT)

/* ---- messages: field lists -------------------------------------------- */

/* Any failed request is answered with `error` and a non-zero status. */
#define PROTO_ERROR(F)                                                       \
	F(str, message, 255)                                                 \
	F(str, leader, CFS_ADDR_MAX) /* NOTLEADER: where to go instead */
#define PROTO_OK(F)                                                          \
	/* unlink, rmdir: the time of the change, the parent's new mtime     \
	 * and ctime (0: not told; every other request) */                   \
	F(u64opt, time_ns, 0)

#define PROTO_SESSION_OPEN(F)                                                \
	F(str, client_name, 255)                                             \
	F(u32, lease_ms, 0) /* requested; the leader may shorten it */       \
	/* the lease holder this session acts for (docs/leases.md): all  \
	 * sessions of one mount name the same; 0 = the session itself */   \
	F(u64, lease_owner, 0)
#define PROTO_SESSION_OPENED(F)                                              \
	F(u64, client_id, 0)                                                 \
	F(u32, lease_ms, 0)                                                  \
	F(u64, term, 0)
#define PROTO_KEEPALIVE(F)
#define PROTO_SESSION_CLOSE(F)

/* Namespace requests all start with the caller's credentials. */
#define PROTO_LOOKUP(F)                                                      \
	F(sub, cred, cred)                                                   \
	F(u64, parent, 0)                                                    \
	F(str, name, CFS_NAME_MAX)
#define PROTO_ENTRY(F)                                                       \
	F(sub, attr, attr)                                                   \
	/* mknod with CFS_MKNOD_LEASE: the lease granted on the new inode  \
	 * (CFS_LEASE_*, 0 = none) and its epoch (docs/leases.md) */        \
	F(u8, lease, 0)                                                      \
	F(u64, lease_epoch, 0)                                               \
	/* frag_commit with reopen granted: the version opened next on the   \
	 * same nodes, built on the one committed (0: none; every other      \
	 * request) */                                                       \
	F(u64opt, reopened, 0)
#define PROTO_GETATTR(F)                                                     \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)
#define PROTO_SETATTR(F)                                                     \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)                                                       \
	F(u32, valid, 0) /* CFS_SETATTR_* bits: which fields to set */       \
	F(u32, mode, 0)                                                      \
	F(u32, uid, 0)                                                       \
	F(u32, gid, 0)                                                       \
	F(u64, size, 0)                                                      \
	F(i64, atime_ns, 0)                                                  \
	F(i64, mtime_ns, 0)
#define PROTO_MKNOD(F)                                                       \
	F(sub, cred, cred)                                                   \
	F(u64, parent, 0)                                                    \
	F(str, name, CFS_NAME_MAX)                                           \
	F(u32, mode, 0) /* type bits + permissions, umask applied */         \
	F(u64, rdev, 0)                                                      \
	F(u32, flags, 0) /* CFS_MKNOD_EXCL: fail with EEXIST */              \
	/* a create sent ahead of its reply (docs/leases.md "Creates       \
	 * under a directory lease"): the inode number, one ino_reserve     \
	 * gave this mount (0: the leader picks), and the epoch of the      \
	 * mount's write lease on the parent it was answered under (0:      \
	 * none; FENCED if no longer held) */                               \
	F(u64opt, ino, 0)                                                    \
	F(u64opt, lease_epoch, 0)                                            \
	/* with ino: the time the client answered it at, the new inode's    \
	 * times (and the parent's, unless later already); 0: the entry's */ \
	F(u64opt, time_ns, 0)
#define PROTO_UNLINK(F)                                                      \
	F(sub, cred, cred)                                                   \
	F(u64, parent, 0)                                                    \
	F(str, name, CFS_NAME_MAX)
#define PROTO_RENAME(F)                                                      \
	F(sub, cred, cred)                                                   \
	F(u64, parent, 0)                                                    \
	F(str, name, CFS_NAME_MAX)                                           \
	F(u64, newparent, 0)                                                 \
	F(str, newname, CFS_NAME_MAX)                                        \
	F(u32, flags, 0) /* RENAME_NOREPLACE, RENAME_EXCHANGE */
#define PROTO_LINK(F)                                                        \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)                                                       \
	F(u64, newparent, 0)                                                 \
	F(str, newname, CFS_NAME_MAX)
#define PROTO_SYMLINK(F)                                                     \
	F(sub, cred, cred)                                                   \
	F(u64, parent, 0)                                                    \
	F(str, name, CFS_NAME_MAX)                                           \
	F(str, target, CFS_PATH_MAX)
#define PROTO_READLINK(F)                                                    \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)
#define PROTO_LINKTARGET(F) F(str, target, CFS_PATH_MAX)
#define PROTO_READDIR(F)                                                     \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)                                                       \
	F(u64, cookie, 0) /* 0 = from the start */                           \
	F(u32, max_entries, 0)                                               \
	/* 1: the caller uses the names and types only; else the sizes are  \
	 * as getattr tells them (a file being appended to in place by       \
	 * another mount: LEASE_BUSY, its holder recalled) */                \
	F(u8opt, names_only, 0)
#define PROTO_DIRENTS(F)                                                     \
	F(rec, entries, dirent)                                              \
	F(u8, eof, 0)
#define PROTO_STATFS(F)
#define PROTO_STATFS_REPLY(F)                                                \
	F(u64, blocks, 0)                                                    \
	F(u64, bfree, 0)                                                     \
	F(u64, bavail, 0)                                                    \
	F(u64, files, 0)                                                     \
	F(u64, ffree, 0)                                                     \
	F(u32, bsize, 0)                                                     \
	F(u32, namemax, 0)

/* Extended attributes and goals (116-199). */
#define PROTO_SETXATTR(F)                                                    \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)                                                       \
	F(str, name, CFS_XATTR_NAME_MAX)                                     \
	F(blob, value, CFS_XATTR_VALUE_MAX)                                  \
	F(u32, flags, 0) /* CFS_XATTR_CREATE, CFS_XATTR_REPLACE */
#define PROTO_GETXATTR(F)                                                    \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)                                                       \
	F(str, name, CFS_XATTR_NAME_MAX)
#define PROTO_XATTR_VALUE(F) F(blob, value, CFS_XATTR_VALUE_MAX)
#define PROTO_LISTXATTR(F)                                                   \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)
/* names, each NUL-terminated, back to back (the listxattr(2) format) */
#define PROTO_XATTR_NAMES(F) F(blob, names, CFS_XATTR_VALUE_MAX)
#define PROTO_REMOVEXATTR(F) PROTO_GETXATTR(F)
#define PROTO_SETGOAL(F)                                                     \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)                                                       \
	F(u32, goal, 0)

/* Fragments (123-139), with a session: docs/data-path.md. */
#define PROTO_FRAG_OPEN(F)                                                   \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)                                                       \
	F(u64, idx, 0)                                                       \
	F(u64v, exclude, CFS_GOAL_MAX) /* nodes that failed this client */   \
	F(u64v, placed, CFS_GOAL_MAX)  /* filled in by the leader */         \
	/* the write lease the data was written under (its epoch; 0:         \
	 * none); no longer the holder's: FENCED (docs/leases.md) */         \
	F(u64opt, lease_epoch, 0)
#define PROTO_FRAG_OPENED(F)                                                 \
	F(u64, version, 0)      /* the new version to write */               \
	F(u64, base_version, 0) /* the committed one it replaces (0: none) */\
	F(u64, base_length, 0)                                               \
	F(u32, goal, 0)                                                      \
	F(rec, chain, nodeaddr)
#define PROTO_FRAG_COMMIT(F)                                                 \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)                                                       \
	F(u64, idx, 0)                                                       \
	F(u64, version, 0)                                                   \
	F(u64, length, 0)                                                    \
	F(u32, crc, 0)                                                       \
	F(u64v, nodes, CFS_GOAL_MAX) /* the nodes that hold it entirely */   \
	F(u64, size, 0) /* the file is at least this long afterwards */      \
	F(u64opt, lease_epoch, 0) /* as in frag_open */                      \
	/* the committed version and length the write patched (0: not       \
	 * told); another committed meanwhile, or a truncation: ESTALE */    \
	F(u64opt, base_version, 0)                                           \
	F(u64opt, base_length, 0)                                            \
	/* 1: also open the next version on the same nodes, if the leader   \
	 * lets it (it clears this otherwise); the answer's reopened */      \
	F(u64opt, reopen, 0)                                                 \
	/* 1: every listed node must still hold base_version (a version     \
	 * opened ahead: a node's copy may have been moved or found bad     \
	 * since); one that does not: ESTALE */                              \
	F(u64opt, base_held, 0)                                              \
	/* 1: base_version and base_length are checked even when 0 (the     \
	 * write found no committed version, or replaces the fragment whole: \
	 * another writer's commit meanwhile makes it ESTALE, and it is      \
	 * written again over that one, not over its bytes) */               \
	F(u8opt, base_named, 0)                                              \
	/* CFS_INPLACE_*: 0 none; OPEN: commit, then the version stays open  \
	 * for patching in place under lease_epoch; SEAL: version is the     \
	 * committed one, open under lease_epoch: set its crc, close it;     \
	 * OPEN_COMMITTED: open the committed version as it is              \
	 * (docs/data-path.md "Patching in place") */                        \
	F(u8opt, in_place, 0)
#define PROTO_FRAG_LOCATE(F)                                                 \
	F(sub, cred, cred)                                                   \
	F(u64, ino, 0)                                                       \
	F(u64, first, 0) /* fragment index */                                \
	F(u32, count, 0)                                                     \
	F(u8opt, for_write, 0) /* 1: to rewrite it (write permission) */     \
	/* the caller's write lease: a fragment open for patching in place  \
	 * under another epoch is refused (LEASE_BUSY, or EAGAIN while it is  \
	 * being sealed) */                                                  \
	F(u64opt, lease_epoch, 0)
#define PROTO_FRAG_MAP(F)                                                    \
	F(u64, size, 0)                                                      \
	F(u64, fragment_size, 0)                                             \
	F(rec, frags, fraginfo) /* only fragments that exist (holes omitted) */\
	F(rec, nodes, nodeaddr)

/* Advisory locks (140-149), with a session: docs/locks.md.  The holder of
 * a lock is (session, owner); kind CFS_LOCK_FLOCK locks the whole file,
 * CFS_LOCK_POSIX the bytes [start, end] (end CFS_LOCK_EOF: to the end of
 * the file, however long it grows).  type is F_RDLCK, F_WRLCK or F_UNLCK
 * (the Linux values 0, 1, 2). */
#define PROTO_LOCK_SET(F)                                                    \
	F(u64, ino, 0)                                                       \
	F(u64, owner, 0)                                                     \
	F(u8, kind, 0)                                                       \
	F(u8, type, 0)                                                       \
	F(i64, start, 0)                                                     \
	F(i64, end, 0)                                                       \
	F(u32, pid, 0) /* reported to F_GETLK callers elsewhere */
#define PROTO_LOCK_GET(F)                                                    \
	F(u64, ino, 0)                                                       \
	F(u64, owner, 0)                                                     \
	F(u8, kind, 0)                                                       \
	F(u8, type, 0) /* F_RDLCK or F_WRLCK: the lock one would take */     \
	F(i64, start, 0)                                                     \
	F(i64, end, 0)
#define PROTO_LOCK_INFO(F)                                                   \
	F(u8, type, 0) /* F_UNLCK: nothing in the way */                     \
	F(i64, start, 0)                                                     \
	F(i64, end, 0)                                                       \
	F(u32, pid, 0)                                                       \
	F(u64, client_id, 0) /* the holder's session */
#define PROTO_LOCK_RELEASE(F)                                                \
	F(u64, ino, 0)                                                       \
	F(u64, owner, 0)                                                     \
	F(u8, kind, 0)

/* Leases (150-159), with a session: docs/leases.md.  The holder is the
 * session's lease owner (session_open.lease_owner): one per mount. */
#define CFS_LEASE_RECALL_MAX 1024
#define PROTO_LEASE_GET(F)                                                   \
	F(u64, ino, 0)                                                       \
	F(u8, type, 0) /* CFS_LEASE_READ or CFS_LEASE_WRITE */
#define PROTO_LEASE_GRANTED(F)                                               \
	F(u64, ino, 0)                                                       \
	F(u8, type, 0) /* what the holder has now (a W holder asking R: W) */\
	F(u64, epoch, 0)                                                     \
	F(sub, attr, attr) /* the inode's attributes at the grant */
#define PROTO_LEASE_RELEASE(F)                                               \
	F(u64, ino, 0)                                                       \
	F(u64, epoch, 0) /* only the grant of this epoch; 0: any */
#define PROTO_LEASE_WATCH(F)                                                 \
	F(u64, holder, 0)                                                    \
	F(u32, wait_ms, 0) /* park at most this long; 0 = 1000, max 5000 */
#define PROTO_LEASE_RECALL(F) F(u64v, inos, CFS_LEASE_RECALL_MAX)
#define PROTO_LEASE_LIST(F)                                                  \
	F(u64, after_ino, 0) /* resume after (after_ino, after_holder) */    \
	F(u64, after_holder, 0)
#define PROTO_LEASE_LIST_REPLY(F)                                            \
	F(rec, leases, leaseinfo)                                            \
	F(u8, eof, 0)
/* Inode numbers set aside for the caller's mount to create with
 * (mknod.ino); they go with the session that asked (docs/leases.md). */
#define PROTO_INO_RESERVE(F) F(u32, count, 0) /* 1 .. CFS_INO_RESERVE_MAX */
#define PROTO_INO_RESERVED(F)                                                \
	F(u64, first, 0) /* first .. first + count - 1 */                    \
	F(u32, count, 0)
#define CFS_INO_RESERVE_MAX 1024
/* Creates sent together (docs/leases.md "Creates under a directory
 * lease"): each applied as its own mknod, in order, in one log command
 * and one reply; one failing does not undo the others. */
#define PROTO_MKNODS(F)                                                      \
	F(sub, cred, cred)                                                   \
	F(rec, items, mknod_item)
#define PROTO_MKNODS_REPLY(F) F(rec, results, mknod_result)

/* Data node service (400-499): docs/data-path.md.  Bulk data travels in
 * frame 1. */
#define PROTO_FRAG_WRITE(F)                                                  \
	F(u64, ino, 0)                                                       \
	F(u64, idx, 0)                                                       \
	F(u64, version, 0)                                                   \
	F(u64, base_version, 0) /* start from this replica's data (0: empty) */\
	F(u64, base_length, 0)  /* ... cut to this length */                 \
	F(u64, offset, 0)       /* where the bulk goes */                    \
	F(u64, length, 0)       /* the replica's final length */             \
	F(u8, durable, 0)       /* fsync before acknowledging */             \
	F(rec, chain, nodeaddr) /* the nodes after this one */               \
	/* the write lease it is written under (0: none): older than one   \
	 * this node saw for the inode: FENCED (docs/leases.md) */           \
	F(u64opt, lease_epoch, 0)                                            \
	/* 1: patch the replica of `version` in place (base_version ==      \
	 * version, base_length == length == its length; docs/data-path.md  \
	 * "Patching in place") */                                           \
	F(u8opt, in_place, 0)
#define PROTO_FRAG_WRITTEN(F)                                                \
	F(u64, length, 0)                                                    \
	F(u32, crc, 0)                                                       \
	F(u64, failed_node, 0) /* 0: every node of the chain holds it */     \
	F(u32, fail_status, 0)                                               \
	F(str, fail_message, 255)
#define PROTO_FRAG_READ(F)                                                   \
	F(u64, ino, 0)                                                       \
	F(u64, idx, 0)                                                       \
	F(u64, version, 0)                                                   \
	F(u64, offset, 0)                                                    \
	F(u32, len, 0)                                                       \
	/* a seal's survey: from now on refuse writes to the inode under an  \
	 * older lease epoch than this (FENCED); len may then be 0 */        \
	F(u64opt, fence_epoch, 0)
#define PROTO_FRAG_DATA(F)                                                   \
	F(u64, length, 0) /* of the whole replica */                         \
	F(u32, crc, 0)    /* of the whole replica */
#define PROTO_FRAG_COPY(F)                                                   \
	F(u64, ino, 0)                                                       \
	F(u64, idx, 0)                                                       \
	F(u64, version, 0)                                                   \
	F(u64, length, 0)                                                    \
	F(u32, crc, 0)                                                       \
	F(sub, source, nodeaddr)                                             \
	F(u64, stamp, 0) /* the copy's incarnation (data/store.h), not 0 */
/* Deletes the replica only if it is incarnation `stamp` (0: written by a
 * client's frag_write); a newer copy under the same key is kept. */
#define PROTO_FRAG_DELETE(F)                                                 \
	F(u64, ino, 0)                                                       \
	F(u64, idx, 0)                                                       \
	F(u64, version, 0)                                                   \
	F(u64, stamp, 0)
/* Where the node keeps its replicas, so that a client on the same machine
 * may read them from the disk itself (client/localread.h); `node` is the
 * id the asker knows the node by (0: none), for the node's log only. */
#define PROTO_NODE_WHERE(F)                                                  \
	F(u64, node, 0)
#define PROTO_NODE_HERE(F)                                                   \
	F(str, uuid, 36)   /* as in DIR/node.uuid */                         \
	F(str, dir, 1023)  /* DIR, absolute */                               \
	F(u64, node, 0)    /* its registry id (0: not registered yet) */

/* Data node to metadata leader (500-599), client id 0. */
#define PROTO_NODE_REGISTER(F)                                               \
	F(str, uuid, 36)                                                     \
	F(str, addr, CFS_ADDR_MAX)                                           \
	F(str, labels, CFS_ADDR_MAX)                                         \
	F(u64, capacity, 0)                                                  \
	F(u64, free, 0)
#define PROTO_NODE_REGISTERED(F)                                             \
	F(u64, id, 0)                                                        \
	F(u32, heartbeat_ms, 0)
#define PROTO_NODE_HEARTBEAT(F)                                              \
	F(u64, id, 0)                                                        \
	F(str, uuid, 36)                                                     \
	F(u64, capacity, 0)                                                  \
	F(u64, free, 0)                                                      \
	F(u32, load, 0) /* requests in progress */                           \
	F(u32, io_errors, 0) /* since start */
/* Proposed by the leader (dead, alive, full) and sent by `cfsctl node`
 * (draining, removed); not authenticated yet (docs/data-path.md). */
#define PROTO_NODE_STATE(F)                                                  \
	F(u64, id, 0)                                                        \
	F(u8, state, 0) /* CFS_NODE_* */                                     \
	F(u8, draining, 0)
/* The `replica` record is frozen (docs/wire-format.md section 7), so the
 * incarnation of a replica file travels as fields appended to the
 * messages. */
#define PROTO_REPLICA_ADD(F)                                                 \
	F(sub, r, replica)                                                   \
	F(u64, stamp, 0) /* the copy's incarnation */
/* A replica found corrupt or missing (by a client, a scrub or a copy);
 * `reason` is a CFS_* code.  Sent by anyone, logged by the leader. */
#define PROTO_REPLICA_BAD(F)                                                 \
	F(sub, r, replica)                                                   \
	F(u32, reason, 0)
/* deleted 0: the leader drops these replicas (they become garbage);
 * deleted 1: their nodes deleted the files (the garbage rows go). */
#define PROTO_REPLICA_DROP(F)                                                \
	F(rec, items, replica)                                               \
	F(u8, deleted, 0)                                                    \
	F(u8, if_writing, 0) /* drop only replicas still `writing` */        \
	/* empty: any incarnation; else one per item: only that one */       \
	F(u64v, stamps, WIRE_MAX_replica)                                    \
	/* 1: an item is dropped only if the fragment keeps its goal of      \
	 * counted copies of its committed version (0: as an older leader    \
	 * meant it, no check) */                                             \
	F(u8opt, keep_goal, 0)
/* A data node's inventory check (docs/data-path.md "Inventory"): keys of
 * replica files it holds (`node` is the sender's id in each), and the
 * indexes into `keys` of those the metadata has no row for on that node
 * (neither a replica, `writing` included, nor garbage). */
#define PROTO_NODE_INVENTORY(F)                                              \
	F(u64, id, 0)                                                        \
	F(str, uuid, 36)                                                     \
	F(rec, keys, replica)
#define PROTO_NODE_INVENTORY_REPLY(F)                                        \
	F(u64v, unknown, WIRE_MAX_replica)
/* The leader's seal of a fragment left open for patching in place by a
 * lease that ended: version is its committed version, epoch the lease it
 * was open under; length and crc what `nodes` hold (the other replicas
 * of the version become bad).  No-op unless still open under epoch. */
#define PROTO_FRAG_SEAL(F)                                                   \
	F(u64, ino, 0)                                                       \
	F(u64, idx, 0)                                                       \
	F(u64, version, 0)                                                   \
	F(u64, epoch, 0)                                                     \
	F(u64, length, 0)                                                    \
	F(u32, crc, 0)                                                       \
	F(u64v, nodes, CFS_GOAL_MAX)
#define PROTO_NODE_LIST(F)
#define PROTO_NODE_LIST_REPLY(F)                                             \
	F(rec, nodes, nodeinfo)                                              \
	F(u64, fragments, 0)                                                 \
	F(u64, under_goal, 0) /* fragments with fewer live copies than goal */\
	F(u64, missing, 0)    /* fragments with no live copy at all */       \
	F(u64, garbage, 0)    /* replicas waiting to be deleted */           \
	F(u64, repair_copies, 0) /* since this leader took over */           \
	F(u64, repair_bytes, 0)                                              \
	F(u64, repair_rate, 0) /* bytes/s over the last 10 s */              \
	F(u32, repair_active, 0)                                             \
	F(u8, degraded_writes, 0) /* policy: 1 = allow writes below goal */ \
	F(u8opt, rebalance_held, 0) /* policy: 1 = `rebalance = no` */

/* Administration (300-399).  Sent with client id 0 (no session needed). */
#define PROTO_FORMAT(F)                                                      \
	F(u64, fragment_size, 0) /* 0 = the leader's configured default */   \
	F(u32, default_goal, 0)
#define PROTO_STATUS(F)
#define PROTO_STATUS_REPLY(F)                                                \
	F(u64, leader_id, 0)                                                 \
	F(str, leader_addr, CFS_ADDR_MAX)                                    \
	F(u64, term, 0)                                                      \
	F(u64, commit_index, 0)                                              \
	F(u64, applied_index, 0)                                             \
	F(u64, snapshot_index, 0)                                            \
	F(u8, formatted, 0)                                                  \
	F(u64, fragment_size, 0)                                             \
	F(u32, default_goal, 0)                                              \
	F(u64, sessions, 0)                                                  \
	F(u64, inodes, 0)                                                    \
	F(rec, members, member)
#define PROTO_MEMBER_ADD(F)                                                  \
	F(u64, id, 0)                                                        \
	F(str, raft_addr, CFS_ADDR_MAX)                                      \
	F(str, client_addr, CFS_ADDR_MAX)
#define PROTO_MEMBER_ASSIGN(F)                                               \
	F(u64, id, 0)                                                        \
	F(u8, role, 0)
#define PROTO_MEMBER_REMOVE(F) F(u64, id, 0)
#define PROTO_TRANSFER(F) F(u64, id, 0) /* 0 = the most up-to-date voter */
/* Internal: proposed by the leader itself, refused from the network. */
#define PROTO_SESSION_EXPIRE(F) F(u64, client_id, 0)
#define PROTO_DUMP(F)
#define PROTO_DUMP_REPLY(F)                                                  \
	F(u64, applied_index, 0)                                             \
	F(u64, total_len, 0) /* of the whole dump */                         \
	F(u32, crc, 0)       /* CRC32C of the whole dump */                  \
	F(blob, text, WIRE_MAX_BODY - 64) /* its first bytes */

/*
 * The catalog: X(type number, name, field list).  Replies have their own
 * types; `error` answers any request whose status is not CFS_OK.
 */
#define WIRE_MESSAGES(X)                                                     \
	X(1, error, PROTO_ERROR)                                             \
	X(2, ok, PROTO_OK)                                                   \
	X(10, session_open, PROTO_SESSION_OPEN)                              \
	X(11, session_opened, PROTO_SESSION_OPENED)                          \
	X(12, keepalive, PROTO_KEEPALIVE)                                    \
	X(13, session_close, PROTO_SESSION_CLOSE)                            \
	X(100, lookup, PROTO_LOOKUP)                                         \
	X(101, entry, PROTO_ENTRY)                                           \
	X(102, getattr, PROTO_GETATTR)                                       \
	X(103, setattr, PROTO_SETATTR)                                       \
	X(104, mknod, PROTO_MKNOD)                                           \
	X(105, unlink, PROTO_UNLINK)                                         \
	X(106, rmdir, PROTO_UNLINK)                                          \
	X(107, rename, PROTO_RENAME)                                         \
	X(108, link, PROTO_LINK)                                             \
	X(109, symlink, PROTO_SYMLINK)                                       \
	X(110, readlink, PROTO_READLINK)                                     \
	X(111, linktarget, PROTO_LINKTARGET)                                 \
	X(112, readdir, PROTO_READDIR)                                       \
	X(113, dirents, PROTO_DIRENTS)                                       \
	X(114, statfs, PROTO_STATFS)                                         \
	X(115, statfs_reply, PROTO_STATFS_REPLY)                              \
	X(116, setxattr, PROTO_SETXATTR)                                     \
	X(117, getxattr, PROTO_GETXATTR)                                     \
	X(118, xattr_value, PROTO_XATTR_VALUE)                               \
	X(119, listxattr, PROTO_LISTXATTR)                                   \
	X(120, xattr_names, PROTO_XATTR_NAMES)                               \
	X(121, removexattr, PROTO_REMOVEXATTR)                               \
	X(122, setgoal, PROTO_SETGOAL)                                       \
	X(123, frag_open, PROTO_FRAG_OPEN)                                   \
	X(124, frag_opened, PROTO_FRAG_OPENED)                               \
	X(125, frag_commit, PROTO_FRAG_COMMIT)                               \
	X(126, frag_locate, PROTO_FRAG_LOCATE)                               \
	X(127, frag_map, PROTO_FRAG_MAP)                                     \
	X(140, lock_set, PROTO_LOCK_SET)                                     \
	X(141, lock_get, PROTO_LOCK_GET)                                     \
	X(142, lock_info, PROTO_LOCK_INFO)                                   \
	X(143, lock_release, PROTO_LOCK_RELEASE)                             \
	X(150, lease_get, PROTO_LEASE_GET)                                   \
	X(151, lease_granted, PROTO_LEASE_GRANTED)                           \
	X(152, lease_release, PROTO_LEASE_RELEASE)                           \
	X(153, lease_watch, PROTO_LEASE_WATCH)                               \
	X(154, lease_recall, PROTO_LEASE_RECALL)                             \
	X(155, lease_list, PROTO_LEASE_LIST)                                 \
	X(156, lease_list_reply, PROTO_LEASE_LIST_REPLY)                     \
	X(157, ino_reserve, PROTO_INO_RESERVE)                               \
	X(158, ino_reserved, PROTO_INO_RESERVED)                             \
	X(160, mknods, PROTO_MKNODS)                                         \
	X(161, mknods_reply, PROTO_MKNODS_REPLY)                             \
	X(300, format, PROTO_FORMAT)                                         \
	X(301, status, PROTO_STATUS)                                         \
	X(302, status_reply, PROTO_STATUS_REPLY)                             \
	X(303, member_add, PROTO_MEMBER_ADD)                                 \
	X(304, member_assign, PROTO_MEMBER_ASSIGN)                           \
	X(305, member_remove, PROTO_MEMBER_REMOVE)                           \
	X(306, transfer, PROTO_TRANSFER)                                     \
	X(307, session_expire, PROTO_SESSION_EXPIRE)                         \
	X(308, dump, PROTO_DUMP)                                             \
	X(309, dump_reply, PROTO_DUMP_REPLY)                                 \
	X(400, frag_write, PROTO_FRAG_WRITE)                                 \
	X(401, frag_written, PROTO_FRAG_WRITTEN)                             \
	X(402, frag_read, PROTO_FRAG_READ)                                   \
	X(403, frag_data, PROTO_FRAG_DATA)                                   \
	X(404, frag_copy, PROTO_FRAG_COPY)                                   \
	X(405, frag_delete, PROTO_FRAG_DELETE)                               \
	X(406, node_where, PROTO_NODE_WHERE)                                 \
	X(407, node_here, PROTO_NODE_HERE)                                   \
	X(500, node_register, PROTO_NODE_REGISTER)                           \
	X(501, node_registered, PROTO_NODE_REGISTERED)                       \
	X(502, node_heartbeat, PROTO_NODE_HEARTBEAT)                         \
	X(503, node_state, PROTO_NODE_STATE)                                 \
	X(504, replica_add, PROTO_REPLICA_ADD)                               \
	X(505, replica_bad, PROTO_REPLICA_BAD)                               \
	X(506, replica_drop, PROTO_REPLICA_DROP)                             \
	X(507, node_list, PROTO_NODE_LIST)                                   \
	X(508, node_list_reply, PROTO_NODE_LIST_REPLY)                       \
	X(509, node_inventory, PROTO_NODE_INVENTORY)                         \
	X(510, node_inventory_reply, PROTO_NODE_INVENTORY_REPLY)             \
	X(511, frag_seal, PROTO_FRAG_SEAL)

#define WIRE__DECLARE_MSG(num, name, FIELDS) WIRE_DECLARE(name, FIELDS)
WIRE_MESSAGES(WIRE__DECLARE_MSG)
#undef WIRE__DECLARE_MSG

/* setattr `valid` bits */
#define CFS_SETATTR_MODE (1u << 0)
#define CFS_SETATTR_UID (1u << 1)
#define CFS_SETATTR_GID (1u << 2)
#define CFS_SETATTR_SIZE (1u << 3)
#define CFS_SETATTR_ATIME (1u << 4)
#define CFS_SETATTR_MTIME (1u << 5)
#define CFS_SETATTR_ATIME_NOW (1u << 6)
#define CFS_SETATTR_MTIME_NOW (1u << 7)

/* member `role` values (the same numbers as libraft's RAFT_STANDBY...) */
#define CFS_ROLE_STANDBY 0
#define CFS_ROLE_VOTER 1
#define CFS_ROLE_SPARE 2

/* setxattr `flags` (the values of <sys/xattr.h>) */
#define CFS_XATTR_CREATE 1
#define CFS_XATTR_REPLACE 2

/* rename `flags` (the values of renameat2(2)) */
#define CFS_RENAME_NOREPLACE (1u << 0)
#define CFS_RENAME_EXCHANGE (1u << 1)

/* data node `state` values (docs/data-path.md "Node registry") */
#define CFS_NODE_ALIVE 0
#define CFS_NODE_FULL 1
#define CFS_NODE_DEAD 3
#define CFS_NODE_REMOVED 4

/* The largest bulk frame: one whole fragment (the fragment size is capped
 * at format time to this). */
#define CFS_BULK_MAX (64u << 20)


/* lock `kind` values and the end of a range that runs to the end of the
 * file (docs/locks.md) */
#define CFS_LOCK_FLOCK 0
#define CFS_LOCK_POSIX 1
#define CFS_LOCK_EOF INT64_MAX
/* lock `type` values: F_RDLCK, F_WRLCK, F_UNLCK as on Linux */
#define CFS_F_RDLCK 0
#define CFS_F_WRLCK 1
#define CFS_F_UNLCK 2

/* mknod `flags` bits */
#define CFS_MKNOD_EXCL (1u << 0)
/* a new regular file comes with a write lease for the creator's mount
 * (entry.lease; an existing one only if no other mount holds a lease), a
 * directory with a read lease */
#define CFS_MKNOD_LEASE (1u << 1)
/* with CFS_MKNOD_LEASE, a new directory comes with a write lease: no other
 * mount reads or changes it until the lease is recalled, so the holder may
 * answer creates in it before they commit (docs/leases.md) */
#define CFS_MKNOD_DIRWRITE (1u << 2)

/* frag_commit `in_place` values (docs/data-path.md "Patching in place") */
#define CFS_INPLACE_NONE 0
#define CFS_INPLACE_OPEN 1
#define CFS_INPLACE_SEAL 2
/* open the version committed already (no new one): version, length and
 * crc name it as frag_locate answered, nodes its replicas */
#define CFS_INPLACE_OPEN_COMMITTED 3

/* lease types (docs/leases.md) */
#define CFS_LEASE_READ 1
#define CFS_LEASE_WRITE 2

#endif /* CFS_COMMON_PROTO_H */
