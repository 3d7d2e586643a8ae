/* cfsctl_mount.c - local paths inside cfs-fuse mounts: which cluster, which CFS path. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/cfsctl_mount.h"
#include "common/error.h"

/* Copy one space-separated mountinfo field from *s into @out (@cap bytes),
 * decoding the kernel's octal escapes (\040 for a space); advance *s past
 * it.  0, or -1 if the line ended first. */
static int
field(char **s, char *out, size_t cap)
{
	char *p = *s;
	size_t j = 0;

	while (*p == ' ')
		p++;
	if (*p == '\0' || *p == '\n')
		return -1;
	for (; *p != ' ' && *p != '\0' && *p != '\n'; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' &&
		    p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			if (j + 1 < cap)
				out[j++] = (char)(((p[1] - '0') << 6) |
						  ((p[2] - '0') << 3) |
						  (p[3] - '0'));
			p += 3;
		} else if (j + 1 < cap) {
			out[j++] = *p;
		}
	}
	out[j] = '\0';
	*s = p;
	return 0;
}

/* Is @mp a path prefix of @path, component-wise?  The length of the rest
 * (which then starts with '/' or is empty), else -1. */
static long
under(const char *mp, const char *path)
{
	size_t n = strlen(mp);

	if (strcmp(mp, "/") == 0)
		return (long)strlen(path);
	if (strncmp(mp, path, n) != 0 || (path[n] != '/' && path[n] != '\0'))
		return -1;
	return (long)strlen(path + n);
}

/* @path made absolute and resolved: realpath of its nearest existing
 * ancestor, with the components that do not exist yet appended. */
static int
resolve_local(const char *path, char *out, size_t cap, char *errmsg)
{
	char abs[PATH_MAX], real[PATH_MAX], tail[PATH_MAX] = "";

	if (path[0] == '/') {
		if (snprintf(abs, sizeof(abs), "%s", path) >= (int)sizeof(abs))
			return cfs_fail(errmsg, CFS_ENAMETOOLONG, "%s", path);
	} else {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return cfs_fail(errmsg, CFS_EIO, "%s: working directory: "
					"%s", path, strerror(errno));
		if (snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >=
		    (int)sizeof(abs))
			return cfs_fail(errmsg, CFS_ENAMETOOLONG, "%s", path);
	}
	for (;;) {
		if (realpath(abs, real) != NULL)
			break;
		char *slash = strrchr(abs, '/');
		if (slash == NULL || slash == abs) { /* "/x": x under "/" */
			snprintf(real, sizeof(real), "/");
			if (slash != NULL && slash[1] != '\0') {
				char t[PATH_MAX];
				snprintf(t, sizeof(t), "/%s%s", slash + 1, tail);
				memcpy(tail, t, sizeof(tail));
			}
			break;
		}
		char t[PATH_MAX];
		if (slash[1] != '\0') /* "a//b", "a/" */
			snprintf(t, sizeof(t), "%s%s", slash, tail);
		else
			snprintf(t, sizeof(t), "%s", tail);
		memcpy(tail, t, sizeof(tail));
		*slash = '\0';
	}
	if (snprintf(out, cap, "%s%s", strcmp(real, "/") == 0 ? "" : real,
		     tail) >= (int)cap)
		return cfs_fail(errmsg, CFS_ENAMETOOLONG, "%s", path);
	if (out[0] == '\0')
		snprintf(out, cap, "/");
	return 0;
}

int
mount_find(const char *path, char *cluster, size_t ccap, char *cfspath,
	   size_t pcap, char *errmsg)
{
	char real[PATH_MAX], line[3 * PATH_MAX];
	char mp[PATH_MAX], type[64], source[PATH_MAX];
	char best_mp[PATH_MAX] = "", best_src[PATH_MAX] = "";
	long best_rest = -1;
	FILE *f;

	if (resolve_local(path, real, sizeof(real), errmsg) != 0)
		return -1;
	if ((f = fopen("/proc/self/mountinfo", "r")) == NULL)
		return 0; /* no /proc: no mounts to find */
	while (fgets(line, sizeof(line), f) != NULL) {
		/* id parent major:minor root MOUNTPOINT opts [tags...] -
		 * TYPE SOURCE superopts */
		char *s = line, skip[PATH_MAX];
		int ok = 1;
		for (int i = 0; i < 4 && ok; i++)
			ok = field(&s, skip, sizeof(skip)) == 0;
		if (!ok || field(&s, mp, sizeof(mp)) != 0)
			continue;
		while ((ok = field(&s, skip, sizeof(skip)) == 0) &&
		       strcmp(skip, "-") != 0)
			;
		if (!ok || field(&s, type, sizeof(type)) != 0 ||
		    field(&s, source, sizeof(source)) != 0 ||
		    strcmp(type, MOUNT_FSTYPE) != 0)
			continue;
		long rest = under(mp, real);
		/* the innermost: the shortest rest (a later mount over the
		 * same point wins) */
		if (rest >= 0 && (best_rest < 0 || rest <= best_rest)) {
			best_rest = rest;
			memcpy(best_mp, mp, sizeof(best_mp));
			memcpy(best_src, source, sizeof(best_src));
		}
	}
	fclose(f);
	if (best_rest < 0)
		return 0;
	size_t plen = strlen(MOUNT_FSNAME_PREFIX);
	if (strncmp(best_src, MOUNT_FSNAME_PREFIX, plen) != 0 ||
	    best_src[plen] == '\0') {
		cfs_fail(errmsg, CFS_EINVAL, "%s: the CFS mount at %s does not "
			 "name its cluster (source '%s'; remount with this "
			 "version's cfs-fuse, or use --cluster and a CFS path)",
			 path, best_mp, best_src);
		return -1;
	}
	const char *inside = real + strlen(real) - best_rest;
	if ((size_t)snprintf(cluster, ccap, "%s", best_src + plen) >= ccap ||
	    (size_t)snprintf(cfspath, pcap, "%s",
			     inside[0] ? inside : "/") >= pcap) {
		cfs_fail(errmsg, CFS_ENAMETOOLONG, "%s", path);
		return -1;
	}
	return 1;
}
