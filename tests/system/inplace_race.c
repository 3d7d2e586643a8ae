/* inplace_race.c - two sessions of one mount write one fragment while the first write's commit opening it for patching in place has been answered but the write has not patched yet: neither write is lost. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/fileio.h"
#include "client/metaclient.h"
#include "common/error.h"
#include "common/proto.h"
#include "common/wire.h"

#define FSZ (1u << 20) /* the test cluster's fragment size */
#define STALL_MS 400   /* the first writer's pause after its commit */
#define SECOND_MS 100  /* when the second writer starts */

static unsigned char model[FSZ], buf[FSZ];

struct writer {
	struct fio *f;
	uint64_t ino, epoch, off;
	int rv;
	char errmsg[CFS_ERRMSG_SIZE];
};

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The hook: the first writer to open the fragment waits there. */
static void
stall(uint64_t ino, uint64_t idx)
{
	static int once;

	(void)ino;
	(void)idx;
	if (!once) {
		once = 1;
		sleep_ms(STALL_MS);
	}
}

static void *
write_main(void *arg)
{
	struct writer *w = arg;

	w->rv = fio_pwrite(w->f, w->ino, w->off, model + w->off, 4096, 1,
			   w->epoch, w->errmsg);
	return NULL;
}

static void
fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

int
main(int argc, char **argv)
{
	struct mc_options mo = {0};
	struct mc *ma = NULL, *mb = NULL, *mr = NULL;
	struct fio *fa = NULL, *fb = NULL, *fr = NULL;
	struct fio_opens *opens = NULL;
	struct wire_attr attr;
	char errmsg[CFS_ERRMSG_SIZE], name[64];
	int failures = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: inplace_race SERVERS\n");
		return 2;
	}
	/* two sessions of one mount, as cfs-fuse opens them: one table of
	 * open versions, the first session's id naming the lease holder */
	if (mc_open(&ma, argv[1], &mo, errmsg) != 0)
		goto fail;
	mo.lease_owner = mc_lease_owner(ma);
	if (mc_open(&mb, argv[1], &mo, errmsg) != 0 ||
	    fio_open(&fa, ma, NULL, errmsg) != 0 ||
	    fio_open(&fb, mb, NULL, errmsg) != 0 ||
	    fio_opens_new(&opens, errmsg) != 0)
		goto fail;
	fio_set_opens(fa, opens);
	fio_set_opens(fb, opens);

	snprintf(name, sizeof(name), "race.%d", (int)getpid());
	if (mc_create(ma, 1, name, 0644, &attr, errmsg) != 0)
		goto fail;
	struct wire_lease_get lq = {.ino = attr.ino, .type = CFS_LEASE_WRITE};
	union wire_body *rep = malloc(sizeof(*rep));
	uint16_t rt = 0;
	if (rep == NULL ||
	    mc_call(ma, WIRE_T_lease_get, &lq, &rt, rep, 0, errmsg) != 0 ||
	    rt != WIRE_T_lease_granted) {
		free(rep);
		goto fail;
	}
	uint64_t epoch = rep->lease_granted.epoch;
	free(rep);
	/* the fragment, committed whole */
	fill(model, FSZ, 7);
	if (fio_pwrite(fa, attr.ino, 0, model, FSZ, 1, epoch, errmsg) != 0)
		goto fail;

	/* A's 4 KiB at 0 opens the committed version and stalls after its
	 * commit; B's 4 KiB at 8 KiB comes meanwhile */
	struct writer a = {.f = fa, .ino = attr.ino, .epoch = epoch, .off = 0};
	struct writer b = {.f = fb, .ino = attr.ino, .epoch = epoch,
			   .off = 8192};
	fill(model + a.off, 4096, 11);
	fill(model + b.off, 4096, 13);
	fio_test_opened_in_place = stall;
	pthread_t ta, tb;
	pthread_create(&ta, NULL, write_main, &a);
	sleep_ms(SECOND_MS);
	pthread_create(&tb, NULL, write_main, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	fio_test_opened_in_place = NULL;
	printf("%s first writer's fsync'd write returned 0%s%s\n",
	       a.rv == 0 ? "ok  " : "FAIL", a.rv ? ": " : "", a.errmsg);
	printf("%s second writer's fsync'd write returned 0%s%s\n",
	       b.rv == 0 ? "ok  " : "FAIL", b.rv ? ": " : "", b.errmsg);
	failures += (a.rv != 0) + (b.rv != 0);

	/* as the lease's recall would: seal, then another client reads
	 * what was committed */
	if (fio_seal_ino(fa, attr.ino, errmsg) != 0)
		goto fail;
	size_t got = 0;
	if (mc_open(&mr, argv[1], NULL, errmsg) != 0 ||
	    fio_open(&fr, mr, NULL, errmsg) != 0 ||
	    fio_pread(fr, attr.ino, 0, buf, FSZ, &got, errmsg) != 0)
		goto fail;
	int whole = got == FSZ && memcmp(buf, model, FSZ) == 0;
	int a_there = got == FSZ && memcmp(buf, model, 4096) == 0;
	int b_there = got == FSZ && memcmp(buf + 8192, model + 8192, 4096) == 0;
	printf("%s another client reads both writes (first %s, second %s)\n",
	       whole ? "ok  " : "FAIL", a_there ? "there" : "LOST",
	       b_there ? "there" : "LOST");
	failures += !whole;
	struct fio_opens_stats st;
	fio_opens_stats(opens, &st);
	printf("    %llu versions opened in place, %llu patches, %llu seals "
	       "(%llu after a survey)\n",
	       (unsigned long long)st.opened_in_place,
	       (unsigned long long)st.patches, (unsigned long long)st.seals,
	       (unsigned long long)st.surveys);
	printf("%s inode %llu\n", name, (unsigned long long)attr.ino);
	goto out;
fail:
	fprintf(stderr, "inplace_race: %s\n", errmsg);
	failures++;
out:
	fio_close(&fr);
	mc_close(&mr);
	fio_close(&fa);
	fio_close(&fb);
	fio_opens_free(&opens);
	mc_close(&ma);
	mc_close(&mb);
	return failures ? 1 : 0;
}
