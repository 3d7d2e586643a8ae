/* config.c - table-driven config: parse, check bounds, default, format, document. */
#include "common/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"

/* Longer lines are refused, so one stack buffer holds any line. */
#define CONF_LINE_MAX 4096
/* Config files are small; a bigger one is a wrong path, not a config. */
#define CONF_FILE_MAX (1u << 20)
/* Bytes of an offending value or key quoted in a message: a 256-byte
 * errmsg must still have room for the key and the allowed range. */
#define CONF_SHOW_MAX 40
/* Keys longer than this get no "did you mean" (bounds the work). */
#define CONF_SUGGEST_MAX 64

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Quote untrusted bytes for a message: printable ASCII as is, `"` and `\`
 * escaped, the rest as \xNN, cut to CONF_SHOW_MAX with "...". */
static void
show(const char *s, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[5];
		size_t tl;

		if (c == '"' || c == '\\')
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", c);
		else if (c >= 0x20 && c < 0x7F)
			tl = (size_t)snprintf(tmp, sizeof(tmp), "%c", c);
		else
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02X", c);
		if (n + tl > CONF_SHOW_MAX || n + tl + 4 > cap) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		memcpy(out + n, tmp, tl);
		n += tl;
	}
	out[n] = '\0';
}

/* ---- values <-> text --------------------------------------------------- */

static void
fmt_size(uint64_t v, char *buf, size_t cap)
{
	static const char sfx[] = "TGMK";

	for (int i = 0; i < 4; i++) {
		unsigned shift = (unsigned)(40 - 10 * i);
		if (v != 0 && (v & ((UINT64_C(1) << shift) - 1)) == 0) {
			snprintf(buf, cap, "%" PRIu64 "%c", v >> shift, sfx[i]);
			return;
		}
	}
	snprintf(buf, cap, "%" PRIu64, v);
}

static void
fmt_duration(int64_t v, char *buf, size_t cap)
{
	if (v != 0 && v % 1000 == 0)
		snprintf(buf, cap, "%" PRId64 "s", v / 1000);
	else
		snprintf(buf, cap, "%" PRId64 "ms", v);
}

enum parse_result { PARSE_OK, PARSE_BAD, PARSE_BIG };

/* Decimal digits, at least one, value at most @limit. */
static enum parse_result
parse_digits(const char **sp, uint64_t limit, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return PARSE_BAD;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (limit - d) / 10)
			return PARSE_BIG;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return PARSE_OK;
}

static enum parse_result
parse_int(const char *s, int64_t *out)
{
	int neg = 0;
	uint64_t mag;
	enum parse_result r;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	r = parse_digits(&s, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &mag);
	if (r == PARSE_OK && *s != '\0')
		r = PARSE_BAD;
	if (r != PARSE_OK)
		return r;
	/* -(2^63) has no positive int64_t twin, so negate in unsigned. */
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return PARSE_OK;
}

static enum parse_result
parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mul;
	enum parse_result r = parse_digits(&s, UINT64_MAX, &v);

	if (r != PARSE_OK)
		return r;
	if (s[0] == '\0')
		mul = 1;
	else if (s[1] != '\0')
		return PARSE_BAD;
	else if (s[0] == 'K' || s[0] == 'k')
		mul = UINT64_C(1) << 10;
	else if (s[0] == 'M' || s[0] == 'm')
		mul = UINT64_C(1) << 20;
	else if (s[0] == 'G' || s[0] == 'g')
		mul = UINT64_C(1) << 30;
	else if (s[0] == 'T' || s[0] == 't')
		mul = UINT64_C(1) << 40;
	else
		return PARSE_BAD;
	if (__builtin_mul_overflow(v, mul, out))
		return PARSE_BIG;
	return PARSE_OK;
}

static enum parse_result
parse_duration(const char *s, int64_t *out)
{
	uint64_t v;
	int64_t mul;
	enum parse_result r = parse_digits(&s, INT64_MAX, &v);

	if (r != PARSE_OK)
		return r;
	if (strcmp(s, "") == 0 || strcmp(s, "ms") == 0)
		mul = 1;
	else if (strcmp(s, "s") == 0)
		mul = 1000;
	else if (strcmp(s, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(s, "h") == 0)
		mul = 60 * 60 * 1000;
	else
		return PARSE_BAD;
	if (__builtin_mul_overflow((int64_t)v, mul, out))
		return PARSE_BIG;
	return PARSE_OK;
}

static enum parse_result
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return PARSE_OK;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return PARSE_OK;
		}
	}
	return PARSE_BAD;
}

/* "what a value must look like, and its range", for messages and the
 * example file.  @syntax adds the accepted forms. */
static void
describe(const struct cfs_conf_key *k, int syntax, char *buf, size_t cap)
{
	char lo[32], hi[32];

	switch (k->type) {
	case CFS_CONF_BOOL:
		snprintf(buf, cap, "%s",
			 syntax ? "yes/no, true/false, on/off, 1/0" : "yes/no");
		return;
	case CFS_CONF_INT:
		snprintf(buf, cap, "%s%" PRId64 "..%" PRId64,
			 syntax ? "an integer, " : "", k->min, k->max);
		return;
	case CFS_CONF_SIZE:
		fmt_size((uint64_t)k->min, lo, sizeof(lo));
		fmt_size((uint64_t)k->max, hi, sizeof(hi));
		snprintf(buf, cap, "%s%s..%s", syntax ? "N[K|M|G|T], " : "", lo,
			 hi);
		return;
	case CFS_CONF_DURATION:
		fmt_duration(k->min, lo, sizeof(lo));
		fmt_duration(k->max, hi, sizeof(hi));
		snprintf(buf, cap, "%s%s..%s", syntax ? "N[ms|s|m|h], " : "",
			 lo, hi);
		return;
	case CFS_CONF_STRING:
		snprintf(buf, cap, "at most %zu bytes",
			 k->size > 0 ? k->size - 1 : 0);
		return;
	}
	snprintf(buf, cap, "?");
}

/* A row whose field size does not match its type would make a store
 * write out of bounds: refuse it (a programming error in the table). */
static int
check_row(const struct cfs_conf_key *k, char *errmsg)
{
	size_t want = 0;

	switch (k->type) {
	case CFS_CONF_BOOL:
		want = sizeof(int);
		break;
	case CFS_CONF_INT:
	case CFS_CONF_DURATION:
		want = sizeof(int64_t);
		break;
	case CFS_CONF_SIZE:
		want = sizeof(uint64_t);
		break;
	case CFS_CONF_STRING:
		want = k->size > 0 ? k->size : 1;
		break;
	default:
		return cfs_fail(errmsg, CFS_CONFIG,
				"key '%s': unknown type %d in the table",
				k->name, (int)k->type);
	}
	if (k->size != want)
		return cfs_fail(errmsg, CFS_CONFIG,
				"key '%s': field of %zu bytes for its type "
				"(table error)",
				k->name, k->size);
	if (k->type != CFS_CONF_BOOL && k->type != CFS_CONF_STRING &&
	    (k->min > k->max || (k->type == CFS_CONF_SIZE && k->min < 0)))
		return cfs_fail(errmsg, CFS_CONFIG,
				"key '%s': bounds %" PRId64 "..%" PRId64
				" are empty (table error)",
				k->name, k->min, k->max);
	return 0;
}

static int
bad_value(const struct cfs_conf_key *k, const char *value, const char *where,
	  const char *why, char *errmsg)
{
	char shown[CONF_SHOW_MAX + 8], expect[96];

	show(value, strlen(value), shown, sizeof(shown));
	describe(k, 1, expect, sizeof(expect));
	return cfs_fail(errmsg, CFS_CONFIG, "%s: %s = \"%s\": %s (expected %s)",
			where, k->name, shown, why, expect);
}

/* Parse @value for @k, check its bounds, store it into @target.  Nothing
 * is stored unless the whole value is good. */
static int
set_value(const struct cfs_conf_key *k, void *target, const char *value,
	  const char *where, char *errmsg)
{
	static const char *const what[] = {
	    [CFS_CONF_BOOL] = "not a boolean",
	    [CFS_CONF_INT] = "not an integer",
	    [CFS_CONF_SIZE] = "not a size",
	    [CFS_CONF_DURATION] = "not a duration",
	};
	char *field = (char *)target + k->offset;
	enum parse_result r = PARSE_OK;
	int64_t i = 0;
	uint64_t u = 0;
	int b = 0, out_of_range = 0;
	size_t len;
	int rv = check_row(k, errmsg);

	if (rv != 0)
		return rv;
	switch (k->type) {
	case CFS_CONF_BOOL:
		r = parse_bool(value, &b);
		break;
	case CFS_CONF_INT:
		r = parse_int(value, &i);
		out_of_range = r == PARSE_OK && (i < k->min || i > k->max);
		break;
	case CFS_CONF_DURATION:
		r = parse_duration(value, &i);
		out_of_range = r == PARSE_OK && (i < k->min || i > k->max);
		break;
	case CFS_CONF_SIZE:
		r = parse_size(value, &u);
		out_of_range = r == PARSE_OK &&
			       (u < (uint64_t)k->min || u > (uint64_t)k->max);
		break;
	case CFS_CONF_STRING:
		len = strlen(value);
		if (len >= k->size) {
			char why[48];
			snprintf(why, sizeof(why), "too long (%zu bytes)", len);
			return bad_value(k, value, where, why, errmsg);
		}
		memcpy(field, value, len);
		memset(field + len, 0, k->size - len);
		return 0;
	}
	if (r == PARSE_BAD)
		return bad_value(k, value, where, what[k->type], errmsg);
	if (r == PARSE_BIG)
		return bad_value(k, value, where, "too large", errmsg);
	if (out_of_range)
		return bad_value(k, value, where, "out of range", errmsg);
	if (k->type == CFS_CONF_BOOL)
		memcpy(field, &b, sizeof(b));
	else if (k->type == CFS_CONF_SIZE)
		memcpy(field, &u, sizeof(u));
	else
		memcpy(field, &i, sizeof(i));
	return 0;
}

/* ---- key lookup ------------------------------------------------------- */

static int
find_key(const struct cfs_conf_key *keys, const char *name)
{
	for (int i = 0; keys[i].name != NULL; i++)
		if (strcmp(keys[i].name, name) == 0)
			return i;
	return -1;
}

/* Case and '-' vs '_' are the usual slips; they cost nothing here. */
static char
fold(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	return c == '-' ? '_' : c;
}

/* Levenshtein distance between short strings (callers bound the lengths
 * by CONF_SUGGEST_MAX), two rows of the table at a time. */
static size_t
edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t row[CONF_SUGGEST_MAX + 1], prev;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = fold(a[i - 1]) != fold(b[j - 1]);
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			prev = row[j];
			row[j] = best;
		}
	}
	return row[lb];
}

/* The known key closest to @name, if close enough to be a typo. */
static const char *
nearest_key(const struct cfs_conf_key *keys, const char *name)
{
	size_t ln = strlen(name), best_d = SIZE_MAX;
	const char *best = NULL;

	if (ln > CONF_SUGGEST_MAX)
		return NULL;
	for (const struct cfs_conf_key *k = keys; k->name != NULL; k++) {
		size_t lk = strlen(k->name), d, longer;
		if (lk > CONF_SUGGEST_MAX)
			continue;
		d = edit_distance(name, ln, k->name, lk);
		longer = ln > lk ? ln : lk;
		/* About one slip per four characters, and never "all of
		 * it" (which would suggest "id" for "x"). */
		if (d < best_d && d <= 1 + longer / 4 && d < longer) {
			best_d = d;
			best = k->name;
		}
	}
	return best;
}

static int
unknown_key(const struct cfs_conf_key *keys, const char *name,
	    const char *where, char *errmsg)
{
	char shown[CONF_SHOW_MAX + 8];
	const char *near = nearest_key(keys, name);

	show(name, strlen(name), shown, sizeof(shown));
	if (near != NULL)
		return cfs_fail(errmsg, CFS_CONFIG,
				"%s: unknown key '%s' (did you mean '%s'?)",
				where, shown, near);
	return cfs_fail(errmsg, CFS_CONFIG, "%s: unknown key '%s'", where,
			shown);
}

/* ---- public calls ----------------------------------------------------- */

static const char *
default_text(const struct cfs_conf_key *k)
{
	if (k->def != NULL)
		return k->def;
	if (k->type == CFS_CONF_STRING)
		return "";
	return k->type == CFS_CONF_BOOL ? "no" : "0";
}

int
cfs_conf_defaults(const struct cfs_conf_key *keys, void *target, char *errmsg)
{
	for (const struct cfs_conf_key *k = keys; k->name != NULL; k++) {
		int rv =
		    set_value(k, target, default_text(k), "default", errmsg);
		if (rv != 0)
			return rv;
	}
	return 0;
}

int
cfs_conf_set(const struct cfs_conf_key *keys, void *target, const char *key,
	     const char *value, const char *where, char *errmsg)
{
	int i;

	if (where == NULL)
		where = "setting";
	if (key == NULL)
		key = "";
	i = find_key(keys, key);
	if (i < 0)
		return unknown_key(keys, key, where, errmsg);
	return set_value(&keys[i], target, value != NULL ? value : "", where,
			 errmsg);
}

struct parse_ctx {
	const struct cfs_conf_key *keys;
	void *target;
	size_t *seen; /* per key: the line that set it, 0 = not yet */
	char where[CFS_ERRMSG_SIZE];
	char *errmsg;
};

/* Cut the value that starts at @v in place: a quoted value loses its quotes
 * and escapes, an unquoted one its comment and trailing blanks. */
static int
cut_value(struct parse_ctx *c, const char *key, char *v)
{
	char *r, *w;

	if (*v != '"') {
		char *hash = strchr(v, '#');
		char *e = hash != NULL ? hash : v + strlen(v);
		while (e > v && is_blank(e[-1]))
			e--;
		*e = '\0';
		if (*v == '\0')
			return cfs_fail(c->errmsg, CFS_CONFIG,
					"%s: %s: empty value (write \"\" for "
					"an empty string)",
					c->where, key);
		return 0;
	}
	for (r = v + 1, w = v; *r != '"'; w++) {
		if (*r == '\0')
			return cfs_fail(c->errmsg, CFS_CONFIG,
					"%s: %s: missing closing quote",
					c->where, key);
		if (*r == '\\') {
			if (r[1] != '"' && r[1] != '\\')
				return cfs_fail(c->errmsg, CFS_CONFIG,
						"%s: %s: unknown escape in "
						"quotes (only \\\" and \\\\)",
						c->where, key);
			r++;
		}
		*w = *r++;
	}
	*w = '\0';
	for (r++; is_blank(*r); r++)
		;
	if (*r != '\0' && *r != '#')
		return cfs_fail(c->errmsg, CFS_CONFIG,
				"%s: %s: text after the closing quote",
				c->where, key);
	return 0;
}

/*
 * One line, without its '\n'.  Cases:
 *  1) too long or containing a NUL byte: error;
 *  2) blank or comment: nothing;
 *  3) `key = value [# comment]`: the key must be known and new in this
 *     file, the value good for its type.
 */
static int
parse_line(struct parse_ctx *c, const char *line, size_t n, size_t lineno,
	   const char *name)
{
	char buf[CONF_LINE_MAX + 1], shown[CONF_SHOW_MAX + 8];
	char *s, *key, *key_end;
	int i;

	snprintf(c->where, sizeof(c->where), "%s:%zu", name, lineno);
	if (n > CONF_LINE_MAX)
		return cfs_fail(c->errmsg, CFS_CONFIG,
				"%s: line longer than %d bytes", c->where,
				CONF_LINE_MAX);
	if (memchr(line, '\0', n) != NULL)
		return cfs_fail(c->errmsg, CFS_CONFIG, "%s: NUL byte in line",
				c->where);
	memcpy(buf, line, n);
	buf[n] = '\0';
	for (s = buf; is_blank(*s); s++)
		;
	if (*s == '\0' || *s == '#')
		return 0;
	for (key = s; *s != '\0' && !is_blank(*s) && *s != '=' && *s != '#';)
		s++;
	key_end = s;
	if (key_end == key)
		return cfs_fail(c->errmsg, CFS_CONFIG,
				"%s: missing key before '='", c->where);
	for (; is_blank(*s); s++)
		;
	if (*s != '=') {
		show(key, (size_t)(key_end - key), shown, sizeof(shown));
		return cfs_fail(c->errmsg, CFS_CONFIG,
				"%s: %s: missing '=' (expected key = value)",
				c->where, shown);
	}
	*key_end = '\0'; /* may overwrite the '=' just read */
	for (s++; is_blank(*s); s++)
		;
	i = find_key(c->keys, key);
	if (i < 0)
		return unknown_key(c->keys, key, c->where, c->errmsg);
	if (c->seen[i] != 0)
		return cfs_fail(c->errmsg, CFS_CONFIG,
				"%s: %s: duplicate key (already set on line "
				"%zu)",
				c->where, key, c->seen[i]);
	if (cut_value(c, key, s) != 0)
		return CFS_CONFIG;
	c->seen[i] = lineno;
	return set_value(&c->keys[i], c->target, s, c->where, c->errmsg);
}

int
cfs_conf_parse(const struct cfs_conf_key *keys, void *target, const char *text,
	       size_t len, const char *name, char *errmsg)
{
	struct parse_ctx c = {.keys = keys, .target = target, .errmsg = errmsg};
	size_t nkeys = 0, lineno = 0, off = 0;
	int rv = 0;

	if (name == NULL)
		name = "config";
	while (keys[nkeys].name != NULL)
		nkeys++;
	c.seen = calloc(nkeys + 1, sizeof(*c.seen));
	if (c.seen == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "%s", name);
	while (off < len && rv == 0) {
		const char *p = text + off;
		const char *nl = memchr(p, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - p) : len - off;

		off += n + (nl != NULL);
		if (n > 0 && p[n - 1] == '\r')
			n--; /* CRLF files from Windows editors */
		rv = parse_line(&c, p, n, ++lineno, name);
	}
	free(c.seen);
	return rv;
}

int
cfs_conf_load(const struct cfs_conf_key *keys, void *target, const char *path,
	      char *errmsg)
{
	FILE *f = fopen(path, "rb");
	char *text;
	size_t len;
	int rv;

	if (f == NULL)
		return cfs_fail(errmsg, CFS_CONFIG, "%s: %s", path,
				strerror(errno));
	text = malloc(CONF_FILE_MAX + 1);
	if (text == NULL) {
		fclose(f);
		return cfs_fail(errmsg, CFS_ENOMEM, "%s", path);
	}
	len = fread(text, 1, CONF_FILE_MAX + 1, f);
	if (ferror(f)) {
		rv = cfs_fail(errmsg, CFS_CONFIG, "%s: %s", path,
			      strerror(errno));
	} else if (len > CONF_FILE_MAX) {
		rv = cfs_fail(errmsg, CFS_CONFIG,
			      "%s: larger than %u bytes; not a config file?",
			      path, CONF_FILE_MAX);
	} else {
		rv = cfs_conf_parse(keys, target, text, len, path, errmsg);
	}
	free(text);
	fclose(f);
	return rv;
}

/* Write @s as a file value: quoted when the bare form would read back
 * differently (empty, blanks at the ends, '#', or a leading quote). */
static void
write_value(const char *s, FILE *out)
{
	size_t n = strlen(s);

	if (n > 0 && !is_blank(s[0]) && !is_blank(s[n - 1]) && s[0] != '"' &&
	    strchr(s, '#') == NULL) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

void
cfs_conf_write_example(const struct cfs_conf_key *keys, const char *title,
		       FILE *out)
{
	char range[96];

	if (title != NULL)
		fprintf(out, "# %s\n#\n", title);
	fputs("# Every key is shown commented out, with its default.  Sizes "
	      "take K, M, G, T\n# (powers of 2); durations ms, s, m, h "
	      "(default ms).\n",
	      out);
	for (const struct cfs_conf_key *k = keys; k->name != NULL; k++) {
		describe(k, 0, range, sizeof(range));
		fprintf(out, "\n# %s\n# range: %s  default: ", k->doc, range);
		write_value(default_text(k), out);
		fprintf(out, "\n#%s = ", k->name);
		write_value(default_text(k), out);
		fputc('\n', out);
	}
}

int
cfs_conf_format(const struct cfs_conf_key *key, const void *target, char *buf,
		size_t cap)
{
	const char *field = (const char *)target + key->offset;
	char tmp[32];
	int64_t i;
	uint64_t u;
	int b, n = -1;

	switch (key->type) {
	case CFS_CONF_BOOL:
		memcpy(&b, field, sizeof(b));
		n = snprintf(buf, cap, "%s", b ? "yes" : "no");
		break;
	case CFS_CONF_INT:
		memcpy(&i, field, sizeof(i));
		n = snprintf(buf, cap, "%" PRId64, i);
		break;
	case CFS_CONF_SIZE:
		memcpy(&u, field, sizeof(u));
		fmt_size(u, tmp, sizeof(tmp));
		n = snprintf(buf, cap, "%s", tmp);
		break;
	case CFS_CONF_DURATION:
		memcpy(&i, field, sizeof(i));
		fmt_duration(i, tmp, sizeof(tmp));
		n = snprintf(buf, cap, "%s", tmp);
		break;
	case CFS_CONF_STRING:
		n = snprintf(buf, cap, "%.*s", (int)strnlen(field, key->size),
			     field);
		break;
	}
	return n < 0 || (size_t)n >= cap ? CFS_ERANGE : 0;
}
