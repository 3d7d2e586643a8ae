/* fuzz_config.c - fuzz target: config parsing is total and keeps every value in bounds. */
#include "tests/fuzz/fuzz.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"

/*
 * A local table with every key type, with both narrow and full-range bounds
 * (the edges are where overflow hides).  Properties, for every input:
 *  1. cfs_conf_parse returns 0, CFS_CONFIG or CFS_ENOMEM, and an error has
 *     a message;
 *  2. it writes nothing outside the target struct (ASan: the struct is
 *     allocated with its exact size) and keeps every string NUL-terminated;
 *  3. after success every value is within its key's bounds (BOOL is 0 or 1);
 *  4. a failed parse may leave earlier keys set, but still within bounds;
 *  5. every value formats with cfs_conf_format, and setting a key from its
 *     formatted value and formatting again gives the same text.
 */

struct fuzz_conf {
	int enabled;
	int flag;
	int64_t port;
	int64_t offset;
	uint64_t buffer;
	uint64_t big;
	int64_t timeout;
	int64_t lease;
	char name[16];
	char path[256];
};

#define K(field, type, min, max, def, doc)                                   \
	CFS_CONF_KEY(struct fuzz_conf, field, type, min, max, def, doc)
static const struct cfs_conf_key keys[] = {
	K(enabled, CFS_CONF_BOOL, 0, 1, "no", "a bool"),
	K(flag, CFS_CONF_BOOL, 0, 1, "yes", "another bool"),
	K(port, CFS_CONF_INT, 1, 65535, "7100", "a narrow int"),
	K(offset, CFS_CONF_INT, INT64_MIN, INT64_MAX, "0", "a full-range int"),
	K(buffer, CFS_CONF_SIZE, 4096, (int64_t)1 << 40, "64M", "a size"),
	K(big, CFS_CONF_SIZE, 0, INT64_MAX, "0", "a full-range size"),
	K(timeout, CFS_CONF_DURATION, 1, 86400000, "5s", "a duration"),
	K(lease, CFS_CONF_DURATION, 0, INT64_MAX, "0", "a full-range duration"),
	K(name, CFS_CONF_STRING, 0, 0, "meta", "a short string"),
	K(path, CFS_CONF_STRING, 0, 0, "/var/lib/cfs", "a long string"),
	CFS_CONF_END,
};
#undef K

static void
violated(const char *what, const char *key, const char *detail)
{
	fprintf(stderr, "fuzz_config: property violated: %s (key %s: %s)\n",
		what, key != NULL ? key : "-", detail != NULL ? detail : "");
	abort();
}

static void
check_bounds(const struct fuzz_conf *c)
{
	char v[64];

	for (const struct cfs_conf_key *k = keys; k->name != NULL; k++) {
		const char *p = (const char *)c + k->offset;
		int64_t i;
		uint64_t u;
		int b;

		switch (k->type) {
		case CFS_CONF_BOOL:
			memcpy(&b, p, sizeof(b));
			if (b != 0 && b != 1)
				violated("bool is neither 0 nor 1", k->name,
					 NULL);
			break;
		case CFS_CONF_INT:
		case CFS_CONF_DURATION:
			memcpy(&i, p, sizeof(i));
			snprintf(v, sizeof(v), "%" PRId64, i);
			if (i < k->min || i > k->max)
				violated("value out of bounds", k->name, v);
			break;
		case CFS_CONF_SIZE:
			memcpy(&u, p, sizeof(u));
			snprintf(v, sizeof(v), "%" PRIu64, u);
			if (u < (uint64_t)k->min || u > (uint64_t)k->max)
				violated("size out of bounds", k->name, v);
			break;
		case CFS_CONF_STRING:
			if (memchr(p, '\0', k->size) == NULL)
				violated("string not terminated", k->name,
					 NULL);
			break;
		}
	}
}

static void
check_format_round_trip(const struct fuzz_conf *c)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	char once[512], twice[512];
	struct fuzz_conf *again = calloc(1, sizeof(*again));

	if (again == NULL)
		abort();
	if (cfs_conf_defaults(keys, again, errmsg) != 0)
		violated("defaults failed", NULL, errmsg);
	for (const struct cfs_conf_key *k = keys; k->name != NULL; k++) {
		if (cfs_conf_format(k, c, once, sizeof(once)) != 0)
			violated("value does not format", k->name, NULL);
		if (cfs_conf_set(keys, again, k->name, once, "fuzz", errmsg) !=
		    0)
			violated("formatted value does not parse", k->name,
				 errmsg);
		if (cfs_conf_format(k, again, twice, sizeof(twice)) != 0 ||
		    strcmp(once, twice) != 0)
			violated("format/set round trip changed the value",
				 k->name, once);
	}
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct fuzz_conf *c = malloc(sizeof(*c));
	/* A copy with no terminator, so reading past @size is caught. */
	char *text = malloc(size > 0 ? size : 1);
	int rv;

	if (c == NULL || text == NULL)
		abort();
	if (size > 0)
		memcpy(text, data, size);
	if (cfs_conf_defaults(keys, c, errmsg) != 0)
		violated("defaults failed", NULL, errmsg);
	check_bounds(c);
	rv = cfs_conf_parse(keys, c, text, size, "fuzz.conf", errmsg);
	if (rv != 0 && rv != CFS_CONFIG && rv != CFS_ENOMEM)
		violated("undocumented error code", NULL, errmsg);
	if (rv != 0 && errmsg[0] == '\0')
		violated("error without a message", NULL, NULL);
	check_bounds(c);
	check_format_round_trip(c);
	free(text);
	free(c);
	return 0;
}
