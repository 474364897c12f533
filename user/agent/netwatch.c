// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Address and route events (libnl-3), and the old addresses kept on lo:
 * a socket whose address went away can only send while that address is
 * local, so the agent adds it to lo with host scope (never chosen as the
 * source of a new connection) until no keyed flow uses it.  Those
 * addresses carry the address protocol MIG_IFA_PROTO, so that an agent
 * started after a crash finds them again (addr_adopt_kept) and removes
 * those no flow needs; an address on lo without that mark is never ours.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "mig_log.h"

/*
 * What an event says, read at once (main.c acts on it after the read
 * that brought it, no quiet period): an address, route or link change
 * that can move a flow is a change; our own copies of old addresses on
 * lo (IFA_PROTO MIG_IFA_PROTO) and the local table's routes that come
 * with every address are not, nor a message too short for its header.
 * Returns NW_CHANGED, with NW_LINK for a link event (only those can bring
 * an interface to attach to: main.c does not list the interfaces for
 * every address or route event, which a move waits for), or 0.
 */
static int event_matters(struct nlmsghdr *h)
{
	switch (h->nlmsg_type) {
	case RTM_NEWADDR: case RTM_DELADDR: {
		struct nlattr *tb[IFA_MAX + 1];

		if (nlmsg_parse(h, sizeof(struct ifaddrmsg), tb, IFA_MAX, NULL) < 0)
			return 0;
		return tb[IFA_PROTO] && nla_len(tb[IFA_PROTO]) >= 1 &&
		       nla_get_u8(tb[IFA_PROTO]) == MIG_IFA_PROTO ? 0 : NW_CHANGED;
	}
	case RTM_NEWROUTE: case RTM_DELROUTE: {
		struct rtmsg *rt;

		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
			return 0;
		rt = nlmsg_data(h);
		return rt->rtm_table != RT_TABLE_LOCAL ? NW_CHANGED : 0;
	}
	case RTM_NEWLINK: case RTM_DELLINK:
		return h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg)) ?
		       NW_CHANGED | NW_LINK : 0;
	}
	return 0;
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	int *changed = arg;

	*changed |= event_matters(nlmsg_hdr(msg));
	return NL_OK;
}

static int changed_flag;

int netwatch_open(struct agent *a)
{
	int err;

	a->nl = nl_socket_alloc();
	a->nl_cmd = nl_socket_alloc();
	if (!a->nl || !a->nl_cmd)
		return -ENOMEM;
	nl_socket_disable_seq_check(a->nl);
	nl_socket_modify_cb(a->nl, NL_CB_VALID, NL_CB_CUSTOM, on_msg, &changed_flag);
	err = nl_connect(a->nl, NETLINK_ROUTE);
	if (!err)
		err = nl_socket_add_memberships(a->nl, RTNLGRP_IPV4_IFADDR,
						RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE,
						RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK, 0);
	if (!err)
		err = nl_socket_set_nonblocking(a->nl);
	if (!err)
		err = nl_connect(a->nl_cmd, NETLINK_ROUTE);
	if (err) {
		pr_err("cannot watch addresses and routes (netlink): %s", nl_geterror(err));
		return -EIO;
	}
	return 0;
}

int netwatch_fd(struct agent *a)
{
	return nl_socket_get_fd(a->nl);
}

int netwatch_read(struct agent *a)
{
	int err;

	changed_flag = 0;
	do {
		err = nl_recvmsgs_default(a->nl);
	} while (err >= 0);
	/* an overrun lost events: assume anything changed */
	if (err == -NLE_NOMEM || err == -NLE_DUMP_INTR)
		changed_flag = NW_CHANGED | NW_LINK;
	return changed_flag;
}

void netwatch_close(struct agent *a)
{
	nl_socket_free(a->nl);
	nl_socket_free(a->nl_cmd);
	a->nl = a->nl_cmd = NULL;
}

void host_addrs_free(struct host_addrs *h)
{
	free(h->v);
	memset(h, 0, sizeof(*h));
}

/* An address on lo that no flow may use on the wire: loopback and the
 * other addresses of scope host, and the old addresses we keep there.
 * (IPv6 ignores the scope asked for, so ours are known by the list, and
 * after a restart by their zero preferred lifetime: deprecated.) */
