/* test_fsmodel.c - the reference model: every operation, its Linux/cfs.h rules and errors, and fm_check() catching corruption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/model/fsmodel.h"

static const struct fm_cred root = {.uid = 0, .gid = 0};
static const struct fm_cred alice = {.uid = 1000, .gid = 1000};
static const struct fm_cred bob = {.uid = 1001, .gid = 1001};
static const struct fm_cred carol = {
	.uid = 1002, .gid = 1002, .ngroups = 1, .groups = {1000}};

/* Each test gets a fresh model with "/" mode 0777 owned by root, and
 * checks the invariants when it ends. */
static int
setup(void **state)
{
	*state = fm_new(0777, 0, 0);
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fm *m = *state;
	int rc = fm_check(m);
	if (rc)
		fprintf(stderr, "%s\n", fm_error(m));
	fm_free(&m);
	return rc ? -1 : 0;
}

static struct fm_attr
st(struct fm *m, const char *path, int follow)
{
	struct fm_attr a;
	memset(&a, 0xff, sizeof(a));
	assert_int_equal(fm_stat(m, &root, path, follow, &a), 0);
	return a;
}

/* A file with @n bytes of "x" as @c, mode @mode. */
static void
mkfile(struct fm *m, const struct fm_cred *c, const char *path,
       uint32_t mode, size_t n)
{
	int64_t ino = fm_open(m, c, path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(ino > 0);
	char buf[64];
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(fm_pwrite(m, (uint64_t)ino, 0, buf, n), (int)n);
}

#define OK(call) assert_int_equal((call), 0)
#define ERR(call, e) assert_int_equal((call), -(e))

/* A new model holds only "/", with the mode and owner asked for. */
static void
test_new_model_has_only_root(void **state)
{
	struct fm *m = *state;
	struct fm_attr a = st(m, "/", 1);
	assert_int_equal(a.mode, S_IFDIR | 0777);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(a.ino, 1);
	assert_string_equal(fm_error(m), "");
	OK(fm_check(m));
}

/* mkdir counts the new subdirectory in its parent's nlink, with no umask. */
static void
test_mkdir_creates_directory_and_counts_links(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &alice, "/d", 0755));
	OK(fm_mkdir(m, &alice, "/d/e/", 07777));
	struct fm_attr a = st(m, "/d", 1);
	assert_int_equal(a.mode, S_IFDIR | 0755);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 1000);
	assert_int_equal(a.nlink, 3);
	assert_int_equal(st(m, "/d/e", 1).mode, S_IFDIR | 07777);
	assert_int_equal(st(m, "/", 1).nlink, 3);
}

/* mkdir: EEXIST for a taken name, "/", "." and ".."; ENOENT, ENOTDIR. */
static void
test_mkdir_errors(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &root, "/d", 0755));
	mkfile(m, &root, "/f", 0644, 0);
	ERR(fm_mkdir(m, &root, "/d", 0755), EEXIST);
	ERR(fm_mkdir(m, &root, "/f/", 0755), EEXIST);
	ERR(fm_mkdir(m, &root, "/", 0755), EEXIST);
	ERR(fm_mkdir(m, &root, "/d/.", 0755), EEXIST);
	ERR(fm_mkdir(m, &root, "/d/..", 0755), EEXIST);
	ERR(fm_mkdir(m, &root, "/x/y", 0755), ENOENT);
	ERR(fm_mkdir(m, &root, "/f/y", 0755), ENOTDIR);
	ERR(fm_mkdir(m, &root, "d", 0755), EINVAL);
	ERR(fm_mkdir(m, &root, "", 0755), EINVAL);
}

/* Creating needs w+x on the parent; an existing name is EEXIST first,
 * but a directory without x hides even that (EACCES). */
static void
test_create_needs_write_and_search_on_parent(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &alice, "/d", 0555));
	OK(fm_mkdir(m, &root, "/d/x", 0755));
	ERR(fm_mkdir(m, &alice, "/d/y", 0755), EACCES);
	ERR(fm_mkdir(m, &alice, "/d/x", 0755), EEXIST);
	ERR(fm_symlink(m, &alice, "t", "/d/l"), EACCES);
	ERR(fm_open(m, &alice, "/d/f", O_WRONLY | O_CREAT, 0644), EACCES);
	OK(fm_chmod(m, &alice, "/d", 0666));
	ERR(fm_mkdir(m, &alice, "/d/x", 0755), EACCES);
	ERR(fm_stat(m, &alice, "/d/x", 1, &(struct fm_attr){0}), EACCES);
	OK(fm_mkdir(m, &root, "/d/y", 0755)); /* root searches anything */
}

/* The first matching class decides: an owner with fewer rights than
 * "other" is refused; a supplementary group counts as the group. */
static void
test_permission_class_is_picked_once(void **state)
{
	struct fm *m = *state;
	mkfile(m, &alice, "/f", 0077, 3);
	ERR(fm_open(m, &alice, "/f", O_RDONLY, 0), EACCES);
	assert_true(fm_open(m, &bob, "/f", O_RDWR, 0) > 0);
	OK(fm_chmod(m, &alice, "/f", 0604));
	assert_true(fm_open(m, &bob, "/f", O_RDONLY, 0) > 0);
	ERR(fm_open(m, &carol, "/f", O_RDONLY, 0), EACCES); /* group 1000 */
	ERR(fm_truncate(m, &bob, "/f", 0), EACCES);
	OK(fm_truncate(m, &root, "/f", 0)); /* root passes r/w */
}

