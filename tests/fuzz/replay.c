/* replay.c - runs a fuzz target over its committed corpus under the normal compiler. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

/*
 * Linked with one tests/fuzz/fuzz_<target>.c, this makes every corpus input
 * a regression test in `make check` (and under --enable-sanitize), without
 * clang or libFuzzer.  Usage: replay_<target> [DIR-OR-FILE...]; with no
 * argument it replays $srcdir/tests/fuzz/corpus/FUZZ_TARGET (automake's test
 * driver exports srcdir).  A property violation aborts; a missing or empty
 * corpus is a failure too, so the test cannot pass by finding nothing.
 */

#ifndef FUZZ_TARGET
#error "compile with -DFUZZ_TARGET=\"name\""
#endif

static int
replay_file(const char *path, size_t *count)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/* One spare byte so an empty file still gets a non-NULL buffer. */
	buf = malloc((size_t)len + 1);
	if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	(*count)++;
	return 0;
}

static int
replay_path(const char *path, size_t *count)
{
	struct stat st;
	struct dirent **names;
	int n, rv = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, count);
	/* Sorted, so a failure names the same file on every run. */
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char child[4096];

		if (names[i]->d_name[0] != '.' && rv == 0) {
			snprintf(child, sizeof(child), "%s/%s", path,
				 names[i]->d_name);
			rv = replay_path(child, count);
		}
		free(names[i]);
	}
	free(names);
	return rv;
}

int
main(int argc, char **argv)
{
	char def[4096];
	size_t count = 0;
	const char *srcdir = getenv("srcdir");

	if (argc < 2) {
		snprintf(def, sizeof(def), "%s/tests/fuzz/corpus/%s",
			 srcdir != NULL ? srcdir : ".", FUZZ_TARGET);
		if (replay_path(def, &count) != 0)
			return 1;
	}
	for (int i = 1; i < argc; i++)
		if (replay_path(argv[i], &count) != 0)
			return 1;
	if (count == 0) {
		fprintf(stderr, "replay %s: no corpus inputs found\n",
			FUZZ_TARGET);
		return 1;
	}
	printf("replay %s: %zu inputs, all properties hold\n", FUZZ_TARGET,
	       count);
	return 0;
}
