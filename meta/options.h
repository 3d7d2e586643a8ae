/* options.h - cfs-meta's configuration: one table of keys, bounds, defaults and docs. */
#ifndef CFS_META_OPTIONS_H
#define CFS_META_OPTIONS_H

#include <stdint.h>

#include "common/config.h"

/* Every setting of one metadata server.  The table in options.c is the
 * only place defaults live; deploy/cfs-meta.conf.example is generated from
 * it (`cfs-meta --print-config`) and checked against it by a test. */
struct meta_options {
	int64_t id;                /* this server's Raft id, >= 1 */
	char dir[1024];            /* data directory */
	char raft[256];            /* host:port for Raft traffic */
	char listen[256];          /* host:port for clients (ZeroMQ) */
	char advertise[256];       /* client address others are told */
	int64_t election_timeout;  /* ms */
	int64_t heartbeat_timeout; /* ms */
	int pre_vote;
	int64_t snapshot_threshold;
	int64_t snapshot_trailing;
	int64_t install_snapshot_timeout; /* ms */
	int64_t session_lease_min; /* ms */
	int64_t session_lease_max; /* ms */
	uint64_t fragment_size;    /* default for `cluster bootstrap` */
	int64_t default_goal;
	int64_t batch_max;         /* commands per Raft entry */
	int64_t inflight_max;      /* requests waiting on Raft */
	int64_t node_dead_after;   /* ms */
	uint64_t node_reserve;     /* bytes */
	int degraded_writes;
	int fault_hooks;
	char spread_label[256];
	uint64_t repair_rate;      /* bytes/s */
	int64_t repair_inflight;
	int rebalance;
};

extern const struct cfs_conf_key meta_option_keys[];

#endif /* CFS_META_OPTIONS_H */