/* A new object in a setgid directory takes its group; a directory also
 * the bit. */
static void
test_setgid_directory_passes_group_down(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &root, "/g", 0777));
	OK(fm_chown(m, &root, "/g", 0, 500));
	OK(fm_chmod(m, &root, "/g", 02777));
	OK(fm_mkdir(m, &alice, "/g/d", 0700));
	mkfile(m, &alice, "/g/f", 0600, 0);
	OK(fm_symlink(m, &alice, "f", "/g/l"));
	assert_int_equal(st(m, "/g/d", 1).mode, S_IFDIR | 02700);
	assert_int_equal(st(m, "/g/d", 1).gid, 500);
	assert_int_equal(st(m, "/g/f", 1).mode, S_IFREG | 0600);
	assert_int_equal(st(m, "/g/f", 1).gid, 500);
	assert_int_equal(st(m, "/g/l", 0).gid, 500);
	assert_int_equal(st(m, "/g/l", 0).mode, S_IFLNK | 0777);
}

/* rmdir and its errors in Linux's order. */
static void
test_rmdir_and_its_errors(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &root, "/d", 0755));
	OK(fm_mkdir(m, &root, "/d/e", 0755));
	mkfile(m, &root, "/f", 0644, 0);
	OK(fm_symlink(m, &root, "/d", "/l"));
	ERR(fm_rmdir(m, &root, "/d"), ENOTEMPTY);
	ERR(fm_rmdir(m, &root, "/d/e/."), EINVAL);
	ERR(fm_rmdir(m, &root, "/d/e/.."), ENOTEMPTY);
	ERR(fm_rmdir(m, &root, "/"), EBUSY);
	ERR(fm_rmdir(m, &root, "/f"), ENOTDIR);
	ERR(fm_rmdir(m, &root, "/l/"), ENOTDIR); /* the link, not followed */
	ERR(fm_rmdir(m, &root, "/x"), ENOENT);
	ERR(fm_rmdir(m, &alice, "/d/e"), EACCES);
	OK(fm_rmdir(m, &root, "/d/e/"));
	assert_int_equal(st(m, "/d", 1).nlink, 2);
	OK(fm_rmdir(m, &root, "/d"));
	assert_int_equal(st(m, "/", 1).nlink, 2);
}

/* unlink removes one name; the inode goes with its last. */
static void
test_unlink_and_link_keep_nlink(void **state)
{
	struct fm *m = *state;
	mkfile(m, &root, "/f", 0644, 5);
	OK(fm_link(m, &root, "/f", "/g"));
	assert_int_equal(st(m, "/f", 1).nlink, 2);
	assert_int_equal(st(m, "/f", 1).ino, st(m, "/g", 1).ino);
	OK(fm_unlink(m, &root, "/f"));
	assert_int_equal(st(m, "/g", 1).nlink, 1);
	ERR(fm_stat(m, &root, "/f", 1, &(struct fm_attr){0}), ENOENT);
	OK(fm_unlink(m, &root, "/g"));
	ERR(fm_unlink(m, &root, "/g"), ENOENT);
}

/* unlink: EISDIR for directories and dots; a trailing '/' decides first. */
static void
test_unlink_errors(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &root, "/d", 0777));
	mkfile(m, &root, "/d/f", 0644, 0);
	ERR(fm_unlink(m, &root, "/d"), EISDIR);
	ERR(fm_unlink(m, &root, "/"), EISDIR);
	ERR(fm_unlink(m, &root, "/d/."), EISDIR);
	ERR(fm_unlink(m, &root, "/d/f/"), ENOTDIR);
	ERR(fm_unlink(m, &root, "/d/x/"), ENOENT);
	ERR(fm_unlink(m, &root, "/d/"), EISDIR);
	ERR(fm_unlink(m, &alice, "/d/f/"), ENOTDIR); /* before EACCES */
	OK(fm_chmod(m, &root, "/d", 0755));
	ERR(fm_unlink(m, &alice, "/d/f"), EACCES);
}

/* In a sticky directory only the entry's owner, the directory's owner
 * or root may remove or rename. */
static void
test_sticky_directory_limits_removal(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &alice, "/t", 01777));
	mkfile(m, &bob, "/t/b", 0644, 0);
	OK(fm_mkdir(m, &bob, "/t/bd", 0755));
	ERR(fm_unlink(m, &carol, "/t/b"), EPERM);
	ERR(fm_rmdir(m, &carol, "/t/bd"), EPERM);
	ERR(fm_rename(m, &carol, "/t/b", "/t/c", 0), EPERM);
	mkfile(m, &carol, "/t/c", 0644, 0);
	ERR(fm_rename(m, &carol, "/t/c", "/t/b", 0), EPERM); /* the target */
	OK(fm_rename(m, &bob, "/t/b", "/t/b2", 0));
	OK(fm_unlink(m, &alice, "/t/b2"));
	OK(fm_rmdir(m, &root, "/t/bd"));
}

