// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * flows.c - reading mig_flows and formatting its fields; shared by show
 * and dump.  The authenticators in each value are never copied out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* BPF_TCP_* as ss(8) spells them; index = value. */
static const char *const tcp_states[] = {
	[1]  = "ESTABLISHED",
	[2]  = "SYN-SENT",
	[3]  = "SYN-RECV",
	[4]  = "FIN-WAIT-1",
	[5]  = "FIN-WAIT-2",
	[6]  = "TIME-WAIT",
	[7]  = "CLOSE",
	[8]  = "CLOSE-WAIT",
	[9]  = "LAST-ACK",
	[10] = "LISTEN",
	[11] = "CLOSING",
	[12] = "NEW-SYN-RECV",
};

const char *ctl_state_name(__u8 state, char buf[CTL_NAME_LEN])
{
	if (state < sizeof(tcp_states) / sizeof(tcp_states[0]) && tcp_states[state])
		return tcp_states[state];
	snprintf(buf, CTL_NAME_LEN, "state-%u", state);
	return buf;
}

const char *ctl_role_name(__u8 role, char buf[CTL_NAME_LEN])
{
	switch (role) {
	case MIG_ROLE_NONE:      return "none";
	case MIG_ROLE_INITIATOR: return "initiator";
	case MIG_ROLE_RESPONDER: return "responder";
	}
	snprintf(buf, CTL_NAME_LEN, "role-%u", role);
	return buf;
}

const char *ctl_family_name(__u8 family, char buf[CTL_NAME_LEN])
{
	switch (family) {
	case AF_INET:  return "inet";
	case AF_INET6: return "inet6";
	}
	snprintf(buf, CTL_NAME_LEN, "family-%u", family);
	return buf;
}

const char *ctl_addr(const struct mig_tuple *t, bool local, char buf[CTL_ADDR_LEN])
{
	const __u32 *a = local ? t->laddr : t->raddr;

	/* An unknown family still shows all 16 bytes, as IPv6 does. */
	if (!inet_ntop(t->family == AF_INET ? AF_INET : AF_INET6, a, buf, CTL_ADDR_LEN))
		snprintf(buf, CTL_ADDR_LEN, "?");
	return buf;
}

unsigned int ctl_port(const struct mig_tuple *t, bool local)
{
	return ntohs(local ? t->lport : t->rport);
}

const char *ctl_endpoint(const struct mig_tuple *t, bool local,
			 char buf[CTL_ENDPOINT_LEN])
{
	char addr[CTL_ADDR_LEN];

	ctl_addr(t, local, addr);
	snprintf(buf, CTL_ENDPOINT_LEN, t->family == AF_INET ? "%s:%u" : "[%s]:%u",
		 addr, ctl_port(t, local));
	return buf;
}

const char *ctl_token_hex(const __u8 token[MIG_TOKEN_LEN], char buf[CTL_TOKEN_LEN])
{
	int i;

	for (i = 0; i < MIG_TOKEN_LEN; i++)
		snprintf(buf + 2 * i, 3, "%02x", token[i]);
	return buf;
}

/* Family, local endpoint, remote endpoint; numeric order (addresses are
 * big endian), the whole key last so that the order is total. */
static int flow_cmp(const void *pa, const void *pb)
{
	const struct mig_tuple *a = &((const struct ctl_flow *)pa)->t;
	const struct mig_tuple *b = &((const struct ctl_flow *)pb)->t;
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->laddr, b->laddr, sizeof(a->laddr));
	if (r)
		return r;
	if (a->lport != b->lport)
		return ntohs(a->lport) < ntohs(b->lport) ? -1 : 1;
	r = memcmp(a->raddr, b->raddr, sizeof(a->raddr));
	if (r)
		return r;
	if (a->rport != b->rport)
		return ntohs(a->rport) < ntohs(b->rport) ? -1 : 1;
	return memcmp(a, b, sizeof(*a));
}

