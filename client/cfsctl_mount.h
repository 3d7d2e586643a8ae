/* cfsctl_mount.h - local paths inside cfs-fuse mounts: which cluster, which CFS path. */
#ifndef CFS_CLIENT_CFSCTL_MOUNT_H
#define CFS_CLIENT_CFSCTL_MOUNT_H

#include <stddef.h>

/* The fsname cfs-fuse mounts with is MOUNT_FSNAME_PREFIX followed by the
 * metadata addresses it was given ("cfs#10.0.0.1:7000,10.0.0.2:7000"), as
 * MooseFS tools find their master from "mfs#host:port". */
#define MOUNT_FSNAME_PREFIX "cfs#"
#define MOUNT_FSTYPE "fuse.cfs"

/*
 * Where the local @path lies (relative paths against the working
 * directory; a path that does not exist yet is placed through its nearest
 * existing parent, resolved with realpath).  Cases:
 *  1) inside a mount of type fuse.cfs (the innermost one): returns 1,
 *     @cluster (@ccap bytes) gets the mount's metadata addresses and
 *     @cfspath (@pcap bytes) the absolute path inside CFS ("/" for the
 *     mount point itself);
 *  2) not inside one: returns 0;
 *  3) inside one whose source names no cluster (a mount by an older
 *     cfs-fuse), or a path too long: returns -1 with errmsg.
 * Reads /proc/self/mountinfo; all buffers are the caller's.
 */
int mount_find(const char *path, char *cluster, size_t ccap, char *cfspath,
	       size_t pcap, char *errmsg);

#endif /* CFS_CLIENT_CFSCTL_MOUNT_H */
