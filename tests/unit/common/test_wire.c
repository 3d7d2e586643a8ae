/* test_wire.c - header and message codec: round trips and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/wire.h"

static union wire_body *body;

static int
setup(void **state)
{
	body = calloc(1, sizeof(*body));
	return body == NULL;
}

static int
zero_body(void **state)
{
	memset(body, 0, sizeof(*body));
	return 0;
}

static int
teardown(void **state)
{
	free(body);
	return 0;
}

static struct wire_header
hdr(uint16_t type)
{
	struct wire_header h = {0};
	h.type = type;
	h.request_id = 0x1122334455667788ull;
	h.client_id = 7;
	h.sequence = 99;
	return h;
}

/* The header is 40 bytes, little-endian, starting with "CFS1". */
static void
test_wire_header_layout_is_fixed(void **state)
{
	struct wire_header h = hdr(WIRE_T_keepalive);
	uint8_t *buf;
	size_t len;
	char errmsg[CFS_ERRMSG_SIZE];

	h.status = CFS_NOTLEADER;
	h.flags = WIRE_F_REPLY;
	assert_int_equal(wire_encode(&h, &body->keepalive, &buf, &len, errmsg),
			 0);
	assert_int_equal(len, WIRE_HEADER_SIZE);
	assert_memory_equal(buf, "CFS1", 4);
	assert_int_equal(buf[4], WIRE_VERSION);
	assert_int_equal(buf[6], 12); /* type, low byte */
	assert_int_equal(buf[8], WIRE_F_REPLY);
	assert_int_equal(buf[12], CFS_NOTLEADER);
	assert_int_equal(buf[16], 0x88); /* request id, little-endian */
	assert_int_equal(buf[23], 0x11);
	free(buf);
}

/* A lookup survives encode and decode with every field intact. */
static void
test_wire_lookup_round_trips(void **state)
{
	struct wire_header h = hdr(WIRE_T_lookup), h2;
	struct wire_lookup *m = &body->lookup;
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *buf;
	size_t len;

	m->cred.uid = 1000;
	m->cred.gid = 100;
	m->cred.groups_count = 2;
	m->cred.groups[0] = 10;
	m->cred.groups[1] = 20;
	m->parent = 1;
	strcpy(m->name, "hello.txt");
	assert_int_equal(wire_encode(&h, m, &buf, &len, errmsg), 0);
	memset(body, 0, sizeof(*body));
	assert_int_equal(wire_decode(buf, len, &h2, body, errmsg), 0);
	assert_int_equal(h2.type, WIRE_T_lookup);
	assert_int_equal(h2.request_id, h.request_id);
	assert_int_equal(h2.client_id, 7);
	assert_int_equal(h2.sequence, 99);
	assert_int_equal(m->cred.uid, 1000);
	assert_int_equal(m->cred.groups_count, 2);
	assert_int_equal(m->cred.groups[1], 20);
	assert_int_equal(m->parent, 1);
	assert_string_equal(m->name, "hello.txt");
	free(buf);
}

/* A directory listing with records inside records round-trips. */
static void
test_wire_dirents_round_trip(void **state)
{
	struct wire_header h = hdr(WIRE_T_dirents), h2;
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *buf;
	size_t len;

	body->dirents.entries_count = WIRE_MAX_dirent;
	for (int i = 0; i < WIRE_MAX_dirent; i++) {
		body->dirents.entries[i].cookie = (uint64_t)i + 1;
		snprintf(body->dirents.entries[i].name, 32, "f%d", i);
		body->dirents.entries[i].attr.ino = 1000 + (uint64_t)i;
		body->dirents.entries[i].attr.mtime_ns = -5;
	}
	body->dirents.eof = 1;
	assert_int_equal(wire_encode(&h, body, &buf, &len, errmsg), 0);
	memset(body, 0, sizeof(*body));
	assert_int_equal(wire_decode(buf, len, &h2, body, errmsg), 0);
	assert_int_equal(body->dirents.entries_count, WIRE_MAX_dirent);
	assert_string_equal(body->dirents.entries[77].name, "f77");
	assert_int_equal(body->dirents.entries[77].attr.ino, 1077);
	assert_int_equal(body->dirents.entries[5].attr.mtime_ns, -5);
	assert_int_equal(body->dirents.eof, 1);
	free(buf);
}

