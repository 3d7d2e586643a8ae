/* cfsctl_leases.c - `cfsctl leases`: which mount holds which lease (docs/leases.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cfsctl.h"
#include "client/cfsctl_json.h"
#include "common/error.h"
#include "common/proto.h"

static const char *
lease_name(unsigned type)
{
	return type == CFS_LEASE_WRITE ? "write"
	       : type == CFS_LEASE_READ ? "read"
					: "?";
}

int
cmd_leases(const char *servers, int timeout_ms, int argc, char **argv,
	   char *errmsg)
{
	union wire_body *r = malloc(sizeof(*r));
	struct wire_lease_list req = {0};
	struct json js, *j = cfsctl_json ? &js : NULL;
	uint64_t n = 0;
	int rv = 0;

	if (argc > 0)
		usage_error("leases: unexpected argument '%s'", argv[0]);
	if (r == NULL)
		return fprintf(stderr, "cfsctl: out of memory\n"), 1;
	if (j != NULL) {
		json_init(j, stdout);
		json_object_begin(j, NULL);
		json_array_begin(j, "leases");
	} else {
		printf("%-12s %-6s %-16s %-16s %s\n", "INODE", "TYPE",
		       "HOLDER", "SESSION", "EPOCH");
	}
	for (;;) {
		uint16_t rtype = 0;
		rv = admin_call(servers, timeout_ms, WIRE_T_lease_list, &req,
				&rtype, r, errmsg);
		if (rv == 0 && rtype != WIRE_T_lease_list_reply)
			rv = cfs_fail(errmsg, CFS_MALFORMED,
				      "unexpected reply %s",
				      wire_type_name(rtype));
		if (rv != 0)
			break;
		const struct wire_lease_list_reply *l = &r->lease_list_reply;
		for (uint32_t i = 0; i < l->leases_count; i++, n++) {
			const struct wire_leaseinfo *e = &l->leases[i];
			char holder[20], session[20];
			snprintf(holder, sizeof(holder), "%016llx",
				 (unsigned long long)e->holder);
			snprintf(session, sizeof(session), "%016llx",
				 (unsigned long long)e->session);
			if (j != NULL) {
				json_object_begin(j, NULL);
				json_u64(j, "ino", e->ino);
				json_str(j, "type", lease_name(e->type));
				json_str(j, "holder", holder);
				json_str(j, "session", session);
				json_u64(j, "epoch", e->epoch);
				json_object_end(j);
			} else {
				printf("%-12llu %-6s %s %s %llu\n",
				       (unsigned long long)e->ino,
				       lease_name(e->type), holder, session,
				       (unsigned long long)e->epoch);
			}
			req.after_ino = e->ino;
			req.after_holder = e->holder;
		}
		if (l->eof || l->leases_count == 0)
			break;
	}
	free(r);
	if (j != NULL) {
		json_array_end(j);
		json_u64(j, "count", n);
		json_object_end(j);
		json_finish(j);
	} else if (rv == 0) {
		printf("%llu lease%s\n", (unsigned long long)n,
		       n == 1 ? "" : "s");
	}
	if (rv != 0) {
		fprintf(stderr, "cfsctl: leases: %s\n", errmsg);
		return 1;
	}
	return 0;
}
