/* test_config.c - config tables: every type, every bound, hostile text, example files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/error.h"

struct tconf {
	int verbose;
	int64_t port;
	int64_t offset;
	uint64_t buffer;
	uint64_t big;
	int64_t election_timeout;
	int64_t lease;
	char name[8];
	char path[64];
};

#define K(field, type, min, max, def, doc)                                     \
	CFS_CONF_KEY(struct tconf, field, type, min, max, def, doc)
static const struct cfs_conf_key keys[] = {
    K(verbose, CFS_CONF_BOOL, 0, 1, "no", "log more"),
    K(port, CFS_CONF_INT, 1, 65535, "7100", "TCP port"),
    K(offset, CFS_CONF_INT, INT64_MIN, INT64_MAX, NULL, "full-range int"),
    K(buffer, CFS_CONF_SIZE, 4096, (int64_t)1 << 30, "64M", "a buffer"),
    K(big, CFS_CONF_SIZE, 0, INT64_MAX, NULL, "full-range size"),
    K(election_timeout, CFS_CONF_DURATION, 50, 10000, "300ms",
      "Raft election timeout"),
    K(lease, CFS_CONF_DURATION, 0, INT64_MAX, "2m", "full-range duration"),
    K(name, CFS_CONF_STRING, 0, 0, "meta", "a short string"),
    K(path, CFS_CONF_STRING, 0, 0, "/var/lib/cfs", "a longer string"),
    CFS_CONF_END,
};
#undef K

static struct tconf conf;
static char errmsg[CFS_ERRMSG_SIZE];

static int
reset(void **state)
{
	memset(&conf, 0xA5, sizeof(conf));
	errmsg[0] = '\0';
	return cfs_conf_defaults(keys, &conf, errmsg);
}

/* Parse @text from a heap copy with no terminator, so ASan catches any
 * read past the end. */
static int
parse_n(const char *text, size_t len)
{
	char *copy = malloc(len > 0 ? len : 1);
	int rv;

	assert_non_null(copy);
	memcpy(copy, text, len);
	rv = cfs_conf_parse(keys, &conf, copy, len, "t.conf", errmsg);
	free(copy);
	if (rv != 0)
		assert_int_equal(rv, CFS_CONFIG);
	return rv;
}

static int
parse(const char *text)
{
	return parse_n(text, strlen(text));
}

/* Parse text that must fail, and check the message mentions @needle. */
static void
parse_fails(const char *text, const char *needle)
{
	assert_int_equal(parse(text), CFS_CONFIG);
	if (strstr(errmsg, needle) == NULL)
		fail_msg("message '%s' lacks '%s'", errmsg, needle);
}

static const char *
fmt(const char *key)
{
	static char buf[128];
	for (const struct cfs_conf_key *k = keys; k->name != NULL; k++)
		if (strcmp(k->name, key) == 0) {
			assert_int_equal(
			    cfs_conf_format(k, &conf, buf, sizeof(buf)), 0);
			return buf;
		}
	fail_msg("no key %s", key);
	return NULL;
}

/* Defaults reach every field, NULL meaning 0 or "". */
static void
test_conf_defaults_fill_every_key(void **state)
{
	assert_int_equal(conf.verbose, 0);
	assert_int_equal(conf.port, 7100);
	assert_int_equal(conf.offset, 0);
	assert_int_equal(conf.buffer, 64u << 20);
	assert_int_equal(conf.big, 0);
	assert_int_equal(conf.election_timeout, 300);
	assert_int_equal(conf.lease, 120000);
	assert_string_equal(conf.name, "meta");
	assert_string_equal(conf.path, "/var/lib/cfs");
}

/* A default outside its own bounds is reported, naming the key. */
static void
test_conf_default_out_of_bounds_is_an_error(void **state)
{
	const struct cfs_conf_key bad[] = {
	    CFS_CONF_KEY(struct tconf, port, CFS_CONF_INT, 1, 10, "11", "x"),
	    CFS_CONF_END,
	};
	assert_int_equal(cfs_conf_defaults(bad, &conf, errmsg), CFS_CONFIG);
	assert_non_null(strstr(errmsg, "port = \"11\": out of range"));
}

/* A row whose field size does not fit its type is refused, not written. */
static void
test_conf_row_with_wrong_field_size_is_refused(void **state)
{
	const struct cfs_conf_key bad[] = {
	    {"verbose", CFS_CONF_INT, offsetof(struct tconf, verbose),
	     sizeof(int), 0, 10, "1", "int64 key over an int field"},
	    CFS_CONF_END,
	};
	conf.verbose = 7;
	assert_int_equal(cfs_conf_defaults(bad, &conf, errmsg), CFS_CONFIG);
	assert_int_equal(conf.verbose, 7);
	assert_non_null(strstr(errmsg, "verbose"));
}

