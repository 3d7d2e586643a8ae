/* redmodel.h - the redundancy part of the executable model: fragments, versions, replicas, goals. */
#ifndef CFS_TESTS_MODEL_REDMODEL_H
#define CFS_TESTS_MODEL_REDMODEL_H

/*
 * The filesystem model (fsmodel.h) says what bytes a file holds.  This
 * model says how those bytes must be kept: each file is cut into fragments;
 * the committed version of a fragment (what the metadata leader's map
 * names) must live as byte-identical replica files on at least `goal`
 * distinct live data nodes.  A state is described as observed from outside
 * (the metadata map, and what really lies on every node's disk); rm_check()
 * judges it.  docs/model.md lists every invariant and where it is checked.
 *
 * Invariants (R1..R4 are failures, the rest are counted):
 * A replica is "intact" for a committed version when its file passes its
 * CRC checks, its data CRC is the one the map recorded at commit, and it
 * holds at least the map's length: a truncation only lowers the map's
 * length (the readable bytes) and leaves the replica as written.
 *
 *   R1  every committed fragment version has at least one intact replica
 *       on a live node: nothing acknowledged is lost.
 *   R2  (settled) it has at least min(goal, live nodes) such replicas, on
 *       distinct live nodes; unsettled, fewer are allowed and counted as
 *       "under goal, repair pending".
 *   R3  the metadata never lies: a replica it lists as healthy on a live
 *       node is intact on that node's disk.  Unsettled (a corruption the scrub has
 *       not found yet), a violation is counted, not failed.
 *   R4  replicas of a committed version never differ: every verified
 *       replica of (ino, idx, version) on any disk is intact (so no reader
 *       can be served other bytes).
 *   counted: replica files of versions older than the committed one
 *       (garbage not deleted yet), of versions newer than the committed one
 *       (writes that never committed: never readable, collected later),
 *       of inodes the map does not know (orphans), and files that fail
 *       their CRC checks (corrupt) on any node.
 */

#include <stddef.h>
#include <stdint.h>

/* A data node as its registry entry and its process say. */
struct rm_node {
	uint64_t id;
	int live; /* registered alive and its process running */
};

/* A committed fragment version, as the metadata map names it. */
struct rm_frag {
	uint64_t ino;
	uint64_t idx;
	uint64_t version;
	uint64_t length; /* readable bytes (a truncation lowers it) */
	uint32_t crc;    /* of the replica data as written */
	unsigned goal;
	/* the nodes the map lists as holding a healthy replica */
	unsigned nmeta;
	uint64_t meta_nodes[16];
};

/* A replica file found on a node's disk. */
struct rm_disk {
	uint64_t node;
	uint64_t ino;
	uint64_t idx;
	uint64_t version;
	uint64_t length; /* from its header */
	uint32_t crc;    /* data CRC from its header */
	int verified;    /* header, table and every block CRC check out */
};

struct rm_state {
	const struct rm_node *nodes;
	size_t nnodes;
	const struct rm_frag *frags;
	size_t nfrags;
	const struct rm_disk *disk;
	size_t ndisk;
};

#define RM_PROBLEMS 8 /* problems quoted in a report */

struct rm_report {
	uint64_t fragments;
	uint64_t replicas_ok;   /* verified, committed, on live nodes */
	uint64_t under_goal;    /* R2 */
	uint64_t lost;          /* R1 */
	uint64_t meta_wrong;    /* R3 */
	uint64_t differ;        /* R4 */
	uint64_t stale;         /* older versions still on disk */
	uint64_t uncommitted;   /* newer versions on disk */
	uint64_t orphans;       /* inodes the map does not know */
	uint64_t corrupt;       /* files failing their checks */
	unsigned nproblems;
	char problems[RM_PROBLEMS][160];
};

/*
 * Judge @s.  @settled: the cluster has had time to repair (no fault for a
 * while, every node back): R2 and R3 become failures.  Fills *@r (caller
 * memory) and returns 0 when every invariant that applies holds, else the
 * number of violations (their first RM_PROBLEMS described in r->problems).
 * The arrays of @s need no order; the call sorts copies.  -1 on ENOMEM.
 */
int rm_check(const struct rm_state *s, int settled, struct rm_report *r);

#endif /* CFS_TESTS_MODEL_REDMODEL_H */
