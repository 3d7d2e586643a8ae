/* error.h - the one CFS error table: codes, errno mapping, messages, context. */
#ifndef CFS_COMMON_ERROR_H
#define CFS_COMMON_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Every CFS error code, once.  Columns: name, wire value, errno, message.
 *
 * The wire value travels in the `status` field of every reply header
 * (docs/wire-format.md): once shipped, a value never changes meaning and is
 * never reused.  New codes are appended with the next free value.
 * The errno column is what libcfs and cfs-fuse hand to applications.
 */
#define CFS_ERRORS(X)                                                        \
	X(OK, 0, 0, "success")                                               \
	X(EPERM, 1, EPERM, "operation not permitted")                        \
	X(ENOENT, 2, ENOENT, "no such file or directory")                    \
	X(EIO, 3, EIO, "input/output error")                                 \
	X(ENOMEM, 4, ENOMEM, "out of memory")                                \
	X(EACCES, 5, EACCES, "permission denied")                            \
	X(EEXIST, 6, EEXIST, "file exists")                                  \
	X(EXDEV, 7, EXDEV, "cross-device link")                              \
	X(ENOTDIR, 8, ENOTDIR, "not a directory")                            \
	X(EISDIR, 9, EISDIR, "is a directory")                               \
	X(EINVAL, 10, EINVAL, "invalid argument")                            \
	X(EFBIG, 11, EFBIG, "file too large")                                \
	X(ENOSPC, 12, ENOSPC, "no space left on device")                     \
	X(EROFS, 13, EROFS, "read-only file system")                         \
	X(EMLINK, 14, EMLINK, "too many links")                              \
	X(ENAMETOOLONG, 15, ENAMETOOLONG, "file name too long")              \
	X(ENOTEMPTY, 16, ENOTEMPTY, "directory not empty")                   \
	X(ELOOP, 17, ELOOP, "too many levels of symbolic links")             \
	X(ENODATA, 18, ENODATA, "no such attribute")                         \
	X(ERANGE, 19, ERANGE, "result too large for buffer")                 \
	X(EAGAIN, 20, EAGAIN, "resource temporarily unavailable")            \
	X(EBADF, 21, EBADF, "bad file handle")                               \
	X(EDEADLK, 22, EDEADLK, "lock would deadlock")                       \
	X(ENOLCK, 23, ENOLCK, "no locks available")                          \
	X(ENOSYS, 24, ENOSYS, "operation not supported by this server")      \
	X(E2BIG, 25, E2BIG, "argument list too long")                        \
	X(ETIMEDOUT, 26, ETIMEDOUT, "timed out")                             \
	X(ECONNREFUSED, 27, ECONNREFUSED, "connection refused")              \
	X(ENOTSUP, 28, ENOTSUP, "operation not supported")                   \
	X(ESTALE, 29, ESTALE, "stale file handle")                           \
	X(EBUSY, 30, EBUSY, "device or resource busy")                       \
	X(EINTR, 31, EINTR, "interrupted")                                   \
	/* CFS-specific conditions; errno is the closest POSIX meaning. */   \
	X(NOTLEADER, 100, EAGAIN, "not the metadata leader")                 \
	X(NOLEADER, 101, EAGAIN, "no metadata leader elected")               \
	X(MALFORMED, 102, EPROTO, "malformed message")                       \
	X(BADVERSION, 103, EPROTO, "unsupported protocol version")           \
	X(BADTYPE, 104, EPROTO, "unknown message type")                      \
	X(TOOBIG, 105, EMSGSIZE, "message too large")                        \
	X(NOSESSION, 106, ESTALE, "unknown or expired client session")       \
	X(CORRUPT, 107, EIO, "corrupt data")                                 \
	X(UNAVAILABLE, 108, EAGAIN, "not enough live nodes")                 \
	X(FENCED, 109, EIO, "stale lease epoch")                             \
	X(CONFIG, 110, EINVAL, "bad configuration")                          \
	X(SHUTDOWN, 111, ESHUTDOWN, "server is shutting down")               \
	X(INTERNAL, 112, EIO, "internal error")                              \
	X(BADCAP, 113, EACCES, "missing or invalid capability")              \
	X(CANCELED, 114, ECANCELED, "operation canceled")                    \
	/* another mount holds a lease in the way; it is being recalled:  \
	 * retry (docs/leases.md) */                                        \
	X(LEASE_BUSY, 115, EAGAIN, "lease held by another client")

enum cfs_error {
#define CFS__ERR_ENUM(name, value, errnum, msg) CFS_##name = value,
	CFS_ERRORS(CFS__ERR_ENUM)
#undef CFS__ERR_ENUM
};

/* Size of every errmsg buffer that a CFS call fills in. */
#define CFS_ERRMSG_SIZE 256

/* The static message of a code ("no such file or directory"); never NULL. */
const char *cfs_strerror(int code);

/* The symbolic name of a code ("ENOENT", "NOTLEADER"); never NULL. */
const char *cfs_errname(int code);

/* The errno that an application should see for a code (EIO if unknown). */
int cfs_errno(int code);

/* The CFS code for an errno (CFS_EIO if there is none closer). */
int cfs_from_errno(int errnum);

/* True if @code is a value defined in the table. */
int cfs_error_known(int code);

/*
 * Context messages.  @errmsg is a caller-owned buffer of CFS_ERRMSG_SIZE
 * bytes.  Each layer that passes an error up prefixes what it was doing, so a
 * user reads "fragment 12/3: replica 10.0.0.4:7001: connection refused".
 * All of these truncate safely and accept errmsg == NULL (then do nothing).
 */

/* Set @errmsg from a format.  */
void cfs_errmsg_set(char *errmsg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Turn @errmsg into "<prefix>: <old errmsg>". */
void cfs_errmsg_prefix(char *errmsg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Set @errmsg to "<formatted>: <cfs_strerror(code)>" and return @code:
 * `return cfs_fail(errmsg, CFS_ENOENT, "inode %llu", ino);` */
int cfs_fail(char *errmsg, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like cfs_fail for a failed system call: "<formatted>: <strerror(errnum)>",
 * returns cfs_from_errno(errnum). */
int cfs_fail_errno(char *errmsg, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* CFS_COMMON_ERROR_H */
