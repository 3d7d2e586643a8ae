/* stream_probe.c - a libcfs reader for test_readahead_stall.sh: reads a file front to back, pausing once on command, into a local file. */
#include <cfs.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

/*
 * Usage: stream_probe SERVERS PATH LOCAL PIECE PAUSE_AT
 * Reads PATH with cfs_read calls of PIECE bytes each, one session, and
 * writes what they return to LOCAL.  Before the call at offset PAUSE_AT it
 * prints "paused" and waits for a line on stdin, so that a test can act
 * on the cluster (stop a node) while the read-ahead of the calls before
 * is in flight.  At the end it prints "done BYTES" and exits 0; on an
 * error "error ERRNO MESSAGE" and exits 1.
 */
int
main(int argc, char **argv)
{
	struct cfs_options opt;
	struct cfs *fs = NULL;
	struct cfs_file *f = NULL;
	char line[64];

	if (argc != 6) {
		fprintf(stderr, "usage: stream_probe SERVERS PATH LOCAL PIECE "
				"PAUSE_AT\n");
		return 2;
	}
	size_t piece = strtoull(argv[4], NULL, 10);
	unsigned long long pause_at = strtoull(argv[5], NULL, 10);
	FILE *out = fopen(argv[3], "w");
	char *buf = malloc(piece ? piece : 1);
	if (out == NULL || buf == NULL || piece == 0) {
		fprintf(stderr, "stream_probe: %s: cannot write, or bad "
				"PIECE\n", argv[3]);
		return 2;
	}
	cfs_options_init(&opt);
	opt.client_name = "stream_probe";
	/* one session: every call reads on the same data connections, so
	 * each finds the read-ahead the one before it asked for */
	opt.max_sessions = 1;
	opt.data_cache = 0; /* every call asks the data nodes */
	if (cfs_connect(&fs, argv[1], &opt) != 0) {
		printf("error 0 %s\n", cfs_errmsg(NULL));
		free(buf);
		return 1;
	}
	int rv = cfs_open(fs, argv[2], O_RDONLY, 0, &f);
	unsigned long long at = 0;
	ssize_t n = 1;
	while (rv == 0 && n > 0) {
		if (at == pause_at) {
			printf("paused\n");
			fflush(stdout);
			if (fgets(line, sizeof(line), stdin) == NULL)
				break;
		}
		n = cfs_read(f, buf, piece);
		if (n < 0)
			rv = (int)n;
		else if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			rv = -EIO;
		else
			at += (unsigned long long)n;
	}
	if (rv == 0)
		printf("done %llu\n", at);
	else
		printf("error %d %s\n", -rv, cfs_errmsg(fs));
	fflush(stdout);
	cfs_close(&f);
	cfs_disconnect(&fs);
	free(buf);
	return fclose(out) == 0 && rv == 0 ? 0 : 1;
}
