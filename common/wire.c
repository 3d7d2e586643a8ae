/* wire.c - header codec, bounds-checked readers, and the generated catalog. */
#include "common/wire.h"

#include <stdlib.h>

#include "common/error.h"

/* ---- bounds-checked primitive readers ---------------------------------- */

static int
short_read(struct wire_reader *r, const char *field, size_t need)
{
	return cfs_fail(r->errmsg, CFS_MALFORMED,
			"%s.%s: needs %zu bytes, %zu left", r->msg, field, need,
			r->left);
}

static uint64_t
le_load(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define WIRE__GET_INT(fn, type, n)                                           \
	int fn(struct wire_reader *r, type *v, const char *field)            \
	{                                                                    \
		if (r->left < (n))                                           \
			return short_read(r, field, (n));                    \
		*v = (type)le_load(r->p, (n));                               \
		r->p += (n);                                                 \
		r->left -= (n);                                              \
		return 0;                                                    \
	}
WIRE__GET_INT(wire_get_u8, uint8_t, 1)
WIRE__GET_INT(wire_get_u16, uint16_t, 2)
WIRE__GET_INT(wire_get_u32, uint32_t, 4)
WIRE__GET_INT(wire_get_u64, uint64_t, 8)
WIRE__GET_INT(wire_get_i64, int64_t, 8)
#undef WIRE__GET_INT

int
wire_get_str(struct wire_reader *r, char *dst, size_t max, const char *field)
{
	uint16_t len;
	int rv = wire_get_u16(r, &len, field);

	if (rv != 0)
		return rv;
	if (len > max)
		return cfs_fail(r->errmsg, CFS_MALFORMED,
				"%s.%s: string of %u bytes exceeds %zu", r->msg,
				field, (unsigned)len, max);
	if (r->left < len)
		return short_read(r, field, len);
	if (memchr(r->p, '\0', len) != NULL)
		return cfs_fail(r->errmsg, CFS_MALFORMED,
				"%s.%s: string contains a NUL byte", r->msg,
				field);
	memcpy(dst, r->p, len);
	dst[len] = '\0';
	r->p += len;
	r->left -= len;
	return 0;
}

int
wire_get_blob(struct wire_reader *r, const uint8_t **dst, uint32_t *len,
	      uint32_t max, const char *field)
{
	uint32_t n;
	int rv = wire_get_u32(r, &n, field);

	if (rv != 0)
		return rv;
	if (n > max)
		return cfs_fail(r->errmsg, CFS_MALFORMED,
				"%s.%s: blob of %u bytes exceeds %u", r->msg,
				field, n, max);
	if (r->left < n)
		return short_read(r, field, n);
	*dst = r->p;
	*len = n;
	r->p += n;
	r->left -= n;
	return 0;
}

int
wire_get_count(struct wire_reader *r, uint32_t *n, uint32_t max,
	       size_t min_each, const char *field)
{
	int rv = wire_get_u32(r, n, field);

	if (rv != 0)
		return rv;
	if (*n > max)
		return cfs_fail(r->errmsg, CFS_MALFORMED,
				"%s.%s: %u elements exceed the limit of %u",
				r->msg, field, *n, max);
	if ((size_t)*n * min_each > r->left)
		return cfs_fail(r->errmsg, CFS_MALFORMED,
				"%s.%s: %u elements cannot fit in %zu bytes",
				r->msg, field, *n, r->left);
	return 0;
}

/* ---- header ------------------------------------------------------------ */

void
wire_header_encode(const struct wire_header *h, uint8_t *buf)
{
	struct wire_writer w = {buf};

	wire_put_u32(&w, h->magic);
	wire_put_u16(&w, h->version);
	wire_put_u16(&w, h->type);
	wire_put_u32(&w, h->flags);
	wire_put_u32(&w, (uint32_t)h->status);
	wire_put_u64(&w, h->request_id);
	wire_put_u64(&w, h->client_id);
	wire_put_u64(&w, h->sequence);
}

int
wire_header_decode(struct wire_header *h, const uint8_t *buf, size_t len,
		   char *errmsg)
{
	struct wire_reader r = {buf, len, errmsg, "header"};
	uint32_t status;

	if (len < WIRE_HEADER_SIZE)
		return cfs_fail(errmsg, CFS_MALFORMED,
				"header: %zu bytes, need %d", len,
				WIRE_HEADER_SIZE);
	/* Cannot fail past the length check above. */
	wire_get_u32(&r, &h->magic, "magic");
	wire_get_u16(&r, &h->version, "version");
	wire_get_u16(&r, &h->type, "type");
	wire_get_u32(&r, &h->flags, "flags");
	wire_get_u32(&r, &status, "status");
	h->status = (int32_t)status;
	wire_get_u64(&r, &h->request_id, "request_id");
	wire_get_u64(&r, &h->client_id, "client_id");
	wire_get_u64(&r, &h->sequence, "sequence");
	if (h->magic != WIRE_MAGIC)
		return cfs_fail(errmsg, CFS_MALFORMED,
				"header: bad magic 0x%08x (not a CFS peer?)",
				h->magic);
	if (h->version != WIRE_VERSION)
		return cfs_fail(errmsg, CFS_BADVERSION,
				"header: protocol version %u, this build "
				"speaks %u",
				(unsigned)h->version, WIRE_VERSION);
	if ((h->flags & ~(uint32_t)WIRE_F_KNOWN) != 0)
		return cfs_fail(errmsg, CFS_MALFORMED,
				"header: unknown flags 0x%x", h->flags);
	return 0;
}

/* ---- the generated catalog -------------------------------------------- */

WIRE_RECORDS(WIRE_IMPLEMENT)

/* A record has no end of its own to leave an optional field out at: its
 * decoder would read the bytes of whatever follows it. */
#define WIRE__NO_OPT_IN_RECORD(name, FIELDS)                                 \
	_Static_assert(0 FIELDS(WIRE__OPT) == 0,                             \
		       "record " #name " has an optional field");
WIRE_RECORDS(WIRE__NO_OPT_IN_RECORD)
#undef WIRE__NO_OPT_IN_RECORD

#define WIRE__IMPL_MSG(num, name, FIELDS) WIRE_IMPLEMENT(name, FIELDS)
WIRE_MESSAGES(WIRE__IMPL_MSG)
#undef WIRE__IMPL_MSG

struct wire_msg_ops {
	uint16_t type;
	const char *name;
	size_t optional_tail; /* optional fields' bytes */
	size_t (*size)(const void *body);
	void (*put)(struct wire_writer *w, const void *body);
	int (*get)(struct wire_reader *r, void *body);
};

/* Type-erased adapters, one per message, so one table can dispatch. */
#define WIRE__ADAPT(num, name, FIELDS)                                       \
	static size_t name##_size_any(const void *b)                         \
	{                                                                    \
		return wire_##name##_size(b);                                \
	}                                                                    \
	static void name##_put_any(struct wire_writer *w, const void *b)     \
	{                                                                    \
		wire_##name##_put(w, b);                                     \
	}                                                                    \
	static int name##_get_any(struct wire_reader *r, void *b)            \
	{                                                                    \
		return wire_##name##_get(r, b);                              \
	}
WIRE_MESSAGES(WIRE__ADAPT)
#undef WIRE__ADAPT

static const struct wire_msg_ops wire_ops[] = {
#define WIRE__OPS_ROW(num, name, FIELDS)                                     \
	{num, #name, 0 FIELDS(WIRE__OPT), name##_size_any, name##_put_any,  \
	 name##_get_any},
	WIRE_MESSAGES(WIRE__OPS_ROW)
#undef WIRE__OPS_ROW
};

static const struct wire_msg_ops *
ops_of(uint16_t type)
{
	for (size_t i = 0; i < sizeof(wire_ops) / sizeof(wire_ops[0]); i++)
		if (wire_ops[i].type == type)
			return &wire_ops[i];
	return NULL;
}

const char *
wire_type_name(uint16_t type)
{
	const struct wire_msg_ops *o = ops_of(type);
	return o ? o->name : NULL;
}

size_t
wire_body_size(uint16_t type, const void *body)
{
	const struct wire_msg_ops *o = ops_of(type);
	return o ? o->size(body) : 0;
}

size_t
wire_optional_tail(uint16_t type)
{
	const struct wire_msg_ops *o = ops_of(type);
	return o ? o->optional_tail : 0;
}

static int
encode_checked(const struct wire_header *h, const struct wire_msg_ops **o,
	       size_t *total, const void *body, char *errmsg)
{
	size_t body_size;

	*o = ops_of(h->type);
	if (*o == NULL)
		return cfs_fail(errmsg, CFS_BADTYPE, "encode: message type %u",
				(unsigned)h->type);
	body_size = (*o)->size(body);
	if (body_size > WIRE_MAX_BODY)
		return cfs_fail(errmsg, CFS_TOOBIG,
				"encode %s: body of %zu bytes exceeds %u",
				(*o)->name, body_size, WIRE_MAX_BODY);
	*total = WIRE_HEADER_SIZE + body_size;
	return 0;
}

static void
encode_unchecked(const struct wire_header *h, const struct wire_msg_ops *o,
		 const void *body, uint8_t *buf)
{
	struct wire_header hh = *h;
	struct wire_writer w = {buf + WIRE_HEADER_SIZE};

	hh.magic = WIRE_MAGIC;
	hh.version = WIRE_VERSION;
	wire_header_encode(&hh, buf);
	o->put(&w, body);
}

int
wire_encode_into(const struct wire_header *h, const void *body, uint8_t *buf,
		 size_t cap, size_t *outlen, char *errmsg)
{
	const struct wire_msg_ops *o;
	size_t total;
	int rv = encode_checked(h, &o, &total, body, errmsg);

	if (rv != 0)
		return rv;
	if (total > cap)
		return cfs_fail(errmsg, CFS_TOOBIG,
				"encode %s: %zu bytes, buffer holds %zu",
				o->name, total, cap);
	encode_unchecked(h, o, body, buf);
	*outlen = total;
	return 0;
}

int
wire_encode(const struct wire_header *h, const void *body, uint8_t **out,
	    size_t *outlen, char *errmsg)
{
	const struct wire_msg_ops *o;
	size_t total;
	uint8_t *buf;
	int rv = encode_checked(h, &o, &total, body, errmsg);

	if (rv != 0)
		return rv;
	buf = malloc(total);
	if (buf == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "encode %s", o->name);
	encode_unchecked(h, o, body, buf);
	*out = buf;
	*outlen = total;
	return 0;
}

int
wire_decode(const uint8_t *buf, size_t len, struct wire_header *h,
	    union wire_body *body, char *errmsg)
{
	const struct wire_msg_ops *o;
	struct wire_reader r;
	int rv;

	if (len > WIRE_HEADER_SIZE + (size_t)WIRE_MAX_BODY)
		return cfs_fail(errmsg, CFS_TOOBIG,
				"message of %zu bytes exceeds %u", len,
				WIRE_HEADER_SIZE + WIRE_MAX_BODY);
	rv = wire_header_decode(h, buf, len, errmsg);
	if (rv != 0)
		return rv;
	o = ops_of(h->type);
	if (o == NULL)
		return cfs_fail(errmsg, CFS_BADTYPE, "message type %u",
				(unsigned)h->type);
	r.p = buf + WIRE_HEADER_SIZE;
	r.left = len - WIRE_HEADER_SIZE;
	r.errmsg = errmsg;
	r.msg = o->name;
	return o->get(&r, body);
}
