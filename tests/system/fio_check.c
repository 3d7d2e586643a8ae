/* fio_check.c - client/fileio against a running cluster: kept locations (FIO_CACHED) and read-ahead never serve replaced bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/fileio.h"
#include "client/metaclient.h"
#include "common/error.h"

#define SIZE (3u << 20) /* three fragments of the test cluster's 1 MiB */

static int failures;
static unsigned char model[SIZE], buf[SIZE];
static char errmsg[CFS_ERRMSG_SIZE];

static void
check(const char *what, int ok)
{
	printf("%s %s\n", ok ? "ok  " : "FAIL", what);
	failures += !ok;
}

static void
fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

/* @f reads [off, off + n) with @flags and gets what the model holds. */
static int
reads_model(struct fio *f, uint64_t ino, uint64_t off, size_t n, int flags)
{
	size_t got = 0;

	if (fio_pread_ex(f, ino, off, buf, n, &got, flags, errmsg) != 0) {
		printf("    read of %zu at %llu: %s\n", n,
		       (unsigned long long)off, errmsg);
		return 0;
	}
	return got == n && memcmp(buf, model + off, n) == 0;
}

/* @f writes @n new bytes at @off, durably; the model follows. */
static int
patch(struct fio *f, uint64_t ino, uint64_t off, size_t n, unsigned seed)
{
	fill(model + off, n, seed);
	if (fio_pwrite(f, ino, off, model + off, n, 1, 0, errmsg) != 0) {
		printf("    write: %s\n", errmsg);
		return 0;
	}
	return 1;
}

/* Sequential reads of @piece bytes over the whole file (read-ahead on). */
static int
sequential(struct fio *f, uint64_t ino, size_t piece)
{
	for (uint64_t off = 0; off < SIZE; off += piece)
		if (!reads_model(f, ino, off, SIZE - off < piece ? SIZE - off
								 : piece,
				 0))
			return 0;
	return 1;
}

static int
open_client(const char *servers, struct mc **mc, struct fio **f)
{
	if (mc_open(mc, servers, NULL, errmsg) != 0 ||
	    fio_open(f, *mc, NULL, errmsg) != 0) {
		fprintf(stderr, "fio_check: %s\n", errmsg);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct mc *mca, *mcb;
	struct fio *a, *b;
	struct wire_attr attr;

	if (argc != 3) {
		fprintf(stderr, "usage: fio_check SERVERS NAME\n");
		return 2;
	}
	if (open_client(argv[1], &mca, &a) || open_client(argv[1], &mcb, &b))
		return 2;
	if (mc_create(mca, 1, argv[2], 0644, &attr, errmsg) != 0) {
		fprintf(stderr, "fio_check: create /%s: %s\n", argv[2], errmsg);
		return 2;
	}
	uint64_t ino = attr.ino;

	check("A writes 3 fragments", patch(a, ino, 0, SIZE, 1));
	check("A reads them with and without kept locations",
	      reads_model(a, ino, 0, SIZE, 0) &&
		  reads_model(a, ino, 0, SIZE, FIO_CACHED) &&
		  reads_model(a, ino, 5000, 4096, FIO_CACHED) &&
		  reads_model(a, ino, (1u << 20) - 100, 200, FIO_CACHED));
	size_t got = 1;
	check("a kept read past the end stops at the size",
	      fio_pread_ex(a, ino, SIZE - 10, buf, 100, &got, FIO_CACHED,
			   errmsg) == 0 &&
		  got == 10);
	check("A's own patch forgets A's kept locations",
	      patch(a, ino, (1u << 20) + 10, 4096, 2) &&
		  reads_model(a, ino, (1u << 20), 8192, FIO_CACHED));
	check("B patches; after fio_forget A's kept read sees it",
	      patch(b, ino, 2u << 20, 100, 3) &&
		  (fio_forget(a, ino), 1) &&
		  reads_model(a, ino, 2u << 20, 4096, FIO_CACHED));
	check("fio_forget(0) forgets every inode",
	      patch(b, ino, 7, 3, 4) && (fio_forget(a, 0), 1) &&
		  reads_model(a, ino, 0, 4096, FIO_CACHED));
	/* a forget of any inode after fio_cache_mark (a lease given up
	 * between the caller's check and its read) keeps that read from
	 * keeping what it fetched: B's whole rewrite of fragment 0 below
	 * would otherwise be read from the replaced version, which the nodes
	 * still hold until garbage collection */
	fio_forget(a, ino);
	fio_cache_mark(a);
	fio_forget(a, ino + 1000);
	check("a forget after fio_cache_mark: that read keeps nothing",
	      reads_model(a, ino, 0, 4096, FIO_CACHED) &&
		  patch(b, ino, 0, 1u << 20, 7) &&
		  reads_model(a, ino, 0, 4096, FIO_CACHED));
	/* read-ahead: a sequential reader, then another writer in the
	 * middle of its way; what A read ahead is of the replaced version
	 * and must not be served */
	check("sequential reads of 64 KiB (read ahead) read the file",
	      sequential(a, ino, 65536));
	int ok = 1;
	for (uint64_t off = 0; off < SIZE; off += 65536) {
		ok &= reads_model(a, ino, off, 65536, 0);
		if (off == 65536 * 7) /* A has asked for the next piece */
			ok &= patch(b, ino, off + 65536 + 100, 50, 5) &&
			      patch(b, ino, off + 2 * 65536, 65536, 6);
	}
	check("a piece read ahead, then replaced by B, is not served", ok);
	check("sequential reads of 1 MiB and of 3 MiB",
	      sequential(a, ino, 1u << 20) && sequential(a, ino, SIZE));
	fio_close(&a);
	fio_close(&b);
	mc_close(&mca);
	mc_close(&mcb);
	return failures ? 1 : 0;
}