/* Every documented spelling of a boolean, in any case. */
static void
test_conf_bool_accepts_every_spelling(void **state)
{
	static const char *const yes[] = {"yes", "true", "on",
					  "1",	 "YES",	 "True"};
	static const char *const no[] = {"no", "false", "off", "0", "OFF"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		conf.verbose = 0;
		assert_int_equal(cfs_conf_set(keys, &conf, "verbose", yes[i],
					      "--set", errmsg),
				 0);
		assert_int_equal(conf.verbose, 1);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		conf.verbose = 1;
		assert_int_equal(cfs_conf_set(keys, &conf, "verbose", no[i],
					      "--set", errmsg),
				 0);
		assert_int_equal(conf.verbose, 0);
	}
}

/* Other words are not booleans, and the value is left alone. */
static void
test_conf_bool_rejects_other_words(void **state)
{
	parse_fails("verbose = maybe\n",
		    "t.conf:1: verbose = \"maybe\": not a boolean");
	parse_fails("verbose = 2\n", "yes/no, true/false, on/off, 1/0");
	parse_fails("verbose = y\n", "not a boolean");
	assert_int_equal(conf.verbose, 0);
}

/* Integers at exactly their bounds are accepted, with an optional sign. */
static void
test_conf_int_accepts_values_at_both_bounds(void **state)
{
	assert_int_equal(parse("port = 1\n"), 0);
	assert_int_equal(conf.port, 1);
	assert_int_equal(
	    cfs_conf_set(keys, &conf, "port", "65535", "x", errmsg), 0);
	assert_int_equal(conf.port, 65535);
	assert_int_equal(cfs_conf_set(keys, &conf, "port", "+12", "x", errmsg),
			 0);
	assert_int_equal(conf.port, 12);
	assert_int_equal(parse("offset = -9223372036854775808\n"), 0);
	assert_true(conf.offset == INT64_MIN);
	assert_int_equal(cfs_conf_set(keys, &conf, "offset",
				      "9223372036854775807", "x", errmsg),
			 0);
	assert_true(conf.offset == INT64_MAX);
}

/* One past either bound is refused with the range in the message. */
static void
test_conf_int_rejects_values_just_outside_bounds(void **state)
{
	parse_fails("port = 0\n", "port = \"0\": out of range");
	parse_fails("port = 65536\n", "(expected an integer, 1..65535)");
	parse_fails("port = -1\n", "out of range");
	assert_int_equal(conf.port, 7100);
}

/* Integers beyond 64 bits are "too large", not wrapped. */
static void
test_conf_int_overflow_is_an_error(void **state)
{
	parse_fails("offset = 9223372036854775808\n", "too large");
	parse_fails("offset = -9223372036854775809\n", "too large");
	parse_fails("port = 99999999999999999999999\n", "too large");
	assert_int_equal(conf.offset, 0);
}

/* Only plain decimal: no hex, no trailing junk, no inner blanks. */
static void
test_conf_int_rejects_non_decimal_text(void **state)
{
	parse_fails("port = 0x10\n", "not an integer");
	parse_fails("port = 12abc\n", "not an integer");
	parse_fails("port = 1 2\n", "not an integer");
	parse_fails("port = -\n", "not an integer");
	parse_fails("port = 1.5\n", "not an integer");
}

/* K, M, G, T multiply by powers of two, either case; no suffix = bytes. */
static void
test_conf_size_suffixes_are_powers_of_two(void **state)
{
	assert_int_equal(parse("buffer = 8K\nbig = 3G\n"), 0);
	assert_int_equal(conf.buffer, 8192);
	assert_int_equal(conf.big, 3ull << 30);
	assert_int_equal(cfs_conf_set(keys, &conf, "buffer", "2m", "x", errmsg),
			 0);
	assert_int_equal(conf.buffer, 2u << 20);
	assert_int_equal(cfs_conf_set(keys, &conf, "big", "5T", "x", errmsg),
			 0);
	assert_int_equal(conf.big, 5ull << 40);
	assert_int_equal(cfs_conf_set(keys, &conf, "big", "12345", "x", errmsg),
			 0);
	assert_int_equal(conf.big, 12345);
}

