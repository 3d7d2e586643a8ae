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
 * Type ranges: 1-99 session and generic replies, 100-299 namespace,
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

/* One directory entry.  `cookie` resumes a listing after this entry. */
#define WIRE_MAX_dirent 128
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

/* Every record, for common/wire.c to implement: add new records here. */
#define WIRE_RECORDS(X)                                                      \
	X(cred, PROTO_CRED)                                                  \
	X(attr, PROTO_ATTR)                                                  \
	X(dirent, PROTO_DIRENT)                                              \
	X(member, PROTO_MEMBER)

/* ---- messages: field lists -------------------------------------------- */

/* Any failed request is answered with `error` and a non-zero status. */
#define PROTO_ERROR(F)                                                       \
	F(str, message, 255)                                                 \
	F(str, leader, CFS_ADDR_MAX) /* NOTLEADER: where to go instead */
#define PROTO_OK(F)

#define PROTO_SESSION_OPEN(F)                                                \
	F(str, client_name, 255)                                             \
	F(u32, lease_ms, 0) /* requested; the leader may shorten it */
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
#define PROTO_ENTRY(F) F(sub, attr, attr)
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
	F(u32, flags, 0) /* CFS_MKNOD_EXCL: fail with EEXIST */
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
	F(u32, max_entries, 0)
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
	X(300, format, PROTO_FORMAT)                                         \
	X(301, status, PROTO_STATUS)                                         \
	X(302, status_reply, PROTO_STATUS_REPLY)                             \
	X(303, member_add, PROTO_MEMBER_ADD)                                 \
	X(304, member_assign, PROTO_MEMBER_ASSIGN)                           \
	X(305, member_remove, PROTO_MEMBER_REMOVE)                           \
	X(306, transfer, PROTO_TRANSFER)                                     \
	X(307, session_expire, PROTO_SESSION_EXPIRE)                         \
	X(308, dump, PROTO_DUMP)                                             \
	X(309, dump_reply, PROTO_DUMP_REPLY)

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

/* the most replicas a directory's goal may ask for */
#define CFS_GOAL_MAX 16

/* mknod `flags` bits */
#define CFS_MKNOD_EXCL (1u << 0)

#endif /* CFS_COMMON_PROTO_H */