/* rename of a file over a file frees the target; two links to the same
 * inode is a no-op. */
static void
test_rename_file_over_file_and_same_inode(void **state)
{
	struct fm *m = *state;
	mkfile(m, &root, "/a", 0644, 1);
	mkfile(m, &root, "/b", 0644, 2);
	uint64_t ino = st(m, "/a", 1).ino;
	OK(fm_rename(m, &root, "/a", "/b", 0));
	assert_int_equal(st(m, "/b", 1).ino, ino);
	assert_int_equal(st(m, "/b", 1).size, 1);
	ERR(fm_stat(m, &root, "/a", 0, &(struct fm_attr){0}), ENOENT);
	OK(fm_link(m, &root, "/b", "/c"));
	OK(fm_rename(m, &root, "/b", "/c", 0));
	assert_int_equal(st(m, "/b", 1).nlink, 2); /* nothing changed */
	OK(fm_rename(m, &alice, "/b", "/c", 0));   /* no permission asked */
	OK(fm_rename(m, &root, "/b", "/b", 0));
}

/* Directories: over an empty one yes, a non-empty one no; types must
 * match; not into its own subtree; not "/", "." or "..". */
static void
test_rename_directory_rules(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &root, "/a", 0755));
	OK(fm_mkdir(m, &root, "/a/s", 0755));
	OK(fm_mkdir(m, &root, "/b", 0755));
	OK(fm_mkdir(m, &root, "/c", 0755));
	OK(fm_mkdir(m, &root, "/c/x", 0755));
	mkfile(m, &root, "/f", 0644, 0);
	ERR(fm_rename(m, &root, "/a", "/c", 0), ENOTEMPTY);
	ERR(fm_rename(m, &root, "/a", "/f", 0), ENOTDIR);
	ERR(fm_rename(m, &root, "/f", "/b", 0), EISDIR);
	ERR(fm_rename(m, &root, "/a", "/a/s/t", 0), EINVAL);
	ERR(fm_rename(m, &root, "/a", "/a/s", 0), EINVAL);
	ERR(fm_rename(m, &root, "/a/s", "/a", 0), ENOTEMPTY); /* ancestor */
	ERR(fm_rename(m, &root, "/", "/z", 0), EBUSY);
	ERR(fm_rename(m, &root, "/a/.", "/z", 0), EBUSY);
	ERR(fm_rename(m, &root, "/a", "/b/..", 0), EBUSY);
	ERR(fm_rename(m, &root, "/a", "/b/..", 1), EEXIST);
	ERR(fm_rename(m, &root, "/f/", "/g", 0), ENOTDIR);
	ERR(fm_rename(m, &root, "/f", "/g/", 0), ENOTDIR);
	ERR(fm_rename(m, &root, "/x", "/g", 0), ENOENT);
	ERR(fm_rename(m, &root, "/a", "/b", 3), EINVAL);
	OK(fm_rename(m, &root, "/a", "/b/", 0)); /* over the empty /b */
	assert_int_equal(st(m, "/", 1).nlink, 4);
	OK(fm_rename(m, &root, "/b/s", "/c/s", 0));
	assert_int_equal(st(m, "/b", 1).nlink, 2);
	assert_int_equal(st(m, "/c", 1).nlink, 4);
	assert_int_equal(st(m, "/c/s/..", 1).ino, st(m, "/c", 1).ino);
}

/* NOREPLACE refuses an existing target; EXCHANGE swaps two names and
 * fixes ".." and the parents' link counts. */
static void
test_rename_noreplace_and_exchange(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &root, "/p", 0755));
	OK(fm_mkdir(m, &root, "/p/d", 0755));
	OK(fm_mkdir(m, &root, "/q", 0755));
	mkfile(m, &root, "/q/f", 0644, 4);
	uint64_t d = st(m, "/p/d", 1).ino, f = st(m, "/q/f", 1).ino;
	ERR(fm_rename(m, &root, "/p/d", "/q/f", 1), EEXIST);
	OK(fm_rename(m, &root, "/p/d", "/q/g", 1));
	OK(fm_rename(m, &root, "/q/g", "/p/d", 1));
	ERR(fm_rename(m, &root, "/p/d", "/q/none", 2), ENOENT);
	ERR(fm_rename(m, &root, "/p", "/p/d", 2), EINVAL);
	ERR(fm_rename(m, &root, "/p/d", "/p", 2), EINVAL);
	OK(fm_rename(m, &root, "/p/d", "/q/f", 2));
	assert_int_equal(st(m, "/p/d", 0).ino, f);
	assert_int_equal(st(m, "/q/f", 0).ino, d);
	assert_int_equal(st(m, "/p", 1).nlink, 2);
	assert_int_equal(st(m, "/q", 1).nlink, 3);
	assert_int_equal(st(m, "/q/f/..", 1).ino, st(m, "/q", 1).ino);
}

/* Moving a directory to another parent changes its "..": a non-root
 * caller needs w on the directory itself. */