/* Sizes at their bounds pass; one byte outside fails, naming the range. */
static void
test_conf_size_bounds_are_inclusive(void **state)
{
	assert_int_equal(parse("buffer = 4096\n"), 0);
	assert_int_equal(conf.buffer, 4096);
	assert_int_equal(cfs_conf_set(keys, &conf, "buffer", "1G", "x", errmsg),
			 0);
	assert_int_equal(conf.buffer, 1u << 30);
	parse_fails("buffer = 4095\n",
		    "out of range (expected N[K|M|G|T], 4K..1G)");
	parse_fails("buffer = 1073741825\n", "out of range");
	parse_fails("buffer = 2G\n", "out of range");
	assert_int_equal(parse("big = 9223372036854775807\n"), 0);
	assert_true(conf.big == (uint64_t)INT64_MAX);
	parse_fails("big = 9223372036854775808\n", "out of range");
}

/* Unknown suffixes, fractions and negative sizes are not sizes. */
static void
test_conf_size_rejects_bad_suffix(void **state)
{
	parse_fails("buffer = 12Q\n", "not a size");
	parse_fails("buffer = 1KB\n", "not a size");
	parse_fails("buffer = 1.5M\n", "not a size");
	parse_fails("buffer = -1\n", "not a size");
	parse_fails("buffer = K\n", "not a size");
	assert_int_equal(conf.buffer, 64u << 20);
}

/* Overflow in the digits or in the suffix multiplication is detected. */
static void
test_conf_size_overflow_is_an_error(void **state)
{
	parse_fails("big = 16777216T\n", "too large"); /* 2^64 */
	parse_fails("big = 18446744073709551616\n", "too large");
	parse_fails("big = 36028797018963968K\n", "too large"); /* 2^65 */
	/* Fits in 64 bits but not in the key's INT64_MAX bound. */
	parse_fails("big = 8388608T\n", "out of range");
	assert_int_equal(conf.big, 0);
}

/* ms, s, m, h scale to milliseconds; a bare number is milliseconds. */
static void
test_conf_duration_suffixes_scale_to_ms(void **state)
{
	assert_int_equal(parse("election_timeout = 250ms\nlease = 2h\n"), 0);
	assert_int_equal(conf.election_timeout, 250);
	assert_int_equal(conf.lease, 7200000);
	assert_int_equal(cfs_conf_set(keys, &conf, "lease", "3m", "x", errmsg),
			 0);
	assert_int_equal(conf.lease, 180000);
	assert_int_equal(
	    cfs_conf_set(keys, &conf, "election_timeout", "2s", "x", errmsg),
	    0);
	assert_int_equal(conf.election_timeout, 2000);
	assert_int_equal(
	    cfs_conf_set(keys, &conf, "election_timeout", "100", "x", errmsg),
	    0);
	assert_int_equal(conf.election_timeout, 100);
}

/* Duration bounds are inclusive; the message is exactly the documented
 * shape: file:line, key, quoted value, reason, syntax and range. */
static void
test_conf_duration_bounds_and_message_shape(void **state)
{
	assert_int_equal(parse("election_timeout = 50ms\n"), 0);
	assert_int_equal(conf.election_timeout, 50);
	assert_int_equal(
	    cfs_conf_set(keys, &conf, "election_timeout", "10s", "x", errmsg),
	    0);
	assert_int_equal(conf.election_timeout, 10000);
	parse_fails("election_timeout = 49\n", "out of range");
	parse_fails("election_timeout = 10001ms\n", "out of range");
	assert_int_equal(parse("\n# c\nelection_timeout = \"5x\"\n"),
			 CFS_CONFIG);
	assert_string_equal(errmsg,
			    "t.conf:3: election_timeout = \"5x\": not a "
			    "duration (expected N[ms|s|m|h], 50ms..10s): bad "
			    "configuration");
	assert_int_equal(conf.election_timeout, 10000);
}

/* Negative, fractional and unknown-unit durations are refused; so is
 * overflow when the unit multiplies. */
static void
test_conf_duration_rejects_bad_text_and_overflow(void **state)
{
	parse_fails("lease = -5s\n", "not a duration");
	parse_fails("lease = 1.5s\n", "not a duration");
	parse_fails("lease = 5d\n", "not a duration");
	parse_fails("lease = 5 s\n", "not a duration");
	parse_fails("lease = 9223372036854775807h\n", "too large");
	parse_fails("lease = 2562047788016h\n", "too large");
	parse_fails("lease = 9223372036854775808\n", "too large");
	assert_int_equal(parse("lease = 2562047788015h\n"), 0);
	assert_true(conf.lease == INT64_C(2562047788015) * 3600000);
}

