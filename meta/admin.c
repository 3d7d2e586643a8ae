/* admin.c - cfs-meta requests about the cluster rather than the namespace: membership changes and leadership transfer, status, dump, data node heartbeats and the node list. */
#include "meta/admin.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "meta/fsm.h"
#include "meta/front.h"
#include "meta/lead.h"
#include "meta/repair.h"
#include "meta/xport.h"

/* A membership change or leadership transfer in flight, for request @p. */
struct admin_op {
	union {
		struct raft_change change;
		struct raft_transfer transfer;
	} u;
	struct meta_server *s;
	struct pending *p;
	uint64_t target;
};

void
admin_status(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	     const struct wire_header *h)
{
	struct wire_status_reply *r = calloc(1, sizeof(*r));
	struct fsm_info info;
	raft_id lid = 0;
	const char *laddr = NULL;

	if (r == NULL)
		return;
	raft_leader(&s->raft, &lid, &laddr);
	r->leader_id = lid;
	snprintf(r->leader_addr, sizeof(r->leader_addr), "%s",
		 addr_client_part(laddr));
	r->term = s->raft.current_term;
	r->commit_index = s->raft.commit_index;
	r->applied_index = raft_last_applied(&s->raft);
	r->snapshot_index = 0;
	fsm_info(s->fsm, &info);
	r->formatted = (uint8_t)info.formatted;
	r->fragment_size = info.fragment_size;
	r->default_goal = info.default_goal;
	r->sessions = info.sessions;
	r->inodes = info.inodes;
	const struct raft_configuration *c = &s->raft.configuration;
	for (unsigned i = 0; i < c->n && i < WIRE_MAX_member; i++) {
		struct wire_member *m = &r->members[r->members_count++];
		addr_raft_part(c->servers[i].address, m->raft_addr,
			       sizeof(m->raft_addr));
		snprintf(m->client_addr, sizeof(m->client_addr), "%s",
			 addr_client_part(c->servers[i].address));
		m->id = c->servers[i].id;
		m->role = (uint8_t)c->servers[i].role;
		if (s->leader && s->raft.leader_state.progress != NULL) {
			const struct raft_progress *pg =
				&s->raft.leader_state.progress[i];
			m->reachable = c->servers[i].id == (raft_id)s->opt.id ||
				       pg->recent_recv;
			m->match_index = c->servers[i].id == (raft_id)s->opt.id
						 ? s->raft.last_stored
						 : pg->match_index;
		}
	}
	front_send_body(s, ident, ident_len, h, WIRE_T_status_reply, r);
	free(r);
}

void
admin_dump(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	   const struct wire_header *h)
{
	char errmsg[CFS_ERRMSG_SIZE];
	char *text = NULL;
	size_t len = 0;
	char ignored[CFS_ERRMSG_SIZE];

	fsm_flush(s->fsm, ignored);
	if (fsm_dump(s->fsm, &text, &len, errmsg) != 0) {
		front_send_error(s, ident, ident_len, h, CFS_INTERNAL, errmsg);
		return;
	}
	/* The whole dump may not fit one message: send its CRC and length
	 * (what replica comparisons need) and as much text as fits. */
	struct wire_dump_reply r = {.applied_index = fsm_applied(s->fsm),
				    .total_len = len,
				    .crc = crc32c(0, text, len),
				    .text = (const uint8_t *)text,
				    .text_len = (uint32_t)(len < WIRE_MAX_BODY - 1024
								   ? len
								   : WIRE_MAX_BODY - 1024)};
	front_send_body(s, ident, ident_len, h, WIRE_T_dump_reply, &r);
	free(text);
}

static void
admin_done(struct meta_server *s, struct admin_op *op, int status,
	   const char *what)
{
	struct pending *p = op->p;
	lead_lease_resume(s);
	if (status == 0) {
		struct wire_header h = {.type = p->type,
					.request_id = p->request_id,
					.sequence = p->seq};
		struct wire_ok ok = {0};
		LOG_INFO("membership: %s server %llu done", what,
			 (unsigned long long)op->target);
		front_send_body(s, p->ident, p->ident_len, &h, WIRE_T_ok, &ok);
		p->answered = 1;
	} else {
		char msg[CFS_ERRMSG_SIZE];
		snprintf(msg, sizeof(msg), "%s server %llu: %s", what,
			 (unsigned long long)op->target, raft_strerror(status));
		LOG_WARN("membership: %s", msg);
		front_answer_error(s, p,
				   status == RAFT_NOTLEADER ||
					   status == RAFT_LEADERSHIPLOST
				       ? CFS_NOTLEADER
				       : CFS_EINVAL,
				   msg);
	}
	pending_free(s, p);
	free(op);
}

