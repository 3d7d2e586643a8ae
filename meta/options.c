/* options.c - the table of cfs-meta settings (the one place defaults live). */
#include "meta/options.h"

#include <stddef.h>

#define K(field, type, min, max, def, doc)                                   \
	CFS_CONF_KEY(struct meta_options, field, type, min, max, def, doc)

/* Election and heartbeat defaults: STACK.md measured 1000/100 ms failing
 * over in ~3 s, 300/30 ms with pre-vote in ~0.5 s and 150/15 ms in ~0.3 s,
 * without spurious elections under load.  200/20 elects a new leader in
 * ~0.3 s here (tests/bench/metabench.sh) with no spurious elections under
 * the failover test's load.  The heartbeat must stay well below the
 * election timeout (libraft sends one per heartbeat_timeout). */
const struct cfs_conf_key meta_option_keys[] = {
	K(id, CFS_CONF_INT, 0, INT64_MAX, "0",
	  "this server's Raft id (>= 1, unique in the cluster; required)"),
	K(dir, CFS_CONF_STRING, 0, 0, "",
	  "data directory: raft/ holds the Raft log, meta.db the state "
	  "(required)"),
	K(raft, CFS_CONF_STRING, 0, 0, "",
	  "host:port for Raft traffic between metadata servers (required)"),
	K(listen, CFS_CONF_STRING, 0, 0, "0.0.0.0:7000",
	  "host:port where clients and data nodes connect"),
	K(advertise, CFS_CONF_STRING, 0, 0, "",
	  "client address given to others (default: listen, which then "
	  "must not be 0.0.0.0)"),
	K(election_timeout, CFS_CONF_DURATION, 50, 60000, "200ms",
	  "Raft election timeout; failover takes about 1-2 of these"),
	K(heartbeat_timeout, CFS_CONF_DURATION, 5, 10000, "20ms",
	  "Raft heartbeat interval; keep it about 1/10 of the election "
	  "timeout"),
	K(pre_vote, CFS_CONF_BOOL, 0, 1, "yes",
	  "Raft pre-vote: a partitioned server cannot disrupt a healthy "
	  "leader"),
	K(snapshot_threshold, CFS_CONF_INT, 64, 100000000, "32768",
	  "take a snapshot after this many log entries"),
	K(snapshot_trailing, CFS_CONF_INT, 0, 100000000, "16384",
	  "entries kept in the log behind a snapshot, so a briefly lagging "
	  "server catches up without a full snapshot"),
	K(install_snapshot_timeout, CFS_CONF_DURATION, 500, 600000, "5s",
	  "resend a snapshot to a lagging server after this long; libraft's "
	  "30 s default left a restarted server behind for half a minute"),
	K(session_lease_min, CFS_CONF_DURATION, 500, 3600000, "2s",
	  "shortest client session lease granted"),
	K(session_lease_max, CFS_CONF_DURATION, 500, 3600000, "60s",
	  "longest client session lease granted; a client silent this long "
	  "loses its session, leases and locks"),
	K(fragment_size, CFS_CONF_SIZE, 65536, (int64_t)64 << 20, "4M",
	  "fragment size for `cfsctl cluster bootstrap` when none is given"),
	K(default_goal, CFS_CONF_INT, 1, 16, "3",
	  "replicas per fragment of the root directory at bootstrap"),
	K(batch_max, CFS_CONF_INT, 1, 65536, "2048",
	  "most client commands packed into one Raft entry (group commit)"),
	K(inflight_max, CFS_CONF_INT, 16, 1000000, "65536",
	  "requests queued or waiting on Raft before new ones are refused "
	  "with EAGAIN"),
	K(node_dead_after, CFS_CONF_DURATION, 1000, 86400000, "20s",
	  "a data node silent this long is dead: its replicas stop counting "
	  "and every fragment it held is copied elsewhere"),
	K(node_reserve, CFS_CONF_SIZE, 0, INT64_MAX, "256M",
	  "a data node with less free space than this is full: it gets no "
	  "new replicas but is still read"),
	K(degraded_writes, CFS_CONF_BOOL, 0, 1, "yes",
	  "with fewer live data nodes than a file's goal, write anyway with "
	  "fewer copies (counted under goal in `cfsctl status` and repaired "
	  "when nodes return); no: refuse such writes with EAGAIN"),
	K(spread_label, CFS_CONF_STRING, 0, 0, "rack",
	  "node label whose values are failure domains: replicas of one "
	  "fragment go to distinct values where possible"),
	K(repair_rate, CFS_CONF_SIZE, 65536, INT64_MAX, "256M",
	  "bytes per second that re-replication and rebalancing may copy"),
	K(repair_inflight, CFS_CONF_INT, 1, 256, "8",
	  "copies and deletions running at once"),
	K(rebalance, CFS_CONF_BOOL, 0, 1, "yes",
	  "when nothing is under goal, move replicas onto the alive nodes "
	  "that hold less than their share; no: hold every move (repair of "
	  "fragments under goal, drains and deletions go on)"),
	K(fault_hooks, CFS_CONF_BOOL, 0, 1, "no",
	  "tests only: SIGUSR1 cuts this server off from its Raft peers as "
	  "a network partition would (clients still reach it), SIGUSR2 "
	  "heals it; never on a production server"),
	CFS_CONF_END,
};