/* An unknown key says so and suggests the nearest known key. */
static void
test_conf_unknown_key_suggests_nearest(void **state)
{
	parse_fails("electon_timeout = 1s\n",
		    "t.conf:1: unknown key 'electon_timeout' (did you mean "
		    "'election_timeout'?)");
	parse_fails("Election-Timeout = 1s\n", "'election_timeout'?");
	assert_int_equal(
	    cfs_conf_set(keys, &conf, "prot", "1", "--set", errmsg),
	    CFS_CONFIG);
	assert_non_null(strstr(errmsg, "--set: unknown key 'prot' (did you "
				       "mean 'port'?)"));
}

/* A key that resembles nothing gets no suggestion. */
static void
test_conf_unknown_key_far_from_all_gets_no_suggestion(void **state)
{
	parse_fails("zzzzzz = 1\n", "unknown key 'zzzzzz'");
	assert_null(strstr(errmsg, "did you mean"));
	parse_fails("x = 1\n", "unknown key 'x'");
	assert_null(strstr(errmsg, "did you mean"));
}

/* A key set twice in one file is an error naming both lines. */
static void
test_conf_duplicate_key_is_an_error(void **state)
{
	parse_fails("port = 7100\n\nport = 7101\n",
		    "t.conf:3: port: duplicate key (already set on line 1)");
}

/* Comments: whole lines, indented, after a value, glued to a value. */
static void
test_conf_comments_are_ignored(void **state)
{
	assert_int_equal(parse("# top\n   # indented\n\t\n"
			       "port = 5 # trailing\n"
			       "buffer=8K#glued\n"
			       "path = /a b/c   # inner blank kept\n"),
			 0);
	assert_int_equal(conf.port, 5);
	assert_int_equal(conf.buffer, 8192);
	assert_string_equal(conf.path, "/a b/c");
}

/* Quotes keep '#' and outer blanks; \" and \\ are the only escapes. */
static void
test_conf_quoted_strings_keep_hash_and_escapes(void **state)
{
	assert_int_equal(parse("path = \" a#b \\\" c \\\\ \" # comment\n"
			       "name = \"\"\n"),
			 0);
	assert_string_equal(conf.path, " a#b \" c \\ ");
	assert_string_equal(conf.name, "");
	parse_fails("path = \"a\\n\"\n", "unknown escape");
	parse_fails("path = \"open\n", "missing closing quote");
	parse_fails("path = \"a\\\"\n", "missing closing quote");
	parse_fails("path = \"a\" trailing\n", "text after the closing quote");
}

/* A string one byte short of its buffer fits; one more is refused. */
static void
test_conf_string_too_long_is_an_error(void **state)
{
	assert_int_equal(parse("name = 1234567\n"), 0);
	assert_string_equal(conf.name, "1234567");
	parse_fails("name = 12345678\n",
		    "name = \"12345678\": too long (8 bytes) (expected at most "
		    "7 bytes)");
	assert_string_equal(conf.name, "1234567");
}

/* CRLF line ends read like LF. */
static void
test_conf_crlf_lines_parse(void **state)
{
	assert_int_equal(parse("verbose = yes\r\nname = \"x\"\r\n"
			       "# c\r\nport = 9\r\n"),
			 0);
	assert_int_equal(conf.verbose, 1);
	assert_string_equal(conf.name, "x");
	assert_int_equal(conf.port, 9);
}

/* A line without '=' or without a key is a syntax error. */
static void
test_conf_missing_equals_is_an_error(void **state)
{
	parse_fails("port 7100\n",
		    "t.conf:1: port: missing '=' (expected key = value)");
	parse_fails("port\n", "missing '='");
	parse_fails("= 5\n", "missing key before '='");
}

/* A bare empty value is an error; "" is the way to write empty. */
static void
test_conf_empty_value_is_an_error(void **state)
{
	parse_fails("port =\n", "port: empty value");
	parse_fails("path =   # nothing\n", "empty value");
	assert_string_equal(conf.path, "/var/lib/cfs");
}

/* A NUL byte anywhere in a line is an error, even in a comment. */
static void
test_conf_nul_byte_is_an_error(void **state)
{
	assert_int_equal(parse_n("port = 1\0port = 2\n", 18), CFS_CONFIG);
	assert_non_null(strstr(errmsg, "t.conf:1: NUL byte"));
	assert_int_equal(parse_n("port = 3\n# a\0b\n", 15), CFS_CONFIG);
	assert_non_null(strstr(errmsg, "t.conf:2: NUL byte"));
	assert_int_equal(conf.port, 3);
}

