/* wire.h - CFS message framing: header, little-endian codec, message generator. */
#ifndef CFS_COMMON_WIRE_H
#define CFS_COMMON_WIRE_H

/*
 * Byte-level format: docs/wire-format.md.  In short, one CFS message is a
 * ZeroMQ multipart message of one or two frames:
 *
 *   frame 0: 40-byte header | body (the message's fields, in order)
 *   frame 1: bulk data, present iff header.flags has WIRE_F_BULK
 *
 * All integers are little-endian fixed width.  Messages are declared once,
 * in common/proto.h, as field lists; this header turns a field list into a
 * struct, a size function, an encoder and a total, bounds-checked decoder.
 *
 * Decoders are total: any byte string yields a message or an error naming the
 * field, never a crash, an over-read or an allocation (decoded messages are
 * plain structs; `blob` fields borrow from the input buffer).
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WIRE_MAGIC 0x31534643u /* "CFS1" read as little-endian bytes */
#define WIRE_VERSION 1
#define WIRE_HEADER_SIZE 40
/* No frame 0 may exceed this; a peer that sends more is malformed. */
#define WIRE_MAX_BODY (1u << 20)
/* Bulk frames (fragment data) are bounded separately by their users. */

enum wire_flags {
	WIRE_F_REPLY = 1u << 0, /* this is a reply to request_id */
	WIRE_F_BULK = 1u << 1,  /* a second frame with bulk data follows */
	WIRE_F_KNOWN = WIRE_F_REPLY | WIRE_F_BULK,
};

struct wire_header {
	uint32_t magic;      /* WIRE_MAGIC */
	uint16_t version;    /* WIRE_VERSION */
	uint16_t type;       /* enum wire_type */
	uint32_t flags;      /* enum wire_flags; unknown bits are an error */
	int32_t status;      /* replies: a CFS_* code (common/error.h) */
	uint64_t request_id; /* chosen by the sender, echoed in the reply */
	uint64_t client_id;  /* session id granted by the metadata leader */
	uint64_t sequence;   /* per-session sequence for exactly-once */
};

/* Encode @h into exactly WIRE_HEADER_SIZE bytes at @buf. */
void wire_header_encode(const struct wire_header *h, uint8_t *buf);

/* Decode and validate a header (magic, version, known flags).  The type is
 * not checked here: see wire_decode().  Returns 0 or a CFS_* code. */
int wire_header_decode(struct wire_header *h, const uint8_t *buf, size_t len,
		       char *errmsg);

/* ---- primitive codec --------------------------------------------------- */

struct wire_writer {
	uint8_t *p; /* next byte to write; the caller sized the buffer */
};

struct wire_reader {
	const uint8_t *p; /* next unread byte */
	size_t left;      /* bytes remaining */
	char *errmsg;     /* where the first error is described */
	const char *msg;  /* message name, for error context */
};

static inline void
wire_put_u8(struct wire_writer *w, uint8_t v)
{
	*w->p++ = v;
}

static inline void
wire_put_u16(struct wire_writer *w, uint16_t v)
{
	w->p[0] = (uint8_t)v;
	w->p[1] = (uint8_t)(v >> 8);
	w->p += 2;
}

static inline void
wire_put_u32(struct wire_writer *w, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		w->p[i] = (uint8_t)(v >> (8 * i));
	w->p += 4;
}

static inline void
wire_put_u64(struct wire_writer *w, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		w->p[i] = (uint8_t)(v >> (8 * i));
	w->p += 8;
}

static inline void
wire_put_bytes(struct wire_writer *w, const void *src, size_t n)
{
	if (n > 0)
		memcpy(w->p, src, n);
	w->p += n;
}

/* Readers return 0 or CFS_MALFORMED with errmsg naming @field. */
int wire_get_u8(struct wire_reader *r, uint8_t *v, const char *field);
int wire_get_u16(struct wire_reader *r, uint16_t *v, const char *field);
int wire_get_u32(struct wire_reader *r, uint32_t *v, const char *field);
int wire_get_u64(struct wire_reader *r, uint64_t *v, const char *field);
int wire_get_i64(struct wire_reader *r, int64_t *v, const char *field);
/* A string: u16 length, bytes; no NUL inside, at most @max bytes.  Copied
 * into @dst (max + 1 bytes) and NUL-terminated. */
