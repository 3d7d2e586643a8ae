/* difftest.h - what difftest's two files share: the run's state, a step, the model's tree; generating a step (diffgen.c) and running it (difftest.c). */
#ifndef CFS_TESTS_MODEL_DIFFTEST_H
#define CFS_TESTS_MODEL_DIFFTEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "backend.h"
#include "fsmodel.h"

#define MAXW (256 * 1024)  /* largest write or read */
#define NPATH 8192          /* path buffers: junk paths reach ~4.5 KiB */
#define RING 20

/* ---- PRNG: splitmix64 ------------------------------------------------------- */

/* The next number of the sequence in *@s (difftest.c). */
uint64_t sm64(uint64_t *s);

/* ---- operations ------------------------------------------------------------------ */

enum kind {
	OP_STAT, OP_LSTAT, OP_MKDIR, OP_RMDIR, OP_UNLINK, OP_RENAME, OP_LINK,
	OP_SYMLINK, OP_READLINK, OP_CHMOD, OP_CHOWN, OP_TRUNCATE, OP_WRITE,
	OP_READ, OP_READDIR, OP_SETXATTR, OP_GETXATTR, OP_LISTXATTR,
	OP_REMOVEXATTR, OP_N
};

/* Each kind's name, weight among the generated steps, and whether it
 * changes the filesystem (difftest.c). */
struct kind_info {
	const char *name;
	int weight;
	int mutates;
};
extern const struct kind_info kinds[OP_N];

/* One step, fully determined (so a list of them replays without the PRNG). */
struct op {
	int kind, cred;
	char *p1, *p2;     /* path; rename/link: from, to; symlink: target, linkpath */
	int follow;        /* stat */
	uint32_t mode, uid, gid;
	unsigned flags;    /* rename, open, xattr flags */
	int64_t size;      /* truncate */
	uint64_t off;      /* write (BE_APPEND: O_APPEND write(2)), read */
	size_t len;        /* I/O length; readlink/getxattr/listxattr buffer; xattr value */
	uint64_t dseed;    /* data of a write or an xattr value */
	const char *xname; /* xattr name */
};

struct inopair {
	uint64_t m, r;
};

struct node { /* the model's tree, rebuilt each step */
	char *path;
	uint32_t mode;
	uint64_t ino;
	int depth;
};

struct dt {
	/* options */
	uint64_t seed;
	long steps, check_every;
	const char *backend, *cluster, *dir, *root, *logpath, *manifest;
	uint32_t uids[16];
	unsigned nuids;
	uint64_t big;
	int verbose, shrink, tolerate, keep;
	/* state */
	uint64_t rng;
	struct fm *m;
	struct be *b;
	int cfs_sem;         /* cfs.h's deviations from Linux apply */
	int relative_ok;     /* junk() may make a relative path */
	int protected_hardlinks;
	FILE *log, *manifest_f; /* opened before the posix backend chroots */
	struct inopair *map;
	size_t nmap, capmap;
	struct node *tree;
	size_t ntree;
	struct op *ops;
	size_t nops, capops;
	char ring[RING][512];
	long step;
	int quiet;           /* replays while shrinking */
	int keep_going;      /* go on after a mismatch of two errors */
	unsigned avoid;      /* --avoid: AV_* bits */
	const char *avoid_arg;
	int errors_only;     /* the mismatch: two different errors, no change */
	char why[2048];      /* what differed */
	char real_msg[512];  /* the backend's message if the step failed there */
	uint8_t *wbuf;
	/* counts */
	long nok, nerr, nmis, nunavail, nchecks;
};

/* --avoid NAME,...: known CFS differences (difftest-findings.md), so a run
 * can look past them: the generated steps skip those situations. */
enum {
	AV_CREAT_DANGLING = 1,      /* open O_CREAT through a dangling symlink */
	AV_EXCHANGE = 2,            /* RENAME_EXCHANGE */
	AV_SYMLINK_4096 = 4,        /* a symlink target of exactly 4096 bytes */
	AV_RENAME_SLASH = 8,        /* rename to a path ending in "/" */
	AV_RENAME_DIR_OVER_DIR = 16 /* rename a directory over a directory */
};

/* uid 0, gid 0: the driver's own look at the model (difftest.c). */
extern const struct fm_cred root_cred;

/* snprintf for a path, which may be truncated (difftest.c). */
__attribute__((format(printf, 3, 4))) void pathf(char *buf, size_t len, const char *fmt, ...);

/* ---- diffgen.c: the model's tree, where a path leads, generating a step ---------- */

/* Fill the long names and paths the generated steps use; once, before the first step. */
void gen_init(void);
/* Rebuild t->tree from the model (as root), "/" first. */
void tree_build(struct dt *t);
/* 1 if a ".." in @path (borrowed) would climb above "/"; *@at_root: it ends at "/". */
int escapes(struct dt *t, const char *path, int follow, int *at_root);
/* May @o run without leaving the backend's root or removing it, and
 * without a known difference the user asked to avoid? */
int op_safe(struct dt *t, const struct op *o);
/* @dir "/" @name into @buf, which holds NPATH bytes. */
void join(char *buf, const char *dir, const char *name);
/* The next step from t->rng and t->tree; the caller frees its paths with op_free(). */
void gen_op(struct dt *t, struct op *o);
void op_free(struct op *o);

#endif