/* Every proper prefix of a valid message is rejected, never over-read. */
static void
test_wire_every_truncation_is_malformed(void **state)
{
	struct wire_header h = hdr(WIRE_T_symlink), h2;
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *buf;
	size_t len;

	body->symlink.parent = 5;
	strcpy(body->symlink.name, "link");
	strcpy(body->symlink.target, "../some/where");
	assert_int_equal(wire_encode(&h, body, &buf, &len, errmsg), 0);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, buf, cut);
		int rv = wire_decode(copy, cut, &h2, body, errmsg);
		assert_int_equal(rv, CFS_MALFORMED);
		free(copy);
	}
	free(buf);
}

/* A u8opt field is what lets a message grow without breaking older
 * senders: frag_locate from a client that predates for_write (the message
 * ends before it) decodes with for_write 0; one byte shorter still is
 * malformed. */
static void
test_wire_optional_trailing_field(void **state)
{
	struct wire_header h = hdr(WIRE_T_frag_locate), h2;
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *buf;
	size_t len;

	body->frag_locate.ino = 7;
	body->frag_locate.count = 3;
	body->frag_locate.for_write = 1;
	body->frag_locate.lease_epoch = 99;
	assert_int_equal(wire_encode(&h, body, &buf, &len, errmsg), 0);
	memset(body, 0xff, sizeof(*body));
	assert_int_equal(wire_decode(buf, len, &h2, body, errmsg), 0);
	assert_int_equal(body->frag_locate.for_write, 1);
	assert_int_equal(body->frag_locate.lease_epoch, 99);
	assert_int_equal(body->frag_locate.count, 3);
	memset(body, 0xff, sizeof(*body));
	assert_int_equal(wire_decode(buf, len - 8, &h2, body, errmsg), 0);
	assert_int_equal(body->frag_locate.for_write, 1);
	assert_int_equal(body->frag_locate.lease_epoch, 0);
	memset(body, 0xff, sizeof(*body));
	assert_int_equal(wire_decode(buf, len - 9, &h2, body, errmsg), 0);
	assert_int_equal(body->frag_locate.for_write, 0);
	assert_int_equal(body->frag_locate.ino, 7);
	assert_int_equal(wire_decode(buf, len - 1, &h2, body, errmsg),
			 CFS_MALFORMED);
	assert_int_equal(wire_decode(buf, len - 10, &h2, body, errmsg),
			 CFS_MALFORMED);
	free(buf);
}

/* u64opt fields likewise: frag_commit from a sender that predates
 * lease_epoch decodes with 0 in all six, one that predates base_version,
 * base_length, reopen and base_held with lease_epoch only, one that
 * predates base_named with base_named 0, one that predates in_place (u8opt,
 * last) with in_place 0; part of a field is
 * malformed. */
static void
test_wire_optional_u64_field(void **state)
{
	struct wire_header h = hdr(WIRE_T_frag_commit), h2;
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *buf;
	size_t len;

	(void)state;
	memset(body, 0, sizeof(*body));
	body->frag_commit.ino = 7;
	body->frag_commit.size = 4096;
	body->frag_commit.lease_epoch = 0x1122334455667788ull;
	body->frag_commit.base_version = 41;
	body->frag_commit.base_length = 4095;
	body->frag_commit.reopen = 1;
	body->frag_commit.base_held = 1;
	body->frag_commit.base_named = 1;
	body->frag_commit.in_place = CFS_INPLACE_SEAL;
	assert_int_equal(wire_optional_tail(WIRE_T_frag_commit), 42);
	assert_int_equal(wire_encode(&h, body, &buf, &len, errmsg), 0);
	memset(body, 0xff, sizeof(*body));
	assert_int_equal(wire_decode(buf, len, &h2, body, errmsg), 0);
	assert_int_equal(body->frag_commit.in_place, CFS_INPLACE_SEAL);
	memset(body, 0xff, sizeof(*body));
	assert_int_equal(wire_decode(buf, len - 1, &h2, body, errmsg), 0);
	assert_int_equal(body->frag_commit.base_named, 1);
	assert_int_equal(body->frag_commit.in_place, 0);
	/* and what follows, as before in_place came: */
	len -= 1;
	assert_true(body->frag_commit.lease_epoch == 0x1122334455667788ull);
	assert_int_equal(body->frag_commit.base_version, 41);
	assert_int_equal(body->frag_commit.base_length, 4095);
	assert_int_equal(body->frag_commit.reopen, 1);
	assert_int_equal(body->frag_commit.base_held, 1);
	assert_int_equal(body->frag_commit.base_named, 1);
	memset(body, 0xff, sizeof(*body));
	assert_int_equal(wire_decode(buf, len - 1, &h2, body, errmsg), 0);
	assert_int_equal(body->frag_commit.base_held, 1);
	assert_int_equal(body->frag_commit.base_named, 0);
	memset(body, 0xff, sizeof(*body));
	assert_int_equal(wire_decode(buf, len - 33, &h2, body, errmsg), 0);
	assert_true(body->frag_commit.lease_epoch == 0x1122334455667788ull);
	assert_int_equal(body->frag_commit.base_version, 0);
	assert_int_equal(body->frag_commit.base_length, 0);
	assert_int_equal(body->frag_commit.reopen, 0);
	assert_int_equal(body->frag_commit.base_held, 0);
	assert_int_equal(body->frag_commit.base_named, 0);
	memset(body, 0xff, sizeof(*body));
	assert_int_equal(wire_decode(buf, len - 41, &h2, body, errmsg), 0);
	assert_true(body->frag_commit.lease_epoch == 0);
	assert_int_equal(body->frag_commit.reopen, 0);
	assert_int_equal(body->frag_commit.size, 4096);
	for (size_t cut = 2; cut < 41; cut++)
		if ((cut - 1) % 8 != 0)
			assert_int_equal(wire_decode(buf, len - cut, &h2, body,
						     errmsg),
					 CFS_MALFORMED);
	assert_int_equal(wire_decode(buf, len - 42, &h2, body, errmsg),
			 CFS_MALFORMED);
	free(buf);
}

