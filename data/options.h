/* options.h - cfs-data's configuration: one table of keys, bounds, defaults and docs. */
#ifndef CFS_DATA_OPTIONS_H
#define CFS_DATA_OPTIONS_H

#include <stdint.h>

#include "common/config.h"

/* Every setting of one data node.  The table in options.c is the only
 * place defaults live; deploy/cfs-data.conf.example is generated from it
 * (`cfs-data --print-config`). */
struct data_options {
	char dir[1024];          /* data directory: frags/, node.uuid */
	char listen[256];        /* host:port of the ROUTER socket */
	char advertise[256];     /* address given to the metadata cluster;
				  * "" = listen */
	char meta[1024];         /* metadata servers, comma-separated */
	char labels[256];        /* k=v,k=v */
	int64_t workers;         /* request worker threads */
	int64_t forward_timeout; /* ms */
	int64_t heartbeat;       /* ms */
	uint64_t scrub_rate;     /* bytes/s; 0 = no scrub */
	int64_t scrub_interval;  /* ms between passes */
	int direct_io;           /* bulk writes with O_DIRECT (store.c) */
	uint64_t journal_size;   /* bytes of each journal file; 0 = none */
	int64_t inventory_interval; /* ms between inventory checks; 0 = off */
	int64_t inventory_grace;    /* ms: younger files are not checked */
};

extern const struct cfs_conf_key data_option_keys[];

/*
 * Check what the table's bounds cannot: dir and meta are set, labels are
 * `k=v,...` of [A-Za-z0-9_.-], and the advertised address (advertise, or
 * listen when advertise is empty) is a HOST:PORT others can reach (not
 * 0.0.0.0 or *).  On success @o->advertise holds that address without any
 * "tcp://" prefix.  CFS_CONFIG with @errmsg (CFS_ERRMSG_SIZE bytes,
 * caller-owned) naming the key on failure.
 */
int data_options_check(struct data_options *o, char *errmsg);

/* Check a `k=v,k=v` label list ("" is valid): 0 or CFS_CONFIG. */
int data_labels_check(const char *labels, char *errmsg);

/* The first line of the example config (--print-config). */
#define DATA_CONF_TITLE "cfs-data configuration"

#endif /* CFS_DATA_OPTIONS_H */
