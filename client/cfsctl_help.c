/* cfsctl_help.c - cfsctl's manual: --help and each `cfsctl COMMAND --help`. */
#include <stdio.h>
#include <string.h>

#include "client/cfsctl.h"

static const char head[] =
	"NAME\n"
	"  cfsctl - administer and use a CFS cluster from the command line\n"
	"\n"
	"SYNOPSIS\n"
	"  cfsctl [--cluster ADDRS] [--timeout MS] [-q] [--json] COMMAND "
	"[ARGS]\n"
	"  cfsctl COMMAND --help\n"
	"\n"
	"DESCRIPTION\n"
	"  cfsctl talks to the metadata servers of one CFS cluster: it sets\n"
	"  the cluster up, shows its state, changes its membership, and reads\n"
	"  and writes its namespace and files without a mount.\n"
	"\n"
	"  A PATH is either a CFS path (absolute, as inside the filesystem:\n"
	"  /home/alice) or a local path inside a cfs-fuse mount (relative,\n"
	"  or absolute below the mount point).  For a local path the cluster\n"
	"  is the one that mount talks to, read from /proc/self/mountinfo\n"
	"  (cfs-fuse mounts with fsname cfs#ADDRS), and the CFS path is the\n"
	"  path below the mount point, so `cd /mnt/cfs/data && cfsctl stat f`\n"
	"  needs no --cluster.  An absolute path outside every CFS mount is a\n"
	"  CFS path; a relative one outside every CFS mount is an error.\n"
	"\n"
	"OPTIONS\n"
	"  -c, --cluster ADDRS  the metadata servers, comma-separated\n"
	"                       host:port (any subset will do: the others and\n"
	"                       the leader are learnt from them).  Default:\n"
	"                       $CFS_CLUSTER, else $CFS_META, else\n"
	"                       127.0.0.1:7000.  A PATH inside a CFS mount\n"
	"                       names its cluster itself.\n"
	"  -s, --servers ADDRS  the same as --cluster (older name)\n"
	"  -t, --timeout MS     how long to wait for the cluster: a request\n"
	"                       that gets no answer (servers down or\n"
	"                       unreachable, no leader elected yet) is\n"
	"                       retried for MS milliseconds, then cfsctl\n"
	"                       fails (default 15000).  After 2 s it says on\n"
	"                       stderr what it is waiting for.\n"
	"  -q, --quiet          no such notice while waiting\n"
	"  -j, --json           write one JSON document on stdout instead of\n"
	"                       text: status, node list, leases, ls, stat,\n"
	"                       frags, fsck, goal get (field names are\n"
	"                       stable)\n"
	"  -h, --help           show this manual\n"
	"\n"
	"COMMANDS\n";