static void
test_rename_directory_across_parents_needs_write_on_it(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &alice, "/a", 0777));
	OK(fm_mkdir(m, &alice, "/b", 0777));
	OK(fm_mkdir(m, &alice, "/a/d", 0555));
	ERR(fm_rename(m, &alice, "/a/d", "/b/d", 0), EACCES);
	OK(fm_rename(m, &alice, "/a/d", "/a/e", 0)); /* same parent: fine */
	OK(fm_rename(m, &root, "/a/e", "/b/e", 0));
	ERR(fm_rename(m, &bob, "/b/e", "/a/e", 0), EACCES);
}

/* link: not for directories; the source symlink is not followed; the
 * target must not exist. */
static void
test_link_errors(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &root, "/d", 0755));
	mkfile(m, &root, "/f", 0644, 0);
	OK(fm_symlink(m, &root, "/f", "/l"));
	ERR(fm_link(m, &root, "/d", "/e"), EPERM);
	ERR(fm_link(m, &root, "/f", "/d"), EEXIST);
	ERR(fm_link(m, &root, "/f", "/n/"), ENOENT);
	ERR(fm_link(m, &root, "/x", "/y"), ENOENT);
	ERR(fm_link(m, &alice, "/f", "/d/g"), EACCES);
	OK(fm_link(m, &root, "/l", "/l2"));
	assert_int_equal(st(m, "/l", 0).nlink, 2);
	assert_int_equal(st(m, "/f", 0).nlink, 1);
	assert_int_equal(st(m, "/l2", 0).mode, S_IFLNK | 0777);
}

/* Symlinks: relative targets from the link's directory, readlink
 * truncates without NUL, lstat gives the target length. */
