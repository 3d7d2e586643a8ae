/* gen_seeds.c - writes the seed corpus of fuzz_wire: every message type, valid and broken. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/wire.h"

/*
 * Usage: gen_seeds OUTDIR (`make fuzz-seeds` writes tests/fuzz/corpus/wire).
 * Per catalog message, one file with every field populated (strings, arrays
 * and records non-empty), one with every field zero or empty and one with
 * every string, array and record list at its limit; then
 * hand-made broken frames that each exercise one decoder rejection.  The
 * fields are filled by walking the same field lists (common/proto.h) that
 * generate the codec, so a new message gets seeds without editing this file.
 */

enum fill_mode {
	FILL_SOME,  /* distinct values, short strings, small arrays */
	FILL_EMPTY, /* every field zero or empty */
	FILL_FULL,  /* every string, array and record list at its limit */
};

/* Full blobs are capped: dump text may be ~1 MiB, the corpus stays small. */
#define FULL_BLOB 4096

struct filler {
	uint64_t next; /* distinct values make field mix-ups visible */
	enum fill_mode mode;
};

static const uint8_t full_blob[FULL_BLOB];

static uint64_t
value(struct filler *s)
{
	if (s->mode == FILL_FULL)
		return UINT64_MAX;
	return s->mode == FILL_EMPTY ? 0 : ++s->next;
}

static void
fill_str(char *dst, size_t cap, size_t max, const char *name,
	 struct filler *s)
{
	if (s->mode == FILL_FULL) {
		memset(dst, 'x', max);
		dst[max] = '\0';
	} else {
		snprintf(dst, cap, "%s", s->mode == FILL_EMPTY ? "" : name);
	}
}

static uint32_t
count(uint32_t some, uint32_t max, struct filler *s)
{
	if (s->mode == FILL_FULL)
		return max;
	if (s->mode == FILL_EMPTY)
		return 0;
	return some < max ? some : max;
}

