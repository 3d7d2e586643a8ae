/* error.c - the error table's lookups and the errmsg context helpers. */
#include "common/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct cfs__errinfo {
	int code;
	int errnum;
	const char *name;
	const char *msg;
};

static const struct cfs__errinfo cfs__errtab[] = {
#define CFS__ERR_ROW(name, value, errnum, msg) {value, errnum, #name, msg},
	CFS_ERRORS(CFS__ERR_ROW)
#undef CFS__ERR_ROW
};

#define CFS__NERR (sizeof(cfs__errtab) / sizeof(cfs__errtab[0]))

/* dst = a ": " b, cut to CFS_ERRMSG_SIZE - 1 bytes.  Truncation is the
 * point: a long context chain loses its tail, never overflows.  (snprintf
 * would do, but gcc rightly warns that it may truncate.) */
static void
join(char *dst, const char *a, const char *b)
{
	size_t cap = CFS_ERRMSG_SIZE - 1, n = 0;

	for (const char *parts[3] = {a, ": ", b}, **pp = parts;
	     pp < parts + 3 && n < cap; pp++) {
		size_t len = strlen(*pp);
		if (len > cap - n)
			len = cap - n;
		memmove(dst + n, *pp, len);
		n += len;
	}
	dst[n] = '\0';
}

static const struct cfs__errinfo *
errinfo(int code)
{
	for (size_t i = 0; i < CFS__NERR; i++)
		if (cfs__errtab[i].code == code)
			return &cfs__errtab[i];
	return NULL;
}

const char *
cfs_strerror(int code)
{
	const struct cfs__errinfo *e = errinfo(code);
	return e ? e->msg : "unknown error";
}

const char *
cfs_errname(int code)
{
	const struct cfs__errinfo *e = errinfo(code);
	return e ? e->name : "UNKNOWN";
}

int
cfs_errno(int code)
{
	const struct cfs__errinfo *e = errinfo(code);
	return e ? e->errnum : EIO;
}

int
cfs_error_known(int code)
{
	return errinfo(code) != NULL;
}

int
cfs_from_errno(int errnum)
{
	if (errnum == 0)
		return CFS_OK;
	/* Only the POSIX rows (values below 100) map back one to one; the
	 * CFS-specific rows share errnos with them and must not win. */
	for (size_t i = 0; i < CFS__NERR; i++)
		if (cfs__errtab[i].code < 100 && cfs__errtab[i].errnum == errnum)
			return cfs__errtab[i].code;
	switch (errnum) {
	case EDQUOT:
		return CFS_ENOSPC;
	case EMSGSIZE:
		return CFS_TOOBIG;
	case EPROTO:
		return CFS_MALFORMED;
	default:
		return CFS_EIO;
	}
}

void
cfs_errmsg_set(char *errmsg, const char *fmt, ...)
{
	va_list ap;

	if (errmsg == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(errmsg, CFS_ERRMSG_SIZE, fmt, ap);
	va_end(ap);
}

void
cfs_errmsg_prefix(char *errmsg, const char *fmt, ...)
{
	char prefix[CFS_ERRMSG_SIZE];
	char old[CFS_ERRMSG_SIZE];
	va_list ap;

	if (errmsg == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, errmsg, CFS_ERRMSG_SIZE);
	old[CFS_ERRMSG_SIZE - 1] = '\0';
	if (old[0] == '\0')
		snprintf(errmsg, CFS_ERRMSG_SIZE, "%s", prefix);
	else
		join(errmsg, prefix, old);
}

int
cfs_fail(char *errmsg, int code, const char *fmt, ...)
{
	char what[CFS_ERRMSG_SIZE];
	va_list ap;

	if (errmsg == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	join(errmsg, what, cfs_strerror(code));
	return code;
}

int
cfs_fail_errno(char *errmsg, int errnum, const char *fmt, ...)
{
	char what[CFS_ERRMSG_SIZE];
	va_list ap;

	if (errmsg != NULL) {
		va_start(ap, fmt);
		vsnprintf(what, sizeof(what), fmt, ap);
		va_end(ap);
		join(errmsg, what, strerror(errnum));
	}
	return cfs_from_errno(errnum);
}