int wire_get_str(struct wire_reader *r, char *dst, size_t max,
		 const char *field);
/* A blob: u32 length, bytes; at most @max.  *@dst borrows from the input. */
int wire_get_blob(struct wire_reader *r, const uint8_t **dst, uint32_t *len,
		  uint32_t max, const char *field);
/* An array count: u32, at most @max, and at least @min_each bytes must
 * remain per element (so a lying count fails before any work is done). */
int wire_get_count(struct wire_reader *r, uint32_t *n, uint32_t max,
		   size_t min_each, const char *field);

/* ---- the message generator --------------------------------------------
 *
 * A message or record is a field list F(kind, name, arg):
 *   u8 u16 u32 u64 i64   integers (arg unused, write 0)
 *   u8opt, u64opt        a u8 or u64 appended after older senders
 *                        existed: 0 when the message ends before it.
 *                        Only at the end of a message (never in a
 *                        record), and only after other optional fields.
 *   str                  string of at most arg bytes, no NUL: char name[arg+1]
 *   blob                 bytes, at most arg: const uint8_t *name; name_len
 *   u64v                 array of at most arg u64: name[arg], name_count
 *   rec                  array of records of type arg, at most WIRE_MAX_<arg>:
 *                        struct wire_<arg> name[...]; name_count
 *   sub                  one embedded record of type arg: struct wire_<arg>
 * Records are declared with WIRE_DEFINE too; a rec/sub field's type must be
 * defined before the message that uses it.
 */

#define WIRE__DECL_u8(n, a) uint8_t n;
#define WIRE__DECL_u8opt(n, a) uint8_t n;
#define WIRE__DECL_u64opt(n, a) uint64_t n;
#define WIRE__DECL_u16(n, a) uint16_t n;
#define WIRE__DECL_u32(n, a) uint32_t n;
#define WIRE__DECL_u64(n, a) uint64_t n;
#define WIRE__DECL_i64(n, a) int64_t n;
#define WIRE__DECL_str(n, a) char n[(a) + 1];
#define WIRE__DECL_blob(n, a)                                                \
	const uint8_t *n;                                                    \
	uint32_t n##_len;
#define WIRE__DECL_u64v(n, a)                                                \
	uint32_t n##_count;                                                  \
	uint64_t n[a];
#define WIRE__DECL_rec(n, a)                                                 \
	uint32_t n##_count;                                                  \
	struct wire_##a n[WIRE_MAX_##a];
#define WIRE__DECL_sub(n, a) struct wire_##a n;
#define WIRE__DECL(kind, n, a) WIRE__DECL_##kind(n, a)

/* How many bytes of optional fields an older sender may leave out. */
#define WIRE__OPT_u8(n, a)
#define WIRE__OPT_u8opt(n, a) +1
#define WIRE__OPT_u64opt(n, a) +8
#define WIRE__OPT_u16(n, a)
#define WIRE__OPT_u32(n, a)
#define WIRE__OPT_u64(n, a)
#define WIRE__OPT_i64(n, a)
#define WIRE__OPT_str(n, a)
#define WIRE__OPT_blob(n, a)
#define WIRE__OPT_u64v(n, a)
#define WIRE__OPT_rec(n, a)
#define WIRE__OPT_sub(n, a)
#define WIRE__OPT(kind, n, a) WIRE__OPT_##kind(n, a)