static bool lo_local_only(struct agent *a, struct rtnl_addr *ra, int af,
			  struct nl_addr *local)
{
	size_t i;

	if (rtnl_addr_get_scope(ra) == RT_SCOPE_HOST ||
	    (rtnl_addr_get_flags(ra) & IFA_F_DEPRECATED))
		return true;
	for (i = 0; i < a->n_kept; i++)
		if (a->kept[i].family == af &&
		    !memcmp(a->kept[i].laddr, nl_addr_get_binary_addr(local),
			    nl_addr_get_len(local)))
			return true;
	return false;
}

int host_addrs_read(struct agent *a, struct host_addrs *h)
{
	struct nl_cache *links = NULL, *addrs = NULL;
	struct nl_object *o;
	int err;

	h->n = 0;
	err = rtnl_link_alloc_cache(a->nl_cmd, AF_UNSPEC, &links);
	if (!err)
		err = rtnl_addr_alloc_cache(a->nl_cmd, &addrs);
	if (err) {
		pr_warn("cannot read the host's addresses: %s", nl_geterror(err));
		nl_cache_free(links);
		return -EIO;
	}
	for (o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ra = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(ra);
		int af = rtnl_addr_get_family(ra);
		int ifindex = rtnl_addr_get_ifindex(ra);
		struct rtnl_link *l;
		unsigned int flags;

		if (!local || (af != AF_INET && af != AF_INET6) ||
		    nl_addr_get_len(local) != (af == AF_INET ? 4U : 16U))
			continue;
		l = rtnl_link_get(links, ifindex);
		if (!l)
			continue;
		flags = rtnl_link_get_flags(l);
		rtnl_link_put(l);
		if (!(flags & IFF_UP) ||
		    ((flags & IFF_LOOPBACK) && lo_local_only(a, ra, af, local)))
			continue;
		if (h->n == h->cap) {
			size_t cap = h->cap ? 2 * h->cap : 64;
			void *v = realloc(h->v, cap * sizeof(h->v[0]));

			if (!v) {
				nl_cache_free(addrs);
				nl_cache_free(links);
				pr_warn("cannot read the host's addresses: out of memory");
				return -ENOMEM;
			}
			h->v = v;
			h->cap = cap;
		}
		memset(&h->v[h->n], 0, sizeof(h->v[0]));
		h->v[h->n].af = af;
		memcpy(h->v[h->n].a, nl_addr_get_binary_addr(local), nl_addr_get_len(local));
		h->n++;
	}
	nl_cache_free(addrs);
	nl_cache_free(links);
	return 0;
}

bool host_addrs_has(const struct host_addrs *h, int af, const uint32_t *addr)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->v[i].af == af && !memcmp(h->v[i].a, addr, af == AF_INET ? 4 : 16))
			return true;
	return false;
}

static void kept_key(const struct mig_tuple *t, struct mig_addr *k)
{
	memset(k, 0, sizeof(*k));
	k->family = t->family;
	memcpy(k->addr, t->laddr, t->family == AF_INET6 ? 16 : 4);
}

/* mig_host.kept: the data path looks in mig_kept only while it is not 0 */
static void kept_count(struct agent *a)
{
	struct mig_addr k, next;
	__u32 zero = 0, n = 0;
	int err = bpf_map_get_next_key(a->kept_fd, NULL, &next);

	while (!err) {
		n++;
		k = next;
		err = bpf_map_get_next_key(a->kept_fd, &k, &next);
	}
	if (a->host.kept == n)
		return;
	a->host.kept = n;
	if (bpf_map_update_elem(a->host_fd, &zero, &a->host, BPF_ANY))
		pr_warn("cannot write %s: %s", MIG_MAP_HOST, strerror(errno));
}

/* At start: the old addresses an earlier run kept on lo (mig_kept is
 * pinned), so that they are released once no flow needs them. */
int addr_kept_load(struct agent *a)
{
	struct mig_addr k, next;
	int err = bpf_map_get_next_key(a->kept_fd, NULL, &next);

	a->n_kept = 0;
	while (!err && a->n_kept < MIG_KEPT_MAX) {
		k = next;
		err = bpf_map_get_next_key(a->kept_fd, &k, &next);
		if (k.family != AF_INET && k.family != AF_INET6) {
			bpf_map_delete_elem(a->kept_fd, &k);
			continue;
		}
		memset(&a->kept[a->n_kept], 0, sizeof(a->kept[0]));
		a->kept[a->n_kept].family = k.family;
		memcpy(a->kept[a->n_kept].laddr, k.addr, 16);
		a->n_kept++;
	}
	kept_count(a);
	return 0;
}