/* The last line needs no newline; empty input changes nothing. */
static void
test_conf_last_line_without_newline_parses(void **state)
{
	assert_int_equal(parse("port = 1\nbuffer = 8K"), 0);
	assert_int_equal(conf.buffer, 8192);
	assert_int_equal(parse_n("port = 42", 9), 0);
	assert_int_equal(conf.port, 42);
	assert_int_equal(cfs_conf_parse(keys, &conf, NULL, 0, "t", errmsg), 0);
	assert_int_equal(conf.port, 42);
}

/* Lines past 4096 bytes are an error, at any content; 4096 is fine. */
static void
test_conf_very_long_line_is_an_error(void **state)
{
	size_t n = 100000;
	char *big = malloc(n);

	assert_non_null(big);
	memset(big, 'a', n);
	assert_int_equal(parse_n(big, n), CFS_CONFIG);
	assert_non_null(strstr(errmsg, "t.conf:1: line longer than 4096"));
	memcpy(big, "port = 5 #", 10);
	assert_int_equal(parse_n(big, 4096), 0);
	assert_int_equal(conf.port, 5);
	assert_int_equal(parse_n(big, 4097), CFS_CONFIG);
	free(big);
}

/* Every byte value in a value position gives a result, never a crash. */
static void
test_conf_any_byte_in_a_value_is_handled(void **state)
{
	char line[32];
	for (int c = 1; c < 256; c++) {
		int n = snprintf(line, sizeof(line), "name = a%cb\n", c);
		int rv = parse_n(line, (size_t)n);
		if (rv == 0)
			assert_true(strlen(conf.name) < sizeof(conf.name));
		memset(&conf, 0, sizeof(conf));
	}
}

/* A missing file is an error naming the path; a real file loads and its
 * errors name file:line. */
static void
test_conf_load_reads_files_and_names_them(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX";
	int fd;
	FILE *f;

	assert_int_equal(
	    cfs_conf_load(keys, &conf, "/nonexistent/cfs.conf", errmsg),
	    CFS_CONFIG);
	assert_non_null(strstr(errmsg, "/nonexistent/cfs.conf: No such file"));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("port = 81\nbuffer = 1Q\n", f);
	fclose(f);
	assert_int_equal(cfs_conf_load(keys, &conf, path, errmsg), CFS_CONFIG);
	assert_int_equal(conf.port, 81);
	assert_non_null(strstr(errmsg, ":2: buffer = \"1Q\": not a size"));
	assert_non_null(strstr(errmsg, path));
	unlink(path);
}

/* The example file shows doc, range and default per key, and with its
 * key lines uncommented parses back to exactly the defaults. */
static void
test_conf_write_example_parses_back_to_defaults(void **state)
{
	char *text = NULL, *p;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct tconf def;
	char a[128], b[128];

	assert_non_null(out);
	cfs_conf_write_example(keys, "test daemon", out);
	fclose(out);
	assert_non_null(strstr(text, "# TCP port\n# range: 1..65535  "
				     "default: 7100\n#port = 7100\n"));
	assert_non_null(strstr(text, "# range: 50ms..10s  default: 300ms\n"
				     "#election_timeout = 300ms\n"));
	assert_non_null(strstr(text, "#name = meta\n"));
	assert_non_null(strstr(text, "#offset = 0\n"));
	/* Uncomment "#key = ..." lines: drop the '#' before a letter. */
	for (p = text; (p = strstr(p, "\n#")) != NULL; p++)
		if (p[2] >= 'a' && p[2] <= 'z')
			p[1] = ' ';
	def = conf;
	memset(&conf, 0x5A, sizeof(conf));
	assert_int_equal(parse_n(text, len), 0);
	for (const struct cfs_conf_key *k = keys; k->name != NULL; k++) {
		assert_int_equal(cfs_conf_format(k, &def, a, sizeof(a)), 0);
		assert_int_equal(cfs_conf_format(k, &conf, b, sizeof(b)), 0);
		assert_string_equal(a, b);
	}
	free(text);
}