static void
test_symlink_and_readlink(void **state)
{
	struct fm *m = *state;
	char buf[16];
	OK(fm_mkdir(m, &root, "/d", 0755));
	mkfile(m, &root, "/d/f", 0644, 7);
	OK(fm_symlink(m, &root, "f", "/d/l"));
	OK(fm_symlink(m, &root, "../d/./f", "/d/l2"));
	OK(fm_symlink(m, &root, "d", "/ld"));
	assert_int_equal(st(m, "/d/l", 1).size, 7);
	assert_int_equal(st(m, "/d/l2", 1).ino, st(m, "/d/f", 1).ino);
	assert_int_equal(st(m, "/ld/l", 1).ino, st(m, "/d/f", 1).ino);
	assert_int_equal(st(m, "/ld", 0).size, 1);
	assert_int_equal(st(m, "/ld/", 0).mode & S_IFMT, S_IFDIR);
	assert_int_equal(fm_readlink(m, &root, "/d/l2", buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "../d/./f", 8);
	assert_int_equal(fm_readlink(m, &root, "/d/l2", buf, 3), 3);
	ERR(fm_readlink(m, &root, "/d/l2", buf, 0), EINVAL);
	ERR(fm_readlink(m, &root, "/d/f", buf, 16), EINVAL);
	ERR(fm_readlink(m, &root, "/ld/", buf, 16), EINVAL);
	ERR(fm_symlink(m, &root, "", "/e"), ENOENT);
	ERR(fm_symlink(m, &root, "x", "/d/l"), EEXIST);
	ERR(fm_symlink(m, &root, "x", "/e/"), ENOENT);
	ERR(fm_stat(m, &root, "/d/l/", 1, &(struct fm_attr){0}), ENOTDIR);
}

/* A loop fails with ELOOP; a chain of 40 links resolves, 41 do not. */
static void
test_symlink_loops_and_the_40_link_limit(void **state)
{
	struct fm *m = *state;
	char t[16], l[16];
	OK(fm_symlink(m, &root, "/b", "/a"));
	OK(fm_symlink(m, &root, "a", "/b"));
	ERR(fm_stat(m, &root, "/a", 1, &(struct fm_attr){0}), ELOOP);
	ERR(fm_stat(m, &root, "/a/x", 0, &(struct fm_attr){0}), ELOOP);
	assert_int_equal(st(m, "/a", 0).mode & S_IFMT, S_IFLNK);
	ERR(fm_open(m, &root, "/a", O_RDONLY | O_NOFOLLOW, 0), ELOOP);
	mkfile(m, &root, "/f", 0644, 0);
	OK(fm_symlink(m, &root, "f", "/c0"));
	for (int k = 1; k <= 40; k++) {
		snprintf(t, sizeof(t), "c%d", k - 1);
		snprintf(l, sizeof(l), "/c%d", k);
		OK(fm_symlink(m, &root, t, l));
	}
	assert_int_equal(st(m, "/c39", 1).ino, st(m, "/f", 1).ino);
	ERR(fm_stat(m, &root, "/c40", 1, &(struct fm_attr){0}), ELOOP);
}

/* EINVAL relative, ENAMETOOLONG component/path, ENOTDIR, ".." of "/". */
static void
test_path_errors(void **state)
{
	struct fm *m = *state;
	struct fm_attr a;
	char name[300], path[FM_PATH_MAX + 8];
	mkfile(m, &root, "/f", 0644, 0);
	ERR(fm_stat(m, &root, "f", 1, &a), EINVAL);
	memset(name, 'n', 256);
	name[0] = '/';
	name[256] = '\0';
	OK(fm_mkdir(m, &root, name, 0755)); /* 255 bytes */
	name[256] = 'n';
	name[257] = '\0';
	ERR(fm_mkdir(m, &root, name, 0755), ENAMETOOLONG);
	ERR(fm_stat(m, &root, name, 1, &a), ENAMETOOLONG);
	memset(path, '/', sizeof(path));
	path[FM_PATH_MAX] = '\0';
	ERR(fm_stat(m, &root, path, 1, &a), ENAMETOOLONG);
	path[FM_PATH_MAX - 1] = '\0';
	OK(fm_stat(m, &root, path, 1, &a));
	ERR(fm_stat(m, &root, "/f/x", 1, &a), ENOTDIR);
	ERR(fm_stat(m, &root, "/f/", 1, &a), ENOTDIR);
	ERR(fm_stat(m, &root, "/x/", 1, &a), ENOENT);
	assert_int_equal(st(m, "/../..", 1).ino, 1);
	assert_int_equal(st(m, "//./f", 1).ino, st(m, "/f", 1).ino);
}

/* chmod: owner or root; a non-member loses S_ISGID. */
static void
test_chmod_rules(void **state)
{
	struct fm *m = *state;
	mkfile(m, &alice, "/f", 0644, 0);
	OK(fm_chown(m, &root, "/f", 1000, 500));
	ERR(fm_chmod(m, &bob, "/f", 0777), EPERM);
	OK(fm_chmod(m, &alice, "/f", 02755));
	assert_int_equal(st(m, "/f", 1).mode, S_IFREG | 0755);
	OK(fm_chmod(m, &root, "/f", 02755));
	assert_int_equal(st(m, "/f", 1).mode, S_IFREG | 02755);
	OK(fm_symlink(m, &bob, "f", "/l"));
	OK(fm_chmod(m, &alice, "/l", 0600)); /* follows the link */
	assert_int_equal(st(m, "/f", 1).mode, S_IFREG | 0600);
}

/* chown: root gives away; the owner may only change the group to one of
 * its own; setuid/setgid bits of regular files are cleared. */
static void
test_chown_rules_and_setid_clearing(void **state)
{
	struct fm *m = *state;
	const uint32_t none = (uint32_t)-1;
	mkfile(m, &carol, "/f", 0644, 0);
	ERR(fm_chown(m, &carol, "/f", 1000, none), EPERM);
	ERR(fm_chown(m, &bob, "/f", none, 1001), EPERM);
	ERR(fm_chown(m, &carol, "/f", none, 1001), EPERM);
	OK(fm_chown(m, &carol, "/f", 1002, 1000)); /* a supplementary group */
	OK(fm_chown(m, &bob, "/f", none, none));
	OK(fm_chmod(m, &root, "/f", 06755));
	OK(fm_chown(m, &carol, "/f", none, none));
	assert_int_equal(st(m, "/f", 1).mode, S_IFREG | 0755);
	OK(fm_chmod(m, &root, "/f", 06745));
	OK(fm_chown(m, &root, "/f", 7, 7));
	assert_int_equal(st(m, "/f", 1).mode, S_IFREG | 02745); /* no g+x */
	assert_int_equal(st(m, "/f", 1).uid, 7);
	OK(fm_chmod(m, &root, "/f", 06755));
	OK(fm_chown(m, &root, "/f", none, none));
	assert_int_equal(st(m, "/f", 1).mode, S_IFREG | 0755);
	OK(fm_mkdir(m, &root, "/d", 06755));
	OK(fm_chown(m, &root, "/d", 1, 1));
	assert_int_equal(st(m, "/d", 1).mode, S_IFDIR | 06755);
}

/* truncate cuts and zero-extends; EISDIR, EINVAL, EACCES. */
static void
test_truncate_rules(void **state)
{
	struct fm *m = *state;
	uint8_t buf[16];
	mkfile(m, &alice, "/f", 0644, 8);
	OK(fm_mkdir(m, &root, "/d", 0755));
	ERR(fm_truncate(m, &root, "/d", 0), EISDIR);
	ERR(fm_truncate(m, &root, "/f", -1), EINVAL);
	ERR(fm_truncate(m, &bob, "/f", 0), EACCES);
	ERR(fm_truncate(m, &root, "/x", 0), ENOENT);
	OK(fm_truncate(m, &alice, "/f", 4));
	OK(fm_truncate(m, &alice, "/f", 12));
	uint64_t ino = st(m, "/f", 1).ino;
	assert_int_equal(fm_pread(m, ino, 0, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "xxxx\0\0\0\0\0\0\0\0", 12);
}

/* open: flags, EEXIST, EISDIR, ENOENT, permission from the mode (not for
 * a file the call created), O_TRUNC needs w and clears setgid as Linux. */
static void
test_open_rules(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &root, "/d", 0777));
	int64_t ino = fm_open(m, &alice, "/d/f", O_RDWR | O_CREAT, 0);
	assert_true(ino > 0);
	assert_int_equal(st(m, "/d/f", 1).mode, S_IFREG);
	assert_int_equal(fm_pwrite(m, (uint64_t)ino, 0, "abc", 3), 3);
	ERR(fm_open(m, &alice, "/d/f", O_RDONLY, 0), EACCES);
	assert_int_equal(fm_open(m, &alice, "/d/f", O_WRONLY | O_CREAT, 0644),
			 -EACCES);
	ERR(fm_open(m, &alice, "/d/f", O_RDWR | O_CREAT | O_EXCL, 0), EEXIST);
	ERR(fm_open(m, &alice, "/d", O_RDONLY, 0), EISDIR);
	ERR(fm_open(m, &alice, "/d/", O_RDWR | O_CREAT, 0644), EISDIR);
	ERR(fm_open(m, &alice, "/d/n/", O_RDWR | O_CREAT, 0644), EISDIR);
	ERR(fm_open(m, &alice, "/d/x", O_RDONLY, 0), ENOENT);
	ERR(fm_open(m, &alice, "/d/f", O_ACCMODE, 0), EINVAL);
	ERR(fm_open(m, &alice, "/d/f", O_RDONLY | O_DIRECTORY, 0), EINVAL);
	OK(fm_chmod(m, &alice, "/d/f", 0400));
	ERR(fm_open(m, &alice, "/d/f", O_RDONLY | O_TRUNC, 0), EACCES);
	ERR(fm_open(m, &alice, "/d", O_RDONLY | O_TRUNC, 0), EISDIR);
	OK(fm_chmod(m, &alice, "/d/f", 02600));
	assert_int_equal(fm_open(m, &alice, "/d/f", O_RDONLY | O_TRUNC, 0),
			 ino);
	assert_int_equal(st(m, "/d/f", 1).size, 0);
	assert_int_equal(st(m, "/d/f", 1).mode, S_IFREG | 02600);
	OK(fm_chown(m, &root, "/d/f", 1000, 0));
	assert_int_equal(fm_open(m, &alice, "/d/f", O_WRONLY | O_TRUNC, 0),
			 ino);
	assert_int_equal(st(m, "/d/f", 1).mode, S_IFREG | 0600);
}