/* mig_kept holds the kept addresses that no interface has again: an
 * address back on a link is a source like any other. */
void addr_kept_sync(struct agent *a, const struct host_addrs *h)
{
	struct mig_addr k;
	__u64 now = mono_ns();
	size_t i;

	for (i = 0; i < a->n_kept; i++) {
		kept_key(&a->kept[i], &k);
		if (host_addrs_has(h, a->kept[i].family == AF_INET6 ? AF_INET6 : AF_INET,
				   a->kept[i].laddr))
			bpf_map_delete_elem(a->kept_fd, &k);
		else
			bpf_map_update_elem(a->kept_fd, &k, &now, BPF_NOEXIST);
	}
	kept_count(a);
}

static struct rtnl_addr *lo_addr(const struct mig_tuple *t)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *na;
	int af = t->family == AF_INET6 ? AF_INET6 : AF_INET;

	if (!ra)
		return NULL;
	na = nl_addr_build(af, t->laddr, af == AF_INET6 ? 16 : 4);
	if (!na) {
		rtnl_addr_put(ra);
		return NULL;
	}
	nl_addr_set_prefixlen(na, af == AF_INET6 ? 128 : 32);
	rtnl_addr_set_local(ra, na);
	nl_addr_put(na);
	rtnl_addr_set_ifindex(ra, 1);   /* lo */
	rtnl_addr_set_family(ra, af);
	rtnl_addr_set_scope(ra, RT_SCOPE_HOST);
	if (af == AF_INET6) {
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
		rtnl_addr_set_preferred_lifetime(ra, 0);   /* never a source */
		rtnl_addr_set_valid_lifetime(ra, 0xffffffffU);
	}
	return ra;
}

/* RTM_NEWADDR for ra with IFA_PROTO = MIG_IFA_PROTO (libnl has no setter
 * for it); NLM_F_EXCL: an address already there is reported, not taken. */
static int lo_addr_add_marked(struct agent *a, struct rtnl_addr *ra)
{
	struct nl_msg *msg;
	int err;

	err = rtnl_addr_build_add_request(ra, NLM_F_CREATE | NLM_F_EXCL, &msg);
	if (err)
		return err;
	err = nla_put_u8(msg, IFA_PROTO, MIG_IFA_PROTO);
	if (!err)
		err = nl_send_auto(a->nl_cmd, msg);
	nlmsg_free(msg);
	if (err < 0)
		return err;
	return nl_wait_for_ack(a->nl_cmd);
}

int addr_keep_local(struct agent *a, const struct mig_tuple *t)
{
	struct rtnl_addr *ra;
	char buf[128];
	size_t i;
	int err;

	for (i = 0; i < a->n_kept; i++)
		if (a->kept[i].family == t->family &&
		    !memcmp(a->kept[i].laddr, t->laddr, 16))
			return 0;
	if (a->n_kept >= sizeof(a->kept) / sizeof(a->kept[0]))
		return -ENOSPC;
	ra = lo_addr(t);
	if (!ra)
		return -ENOMEM;
	err = lo_addr_add_marked(a, ra);
	rtnl_addr_put(ra);
	if (err == -NLE_EXIST) {
		/* on lo already, and not ours (ours are all in kept): the
		 * socket works, and we never remove what we did not add */
		return 0;
	}
	if (err) {
		pr_warn("cannot keep old address of %s on lo: %s",
			tuple_str(t, buf, sizeof(buf)), nl_geterror(err));
		return -EIO;
	}
	memset(&a->kept[a->n_kept], 0, sizeof(a->kept[0]));
	a->kept[a->n_kept].family = t->family;
	memcpy(a->kept[a->n_kept].laddr, t->laddr, 16);
	a->n_kept++;
	{
		struct mig_addr k;
		__u64 now = mono_ns();

		kept_key(t, &k);
		if (bpf_map_update_elem(a->kept_fd, &k, &now, BPF_ANY))
			pr_warn("cannot record kept address in %s: %s", MIG_MAP_KEPT,
				strerror(errno));
		kept_count(a);
	}
	inet_ntop(t->family == AF_INET6 ? AF_INET6 : AF_INET, t->laddr, buf, sizeof(buf));
	pr_info("keeping old address %s on lo for its connections", buf);
	return 0;
}

