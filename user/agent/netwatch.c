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
#include <string.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/route/addr.h>
#include <netlink/socket.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "mig_log.h"

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	int *changed = arg;

	switch (h->nlmsg_type) {
	case RTM_NEWADDR: case RTM_DELADDR:
	case RTM_NEWROUTE: case RTM_DELROUTE:
	case RTM_NEWLINK: case RTM_DELLINK:
		*changed = 1;
		break;
	}
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
	/* an overrun lost events: assume something changed */
	if (err == -NLE_NOMEM || err == -NLE_DUMP_INTR)
		changed_flag = 1;
	return changed_flag;
}

void netwatch_close(struct agent *a)
{
	nl_socket_free(a->nl);
	nl_socket_free(a->nl_cmd);
	a->nl = a->nl_cmd = NULL;
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
	inet_ntop(t->family == AF_INET6 ? AF_INET6 : AF_INET, t->laddr, buf, sizeof(buf));
	pr_info("keeping old address %s on lo for its connections", buf);
	return 0;
}

/* Remove the lo copies no keyed flow's socket uses any more. */
void addr_release_unused(struct agent *a)
{
	struct mig_tuple key, next;
	size_t i = 0;
	char buf[64];

	while (i < a->n_kept) {
		bool used = false;
		int err = bpf_map_get_next_key(a->flows_fd, NULL, &next);

		while (!err) {
			key = next;
			if (key.family == a->kept[i].family &&
			    !memcmp(key.laddr, a->kept[i].laddr, 16)) {
				used = true;
				break;
			}
			err = bpf_map_get_next_key(a->flows_fd, &key, &next);
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
		a->kept[i] = a->kept[--a->n_kept];
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