/* O_CREAT through a dangling symlink creates its target (Linux);
 * O_EXCL refuses it; O_NOFOLLOW gives ELOOP. */
static void
test_open_through_dangling_symlink(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &root, "/d", 0777));
	OK(fm_symlink(m, &root, "t", "/d/l"));
	ERR(fm_open(m, &root, "/d/l", O_WRONLY | O_CREAT | O_EXCL, 0644),
	    EEXIST);
	ERR(fm_open(m, &root, "/d/l", O_WRONLY | O_CREAT | O_NOFOLLOW, 0644),
	    ELOOP);
	ERR(fm_open(m, &root, "/d/l", O_WRONLY, 0), ENOENT);
	int64_t ino = fm_open(m, &alice, "/d/l", O_WRONLY | O_CREAT, 0640);
	assert_true(ino > 0);
	struct fm_attr a = st(m, "/d/t", 0);
	assert_int_equal(a.ino, ino);
	assert_int_equal(a.mode, S_IFREG | 0640);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(fm_open(m, &alice, "/d/l", O_WRONLY | O_CREAT, 0),
			 ino);
}

/* O_CREAT on someone else's symlink in a sticky world-writable directory
 * is refused even to root (Linux may_create_in_sticky()). */
static void
test_open_creat_on_foreign_symlink_in_sticky_dir(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &alice, "/t", 01777));
	OK(fm_symlink(m, &bob, "x", "/t/l"));
	ERR(fm_open(m, &root, "/t/l", O_RDWR | O_CREAT | O_NOFOLLOW, 0), EACCES);
	ERR(fm_open(m, &bob, "/t/l", O_RDWR | O_CREAT | O_NOFOLLOW, 0), ELOOP);
	assert_true(fm_open(m, &root, "/t/l", O_RDWR | O_CREAT, 0600) > 0);
}

/* pwrite extends with zeros; pread stops at EOF and gives 0 past it. */
static void
test_pwrite_holes_and_pread_eof(void **state)
{
	struct fm *m = *state;
	uint8_t buf[32];
	int64_t ino = fm_open(m, &root, "/f", O_RDWR | O_CREAT, 0644);
	assert_true(ino > 0);
	assert_int_equal(fm_pwrite(m, (uint64_t)ino, 4, "ab", 2), 2);
	assert_int_equal(fm_pwrite(m, (uint64_t)ino, 1, "Z", 1), 1);
	assert_int_equal(fm_pwrite(m, (uint64_t)ino, 100, "", 0), 0);
	assert_int_equal(st(m, "/f", 1).size, 6);
	assert_int_equal(fm_pread(m, (uint64_t)ino, 0, buf, 32), 6);
	assert_memory_equal(buf, "\0Z\0\0ab", 6);
	assert_int_equal(fm_pread(m, (uint64_t)ino, 5, buf, 32), 1);
	assert_int_equal(fm_pread(m, (uint64_t)ino, 6, buf, 32), 0);
	assert_int_equal(fm_pread(m, (uint64_t)ino, 1000, buf, 32), 0);
	assert_int_equal(fm_pread(m, 1, 0, buf, 32), -EBADF);
	assert_int_equal(fm_pwrite(m, 99, 0, "a", 1), -EBADF);
}