#define FILL_u8(n, a) m->n = (uint8_t)value(s);
#define FILL_u8opt(n, a) m->n = (uint8_t)value(s);
#define FILL_u64opt(n, a) m->n = value(s);
#define FILL_u16(n, a) m->n = (uint16_t)value(s);
#define FILL_u32(n, a) m->n = (uint32_t)value(s);
#define FILL_u64(n, a) m->n = value(s) | 0x0100000000000000ull;
#define FILL_i64(n, a) m->n = -(int64_t)(value(s) >> 1);
#define FILL_str(n, a) fill_str(m->n, sizeof(m->n), (a), #n, s);
#define FILL_blob(n, a)                                                      \
	m->n = s->mode == FILL_FULL ? full_blob                              \
				    : (const uint8_t *)"blob:" #n;           \
	m->n##_len = s->mode == FILL_FULL ? ((a) < FULL_BLOB ? (a) : FULL_BLOB) \
		     : s->mode == FILL_EMPTY ? 0                             \
					     : (uint32_t)strlen("blob:" #n);
#define FILL_u64v(n, a)                                                      \
	m->n##_count = count(3, (a), s);                                     \
	for (uint32_t i_ = 0; i_ < m->n##_count; i_++)                       \
		m->n[i_] = value(s);
#define FILL_rec(n, a)                                                       \
	m->n##_count = count(2, WIRE_MAX_##a, s);                            \
	for (uint32_t i_ = 0; i_ < m->n##_count; i_++)                       \
		fill_##a(&m->n[i_], s);
#define FILL_sub(n, a) fill_##a(&m->n, s);
#define FILL(kind, n, a) FILL_##kind(n, a)

#define FILLER(name, FIELDS)                                                 \
	static void fill_##name(struct wire_##name *m, struct filler *s)     \
	{                                                                    \
		(void)m;                                                     \
		(void)s;                                                     \
		FIELDS(FILL)                                                 \
	}

WIRE_RECORDS(FILLER)
#define FILL_MSG(num, name, FIELDS) FILLER(name, FIELDS)
WIRE_MESSAGES(FILL_MSG)
#undef FILL_MSG

static union wire_body body;

static int
write_file(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static struct wire_header
header(uint16_t type, int reply)
{
	struct wire_header h = {0};

	h.type = type;
	h.flags = reply ? WIRE_F_REPLY : 0;
	h.request_id = 0x0807060504030201ull;
	h.client_id = 42;
	h.sequence = 7;
	return h;
}

static int
write_msg(const char *dir, const char *name, const struct wire_header *h)
{
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *buf;
	size_t len;
	int rv = wire_encode(h, &body, &buf, &len, errmsg);

	if (rv != 0) {
		fprintf(stderr, "gen_seeds: %s: %s\n", name, errmsg);
		return -1;
	}
	rv = write_file(dir, name, buf, len);
	free(buf);
	return rv;
}

/* Replies are the types whose name says so, plus the generic ones. */
static int
is_reply(const char *name)
{
	static const char *const replies[] = {
		"error", "ok", "session_opened", "entry", "linktarget",
		"dirents", NULL};

	if (strstr(name, "_reply") != NULL)
		return 1;
	for (int i = 0; replies[i] != NULL; i++)
		if (strcmp(name, replies[i]) == 0)
			return 1;
	return 0;
}

static int
write_catalog(const char *dir)
{
	char name[128];
	struct filler s = {0, FILL_SOME};
	struct wire_header h;

#define WRITE_MSG(num, mname, FIELDS)                                        \
	h = header(num, is_reply(#mname));                                   \
	s.mode = FILL_SOME;                                                  \
	fill_##mname(&body.mname, &s);                                       \
	snprintf(name, sizeof(name), "%03d-%s", num, #mname);                \
	if (write_msg(dir, name, &h) != 0)                                   \
		return -1;                                                   \
	s.mode = FILL_EMPTY;                                                 \
	fill_##mname(&body.mname, &s);                                       \
	snprintf(name, sizeof(name), "%03d-%s-empty", num, #mname);          \
	if (write_msg(dir, name, &h) != 0)                                   \
		return -1;                                                   \
	s.mode = FILL_FULL;                                                  \
	fill_##mname(&body.mname, &s);                                       \
	snprintf(name, sizeof(name), "%03d-%s-full", num, #mname);           \
	if (write_msg(dir, name, &h) != 0)                                   \
		return -1;
	WIRE_MESSAGES(WRITE_MSG)
#undef WRITE_MSG
	return 0;
}

/* A raw frame: a header as given (magic/version not forced) + body bytes. */
static int
write_raw(const char *dir, const char *name, const struct wire_header *h,
	  const uint8_t *bodybytes, size_t bodylen)
{
	uint8_t buf[WIRE_HEADER_SIZE + 512];
	struct wire_writer w = {buf + WIRE_HEADER_SIZE};

	wire_header_encode(h, buf);
	wire_put_bytes(&w, bodybytes, bodylen);
	return write_file(dir, name, buf, WIRE_HEADER_SIZE + bodylen);
}

static int
write_broken(const char *dir)
{
	uint8_t raw[512];
	struct wire_writer w;
	struct wire_header h = header(WIRE_T_keepalive, 0);
	struct filler s = {0, FILL_SOME};
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *buf;
	size_t len;
	int rv = 0;

	h.magic = WIRE_MAGIC;
	h.version = WIRE_VERSION;
	memset(raw, 0, sizeof(raw));
	rv |= write_file(dir, "bad-empty", raw, 0);
	wire_header_encode(&h, raw);
	rv |= write_file(dir, "bad-header-39-bytes", raw, WIRE_HEADER_SIZE - 1);
	h.magic = 0x31534644u;
	rv |= write_raw(dir, "bad-magic", &h, NULL, 0);
	h.magic = WIRE_MAGIC;
	h.version = WIRE_VERSION + 1;
	rv |= write_raw(dir, "bad-version", &h, NULL, 0);
	h.version = WIRE_VERSION;
	h.flags = WIRE_F_KNOWN + 1;
	rv |= write_raw(dir, "bad-flags", &h, NULL, 0);
	h.flags = WIRE_F_BULK;
	rv |= write_raw(dir, "ok-bulk-flag", &h, NULL, 0);
	h.flags = 0;
	h.type = 9999;
	rv |= write_raw(dir, "bad-type", &h, NULL, 0);

	/* lookup: cred{uid, gid, groups[]}, parent, name */
	h.type = WIRE_T_lookup;
	w.p = raw;
	wire_put_u32(&w, 1000);
	wire_put_u32(&w, 1000);
	wire_put_u32(&w, 0);
	wire_put_u64(&w, 1);
	wire_put_u16(&w, CFS_NAME_MAX + 1);
	memset(w.p, 'a', CFS_NAME_MAX + 1);
	rv |= write_raw(dir, "bad-lookup-name-too-long", &h, raw,
			(size_t)(w.p - raw) + CFS_NAME_MAX + 1);
	w.p -= 2;
	wire_put_u16(&w, 3);
	wire_put_bytes(&w, "a\0b", 3);
	rv |= write_raw(dir, "bad-lookup-name-with-nul", &h, raw,
			(size_t)(w.p - raw));
	w.p -= 5;
	wire_put_u16(&w, 200);
	wire_put_bytes(&w, "abc", 3);
	rv |= write_raw(dir, "bad-lookup-name-past-end", &h, raw,
			(size_t)(w.p - raw));
	w.p = raw + 8;
	wire_put_u32(&w, CFS_GROUPS_MAX + 1);
	rv |= write_raw(dir, "bad-lookup-too-many-groups", &h, raw,
			(size_t)(w.p - raw));
	w.p = raw + 8;
	wire_put_u32(&w, 2);
	wire_put_u64(&w, 5);
	rv |= write_raw(dir, "bad-lookup-groups-past-end", &h, raw,
			(size_t)(w.p - raw));

	/* dirents: a count that the remaining bytes cannot hold */
	h.type = WIRE_T_dirents;
	h.flags = WIRE_F_REPLY;
	w.p = raw;
	wire_put_u32(&w, WIRE_MAX_dirent);
	wire_put_u8(&w, 1);
	rv |= write_raw(dir, "bad-dirents-lying-count", &h, raw,
			(size_t)(w.p - raw));
	w.p = raw;
	wire_put_u32(&w, WIRE_MAX_dirent + 1);
	rv |= write_raw(dir, "bad-dirents-too-many", &h, raw,
			(size_t)(w.p - raw));

	/* a valid lookup, then cut short and extended */
	h = header(WIRE_T_lookup, 0);
	fill_lookup(&body.lookup, &s);
	if (wire_encode(&h, &body, &buf, &len, errmsg) != 0) {
		fprintf(stderr, "gen_seeds: lookup: %s\n", errmsg);
		return -1;
	}
	rv |= write_file(dir, "bad-lookup-truncated", buf, len - 1);
	if (len + 5 <= sizeof(raw)) {
		memcpy(raw, buf, len);
		memcpy(raw + len, "\x01\x02\x03\x04\x05", 5);
		rv |= write_file(dir, "ok-lookup-trailing-bytes", raw, len + 5);
	}
	free(buf);

	/* an error reply the way a follower sends it */
	h = header(WIRE_T_error, 1);
	h.status = CFS_NOTLEADER;
	memset(&body, 0, sizeof(body));
	snprintf(body.error.message, sizeof(body.error.message),
		 "not the metadata leader");
	snprintf(body.error.leader, sizeof(body.error.leader),
		 "tcp://10.0.0.2:7100");
	rv |= write_msg(dir, "ok-error-notleader", &h);
	return rv ? -1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds OUTDIR\n");
		return 2;
	}
	if (write_catalog(argv[1]) != 0 || write_broken(argv[1]) != 0)
		return 1;
	return 0;
}