/* One section per command word; `cfsctl WORD --help` shows it. */
static const struct {
	const char *words; /* the command word and its aliases, '|' between */
	const char *text;
} sections[] = {
	{"cluster",
	 "  cluster bootstrap [--fragment-size SIZE] [--goal N]\n"
	 "      Format a new filesystem: run once, after the metadata servers\n"
	 "      of a new cluster are up.  Defaults come from the servers'\n"
	 "      config; SIZE takes K, M, G.\n"},
	{"status",
	 "  status\n"
	 "      The leader, the filesystem, every metadata server as it\n"
	 "      answers itself, the data nodes and the fragments under goal.\n"
	 "      Exit 1 if there is no leader, a server does not answer, or a\n"
	 "      fragment has no live copy.\n"},
	{"meta|member|leader",
	 "  meta list\n"
	 "      The metadata servers: id, role, addresses, state, applied.\n"
	 "  meta add ID RAFTHOST:PORT CLIENTHOST:PORT\n"
	 "      Add a new metadata server as a spare: a member the leader\n"
	 "      knows but neither replicates to nor counts.  Start it first\n"
	 "      with an empty --dir and no --init-cluster, then make it a\n"
	 "      voter: `meta promote ID`.\n"
	 "  meta promote ID | meta demote ID\n"
	 "      Make a server a voter (the leader first brings its log up\n"
	 "      to date, which may take a while for a large namespace), or\n"
	 "      a voter a standby (replicated to, not counted).\n"
	 "  meta remove ID\n"
	 "      Remove a server from the cluster; then stop it and wipe its\n"
	 "      directory.\n"
	 "  meta transfer [ID]\n"
	 "      Hand leadership to server ID (default: the most up-to-date\n"
	 "      voter), e.g. before maintenance of the leader.\n"
	 "      Aliases: `member add|promote|demote|remove|list`, `leader\n"
	 "      transfer [ID]`.\n"},
	{"node",
	 "  node list\n"
	 "      The data nodes: state, free space, capacity, replicas.\n"
	 "  node drain ID | node undrain ID\n"
	 "      Copy every replica off node ID (it stays readable meanwhile),\n"
	 "      or stop doing so.\n"
	 "  node remove ID\n"
	 "      Forget node ID; its replicas are re-created elsewhere from\n"
	 "      the other copies (drain first to stay at goal).\n"},
	{"leases",
	 "  leases\n"
	 "      The leases clients hold: inode, type (read or write), the\n"
	 "      holding mount and session, and the epoch (Raft index) of the\n"
	 "      grant.  A mount caches what it holds a lease on.\n"},
	{"debug",
	 "  debug dump [--summary] HOST:PORT\n"
	 "      One metadata server's whole state as text, with its length\n"
	 "      and CRC32C (--summary: only those); replicas at the same\n"
	 "      'applied' are identical.\n"},
	{"mkdir",
	 "  mkdir [-p] PATH...\n"
	 "      Create directories (-p: parents too, no error if they exist).\n"},
	{"touch",
	 "  touch PATH...\n"
	 "      Create empty regular files (existing ones are left alone).\n"},
	{"ls",
	 "  ls [-l] [PATH]\n"
	 "      List a directory (default /); -l with mode, links, owner,\n"
	 "      size, mtime (UTC) and inode.\n"},
	{"stat",
	 "  stat PATH...\n"
	 "      Attributes; for a regular file also every fragment: index,\n"
	 "      version, length, its replicas (node id, address, state) and\n"
	 "      UNDER GOAL or MISSING marks.  A replica on a draining node is\n"
	 "      listed but does not count toward the goal.\n"},
	{"chmod",
	 "  chmod MODE PATH\n"
	 "      Change permission bits (octal MODE).\n"},
	{"rm",
	 "  rm PATH...\n"
	 "      Remove files and empty directories.\n"},
	{"mv",
	 "  mv SRC DST\n"
	 "      Rename SRC to DST (DST is replaced if it exists).\n"},
	{"put",
	 "  put [-q] [-o OFFSET] LOCAL|- PATH\n"
	 "      Copy a local file (or stdin) into CFS, replacing PATH; returns\n"
	 "      once every fragment is on its goal of nodes' disks.  -o:\n"
	 "      write into the existing PATH at OFFSET, keeping the rest.\n"
	 "      Progress on stderr: a bar with percent, bytes, rate and ETA\n"
	 "      on a terminal, else a line every 10 s and at the end; -q:\n"
	 "      none.\n"},
	{"get",
	 "  get [-q] PATH LOCAL|-\n"
	 "      Copy a file out of CFS (or to stdout); progress as for put.\n"},
	{"frags",
	 "  frags PATH\n"
	 "      Each fragment's version, length, CRC and the nodes holding\n"
	 "      it.  Exit 1 if one is under goal.\n"},
	{"fsck",
	 "  fsck [PATH]\n"
	 "      Walk the tree below PATH (default /) and check every regular\n"
	 "      file's fragments: lists each fragment under goal (fewer live\n"
	 "      replicas than its goal, on nodes not draining) or missing (no\n"
	 "      live replica), then a summary line \"fsck: F files, N\n"
	 "      fragments, U under goal, M missing\".  Progress on stderr on a\n"
	 "      terminal.  Exit 0 clean, 1 under goal or missing, 2 if the\n"
	 "      check could not be done.  Under-goal fragments are repaired\n"
	 "      by the leader on its own; missing ones need their nodes back.\n"},
	{"goal",
	 "  goal get PATH...\n"
	 "      Replicas per fragment of each PATH.\n"
	 "  goal set [-r] N PATH...\n"
	 "      Set it (1..16).  New files inherit their directory's goal;\n"
	 "      existing fragments are copied up to or trimmed down to it.\n"
	 "      -r: on every directory and file below PATH too, with progress\n"
	 "      on a terminal and a count at the end.\n"},
	{"dev",
	 "  dev up --dir DIR [--mount MNT] [--meta N] [--data N] [--port BASE]\n"
	 "         [--fragment-size SIZE] [--goal N]\n"
	 "      A whole cluster on this machine: N metadata servers (1, 3 or\n"
	 "      5; default 3) and N data nodes (1..16; default 4) on\n"
	 "      127.0.0.1, formatted (default goal: 3, or the number of data\n"
	 "      nodes if fewer), mounted on MNT with cfs-fuse, left running in\n"
	 "      the background.  Ports: clients BASE+1.., Raft BASE+101..,\n"
	 "      data nodes BASE+201.. (default BASE 7000).  DIR keeps each\n"
	 "      daemon's state, log (DIR/*.log) and pid file, and cluster.env\n"
	 "      (`. DIR/cluster.env` sets CFS_CLUSTER and CFS_META).  The\n"
	 "      programs are taken from cfsctl's own directory, else $PATH.\n"
	 "      Refused if DIR's cluster runs or a port is in use; on a\n"
	 "      failure, stops what it started and shows the failing log.\n"
	 "      Run again on the same DIR to restart the cluster.\n"
	 "  dev down --dir DIR [--wipe]\n"
	 "      Unmount MNT and stop the processes DIR's pid files name\n"
	 "      (SIGTERM, SIGKILL after 10 s); the data is kept, or removed\n"
	 "      with --wipe.\n"
	 "  dev status --dir DIR\n"
	 "      Which of DIR's processes run (exit 1 if one does not).\n"},
};