/* An example of a string default needing quotes quotes it. */
static void
test_conf_write_example_quotes_awkward_strings(void **state)
{
	const struct cfs_conf_key q[] = {
	    CFS_CONF_KEY(struct tconf, path, CFS_CONF_STRING, 0, 0, " a#\"b ",
			 "odd"),
	    CFS_CONF_KEY(struct tconf, name, CFS_CONF_STRING, 0, 0, NULL,
			 "empty"),
	    CFS_CONF_END,
	};
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	cfs_conf_write_example(q, NULL, out);
	fclose(out);
	assert_non_null(strstr(text, "\n#path = \" a#\\\"b \"\n"));
	assert_non_null(strstr(text, "\n#name = \"\"\n"));
	free(text);
}

/* Formatting uses suffixes only when exact, and reads back identically. */
static void
test_conf_format_round_trips(void **state)
{
	static const char *const cases[][2] = {
	    {"verbose", "yes"},
	    {"port", "65535"},
	    {"offset", "-9223372036854775808"},
	    {"buffer", "64M"},
	    {"buffer", "4097"},
	    {"big", "3T"},
	    {"big", "9223372036854775807"},
	    {"election_timeout", "1500ms"},
	    {"election_timeout", "2s"},
	    {"lease", "0ms"},
	    {"lease", "9223372036854775807ms"},
	    {"path", " with # and \" "},
	};
	char again[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cfs_conf_set(keys, &conf, cases[i][0],
					      cases[i][1], "x", errmsg),
				 0);
		assert_string_equal(fmt(cases[i][0]), cases[i][1]);
		snprintf(again, sizeof(again), "%s", fmt(cases[i][0]));
		assert_int_equal(
		    cfs_conf_set(keys, &conf, cases[i][0], again, "x", errmsg),
		    0);
		assert_string_equal(fmt(cases[i][0]), again);
	}
	/* Not-exact units fall back to the smaller unit. */
	assert_int_equal(cfs_conf_set(keys, &conf, "lease", "2m", "x", errmsg),
			 0);
	assert_string_equal(fmt("lease"), "120s");
	assert_int_equal(cfs_conf_set(keys, &conf, "big", "1024M", "x", errmsg),
			 0);
	assert_string_equal(fmt("big"), "1G");
}

/* Too small a buffer is reported and still NUL-terminated; an exact fit
 * is not. */
static void
test_conf_format_into_short_buffer_is_erange(void **state)
{
	char buf[5];
	assert_int_equal(cfs_conf_format(&keys[8], &conf, buf, sizeof(buf)),
			 CFS_ERANGE);
	assert_string_equal(buf, "/var");
	assert_int_equal(cfs_conf_format(&keys[1], &conf, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "7100");
}

#define T(name) cmocka_unit_test_setup(name, reset)
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_conf_defaults_fill_every_key),
	    T(test_conf_default_out_of_bounds_is_an_error),
	    T(test_conf_row_with_wrong_field_size_is_refused),
	    T(test_conf_bool_accepts_every_spelling),
	    T(test_conf_bool_rejects_other_words),
	    T(test_conf_int_accepts_values_at_both_bounds),
	    T(test_conf_int_rejects_values_just_outside_bounds),
	    T(test_conf_int_overflow_is_an_error),
	    T(test_conf_int_rejects_non_decimal_text),
	    T(test_conf_size_suffixes_are_powers_of_two),
	    T(test_conf_size_bounds_are_inclusive),
	    T(test_conf_size_rejects_bad_suffix),
	    T(test_conf_size_overflow_is_an_error),
	    T(test_conf_duration_suffixes_scale_to_ms),
	    T(test_conf_duration_bounds_and_message_shape),
	    T(test_conf_duration_rejects_bad_text_and_overflow),
	    T(test_conf_unknown_key_suggests_nearest),
	    T(test_conf_unknown_key_far_from_all_gets_no_suggestion),
	    T(test_conf_duplicate_key_is_an_error),
	    T(test_conf_comments_are_ignored),
	    T(test_conf_quoted_strings_keep_hash_and_escapes),
	    T(test_conf_string_too_long_is_an_error),
	    T(test_conf_crlf_lines_parse),
	    T(test_conf_missing_equals_is_an_error),
	    T(test_conf_empty_value_is_an_error),
	    T(test_conf_nul_byte_is_an_error),
	    T(test_conf_last_line_without_newline_parses),
	    T(test_conf_very_long_line_is_an_error),
	    T(test_conf_any_byte_in_a_value_is_handled),
	    T(test_conf_load_reads_files_and_names_them),
	    T(test_conf_write_example_parses_back_to_defaults),
	    T(test_conf_write_example_quotes_awkward_strings),
	    T(test_conf_format_round_trips),
	    T(test_conf_format_into_short_buffer_is_erange),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
