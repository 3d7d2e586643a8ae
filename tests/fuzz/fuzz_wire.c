/* fuzz_wire.c - fuzz target: frame 0 decoding is total, canonical, and round-trips. */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/wire.h"

/*
 * Properties checked for every input (docs/wire-format.md, "Decoder rules"):
 *  1. wire_header_decode and wire_decode return 0 or one of their documented
 *     codes, and always describe an error in errmsg;
 *  2. they agree on the header: a header that fails alone fails the message
 *     with the same code;
 *  3. a decoded header re-encodes to exactly the 40 input bytes;
 *  4. a decoded message re-encodes to a prefix of the input (the encoding is
 *     canonical; only trailing bytes are dropped), of the size that
 *     wire_body_size predicts; or, where the input left out optional fields
 *     at its end (an older sender), to the input and those fields as 0;
 *  5. that re-encoding decodes to the same message (compared through a second
 *     re-encoding, so struct padding and unused array slots do not matter);
 *  6. every field but the optional ones (u8opt, u64opt) is required: the
 *     re-encoding minus its optional bytes and one more is CFS_MALFORMED;
 *  7. wire_encode_into agrees with wire_encode and refuses a buffer one byte
 *     short with CFS_TOOBIG.
 */

/* A dirents reply holds 512 entries: keep decoded bodies off the stack. */
static union wire_body first;
static union wire_body second;

static void
violated(const char *what, const struct wire_header *h, int rv,
	 const char *errmsg)
{
	fprintf(stderr, "fuzz_wire: property violated: %s (type %u, rv %d: %s)\n",
		what, h != NULL ? (unsigned)h->type : 0u, rv,
		errmsg != NULL ? errmsg : "");
	abort();
}

static int
headers_equal(const struct wire_header *a, const struct wire_header *b)
{
	return a->magic == b->magic && a->version == b->version &&
	       a->type == b->type && a->flags == b->flags &&
	       a->status == b->status && a->request_id == b->request_id &&
	       a->client_id == b->client_id && a->sequence == b->sequence;
}

/* Returns the header decode result for property 2. */
static int
check_header(const uint8_t *data, size_t size, struct wire_header *h)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	uint8_t again[WIRE_HEADER_SIZE];
	int rv = wire_header_decode(h, data, size, errmsg);

	if (rv != 0 && rv != CFS_MALFORMED && rv != CFS_BADVERSION)
		violated("header: undocumented error code", NULL, rv, errmsg);
	if (rv != 0 && errmsg[0] == '\0')
		violated("header: error without a message", NULL, rv, errmsg);
	if (rv != 0)
		return rv;
	if (h->magic != WIRE_MAGIC || h->version != WIRE_VERSION ||
	    (h->flags & ~(uint32_t)WIRE_F_KNOWN) != 0)
		violated("header: accepted an invalid header", h, rv, errmsg);
	wire_header_encode(h, again);
	if (memcmp(again, data, WIRE_HEADER_SIZE) != 0)
		violated("header: re-encoding differs from input", h, rv,
			 errmsg);
	return 0;
}

static void
check_reencoding(const uint8_t *data, size_t size, const struct wire_header *h)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct wire_header h2;
	uint8_t *enc = NULL, *enc2 = NULL, *into;
	size_t enclen, enc2len, intolen;
	size_t body = wire_body_size(h->type, &first);
	size_t opt = wire_optional_tail(h->type), common;
	int rv;

	if (wire_type_name(h->type) == NULL)
		violated("decoded an unknown type", h, 0, errmsg);
	rv = wire_encode(h, &first, &enc, &enclen, errmsg);
	if (rv != 0)
		violated("decoded message does not re-encode", h, rv, errmsg);
	if (enclen != WIRE_HEADER_SIZE + body || enclen > size + opt)
		violated("re-encoding has the wrong size", h, 0, errmsg);
	common = enclen < size ? enclen : size;
	if (memcmp(enc, data, common) != 0)
		violated("re-encoding is not a prefix of the input", h, 0,
			 errmsg);
	for (size_t i = common; i < enclen; i++)
		if (enc[i] != 0)
			violated("an optional field left out did not decode "
				 "as 0", h, 0, errmsg);

	rv = wire_decode(enc, enclen, &h2, &second, errmsg);
	if (rv != 0)
		violated("re-encoding does not decode", h, rv, errmsg);
	if (!headers_equal(h, &h2))
		violated("re-decoded header differs", h, 0, errmsg);
	rv = wire_encode(&h2, &second, &enc2, &enc2len, errmsg);
	if (rv != 0)
		violated("re-decoded message does not encode", h, rv, errmsg);
	if (enc2len != enclen || memcmp(enc, enc2, enclen) != 0)
		violated("round trip changed the message", h, 0, errmsg);

	if (body > opt) {
		rv = wire_decode(enc, enclen - opt - 1, &h2, &second, errmsg);
		if (rv != CFS_MALFORMED)
			violated("a message missing its last required byte "
				 "was not MALFORMED", h, rv, errmsg);
	}

	into = malloc(enclen);
	if (into == NULL)
		abort();
	rv = wire_encode_into(h, &first, into, enclen - 1, &intolen, errmsg);
	if (rv != CFS_TOOBIG)
		violated("encode_into accepted a short buffer", h, rv, errmsg);
	rv = wire_encode_into(h, &first, into, enclen, &intolen, errmsg);
	if (rv != 0 || intolen != enclen || memcmp(into, enc, enclen) != 0)
		violated("encode_into differs from encode", h, rv, errmsg);

	free(into);
	free(enc2);
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct wire_header hh, h;
	int hrv = check_header(data, size, &hh);
	int rv = wire_decode(data, size, &h, &first, errmsg);

	if (rv != 0 && rv != CFS_MALFORMED && rv != CFS_BADVERSION &&
	    rv != CFS_BADTYPE && rv != CFS_TOOBIG)
		violated("decode: undocumented error code", NULL, rv, errmsg);
	if (rv != 0 && errmsg[0] == '\0')
		violated("decode: error without a message", NULL, rv, errmsg);
	if (hrv != 0 && rv != hrv)
		violated("decode and header_decode disagree", NULL, rv, errmsg);
	if (rv != 0)
		return 0;
	if (!headers_equal(&hh, &h))
		violated("decode and header_decode disagree on the header", &h,
			 rv, errmsg);
	check_reencoding(data, size, &h);
	return 0;
}