static int
decode_patched(uint16_t type, const void *src, size_t off, const void *patch,
	       size_t plen, char *errmsg)
{
	struct wire_header h = hdr(type), h2;
	uint8_t *buf;
	size_t len;
	int rv;

	assert_int_equal(wire_encode(&h, src, &buf, &len, errmsg), 0);
	assert_true(off + plen <= len);
	memcpy(buf + off, patch, plen);
	rv = wire_decode(buf, len, &h2, body, errmsg);
	free(buf);
	return rv;
}

/* Bad magic, version, flags and type are each refused with a reason. */
static void
test_wire_header_rejects_bad_fields(void **state)
{
	char errmsg[CFS_ERRMSG_SIZE];
	struct wire_keepalive k = {0};

	assert_int_equal(decode_patched(WIRE_T_keepalive, &k, 0, "XFS1", 4,
					errmsg),
			 CFS_MALFORMED);
	assert_non_null(strstr(errmsg, "magic"));
	assert_int_equal(decode_patched(WIRE_T_keepalive, &k, 4, "\x09\x00",
					2, errmsg),
			 CFS_BADVERSION);
	assert_non_null(strstr(errmsg, "version 9"));
	assert_int_equal(decode_patched(WIRE_T_keepalive, &k, 8,
					"\x00\x00\x00\x80", 4, errmsg),
			 CFS_MALFORMED);
	assert_non_null(strstr(errmsg, "flags"));
	assert_int_equal(decode_patched(WIRE_T_keepalive, &k, 6, "\xff\xfe",
					2, errmsg),
			 CFS_BADTYPE);
	assert_non_null(strstr(errmsg, "65279"));
}

/* Strings longer than their limit, or holding NUL, are refused. */
static void
test_wire_string_limits_are_enforced(void **state)
{
	char errmsg[CFS_ERRMSG_SIZE];
	struct wire_unlink u = {0};
	size_t name_off = WIRE_HEADER_SIZE + 4 + 4 + 4 + 8;

	strcpy(u.name, "abc");
	/* length 256 > NAME_MAX: claims more than it has, limit wins first */
	assert_int_equal(decode_patched(WIRE_T_unlink, &u, name_off,
					"\x00\x01", 2, errmsg),
			 CFS_MALFORMED);
	assert_non_null(strstr(errmsg, "unlink.name"));
	assert_non_null(strstr(errmsg, "exceeds 255"));
	assert_int_equal(decode_patched(WIRE_T_unlink, &u, name_off + 3, "\0",
					1, errmsg),
			 CFS_MALFORMED);
	assert_non_null(strstr(errmsg, "NUL"));
}

/* An array count beyond its limit, or beyond the bytes present, fails
 * before anything is read. */