/* Remove the lo copies no keyed flow's socket uses any more. */
void addr_release_unused(struct agent *a)
{
	size_t i = 0;
	char buf[64];

	while (i < a->n_kept) {
		bool used = false;

		mig_tupleset_each(&a->flows, k) {
			const struct mig_tuple *key = &a->flows.v[k];

			if (key->family == a->kept[i].family &&
			    !memcmp(key->laddr, a->kept[i].laddr, 16)) {
				used = true;
				break;
			}
		}
		if (used) {
			i++;
			continue;
		}
		struct rtnl_addr *ra = lo_addr(&a->kept[i]);

		if (ra) {
			rtnl_addr_delete(a->nl_cmd, ra, 0);
			rtnl_addr_put(ra);
		}
		inet_ntop(a->kept[i].family == AF_INET6 ? AF_INET6 : AF_INET,
			  a->kept[i].laddr, buf, sizeof(buf));
		pr_info("old address %s no longer needed on lo", buf);
		{
			struct mig_addr k;

			kept_key(&a->kept[i], &k);
			bpf_map_delete_elem(a->kept_fd, &k);
		}
		a->kept[i] = a->kept[--a->n_kept];
		kept_count(a);
	}
}

/* One address of a RTM_GETADDR dump: ours if on lo with our mark. */
struct adopt_ctx {
	struct agent *a;
	int n;
};

static int on_lo_addr(struct nl_msg *msg, void *arg)
{
	struct adopt_ctx *c = arg;
	struct agent *a = c->a;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[IFA_MAX + 1];
	struct ifaddrmsg *ifa;
	struct mig_tuple t = {};
	struct nlattr *addr;
	size_t i, len;
	char buf[64];

	if (h->nlmsg_type != RTM_NEWADDR ||
	    nlmsg_parse(h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return NL_OK;
	ifa = nlmsg_data(h);
	if (ifa->ifa_index != 1 || !tb[IFA_PROTO] ||
	    nla_get_u8(tb[IFA_PROTO]) != MIG_IFA_PROTO)
		return NL_OK;
	len = ifa->ifa_family == AF_INET6 ? 16 : 4;
	if ((ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) ||
	    ifa->ifa_prefixlen != len * 8)
		return NL_OK;
	/* IPv4: IFA_LOCAL is the address; IPv6 has IFA_ADDRESS only */
	if (ifa->ifa_family == AF_INET && tb[IFA_LOCAL])
		addr = tb[IFA_LOCAL];
	else
		addr = tb[IFA_ADDRESS];
	if (!addr || nla_len(addr) != (int)len)
		return NL_OK;
	t.family = ifa->ifa_family;
	memcpy(t.laddr, nla_data(addr), len);
	for (i = 0; i < a->n_kept; i++)
		if (a->kept[i].family == t.family && !memcmp(a->kept[i].laddr, t.laddr, 16))
			return NL_OK;
	inet_ntop(t.family, t.laddr, buf, sizeof(buf));
	if (a->n_kept >= sizeof(a->kept) / sizeof(a->kept[0])) {
		pr_warn("old address %s on lo (an earlier run's): no room to track it", buf);
		return NL_OK;
	}
	a->kept[a->n_kept++] = t;
	c->n++;
	pr_info("old address %s on lo, kept by an earlier run: adopted", buf);
	return NL_OK;
}

/*
 * At start: the addresses an earlier run kept on lo (marked with
 * MIG_IFA_PROTO) become ours again.  The first mover_reconcile then
 * removes those no keyed flow uses (addr_release_unused).
 */
int addr_adopt_kept(struct agent *a)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
	struct adopt_ctx c = { .a = a };
	struct nl_sock *sk;
	int err;

	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (!err)
		err = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_lo_addr, &c);
	if (!err)
		err = nl_send_simple(sk, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
	if (err >= 0)
		err = nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	if (err < 0) {
		pr_warn("cannot list the addresses on lo: %s", nl_geterror(err));
		return -EIO;
	}
	return c.n;
}