/* user.* xattrs: set with flags, get, sorted list, remove. */
static void
test_xattr_set_get_list_remove(void **state)
{
	struct fm *m = *state;
	char buf[64];
	mkfile(m, &alice, "/f", 0644, 0);
	OK(fm_setxattr(m, &alice, "/f", "user.b", "22", 2, 0));
	OK(fm_setxattr(m, &alice, "/f", "user.a", "", 0, 1));
	ERR(fm_setxattr(m, &alice, "/f", "user.a", "1", 1, 1), EEXIST);
	ERR(fm_setxattr(m, &alice, "/f", "user.c", "1", 1, 2), ENODATA);
	OK(fm_setxattr(m, &alice, "/f", "user.b", "333", 3, 2));
	assert_int_equal(fm_getxattr(m, &bob, "/f", "user.b", NULL, 0), 3);
	assert_int_equal(fm_getxattr(m, &bob, "/f", "user.b", buf, 3), 3);
	assert_memory_equal(buf, "333", 3);
	ERR(fm_getxattr(m, &bob, "/f", "user.b", buf, 2), ERANGE);
	assert_int_equal(fm_getxattr(m, &bob, "/f", "user.a", buf, 2), 0);
	ERR(fm_getxattr(m, &bob, "/f", "user.z", buf, 2), ENODATA);
	assert_int_equal(fm_listxattr(m, &bob, "/f", NULL, 0), 14);
	assert_int_equal(fm_listxattr(m, &bob, "/f", buf, 64), 14);
	assert_memory_equal(buf, "user.a\0user.b\0", 14);
	ERR(fm_listxattr(m, &bob, "/f", buf, 13), ERANGE);
	ERR(fm_removexattr(m, &bob, "/f", "user.a"), EACCES);
	OK(fm_removexattr(m, &alice, "/f", "user.a"));
	ERR(fm_removexattr(m, &alice, "/f", "user.a"), ENODATA);
	ERR(fm_setxattr(m, &alice, "/f", "user.x", "1", 1, 4), EINVAL);
}

/* Namespaces, sizes and privileges of xattrs. */
static void
test_xattr_namespaces_and_limits(void **state)
{
	struct fm *m = *state;
	char name[300], buf[64];
	static char big[FM_XATTR_SIZE_MAX + 1];
	mkfile(m, &alice, "/f", 0600, 0);
	OK(fm_symlink(m, &root, "f", "/l"));
	ERR(fm_setxattr(m, &alice, "/f", "os2.x", "1", 1, 0), EOPNOTSUPP);
	ERR(fm_setxattr(m, &alice, "/f", "user.", "1", 1, 0), EINVAL);
	ERR(fm_setxattr(m, &alice, "/f", "", "1", 1, 0), ERANGE);
	memset(name, 'a', sizeof(name));
	memcpy(name, "user.", 5);
	name[256] = '\0';
	ERR(fm_setxattr(m, &alice, "/f", name, "1", 1, 0), ERANGE);
	name[255] = '\0';
	OK(fm_setxattr(m, &alice, "/f", name, "1", 1, 0));
	ERR(fm_setxattr(m, &alice, "/f", "user.big", big, sizeof(big), 0),
	    E2BIG);
	OK(fm_setxattr(m, &alice, "/f", "user.big", big, sizeof(big) - 1, 0));
	ERR(fm_setxattr(m, &alice, "/f", "trusted.t", "1", 1, 0), EPERM);
	OK(fm_setxattr(m, &root, "/f", "trusted.t", "1", 1, 0));
	ERR(fm_getxattr(m, &alice, "/f", "trusted.t", buf, 64), ENODATA);
	assert_int_equal(fm_getxattr(m, &root, "/f", "trusted.t", buf, 64), 1);
	ERR(fm_setxattr(m, &alice, "/f", "security.s", "1", 1, 0), EPERM);
	OK(fm_setxattr(m, &root, "/f", "security.s", "1", 1, 0));
	assert_int_equal(fm_getxattr(m, &bob, "/f", "security.s", buf, 64), 1);
	ERR(fm_getxattr(m, &bob, "/f", "user.big", buf, 64), EACCES);
	/* trusted.* is invisible to non-root; no permission to list */
	ssize_t n = fm_listxattr(m, &bob, "/l", NULL, 0);
	assert_int_equal(n, 256 + 9 + 11);
	assert_int_equal(fm_listxattr(m, &root, "/l", NULL, 0), n + 10);
	assert_int_equal(fm_getxattr(m, &alice, "/l", "user.big", NULL, 0),
			 FM_XATTR_SIZE_MAX);
}

struct seen {
	int n;
	char names[8][8];
	struct fm_attr a[8];
};

static int
collect(void *arg, const char *name, const struct fm_attr *a)
{
	struct seen *s = arg;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->a[s->n++] = *a;
	return 0;
}

