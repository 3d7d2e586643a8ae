/* cfsctl_json.h - a tiny streaming JSON writer for cfsctl --json output. */
#ifndef CFS_CLIENT_CFSCTL_JSON_H
#define CFS_CLIENT_CFSCTL_JSON_H

#include <stdint.h>
#include <stdio.h>

/*
 * Writes one JSON document to a stream as it is built, with no buffering
 * of its own: callers open objects and arrays, add members, close them.
 * @key names a member inside an object and must be NULL inside an array
 * (or for the top-level value).  Nesting is checked by assertions: it is
 * the program's structure, not input.  Strings are escaped per RFC 8259
 * (quote, backslash, control characters as \u00XX); bytes >= 0x80 pass
 * through unchanged (CFS names are bytes; valid UTF-8 stays valid).
 */
#define JSON_DEPTH_MAX 16

struct json {
	FILE *out;                      /* borrowed */
	int depth;
	int count[JSON_DEPTH_MAX];      /* members written at each level */
	char close[JSON_DEPTH_MAX];     /* '}' or ']' */
};

void json_init(struct json *j, FILE *out);
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_str(struct json *j, const char *key, const char *value);
/* @value of @len bytes, which may contain NULs */
void json_strn(struct json *j, const char *key, const char *value,
	       size_t len);
void json_u64(struct json *j, const char *key, uint64_t value);
void json_i64(struct json *j, const char *key, int64_t value);
void json_bool(struct json *j, const char *key, int value);
void json_null(struct json *j, const char *key);
/* End the document: a newline after the top-level value (depth 0). */
void json_finish(struct json *j);

#endif /* CFS_CLIENT_CFSCTL_JSON_H */
