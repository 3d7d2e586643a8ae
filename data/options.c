/* options.c - the table of cfs-data settings (the one place defaults live) and their checks. */
#include "data/options.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

#define K(field, type, min, max, def, doc)                                   \
	CFS_CONF_KEY(struct data_options, field, type, min, max, def, doc)

/* heartbeat: the leader declares a node dead after node_dead_after (20 s by
 * default) of silence, so the bound keeps a heartbeat well inside it. */
const struct cfs_conf_key data_option_keys[] = {
	K(dir, CFS_CONF_STRING, 0, 0, "",
	  "data directory: frags/ holds one file per replica, node.uuid the "
	  "node's identity (required)"),
	K(listen, CFS_CONF_STRING, 0, 0, "0.0.0.0:7200",
	  "host:port where clients, other data nodes and the metadata leader "
	  "connect"),
	K(advertise, CFS_CONF_STRING, 0, 0, "",
	  "address given to the metadata cluster (default: listen, which "
	  "then must not be 0.0.0.0)"),
	K(meta, CFS_CONF_STRING, 0, 0, "",
	  "metadata servers' client addresses, HOST:PORT,HOST:PORT,... "
	  "(required)"),
	K(labels, CFS_CONF_STRING, 0, 0, "",
	  "placement labels, KEY=VALUE,... of [A-Za-z0-9_.-] "
	  "(e.g. rack=r1,room=b)"),
	K(workers, CFS_CONF_INT, 1, 256, "8",
	  "request worker threads; one waits on a chain forward at a time"),
	K(forward_timeout, CFS_CONF_DURATION, 100, 600000, "5s",
	  "wait this long for the next data node of a write chain"),
	K(heartbeat, CFS_CONF_DURATION, 100, 60000, "1s",
	  "heartbeat interval to the metadata leader; keep it well below "
	  "the leader's node_dead_after"),
	K(scrub_rate, CFS_CONF_SIZE, 0, INT64_MAX, "16M",
	  "bytes per second the background scrub re-reads and checks, "
	  "while the node serves no requests (16 times less while it "
	  "does); 0 turns scrubbing off"),
	K(scrub_interval, CFS_CONF_DURATION, 100, 604800000, "60s",
	  "rest between the end of one scrub pass and the start of the next"),
	K(inventory_interval, CFS_CONF_DURATION, 0, 604800000, "1h",
	  "check the store's files with the metadata leader this often, and "
	  "delete those it has no record of on this node; 0 turns it off"),
	K(inventory_grace, CFS_CONF_DURATION, 10000, 604800000, "1h",
	  "files modified less than this long ago are not checked (a copy or "
	  "a write in progress)"),
	K(direct_io, CFS_CONF_BOOL, 0, 1, "yes",
	  "write and read bulk data past the page cache (O_DIRECT: the "
	  "whole 4 KiB pages of a write, when they come to 64 KiB or more; "
	  "whole 64 KiB blocks of a read or of the scrub, unless cached), "
	  "on filesystems that take it; no: everything through the page "
	  "cache"),
	K(journal_size, CFS_CONF_SIZE, 0, 256ull << 20, "16M",
	  "size of each of the two write-ahead journal files in the data "
	  "directory: a durable write of a replica file up to 1 MiB (and a "
	  "quarter of this) is one flush of the journal instead of an "
	  "fsync of the file and its directory; 0: no journal (fsync "
	  "every file)"),
	CFS_CONF_END,
};

static int
label_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Cases: 1) "" is no labels; 2) each comma-separated item is KEY=VALUE
 * with a non-empty KEY and VALUE of label characters; anything else (an
 * empty item, a second '=', a space) is refused, naming the item. */
int
data_labels_check(const char *labels, char *errmsg)
{
	const char *p = labels;

	if (strlen(labels) > 255)
		return cfs_fail(errmsg, CFS_CONFIG,
				"labels: longer than 255 bytes");
	while (*p != '\0') {
		const char *item = p;
		size_t key = 0, val = 0;
		int eq = 0;

		for (; *p != '\0' && *p != ','; p++) {
			if (*p == '=' && !eq)
				eq = 1;
			else if (!label_char(*p))
				break;
			else if (eq)
				val++;
			else
				key++;
		}
		if ((*p != '\0' && *p != ',') || !eq || key == 0 || val == 0)
			return cfs_fail(errmsg, CFS_CONFIG,
					"labels: '%.*s' is not KEY=VALUE of "
					"[A-Za-z0-9_.-] (in '%s')",
					(int)strcspn(item, ","), item,
					labels);
		if (*p == ',' && *++p == '\0')
			return cfs_fail(errmsg, CFS_CONFIG,
					"labels: trailing ',' in '%s'",
					labels);
	}
	return 0;
}

/* The address the metadata cluster will hand to clients and other nodes:
 * it must name this host, not "any address". */
static int
advertise_check(struct data_options *o, char *errmsg)
{
	const char *adv = o->advertise[0] ? o->advertise : o->listen;
	const char *colon;
	char buf[sizeof(o->advertise)];

	if (strncmp(adv, "tcp://", 6) == 0)
		adv += 6;
	colon = strrchr(adv, ':');
	if (colon == NULL || colon == adv || colon[1] == '\0' ||
	    strchr(adv, '/') != NULL)
		return cfs_fail(errmsg, CFS_CONFIG,
				"%s: '%s' is not HOST:PORT",
				o->advertise[0] ? "advertise" : "listen", adv);
	if (strncmp(adv, "0.0.0.0:", 8) == 0 || strncmp(adv, "*:", 2) == 0)
		return cfs_fail(errmsg, CFS_CONFIG,
				"address '%s' cannot be given to the "
				"metadata cluster: set advertise = HOST:PORT "
				"(or listen on a specific address)",
				adv);
	snprintf(buf, sizeof(buf), "%s", adv);
	memcpy(o->advertise, buf, sizeof(buf));
	return 0;
}

int
data_options_check(struct data_options *o, char *errmsg)
{
	if (o->dir[0] == '\0' || o->meta[0] == '\0')
		return cfs_fail(errmsg, CFS_CONFIG,
				"dir and meta must be set (--dir, --meta or "
				"a config file)");
	if (data_labels_check(o->labels, errmsg) != 0)
		return CFS_CONFIG;
	return advertise_check(o, errmsg);
}
