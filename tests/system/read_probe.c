/* read_probe.c - a libcfs client that stats paths on command, for tests of
 * read consistency across leader changes (test_read_lease.sh).
 *
 *   read_probe SERVERS
 * connects (its session opened at once), prints "ready", then for each
 * line PATH on stdin prints "mode OCTAL" (the permission bits) or
 * "error ERRNO MESSAGE", flushed.  The session and the leader it knows are
 * kept between lines, so a test can connect while one server leads and
 * read after that server was cut off from the others. */
#include <cfs.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int
main(int argc, char **argv)
{
	struct cfs_options opt;
	struct cfs *fs;
	char line[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: read_probe SERVERS\n");
		return 2;
	}
	cfs_options_init(&opt);
	opt.call_timeout_ms = 5000;
	opt.client_name = "read_probe";
	if (cfs_connect(&fs, argv[1], &opt) != 0) {
		fprintf(stderr, "read_probe: %s\n", cfs_errmsg(NULL));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		struct stat st;
		int rv;

		line[strcspn(line, "\n")] = '\0';
		if ((rv = cfs_stat(fs, line, &st)) != 0)
			printf("error %d %s\n", -rv, cfs_errmsg(fs));
		else
			printf("mode %o\n", (unsigned)st.st_mode & 07777);
		fflush(stdout);
	}
	cfs_disconnect(&fs);
	return 0;
}