static const char tail[] =
	"\n"
	"ENVIRONMENT\n"
	"  CFS_CLUSTER   the metadata servers (as --cluster), when no option\n"
	"                and no PATH inside a CFS mount names them\n"
	"  CFS_META      the same, read when CFS_CLUSTER is not set (older\n"
	"                name; cfs-fuse reads both too)\n"
	"  CFS_LOG       log level of the client library (error, warn, info,\n"
	"                debug, trace)\n"
	"\n"
	"EXIT STATUS\n"
	"  0  success\n"
	"  1  the command failed (an error from the cluster, an unreachable\n"
	"     cluster after --timeout, a fragment under goal for frags and\n"
	"     fsck, an unhealthy cluster for status)\n"
	"  2  a usage error (unknown command or option, a bad or missing\n"
	"     argument), nothing was done; for fsck also: the check failed\n"
	"\n"
	"EXAMPLES\n"
	"  Start a cluster on this machine and use it:\n"
	"    cfsctl dev up --dir /tmp/cfs --mount /tmp/cfs-mnt\n"
	"    . /tmp/cfs/cluster.env; cfsctl status\n"
	"  Work on a real cluster:\n"
	"    export CFS_CLUSTER=10.0.0.1:7000,10.0.0.2:7000\n"
	"    cfsctl mkdir -p /home/alice && cfsctl put big.iso /home/alice/\n"
	"  From inside a mount (no --cluster needed):\n"
	"    cd /mnt/cfs/home/alice && cfsctl stat big.iso\n"
	"    cfsctl goal set -r 2 /mnt/cfs/scratch\n"
	"  Check the whole filesystem in a script:\n"
	"    cfsctl --json fsck / >report.json || echo \"damaged: $?\"\n"
	"  Replace a metadata server:\n"
	"    cfsctl meta add 4 10.0.0.4:7100 10.0.0.4:7000\n"
	"    cfsctl meta list; cfsctl meta promote 4; cfsctl meta remove 2\n"
	"\n"
	"SEE ALSO\n"
	"  cfs-meta(8), cfs-data(8), cfs-fuse(1) (each --help),\n"
	"  docs/operations.md\n";

void
help_all(void)
{
	fputs(head, stdout);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		fputs(sections[i].text, stdout);
	fputs(tail, stdout);
}

/* Is @cmd one of the '|'-separated @words? */
static int
names(const char *words, const char *cmd)
{
	size_t n = strlen(cmd);

	for (const char *w = words; w != NULL;) {
		const char *bar = strchr(w, '|');
		size_t len = bar ? (size_t)(bar - w) : strlen(w);
		if (len == n && strncmp(w, cmd, n) == 0)
			return 1;
		w = bar ? bar + 1 : NULL;
	}
	return 0;
}

int
help_command(const char *cmd)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (!names(sections[i].words, cmd))
			continue;
		printf("Usage:\n%s\nGlobal options (before COMMAND): --cluster "
		       "ADDRS, --timeout MS, --json;\nsee `cfsctl --help`.\n",
		       sections[i].text);
		return 0;
	}
	return -1;
}
