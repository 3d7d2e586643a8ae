/* store_fx.h - the fixture and helpers the fragment store's unit tests
 * share (test_store.c, test_store_delta.c, test_store_direct.c,
 * test_journal.c): a store in a fresh temporary directory per test, removed
 * after it. */
#ifndef CFS_TESTS_STORE_FX_H
#define CFS_TESTS_STORE_FX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "data/store.h"

#define MIB (1024 * 1024)

struct fx {
	char dir[64];
	struct store *s;
	char errmsg[CFS_ERRMSG_SIZE];
};

/* cmocka setup and teardown: *state is a struct fx. */
int setup(void **state);
int teardown(void **state);

struct store_key key(uint64_t ino, uint32_t idx, uint64_t version);

/* @n bytes from xorshift64 seeded with @seed (malloc'd). */
unsigned char *random_bytes(size_t n, uint64_t seed);

/* Write @data as replica @k in uneven pieces and commit it durably. */
void put(struct fx *f, struct store_key k, const unsigned char *data,
	 size_t len);

/* Read all of replica @k and compare with @data: into a page-aligned
 * buffer (whole blocks are read in runs, past the page cache unless they
 * are in it) and into one that is not (block by block). */
void check_content(struct fx *f, struct store_key k,
		   const unsigned char *data, size_t len);

/* The path of replica @k (PATH_MAX bytes at @buf). */
void replica_path(struct fx *f, struct store_key k, char *buf);

/* Flip one bit of the byte at @off of file @path. */
void flip_byte(const char *path, off_t off);

/* Whether @path exists (stat succeeds). */
int exists(const char *path);

#endif /* CFS_TESTS_STORE_FX_H */
