/* main.c - the cfs-meta command line: options, config file, start the server. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "meta/options.h"
#include "meta/server.h"

#define MAX_PEERS 16

static const char usage_text[] =
	"Usage: cfs-meta [OPTIONS]\n"
	"\n"
	"Run one metadata server of a CFS cluster.  Three or five of them form\n"
	"the metadata cluster: they replicate the namespace with Raft, elect a\n"
	"leader, and any minority of them may fail without losing an\n"
	"acknowledged operation.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE        read settings from FILE (key = value; see\n"
	"                           --print-config for every key)\n"
	"  -s, --set KEY=VALUE      set one key; repeatable; wins over --config\n"
	"      --id N               same as --set id=N\n"
	"      --dir DIR            same as --set dir=DIR\n"
	"      --raft HOST:PORT     same as --set raft=HOST:PORT\n"
	"      --listen HOST:PORT   same as --set listen=HOST:PORT\n"
	"      --init-cluster SPEC  bootstrap a NEW cluster whose voters are\n"
	"                           SPEC = ID=RAFTHOST:PORT/CLIENTHOST:PORT,...\n"
	"                           (give every first server the same SPEC;\n"
	"                           ignored once the server has state)\n"
	"      --print-config       print every key with its default and range\n"
	"                           as a commented config file, and exit\n"
	"  -h, --help               show this help\n"
	"\n"
	"Files in DIR: identity (which server id owns DIR), raft/ (the Raft log\n"
	"and snapshots), meta.db (the SQLite state machine).  A server refuses to\n"
	"start when one of them is missing or corrupt while the others hold\n"
	"state, rather than come up with an empty namespace.\n"
	"\n"
	"A server that is not in --init-cluster and has no state waits to be\n"
	"added by the leader: `cfsctl meta add ID RAFTHOST:PORT CLIENTHOST:PORT`\n"
	"and `cfsctl meta promote ID`.\n"
	"\n"
	"Environment: CFS_LOG=error|warn|info|debug|trace, CFS_TRACE=1.\n"
	"Signals: SIGTERM and SIGINT stop the server cleanly.\n"
	"\n"
	"Example (three servers on one machine, then format the filesystem):\n"
	"  SPEC=1=127.0.0.1:7101/127.0.0.1:7001,2=127.0.0.1:7102/127.0.0.1:7002,\\\n"
	"3=127.0.0.1:7103/127.0.0.1:7003\n"
	"  for i in 1 2 3; do cfs-meta --id $i --dir /var/lib/cfs/meta$i \\\n"
	"      --raft 127.0.0.1:710$i --listen 127.0.0.1:700$i \\\n"
	"      --init-cluster $SPEC & done\n"
	"  CFS_CLUSTER=127.0.0.1:7001 cfsctl cluster bootstrap\n"
	"\n"
	"Exit status: 0 after a clean stop, 1 on a runtime failure, 2 on a\n"
	"usage or configuration error.\n";

int
main(int argc, char **argv)
{
	enum { OPT_ID = 256, OPT_DIR, OPT_RAFT, OPT_LISTEN, OPT_INIT,
	       OPT_PRINT };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 's'},
		{"id", required_argument, NULL, OPT_ID},
		{"dir", required_argument, NULL, OPT_DIR},
		{"raft", required_argument, NULL, OPT_RAFT},
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"init-cluster", required_argument, NULL, OPT_INIT},
		{"print-config", no_argument, NULL, OPT_PRINT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct meta_options opt;
	struct meta_peer peers[MAX_PEERS];
	unsigned n_peers = 0;
	char errmsg[CFS_ERRMSG_SIZE] = "";
	const char *config = NULL, *init = NULL;
	/* --set and friends apply after the config file: remember them */
	const char *sets[256][2];
	unsigned n_sets = 0;
	static char setbuf[256][1100];
	int c;

	cfs_log_init("cfs-meta");
	/* A dead peer's TCP connection must not kill us (STACK.md: without
	 * this, killing the leader killed survivors in 2 of 9 runs). */
	signal(SIGPIPE, SIG_IGN);
	/* Keep freed memory instead of returning it to the kernel after
	 * every batch: the brk/munmap/page-fault churn of glibc's defaults
	 * was a tenth of the server's CPU under load. */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_MMAP_THRESHOLD, 16 << 20);

	while ((c = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 'c': config = optarg; continue;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_PRINT:
			cfs_conf_write_example(meta_option_keys,
					       "cfs-meta configuration",
					       stdout);
			return 0;
		case OPT_INIT: init = optarg; continue;
		case OPT_ID: key = "id"; break;
		case OPT_DIR: key = "dir"; break;
		case OPT_RAFT: key = "raft"; break;
		case OPT_LISTEN: key = "listen"; break;
		case 's': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg) {
				fprintf(stderr,
					"cfs-meta: --set wants KEY=VALUE, not "
					"'%s'\n",
					optarg);
				return 2;
			}
			if (n_sets == 256)
				return 2;
			snprintf(setbuf[n_sets], sizeof(setbuf[n_sets]), "%s",
				 optarg);
			setbuf[n_sets][eq - optarg] = '\0';
			sets[n_sets][0] = setbuf[n_sets];
			sets[n_sets][1] = setbuf[n_sets] + (eq - optarg) + 1;
			n_sets++;
			continue;
		}
		default:
			fprintf(stderr, "Try 'cfs-meta --help'.\n");
			return 2;
		}
		if (n_sets == 256)
			return 2;
		sets[n_sets][0] = key;
		sets[n_sets][1] = optarg;
		n_sets++;
	}
	if (optind < argc) {
		fprintf(stderr,
			"cfs-meta: unexpected argument '%s'\nTry 'cfs-meta "
			"--help'.\n",
			argv[optind]);
		return 2;
	}
	if (cfs_conf_defaults(meta_option_keys, &opt, errmsg) != 0 ||
	    (config && cfs_conf_load(meta_option_keys, &opt, config,
				     errmsg) != 0)) {
		fprintf(stderr, "cfs-meta: %s\n", errmsg);
		return 2;
	}
	for (unsigned i = 0; i < n_sets; i++)
		if (cfs_conf_set(meta_option_keys, &opt, sets[i][0],
				 sets[i][1], "command line", errmsg) != 0) {
			fprintf(stderr, "cfs-meta: %s\n", errmsg);
			return 2;
		}
	if (init && meta_peers_parse(init, peers, MAX_PEERS, &n_peers,
				     errmsg) != 0) {
		fprintf(stderr, "cfs-meta: %s\n", errmsg);
		return 2;
	}
	if (opt.heartbeat_timeout * 2 > opt.election_timeout) {
		fprintf(stderr,
			"cfs-meta: heartbeat_timeout (%lld ms) must be under "
			"half the election_timeout (%lld ms)\n",
			(long long)opt.heartbeat_timeout,
			(long long)opt.election_timeout);
		return 2;
	}

	struct meta_server *s = NULL;
	int rv = meta_server_create(&s, &opt, peers, n_peers, errmsg);
	if (rv != 0) {
		LOG_ERROR("cannot start: %s", errmsg);
		return rv == CFS_CONFIG ? 2 : 1;
	}
	rv = meta_server_run(s, errmsg);
	meta_server_free(&s);
	if (rv != 0) {
		LOG_ERROR("%s", errmsg);
		return 1;
	}
	LOG_INFO("stopped");
	return 0;
}