static void
test_wire_array_counts_are_bounded(void **state)
{
	char errmsg[CFS_ERRMSG_SIZE];
	struct wire_getattr g = {0};
	size_t groups_off = WIRE_HEADER_SIZE + 8;

	assert_int_equal(decode_patched(WIRE_T_getattr, &g, groups_off,
					"\x21\x00\x00\x00", 4, errmsg),
			 CFS_MALFORMED);
	assert_non_null(strstr(errmsg, "exceed the limit of 32"));
	assert_int_equal(decode_patched(WIRE_T_getattr, &g, groups_off,
					"\x20\x00\x00\x00", 4, errmsg),
			 CFS_MALFORMED);
	assert_non_null(strstr(errmsg, "cannot fit"));
}

/* Trailing bytes after the known fields are ignored (appended fields). */
static void
test_wire_trailing_bytes_are_ignored(void **state)
{
	struct wire_header h = hdr(WIRE_T_getattr), h2;
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t buf[256];
	size_t len;

	body->getattr.ino = 42;
	assert_int_equal(wire_encode_into(&h, body, buf, sizeof(buf), &len,
					  errmsg),
			 0);
	memset(buf + len, 0xAB, 16);
	assert_int_equal(wire_decode(buf, len + 16, &h2, body, errmsg), 0);
	assert_int_equal(body->getattr.ino, 42);
}

/* Oversized frames are refused before decoding; small buffers too. */
static void
test_wire_oversize_is_refused(void **state)
{
	struct wire_header h = hdr(WIRE_T_getattr), h2;
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t small[8];
	size_t len;
	size_t big = WIRE_HEADER_SIZE + WIRE_MAX_BODY + 1;
	uint8_t *buf = calloc(1, big);

	assert_int_equal(wire_decode(buf, big, &h2, body, errmsg), CFS_TOOBIG);
	free(buf);
	assert_int_equal(wire_encode_into(&h, body, small, sizeof(small), &len,
					  errmsg),
			 CFS_TOOBIG);
	h.type = 9999;
	assert_int_equal(wire_encode(&h, body, &buf, &len, errmsg),
			 CFS_BADTYPE);
	assert_null(wire_type_name(9999));
	assert_string_equal(wire_type_name(WIRE_T_rename), "rename");
}

/* Random bytes after a valid header never crash the decoder. */
static void
test_wire_random_bodies_never_crash(void **state)
{
	char errmsg[CFS_ERRMSG_SIZE];
	static const uint16_t types[] = {WIRE_T_lookup, WIRE_T_dirents,
					 WIRE_T_setattr, WIRE_T_symlink,
					 WIRE_T_error};
	uint8_t buf[4096];
	struct wire_header h2;
	unsigned seed = 12345;

	for (int iter = 0; iter < 20000; iter++) {
		struct wire_header h = hdr(types[iter % 5]);
		size_t len = WIRE_HEADER_SIZE + (size_t)(rand_r(&seed) % 600);
		wire_header_encode(&h, buf);
		for (size_t i = WIRE_HEADER_SIZE; i < len; i++)
			buf[i] = (uint8_t)(rand_r(&seed) % 8 == 0
					       ? rand_r(&seed)
					       : rand_r(&seed) % 4);
		int rv = wire_decode(buf, len, &h2, body, errmsg);
		assert_true(rv == 0 || rv == CFS_MALFORMED);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_wire_header_layout_is_fixed, zero_body),
	    cmocka_unit_test_setup(test_wire_lookup_round_trips, zero_body),
	    cmocka_unit_test_setup(test_wire_dirents_round_trip, zero_body),
	    cmocka_unit_test_setup(test_wire_every_truncation_is_malformed, zero_body),
	    cmocka_unit_test_setup(test_wire_optional_trailing_field, zero_body),
	    cmocka_unit_test_setup(test_wire_optional_u64_field, zero_body),
	    cmocka_unit_test_setup(test_wire_header_rejects_bad_fields, zero_body),
	    cmocka_unit_test_setup(test_wire_string_limits_are_enforced, zero_body),
	    cmocka_unit_test_setup(test_wire_array_counts_are_bounded, zero_body),
	    cmocka_unit_test_setup(test_wire_trailing_bytes_are_ignored, zero_body),
	    cmocka_unit_test_setup(test_wire_oversize_is_refused, zero_body),
	    cmocka_unit_test_setup(test_wire_random_bodies_never_crash, zero_body),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