/* readdir lists sorted names with lstat attributes; needs r. */
static void
test_readdir_sorted_with_attributes(void **state)
{
	struct fm *m = *state;
	struct seen s = {0};
	OK(fm_mkdir(m, &alice, "/d", 0755));
	mkfile(m, &alice, "/d/b", 0644, 5);
	OK(fm_mkdir(m, &alice, "/d/a", 0700));
	OK(fm_symlink(m, &alice, "b", "/d/C"));
	OK(fm_symlink(m, &alice, "d", "/ld"));
	assert_int_equal(fm_readdir(m, &bob, "/ld", collect, &s), 3);
	assert_string_equal(s.names[0], "C");
	assert_string_equal(s.names[1], "a");
	assert_string_equal(s.names[2], "b");
	assert_int_equal(s.a[0].mode, S_IFLNK | 0777);
	assert_int_equal(s.a[0].size, 1);
	assert_int_equal(s.a[1].nlink, 2);
	assert_int_equal(s.a[2].size, 5);
	ERR(fm_readdir(m, &bob, "/d/b", collect, &s), ENOTDIR);
	ERR(fm_readdir(m, &bob, "/d/a", collect, &s), EACCES);
	assert_int_equal(fm_readdir(m, &alice, "/d/a", collect, &s), 0);
}

static int
walk_cb(void *arg, const char *path, const struct fm_attr *a,
	const uint8_t *data)
{
	struct seen *s = arg;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", path);
	s->a[s->n++] = *a;
	assert_true(a->size == 0 || data[0] == 'x');
	return 0;
}

/* fm_walk_files visits each regular file once, by its first path. */
static void
test_walk_files_visits_each_file_once(void **state)
{
	struct fm *m = *state;
	struct seen s = {0};
	OK(fm_mkdir(m, &root, "/a", 0755));
	mkfile(m, &root, "/a/f", 0644, 3);
	OK(fm_link(m, &root, "/a/f", "/b"));
	mkfile(m, &root, "/c", 0644, 0);
	OK(fm_symlink(m, &root, "c", "/l"));
	OK(fm_walk_files(m, walk_cb, &s));
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "/a/f");
	assert_string_equal(s.names[1], "/c");
	assert_int_equal(s.a[0].nlink, 2);
}

/* After many operations fm_check still holds (teardown checks too). */
static void
test_check_holds_after_mixed_operations(void **state)
{
	struct fm *m = *state;
	OK(fm_mkdir(m, &root, "/a", 0777));
	OK(fm_mkdir(m, &root, "/a/b", 0777));
	mkfile(m, &root, "/a/b/f", 0644, 9);
	OK(fm_link(m, &root, "/a/b/f", "/g"));
	OK(fm_rename(m, &root, "/a/b", "/c", 0));
	OK(fm_rename(m, &root, "/g", "/a", 2));
	OK(fm_check(m));
	OK(fm_unlink(m, &root, "/a"));
	OK(fm_rmdir(m, &root, "/g"));
	OK(fm_check(m));
	assert_int_equal(st(m, "/c/f", 1).nlink, 1);
}

/* fm_check catches every kind of corruption, naming where it was found. */
static void
test_check_catches_deliberate_corruption(void **state)
{
	(void)state;
	for (int what = 0; what <= 6; what++) {
		struct fm *m = fm_new(0755, 0, 0);
		OK(fm_mkdir(m, &root, "/d", 0755));
		OK(fm_mkdir(m, &root, "/d/e", 0755));
		mkfile(m, &root, "/f", 0644, 0);
		OK(fm_check(m));
		fm__corrupt_for_test(m, what);
		assert_int_equal(fm_check(m), FM_EMODEL);
		assert_non_null(strstr(fm_error(m), "invariant failed"));
		assert_non_null(strstr(fm_error(m), "fsmodel.c:"));
		fm_free(&m);
		assert_null(m);
	}
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_new_model_has_only_root),
	    T(test_mkdir_creates_directory_and_counts_links),
	    T(test_mkdir_errors),
	    T(test_create_needs_write_and_search_on_parent),
	    T(test_permission_class_is_picked_once),
	    T(test_setgid_directory_passes_group_down),
	    T(test_rmdir_and_its_errors),
	    T(test_unlink_and_link_keep_nlink),
	    T(test_unlink_errors),
	    T(test_sticky_directory_limits_removal),
	    T(test_rename_file_over_file_and_same_inode),
	    T(test_rename_directory_rules),
	    T(test_rename_noreplace_and_exchange),
	    T(test_rename_directory_across_parents_needs_write_on_it),
	    T(test_link_errors),
	    T(test_symlink_and_readlink),
	    T(test_symlink_loops_and_the_40_link_limit),
	    T(test_path_errors),
	    T(test_chmod_rules),
	    T(test_chown_rules_and_setid_clearing),
	    T(test_truncate_rules),
	    T(test_open_rules),
	    T(test_open_through_dangling_symlink),
	    T(test_open_creat_on_foreign_symlink_in_sticky_dir),
	    T(test_pwrite_holes_and_pread_eof),
	    T(test_xattr_set_get_list_remove),
	    T(test_xattr_namespaces_and_limits),
	    T(test_readdir_sorted_with_attributes),
	    T(test_walk_files_visits_each_file_once),
	    T(test_check_holds_after_mixed_operations),
	    T(test_check_catches_deliberate_corruption),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
