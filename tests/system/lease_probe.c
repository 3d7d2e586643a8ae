/* lease_probe.c - a lease holder for tests/system/test_leases.sh: holds a lease on a path through the metadata protocol and answers recalls (or, with --deaf, never does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/metaclient.h"
#include "common/error.h"
#include "common/proto.h"

/* usage: lease_probe SERVERS PATH r|w [--deaf]
 * Prints "held EPOCH" once granted, then "recalled" when a recall comes
 * and the lease was released (exit 0); --deaf holds on forever. */
int
main(int argc, char **argv)
{
	char errmsg[CFS_ERRMSG_SIZE];
	struct mc *mc = NULL, *watch = NULL;
	union wire_body *rep = malloc(sizeof(*rep));
	struct wire_attr a;
	uint16_t rt = 0;

	if (argc < 4 || rep == NULL) {
		fprintf(stderr, "usage: lease_probe SERVERS PATH r|w [--deaf]\n");
		return 2;
	}
	int deaf = argc > 4 && strcmp(argv[4], "--deaf") == 0;
	struct mc_options o = {.client_name = "lease_probe"};
	if (mc_open(&mc, argv[1], &o, errmsg) != 0) {
		fprintf(stderr, "lease_probe: %s\n", errmsg);
		return 1;
	}
	uint64_t ino = 1;
	char *path = strdup(argv[2]);
	for (char *t = strtok(path, "/"); t; t = strtok(NULL, "/")) {
		if (mc_lookup(mc, ino, t, &a, errmsg) != 0) {
			fprintf(stderr, "lease_probe: %s: %s\n", t, errmsg);
			return 1;
		}
		ino = a.ino;
	}
	struct wire_lease_get g = {.ino = ino,
				   .type = argv[3][0] == 'w' ? CFS_LEASE_WRITE
							     : CFS_LEASE_READ};
	int rv;
	while ((rv = mc_call(mc, WIRE_T_lease_get, &g, &rt, rep, 0,
			     errmsg)) == CFS_LEASE_BUSY)
		usleep(20000);
	if (rv != 0) {
		fprintf(stderr, "lease_probe: lease_get: %s\n", errmsg);
		return 1;
	}
	uint64_t epoch = rep->lease_granted.epoch;
	printf("held %llu\n", (unsigned long long)epoch);
	fflush(stdout);
	if (deaf)
		for (;;)
			pause();
	o.lease_owner = mc_lease_owner(mc);
	o.attempt_timeout_ms = 3000;
	if (mc_open(&watch, argv[1], &o, errmsg) != 0) {
		fprintf(stderr, "lease_probe: %s\n", errmsg);
		return 1;
	}
	struct wire_lease_watch w = {.holder = o.lease_owner, .wait_ms = 1000};
	for (;;) {
		if (mc_call(watch, WIRE_T_lease_watch, &w, &rt, rep, 5000,
			    errmsg) != 0 ||
		    rt != WIRE_T_lease_recall) {
			usleep(100000);
			continue;
		}
		for (uint32_t i = 0; i < rep->lease_recall.inos_count; i++)
			if (rep->lease_recall.inos[i] == ino)
				goto recalled;
	}
recalled:;
	struct wire_lease_release r = {.ino = ino, .epoch = epoch};
	rv = mc_call(mc, WIRE_T_lease_release, &r, NULL, NULL, 0, errmsg);
	printf("recalled %d\n", rv);
	mc_close(&watch);
	mc_close(&mc);
	free(path);
	free(rep);
	return rv != 0;
}
