/* config.h - table-driven config files: `key = value`, typed, bounded, documented. */
#ifndef CFS_COMMON_CONFIG_H
#define CFS_COMMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Each daemon declares ONE table of its keys (name, type, bounds, default,
 * one-line doc) over its own config struct.  The same table parses files,
 * applies command-line overrides, fills defaults and writes the documented
 * example config shipped in deploy/ (a unit test checks the shipped file
 * against the table).
 *
 * File syntax: one `key = value` per line; `#` starts a comment (outside
 * quotes); blank lines ignored; values may be "double quoted" (then `#` and
 * leading/trailing spaces are kept; \" and \\ escape).  A key may appear
 * once per file.
 */

enum cfs_conf_type {
	CFS_CONF_BOOL,     /* int: yes/no, true/false, on/off, 1/0 */
	CFS_CONF_INT,      /* int64_t, decimal, within [min, max] */
	CFS_CONF_SIZE,     /* uint64_t bytes; suffixes K M G T (powers of 2) */
	CFS_CONF_DURATION, /* int64_t milliseconds; suffixes ms s m h (default ms) */
	CFS_CONF_STRING,   /* char[size], NUL-terminated, at most size-1 bytes */
};

struct cfs_conf_key {
	const char *name;
	enum cfs_conf_type type;
	size_t offset;   /* offsetof(struct daemon_config, field) */
	size_t size;     /* sizeof the field (the buffer size for STRING) */
	int64_t min;     /* inclusive bounds: INT, SIZE (bytes), DURATION (ms) */
	int64_t max;
	const char *def; /* default, written as in a file; NULL = "" / 0 */
	const char *doc; /* one line for --help and the example file */
};

/* Helper for table rows. */
#define CFS_CONF_KEY(st, field, type, min, max, def, doc)                    \
	{#field, (type), offsetof(st, field), sizeof(((st *)0)->field),      \
	 (min),  (max),  (def),               (doc)}

/* Tables end with a row whose name is NULL. */
#define CFS_CONF_END {NULL, CFS_CONF_BOOL, 0, 0, 0, 0, NULL, NULL}

/* Set every key of @target to its default.  Fails only if a default is
 * itself out of bounds (a programming error, reported as CFS_CONFIG). */
int cfs_conf_defaults(const struct cfs_conf_key *keys, void *target,
		      char *errmsg);

/* Set one key from text.  @where names the source for messages
 * ("/etc/cfs/meta.conf:12", "--set").  Errors (CFS_CONFIG) name the key, the
 * value and the allowed range or the list of known keys' nearest match. */
int cfs_conf_set(const struct cfs_conf_key *keys, void *target,
		 const char *key, const char *value, const char *where,
		 char *errmsg);

/* Parse `key = value` text of @len bytes (need not be NUL-terminated);
 * @name is used in messages as "name:LINE".  Total over any input. */
int cfs_conf_parse(const struct cfs_conf_key *keys, void *target,
		   const char *text, size_t len, const char *name,
		   char *errmsg);

/* Read and parse a file.  A missing or unreadable file is an error. */
int cfs_conf_load(const struct cfs_conf_key *keys, void *target,
		  const char *path, char *errmsg);

/* Write every key with its doc, range and default as a commented example
 * config file (the format of the deploy/ example configs). */
void cfs_conf_write_example(const struct cfs_conf_key *keys,
			    const char *title, FILE *out);

/* Format the current value of @key into @buf (for status output). */
int cfs_conf_format(const struct cfs_conf_key *key, const void *target,
		    char *buf, size_t cap);

#endif /* CFS_COMMON_CONFIG_H */
