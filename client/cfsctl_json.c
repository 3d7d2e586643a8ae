/* cfsctl_json.c - a tiny streaming JSON writer for cfsctl --json output. */
#include <assert.h>
#include <string.h>

#include "client/cfsctl_json.h"

void
json_init(struct json *j, FILE *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

static void
put_string(struct json *j, const char *s, size_t len)
{
	fputc('"', j->out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': fputs("\\\"", j->out); break;
		case '\\': fputs("\\\\", j->out); break;
		case '\n': fputs("\\n", j->out); break;
		case '\r': fputs("\\r", j->out); break;
		case '\t': fputs("\\t", j->out); break;
		case '\b': fputs("\\b", j->out); break;
		case '\f': fputs("\\f", j->out); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(j->out, "\\u%04x", c);
			else
				fputc(c, j->out);
		}
	}
	fputc('"', j->out);
}

/* The separator and key before a new value at the current level. */
static void
member(struct json *j, const char *key)
{
	if (j->depth > 0) {
		assert((key != NULL) == (j->close[j->depth - 1] == '}'));
		if (j->count[j->depth - 1]++ > 0)
			fputc(',', j->out);
	} else {
		assert(key == NULL);
	}
	if (key != NULL) {
		put_string(j, key, strlen(key));
		fputc(':', j->out);
	}
}

static void
open_level(struct json *j, const char *key, char open, char close)
{
	member(j, key);
	assert(j->depth < JSON_DEPTH_MAX);
	fputc(open, j->out);
	j->close[j->depth] = close;
	j->count[j->depth] = 0;
	j->depth++;
}

static void
close_level(struct json *j, char close)
{
	assert(j->depth > 0 && j->close[j->depth - 1] == close);
	j->depth--;
	fputc(close, j->out);
}

void
json_object_begin(struct json *j, const char *key)
{
	open_level(j, key, '{', '}');
}

void
json_object_end(struct json *j)
{
	close_level(j, '}');
}

void
json_array_begin(struct json *j, const char *key)
{
	open_level(j, key, '[', ']');
}

void
json_array_end(struct json *j)
{
	close_level(j, ']');
}

void
json_strn(struct json *j, const char *key, const char *value, size_t len)
{
	member(j, key);
	put_string(j, value, len);
}

void
json_str(struct json *j, const char *key, const char *value)
{
	if (value == NULL)
		json_null(j, key);
	else
		json_strn(j, key, value, strlen(value));
}

void
json_u64(struct json *j, const char *key, uint64_t value)
{
	member(j, key);
	fprintf(j->out, "%llu", (unsigned long long)value);
}

void
json_i64(struct json *j, const char *key, int64_t value)
{
	member(j, key);
	fprintf(j->out, "%lld", (long long)value);
}

void
json_bool(struct json *j, const char *key, int value)
{
	member(j, key);
	fputs(value ? "true" : "false", j->out);
}

void
json_null(struct json *j, const char *key)
{
	member(j, key);
	fputs("null", j->out);
}

void
json_finish(struct json *j)
{
	assert(j->depth == 0);
	fputc('\n', j->out);
	fflush(j->out);
}