int ctl_flows_load(struct ctl_flow **out, size_t *nout)
{
	struct ctl_flow *flows = NULL, *tmp;
	struct bpf_map_info info;
	struct mig_tuple key, next;
	struct mig_flow val;
	size_t n = 0, cap = 0, steps = 0, limit, i, j;
	struct timespec ts;
	__u64 now;
	int fd, err;

	*out = NULL;
	*nout = 0;
	fd = ctl_map_open(MIG_MAP_FLOWS, BPF_MAP_TYPE_HASH, sizeof(struct mig_tuple),
			  sizeof(struct mig_flow), &info);
	if (fd < 0)
		return fd;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;

	/*
	 * If the key we stand on is deleted under us (the agent removes
	 * closed flows), get_next_key starts over from the
	 * first key: duplicates are removed after sorting, and the walk is
	 * bounded so that heavy churn cannot keep us here.
	 */
	limit = 4 * (size_t)info.max_entries + 64;
	err = bpf_map_get_next_key(fd, NULL, &next);
	while (!err) {
		key = next;
		if (++steps > limit) {
			ctl_debug("%s changes too fast: listing may be incomplete",
				  MIG_MAP_FLOWS);
			break;
		}
		err = bpf_map_lookup_elem(fd, &key, &val);
		if (err == -ENOENT)
			goto next;   /* deleted since get_next_key */
		if (err) {
			ctl_err("cannot read '%s/%s': %s", ctl.pin_name,
				MIG_MAP_FLOWS, strerror(-err));
			goto fail;
		}
		/* a closed socket's entry, kept a moment for the RST that
		 * follows its close (the agent removes it): not a flow */
		if (val.state == BPF_TCP_CLOSE)
			goto next;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			tmp = reallocarray(flows, cap, sizeof(*flows));
			if (!tmp) {
				err = -ENOMEM;
				ctl_err("out of memory");
				goto fail;
			}
			flows = tmp;
		}
		flows[n] = (struct ctl_flow){
			.t = key,
			.cookie = val.cookie,
			.age_s = now > val.keyed_ns ? (now - val.keyed_ns) / 1000000000ULL : 0,
			.peer_reqno = val.peer_reqno,
			.own_reqno = val.own_reqno,
			.role = val.role,
			.state = val.state,
			.wire = val.wire,
			.migrations = val.migrations,
			.migrated_ago_s = now > val.migrated_ns ?
					  (now - val.migrated_ns) / 1000000000ULL : 0,
		};
		memcpy(flows[n].token, val.token, sizeof(val.token));
		n++;
next:
		err = bpf_map_get_next_key(fd, &key, &next);
	}
	if (err && err != -ENOENT) {
		ctl_err("cannot walk '%s/%s': %s", ctl.pin_name, MIG_MAP_FLOWS,
			strerror(-err));
		goto fail;
	}
	explicit_bzero(&val, sizeof(val));
	close(fd);

	if (n)
		qsort(flows, n, sizeof(*flows), flow_cmp);
	for (i = j = 0; i < n; i++)
		if (!j || memcmp(&flows[j - 1].t, &flows[i].t, sizeof(flows[i].t)))
			flows[j++] = flows[i];
	*out = flows;
	*nout = j;
	return 0;
fail:
	explicit_bzero(&val, sizeof(val));
	free(flows);
	close(fd);
	return err;
}

static void endpoint_json(struct json *j, const char *name,
			  const struct mig_tuple *t, bool local)
{
	char addr[CTL_ADDR_LEN];

	json_name(j, name);
	json_object_start(j);
	json_string_field(j, "addr", ctl_addr(t, local, addr));
	json_uint_field(j, "port", ctl_port(t, local));
	json_object_end(j);
}

void ctl_flows_json(const struct ctl_flow *flows, size_t n)
{
	char buf[CTL_NAME_LEN], token[CTL_TOKEN_LEN];
	struct json j;
	size_t i;

	ctl_json_begin(&j);
	json_object_start(&j);
	json_name(&j, "flows");
	json_array_start(&j);
	for (i = 0; i < n; i++) {
		const struct ctl_flow *f = &flows[i];

		json_object_start(&j);
		json_string_field(&j, "family", ctl_family_name(f->t.family, buf));
		endpoint_json(&j, "local", &f->t, true);
		endpoint_json(&j, "remote", &f->t, false);
		json_string_field(&j, "state", ctl_state_name(f->state, buf));
		json_string_field(&j, "role", ctl_role_name(f->role, buf));
		json_string_field(&j, "token", ctl_token_hex(f->token, token));
		json_uint_field(&j, "cookie", f->cookie);
		json_uint_field(&j, "age_s", f->age_s);
		json_uint_field(&j, "peer_reqno", f->peer_reqno);
		json_uint_field(&j, "own_reqno", f->own_reqno);
		json_name(&j, "wire");
		json_object_start(&j);
		endpoint_json(&j, "local", &f->wire, true);
		endpoint_json(&j, "remote", &f->wire, false);
		json_object_end(&j);
		json_uint_field(&j, "migrations", f->migrations);
		json_name(&j, "last_migration_s");
		if (f->migrations)
			json_uint(&j, f->migrated_ago_s);
		else
			json_null(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}