static void
change_cb(struct raft_change *req, int status)
{
	struct admin_op *op = req->data;
	admin_done(op->s, op, status, "configuration change for");
}

static void
transfer_cb(struct raft_transfer *req)
{
	struct admin_op *op = req->data;
	struct meta_server *s = op->s;
	raft_id id = 0;
	const char *addr = NULL;

	raft_leader(&s->raft, &id, &addr);
	admin_done(s, op, id != 0 && id != (raft_id)s->opt.id ? 0 : RAFT_NOTFOUND,
		   "leadership transfer to");
}

void
admin_membership(struct meta_server *s, const uint8_t *ident, size_t ident_len,
		 const struct wire_header *h, const union wire_body *b)
{
	struct admin_op *op = calloc(1, sizeof(*op));
	char address[520];
	int rv;

	if (op == NULL)
		return;
	op->s = s;
	op->p = pending_new(s, ident, ident_len, h, b);
	if (op->p == NULL) {
		free(op);
		return;
	}
	op->u.change.data = op;
	lead_lease_suspend(s);
	switch (h->type) {
	case WIRE_T_member_add:
		op->target = b->member_add.id;
		if (b->member_add.id == 0 || !b->member_add.raft_addr[0] ||
		    !b->member_add.client_addr[0]) {
			rv = RAFT_INVALID;
			break;
		}
		snprintf(address, sizeof(address), "%s/%s",
			 b->member_add.raft_addr, b->member_add.client_addr);
		rv = raft_add(&s->raft, &op->u.change, b->member_add.id,
			      address, change_cb);
		break;
	case WIRE_T_member_assign:
		op->target = b->member_assign.id;
		rv = raft_assign(&s->raft, &op->u.change, b->member_assign.id,
				 b->member_assign.role, change_cb);
		break;
	case WIRE_T_member_remove:
		op->target = b->member_remove.id;
		rv = raft_remove(&s->raft, &op->u.change, b->member_remove.id,
				 change_cb);
		break;
	default: /* transfer */
		op->target = b->transfer.id;
		op->u.transfer.data = op;
		rv = raft_transfer(&s->raft, &op->u.transfer, b->transfer.id,
				   transfer_cb);
		break;
	}
	if (rv != 0)
		admin_done(s, op, rv, wire_type_name(h->type));
}

/* Data node heartbeats, inventory checks and the registry listing: the
 * leader's live view, never logged.  (An inventory check reads what this
 * leader applied: at most the entries of the last moments behind what was
 * committed, which the nodes' grace period covers.) */
void
admin_node(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	   const struct wire_header *h, union wire_body *b)
{
	char errmsg[CFS_ERRMSG_SIZE];

	if (!s->confirmed) {
		front_send_error(s, ident, ident_len, h, CFS_NOLEADER,
				 "new leader not yet confirmed");
		return;
	}
	if (h->type == WIRE_T_node_heartbeat) {
		int rv = repair_heartbeat(s->repair, fsm_dmap(s->fsm),
					  &b->node_heartbeat,
					  uv_now(&s->loop), errmsg);
		if (rv != 0)
			front_send_error(s, ident, ident_len, h, rv, errmsg);
		else
			front_send_body(s, ident, ident_len, h, WIRE_T_ok,
					&(struct wire_ok){0});
		return;
	}
	if (h->type == WIRE_T_node_inventory) {
		struct wire_node_inventory_reply *ir = malloc(sizeof(*ir));
		int rv = ir == NULL ? cfs_fail(errmsg, CFS_ENOMEM, "inventory")
				    : dmap_inventory(fsm_dmap(s->fsm),
						     &b->node_inventory, ir,
						     errmsg);
		if (rv != 0)
			front_send_error(s, ident, ident_len, h, rv, errmsg);
		else
			front_send_body(s, ident, ident_len, h,
					WIRE_T_node_inventory_reply, ir);
		free(ir);
		return;
	}
	struct wire_node_list_reply *r = malloc(sizeof(*r));
	if (r == NULL) {
		front_send_error(s, ident, ident_len, h, CFS_ENOMEM,
				 "node list");
		return;
	}
	repair_status(s->repair, fsm_dmap(s->fsm), r, uv_now(&s->loop));
	front_send_body(s, ident, ident_len, h, WIRE_T_node_list_reply, r);
	free(r);
}