/* Encoded size of one field of struct *m. */
#define WIRE__SIZE_u8(n, a) sz += 1;
#define WIRE__SIZE_u8opt(n, a) sz += 1;
#define WIRE__SIZE_u64opt(n, a) sz += 8;
#define WIRE__SIZE_u16(n, a) sz += 2;
#define WIRE__SIZE_u32(n, a) sz += 4;
#define WIRE__SIZE_u64(n, a) sz += 8;
#define WIRE__SIZE_i64(n, a) sz += 8;
#define WIRE__SIZE_str(n, a) sz += 2 + strnlen(m->n, (a));
#define WIRE__SIZE_blob(n, a) sz += 4 + (size_t)m->n##_len;
#define WIRE__SIZE_u64v(n, a) sz += 4 + 8 * (size_t)m->n##_count;
#define WIRE__SIZE_rec(n, a)                                                 \
	sz += 4;                                                             \
	for (uint32_t i_ = 0; i_ < m->n##_count; i_++)                       \
		sz += wire_##a##_size(&m->n[i_]);
#define WIRE__SIZE_sub(n, a) sz += wire_##a##_size(&m->n);
#define WIRE__SIZE(kind, n, a) WIRE__SIZE_##kind(n, a)

#define WIRE__ENC_u8(n, a) wire_put_u8(w, m->n);
#define WIRE__ENC_u8opt(n, a) wire_put_u8(w, m->n);
#define WIRE__ENC_u64opt(n, a) wire_put_u64(w, m->n);
#define WIRE__ENC_u16(n, a) wire_put_u16(w, m->n);
#define WIRE__ENC_u32(n, a) wire_put_u32(w, m->n);
#define WIRE__ENC_u64(n, a) wire_put_u64(w, m->n);
#define WIRE__ENC_i64(n, a) wire_put_u64(w, (uint64_t)m->n);
#define WIRE__ENC_str(n, a)                                                  \
	{                                                                    \
		size_t l_ = strnlen(m->n, (a));                              \
		wire_put_u16(w, (uint16_t)l_);                               \
		wire_put_bytes(w, m->n, l_);                                 \
	}
#define WIRE__ENC_blob(n, a)                                                 \
	wire_put_u32(w, m->n##_len);                                         \
	wire_put_bytes(w, m->n, m->n##_len);
#define WIRE__ENC_u64v(n, a)                                                 \
	wire_put_u32(w, m->n##_count);                                       \
	for (uint32_t i_ = 0; i_ < m->n##_count; i_++)                       \
		wire_put_u64(w, m->n[i_]);
#define WIRE__ENC_rec(n, a)                                                  \
	wire_put_u32(w, m->n##_count);                                       \
	for (uint32_t i_ = 0; i_ < m->n##_count; i_++)                       \
		wire_##a##_put(w, &m->n[i_]);
#define WIRE__ENC_sub(n, a) wire_##a##_put(w, &m->n);
#define WIRE__ENC(kind, n, a) WIRE__ENC_##kind(n, a)

#define WIRE__DEC_u8(n, a) rv = rv ? rv : wire_get_u8(r, &m->n, #n);
#define WIRE__DEC_u8opt(n, a)                                                \
	m->n = 0;                                                            \
	rv = rv || r->left == 0 ? rv : wire_get_u8(r, &m->n, #n);
#define WIRE__DEC_u64opt(n, a)                                               \
	m->n = 0;                                                            \
	rv = rv || r->left == 0 ? rv : wire_get_u64(r, &m->n, #n);
#define WIRE__DEC_u16(n, a) rv = rv ? rv : wire_get_u16(r, &m->n, #n);
#define WIRE__DEC_u32(n, a) rv = rv ? rv : wire_get_u32(r, &m->n, #n);
#define WIRE__DEC_u64(n, a) rv = rv ? rv : wire_get_u64(r, &m->n, #n);
#define WIRE__DEC_i64(n, a) rv = rv ? rv : wire_get_i64(r, &m->n, #n);
#define WIRE__DEC_str(n, a) rv = rv ? rv : wire_get_str(r, m->n, (a), #n);
#define WIRE__DEC_blob(n, a)                                                 \
	rv = rv ? rv : wire_get_blob(r, &m->n, &m->n##_len, (a), #n);
#define WIRE__DEC_u64v(n, a)                                                 \
	rv = rv ? rv : wire_get_count(r, &m->n##_count, (a), 8, #n);         \
	for (uint32_t i_ = 0; rv == 0 && i_ < m->n##_count; i_++)            \
		rv = wire_get_u64(r, &m->n[i_], #n);
#define WIRE__DEC_rec(n, a)                                                  \
	rv = rv ? rv                                                         \
		: wire_get_count(r, &m->n##_count, WIRE_MAX_##a, 1, #n);     \
	for (uint32_t i_ = 0; rv == 0 && i_ < m->n##_count; i_++)            \
		rv = wire_##a##_get(r, &m->n[i_]);
#define WIRE__DEC_sub(n, a) rv = rv ? rv : wire_##a##_get(r, &m->n);
#define WIRE__DEC(kind, n, a) WIRE__DEC_##kind(n, a)

/*
 * Declare struct wire_<name> and its codec functions:
 *   size_t wire_<name>_size(const struct wire_<name> *m);
 *   void   wire_<name>_put(struct wire_writer *w, const struct wire_<name> *m);
 *   int    wire_<name>_get(struct wire_reader *r, struct wire_<name> *m);
 */
#define WIRE_DECLARE(name, FIELDS)                                           \
	struct wire_##name {                                                 \
		FIELDS(WIRE__DECL)                                           \
		char unused_; /* keeps an empty field list a valid struct */ \
	};                                                                   \
	size_t wire_##name##_size(const struct wire_##name *m);              \
	void wire_##name##_put(struct wire_writer *w,                        \
			       const struct wire_##name *m);                 \
	int wire_##name##_get(struct wire_reader *r, struct wire_##name *m);

/* Define the functions declared by WIRE_DECLARE (in one .c file). */
#define WIRE_IMPLEMENT(name, FIELDS)                                         \
	size_t wire_##name##_size(const struct wire_##name *m)               \
	{                                                                    \
		size_t sz = 0;                                               \
		(void)m;                                                     \
		FIELDS(WIRE__SIZE)                                           \
		return sz;                                                   \
	}                                                                    \
	void wire_##name##_put(struct wire_writer *w,                        \
			       const struct wire_##name *m)                  \
	{                                                                    \
		(void)w;                                                     \
		(void)m;                                                     \
		FIELDS(WIRE__ENC)                                            \
	}                                                                    \
	int wire_##name##_get(struct wire_reader *r, struct wire_##name *m)  \
	{                                                                    \
		int rv = 0;                                                  \
		(void)r;                                                     \
		memset(m, 0, sizeof(*m));                                    \
		FIELDS(WIRE__DEC)                                            \
		return rv;                                                   \
	}

/* ---- whole messages ----------------------------------------------------- */

#include "common/proto.h"

/* Every message type, numbered.  The numbers are the wire `type` field and
 * never change once shipped. */
enum wire_type {
#define WIRE__TYPE_ENUM(num, name, FIELDS) WIRE_T_##name = num,
	WIRE_MESSAGES(WIRE__TYPE_ENUM)
#undef WIRE__TYPE_ENUM
};

/* Any message body; which member is valid is told by the header's type. */
union wire_body {
#define WIRE__BODY_MEMBER(num, name, FIELDS) struct wire_##name name;
	WIRE_MESSAGES(WIRE__BODY_MEMBER)
#undef WIRE__BODY_MEMBER
};

/* The name of a message type ("lookup"), or NULL if the type is unknown. */
const char *wire_type_name(uint16_t type);

/* Encoded size of the body of @type; 0 for an unknown type. */
size_t wire_body_size(uint16_t type, const void *body);

/* How many bytes at the end of a @type body are optional fields (u8opt,
 * u64opt), which an older sender leaves out (0 for most types and for an
 * unknown one). */
size_t wire_optional_tail(uint16_t type);

/*
 * Encode header + body into a new buffer (frame 0).  The header's magic and
 * version are filled in.  On success *out is malloc'd (caller frees) and
 * *outlen set.  Returns 0, CFS_BADTYPE for an unknown type, CFS_TOOBIG if the
 * result would exceed WIRE_MAX_BODY, or CFS_ENOMEM.
 */
int wire_encode(const struct wire_header *h, const void *body, uint8_t **out,
		size_t *outlen, char *errmsg);

/* Encode into a caller buffer of @cap bytes; *outlen receives the length.
 * Returns CFS_TOOBIG if @cap is too small.  No allocation. */
int wire_encode_into(const struct wire_header *h, const void *body,
		     uint8_t *buf, size_t cap, size_t *outlen, char *errmsg);

/*
 * Decode frame 0: header and body.  Total: every input returns 0 with a
 * valid message, or an error code with @errmsg saying what and where
 * (CFS_MALFORMED, CFS_BADVERSION, CFS_BADTYPE, CFS_TOOBIG).  Trailing bytes
 * after the last known field are ignored (forward compatibility, see
 * docs/wire-format.md).  `blob` fields of @body point into @buf.
 */
int wire_decode(const uint8_t *buf, size_t len, struct wire_header *h,
		union wire_body *body, char *errmsg);

#endif /* CFS_COMMON_WIRE_H */
