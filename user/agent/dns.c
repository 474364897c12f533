// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * dns.c - the DNS worker: keeps this host's names at its current global
 * addresses on the zone's primary server, with RFC 2136 UPDATE signed with
 * TSIG (hmac-sha256), records with TTL 0.
 *
 * A process of its own, forked before the agent makes or loads any key
 * (pool keys, responder keys, the boot secret), that drops to user nobody
 * with no capabilities and PR_SET_NO_NEW_PRIVS: the replies it parses
 * come from the network.  It holds the TSIG key and nothing else secret,
 * and talks to the agent over a socketpair (SOCK_SEQPACKET) in fixed-size,
 * length-checked messages (struct dmsg): the agent sends address changes,
 * peer-lookup requests and, once, the names' previous status; the worker
 * sends status entries, counters and looked-up peer addresses, which the
 * agent checks before it writes them to the pinned maps (the worker
 * touches no BPF object).
 *
 * For each configured name, one UPDATE that deletes the name's A and AAAA
 * RRsets and adds the current addresses, so the server applies the change
 * whole or not at all.  Retried with exponential backoff
 * (1 s doubling to 60 s, +-20 % jitter) until the server answers NOERROR
 * with a reply whose TSIG verifies.  An address change (dns_addresses_changed)
 * resets the backoff and publishes at once; an UPDATE in flight for
 * addresses that are no longer current is abandoned, so nothing older is
 * sent after something newer.  Nothing here is ever waited for by the
 * migration path.
 *
 * ldns builds and signs the messages (ldns_update_pkt_new,
 * ldns_update_pkt_tsig_add) and verifies replies (ldns_pkt_tsig_verify);
 * the UDP exchange is our own instead of ldns_resolver_send_pkt because the
 * latter (ldns 1.8.3) frees a reply whose TSIG does not verify, so the
 * server's TSIG error (BADKEY, BADSIG, BADTIME) cannot be told apart;
 * listens on an unconnected socket, so an unreachable port looks like a
 * 2 s timeout; blocks without a way to stop it; accepts a reply of any
 * ID from anywhere; prints perror() lines to stderr; and marks a server
 * that failed once unusable for every later query of the same resolver.
 *
 * Status goes to the pinned array mig_dns (struct mig_dns_status, one entry
 * per name) for `migratectl show dns`; counters to mig_stats.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <ldns/ldns.h>

#include <migrate/mig_abi.h>
#include "dns.h"
#include "dns_reply.h"
#include "mig_log.h"
#include "mig_stats.h"

#define DNS_TIMEOUT_MS     2000    /* per attempt, one datagram */
#define BACKOFF_FIRST_MS   1000
#define BACKOFF_MAX_MS     60000
#define SETTLE_MS          50      /* let a burst of address events end */
#define SETTLE_MAX         10

/* The host's addresses as published: sorted, no duplicates. */
struct addrset {
	uint8_t v4[MIG_DNS_MAX_ADDRS][4];
	uint8_t v6[MIG_DNS_MAX_ADDRS][16];
	int n4, n6;
	int dropped;            /* beyond MIG_DNS_MAX_ADDRS per family */
};

/* One message over the socketpair, either way; exactly this size. */
enum { DM_INIT = 1, DM_START, DM_ADDRS, DM_RESOLVE, DM_STATUS, DM_COUNT, DM_PEERS };
struct dmsg {
	uint32_t type;
	uint32_t index;         /* DM_INIT, DM_STATUS: name; DM_COUNT: counter;
				 * DM_PEERS: how many */
	union {
		struct mig_dns_status st;
		struct mig_peer_addr peers[MIG_DNS_MAX_PEER_ADDRS];
	} u;
};

struct mig_dns {
	struct mig_dns_config cfg;   /* the agent's copy has no TSIG secret */
	int sock;               /* the socketpair: agent's end or worker's */
	pid_t pid;              /* agent: the worker */
	/* agent only */
	int stats_fd, ncpus;
	int map_fd;
	bool started;
	bool closing;           /* dns_stop: the worker's end is expected */

	bool stop;              /* worker: the agent closed its end */
	bool resolve_req;       /* the mover asked for the peers' addresses */
	/* agent: the last lookup's addresses */
	struct mig_peer_addr peers[MIG_DNS_MAX_PEER_ADDRS];
	int n_peers;
	/* every (name, address) a lookup returned, oldest dropped first:
	 * which name a flow's peer went by */
	struct mig_peer_addr seen[4 * MIG_DNS_MAX_PEER_ADDRS];
	int n_seen;
	uint64_t peers_gen;     /* bumped by every finished lookup */

	/* worker only from here on */
	ldns_resolver *tsig;    /* carries the key for ldns_update_pkt_tsig_add */
	struct addrset cur;
	struct mig_dns_status st[MIG_DNS_MAX_NAMES];
	bool done[MIG_DNS_MAX_NAMES];   /* cur is published for this name */
	struct sockaddr_storage server; /* where UPDATEs go */
	socklen_t server_len;           /* 0: find it (SOA MNAME) */
	bool refind;                    /* it did not answer: find it again */
	bool woke;                      /* an event was consumed mid-exchange */
	bool dropped_warned;
	char server_text[INET6_ADDRSTRLEN + 16];
	uint64_t rng;
};

_Static_assert(MIG_CONF_MAX_NAMES <= MIG_DNS_MAX_NAMES, "one status entry per configured name");
_Static_assert(sizeof(((struct mig_dns_status *)0)->name) == MIG_DNS_NAME_MAX + 1,
	       "status names hold configured names");

/* Internal outcomes beyond enum mig_dns_result. */
enum { X_REPLY = 0, X_STOP = 100, X_CHANGED = 101 };

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rng_next(struct mig_dns *d)
{
	/* xorshift64*: jitter only, never security */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return d->rng * 2685821657736338717ULL;
}

static uint16_t random_id(void)
{
	uint16_t id;

	/* DNS IDs come from the kernel's CSPRNG: an off-path attacker must
	 * not guess them (TSIG protects the content, not the matching). */
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)(mono_ms() ^ (uint64_t)getpid());
	return id;
}

static bool stopping(struct mig_dns *d)
{
	return d->stop;
}

static void dm_send(int sock, uint32_t type, uint32_t index, const void *payload, size_t len)
{
	struct dmsg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.index = index;
	if (payload)
		memcpy(&m.u, payload, len);
	/* a full socket drops a wake-up or a counter, never blocks */
	if (send(sock, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		pr_debug("dns: message %u to the %s: %s", type,
			 type >= DM_STATUS ? "agent" : "worker", strerror(errno));
}

/* Worker: take what the agent sent (wake-ups carry no more). */
static void drain(struct mig_dns *d)
{
	struct dmsg m;
	ssize_t n;

	for (;;) {
		n = recv(d->sock, &m, sizeof(m), MSG_DONTWAIT);
		if (n == 0) {
			d->stop = true;   /* the agent is gone or stopping */
			return;
		}
		if (n < 0)
			return;
		if (n == (ssize_t)sizeof(m) && m.type == DM_RESOLVE)
			d->resolve_req = true;
	}
}

static void count(struct mig_dns *d, enum mig_stat s)
{
	dm_send(d->sock, DM_COUNT, (uint32_t)s, NULL, 0);
}

/* ---------------------------------------------------------------------- */
/* The host's addresses */

static bool v4_publishable(const uint8_t *a)
{
	if (a[0] == 0 || a[0] == 127 || a[0] >= 224)   /* this, loopback, multicast, reserved */
		return false;
	if (a[0] == 169 && a[1] == 254)                 /* link-local */
		return false;
	return true;
}

static bool v6_publishable(const uint8_t *a)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t zero[15];

	if (a[0] == 0xff)                                  /* multicast */
		return false;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)         /* link-local */
		return false;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)         /* site-local */
		return false;
	if (!memcmp(a, zero, 15) && (a[15] == 0 || a[15] == 1))   /* :: and ::1 */
		return false;
	if (!memcmp(a, mapped, 12))                        /* v4-mapped */
		return false;
	return true;
}

/* Interface flags of ifindex: up, running, not loopback. */
static bool link_usable(int sock, unsigned int ifindex)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname(ifindex, ifr.ifr_name) || ioctl(sock, SIOCGIFFLAGS, &ifr))
		return false;
	return (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING) &&
	       !(ifr.ifr_flags & IFF_LOOPBACK);
}

static void addrset_insert(uint8_t (*list)[16], int *n, int len, const uint8_t *a,
			   int *dropped)
{
	int i, j;

	for (i = 0; i < *n; i++) {
		int c = memcmp(list[i], a, (size_t)len);

		if (c == 0)
			return;
		if (c > 0)
			break;
	}
	if (*n == MIG_DNS_MAX_ADDRS) {
		(*dropped)++;
		if (i == MIG_DNS_MAX_ADDRS)
			return;
		(*n)--;   /* keep the lowest MIG_DNS_MAX_ADDRS */
	}
	for (j = *n; j > i; j--)
		memcpy(list[j], list[j - 1], (size_t)len);
	memcpy(list[i], a, (size_t)len);
	(*n)++;
}

/*
 * The addresses worth publishing, from a netlink dump (getifaddrs() does
 * not show scope or flags): global scope, not tentative, deprecated,
 * failed DAD or temporary (privacy addresses are for outgoing
 * connections), on an interface that is up, has carrier and is not a
 * loopback.  That excludes the old addresses the agent keeps on lo with
 * scope host after a move.  0 or -errno.
 */
static int read_addrs(struct addrset *out)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
	} req;
	uint8_t v4[MIG_DNS_MAX_ADDRS][16];
	uint32_t buf[32768 / 4];   /* the largest dump chunk the kernel sends */
	int fd, ifsock, err = 0;
	ssize_t got;
	int n;

	memset(out, 0, sizeof(*out));
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	ifsock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ifsock < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
	req.nh.nlmsg_type = RTM_GETADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 1;
	req.ifa.ifa_family = AF_UNSPEC;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	memset(v4, 0, sizeof(v4));
	for (;;) {
		struct nlmsghdr *nh;

		got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (got == 0) {
			err = -EIO;
			goto out;
		}
		n = (int)got;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			struct ifaddrmsg *ifa;
			struct rtattr *rta;
			const uint8_t *local = NULL, *addr = NULL, *a;
			uint32_t flags;
			int len;

			if (nh->nlmsg_type == NLMSG_DONE)
				goto done;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				err = e->error ? e->error : -EIO;
				goto out;
			}
			if (nh->nlmsg_type != RTM_NEWADDR)
				continue;
			ifa = NLMSG_DATA(nh);
			len = (int)IFA_PAYLOAD(nh);
			flags = ifa->ifa_flags;
			for (rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
				if (rta->rta_type == IFA_FLAGS && RTA_PAYLOAD(rta) >= 4)
					memcpy(&flags, RTA_DATA(rta), 4);
				else if (rta->rta_type == IFA_LOCAL)
					local = RTA_DATA(rta);
				else if (rta->rta_type == IFA_ADDRESS)
					addr = RTA_DATA(rta);
			}
			/* on point-to-point links IFA_ADDRESS is the peer */
			a = local ? local : addr;
			if (!a || ifa->ifa_scope != RT_SCOPE_UNIVERSE)
				continue;
			if (flags & (IFA_F_TENTATIVE | IFA_F_DEPRECATED | IFA_F_DADFAILED))
				continue;
			if (ifa->ifa_family == AF_INET) {
				if (!v4_publishable(a) || !link_usable(ifsock, ifa->ifa_index))
					continue;
				addrset_insert(v4, &out->n4, 4, a, &out->dropped);
			} else if (ifa->ifa_family == AF_INET6) {
				/* IFA_F_SECONDARY, the same bit, means
				 * "temporary" only for IPv6 */
				if ((flags & IFA_F_TEMPORARY) || !v6_publishable(a) ||
				    !link_usable(ifsock, ifa->ifa_index))
					continue;
				addrset_insert(out->v6, &out->n6, 16, a, &out->dropped);
			}
		}
	}
done:
	for (int i = 0; i < out->n4; i++)
		memcpy(out->v4[i], v4[i], 4);
out:
	close(ifsock);
	close(fd);
	return err;
}

static bool addrset_eq(const struct addrset *a, const struct addrset *b)
{
	return a->n4 == b->n4 && a->n6 == b->n6 &&
	       !memcmp(a->v4, b->v4, (size_t)a->n4 * 4) &&
	       !memcmp(a->v6, b->v6, (size_t)a->n6 * 16);
}

/* "A 192.0.2.1 198.51.100.1, AAAA 2001:db8::1", or "no addresses". */
static const char *addrset_str(const uint8_t (*v4)[4], int n4, const uint8_t (*v6)[16],
			       int n6, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n4 && off < len; i++) {
		inet_ntop(AF_INET, v4[i], a, sizeof(a));
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "A ", a);
	}
	for (i = 0; i < n6 && off < len; i++) {
		inet_ntop(AF_INET6, v6[i], a, sizeof(a));
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? " " : (n4 ? ", AAAA " : "AAAA "), a);
	}
	if (!n4 && !n6)
		snprintf(buf, len, "no addresses");
	return buf;
}

static const char *cur_str(const struct addrset *s, char *buf, size_t len)
{
	return addrset_str((const uint8_t (*)[4])s->v4, s->n4,
			   (const uint8_t (*)[16])s->v6, s->n6, buf, len);
}

/* ---------------------------------------------------------------------- */
/* The status map */

/* BTF for mig_dns, so that `bpftool map dump` prints fields by name.
 * Returns a loaded struct btf or NULL (the map then goes without). */
static struct btf *status_btf(__u32 *key_id, __u32 *value_id)
{
	struct btf *btf = btf__new_empty();
	int u8, u32, u64, ch, name, a4, a4x, a6, a6x, pad3, text, s;

	if (!btf)
		return NULL;
	u8 = btf__add_int(btf, "__u8", 1, 0);
	u32 = btf__add_int(btf, "__u32", 4, 0);
	u64 = btf__add_int(btf, "__u64", 8, 0);
	ch = btf__add_int(btf, "char", 1, BTF_INT_SIGNED);
	name = btf__add_array(btf, u32, ch, 256);
	a4 = btf__add_array(btf, u32, u8, 4);
	a4x = btf__add_array(btf, u32, a4, MIG_DNS_MAX_ADDRS);
	a6 = btf__add_array(btf, u32, u8, 16);
	a6x = btf__add_array(btf, u32, a6, MIG_DNS_MAX_ADDRS);
	pad3 = btf__add_array(btf, u32, u8, 3);
	text = btf__add_array(btf, u32, ch, MIG_DNS_TEXT_LEN);
	if (u8 < 0 || u32 < 0 || u64 < 0 || ch < 0 || name < 0 || a4x < 0 ||
	    a6x < 0 || pad3 < 0 || text < 0)
		goto fail;
	s = btf__add_struct(btf, "mig_dns_status", sizeof(struct mig_dns_status));
	if (s < 0)
		goto fail;
#define F(n, t) \
	if (btf__add_field(btf, #n, t, offsetof(struct mig_dns_status, n) * 8, 0)) \
		goto fail
	F(name, name);
	F(addr4, a4x);
	F(addr6, a6x);
	F(want4, a4x);
	F(want6, a6x);
	F(n_addr4, u8);
	F(n_addr6, u8);
	F(n_want4, u8);
	F(n_want6, u8);
	F(result, u8);
	F(pad, pad3);
	F(attempts, u32);
	F(pad2, u32);
	F(last_attempt, u64);
	F(last_success, u64);
	F(text, text);
#undef F
	if (btf__load_into_kernel(btf))
		goto fail;
	*key_id = (__u32)u32;
	*value_id = (__u32)s;
	return btf;
fail:
	btf__free(btf);
	return NULL;
}

static int status_create(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	__u32 key_id = 0, value_id = 0;
	struct btf *btf = status_btf(&key_id, &value_id);
	int fd;

	if (btf) {
		opts.btf_fd = (__u32)btf__fd(btf);
		opts.btf_key_type_id = key_id;
		opts.btf_value_type_id = value_id;
	} else {
		pr_debug("dns: %s goes without BTF", MIG_MAP_DNS);
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, MIG_MAP_DNS, sizeof(__u32),
			    sizeof(struct mig_dns_status), MIG_DNS_MAX_NAMES, &opts);
	if (fd < 0 && btf) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, MIG_MAP_DNS, sizeof(__u32),
				    sizeof(struct mig_dns_status), MIG_DNS_MAX_NAMES, NULL);
	}
	if (fd < 0)
		fd = -errno;
	btf__free(btf);
	return fd;
}

/* The pinned status map: the existing one when its layout is ours (a
 * restart), else a new one.  fd or -errno (reported). */
static int status_open(const char *pin_dir)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	char path[4200];
	int fd, tries;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, MIG_MAP_DNS);
	for (tries = 0; tries < 2; tries++) {
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			memset(&info, 0, sizeof(info));
			if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
			    info.type == BPF_MAP_TYPE_ARRAY && info.key_size == sizeof(__u32) &&
			    info.value_size == sizeof(struct mig_dns_status) &&
			    info.max_entries == MIG_DNS_MAX_NAMES)
				return fd;
			close(fd);
			pr_warn("dns: replacing '%s': its layout is not this version's", path);
			if (unlink(path) && errno != ENOENT) {
				pr_err("cannot remove '%s': %s", path, strerror(errno));
				return -errno;
			}
		} else if (errno != ENOENT) {
			pr_err("cannot open '%s': %s (remove it, or migrate-agent --detach)",
			       path, strerror(errno));
			return -errno;
		}
		fd = status_create();
		if (fd < 0) {
			pr_err("cannot create the DNS status map %s: %s", MIG_MAP_DNS,
			       strerror(-fd));
			return fd;
		}
		if (!bpf_obj_pin(fd, path))
			return fd;
		close(fd);
		if (errno != EEXIST) {
			pr_err("cannot pin '%s': %s", path, strerror(errno));
			return -errno;
		}
		/* pinned by someone else meanwhile: use that one */
	}
	pr_err("cannot pin '%s': it keeps changing (two agents on one pin directory?)", path);
	return -EBUSY;
}

/* Agent: write status entry i. */
static void status_put(struct mig_dns *d, int i, const struct mig_dns_status *st)
{
	__u32 key = (__u32)i;

	if (bpf_map_update_elem(d->map_fd, &key, st, BPF_ANY))
		pr_debug("dns: cannot write %s[%d]: %s", MIG_MAP_DNS, i, strerror(errno));
}

/* Worker: hand status entry i to the agent. */
static void status_write(struct mig_dns *d, int i)
{
	dm_send(d->sock, DM_STATUS, (uint32_t)i, &d->st[i], sizeof(d->st[i]));
}

/* Entries whose name is still configured keep their history; the rest are
 * cleared. */
static void status_init(struct mig_dns *d)
{
	struct mig_dns_status old;
	__u32 key;
	int i;

	for (i = 0; i < MIG_DNS_MAX_NAMES; i++) {
		key = (__u32)i;
		memset(&d->st[i], 0, sizeof(d->st[i]));
		if (i >= d->cfg.n_names) {
			status_put(d, i, &d->st[i]);
			continue;
		}
		if (!bpf_map_lookup_elem(d->map_fd, &key, &old) &&
		    !strncmp(old.name, d->cfg.names[i], sizeof(old.name))) {
			d->st[i] = old;
			/* nothing is in flight in a fresh agent */
			memset(d->st[i].want4, 0, sizeof(d->st[i].want4));
			memset(d->st[i].want6, 0, sizeof(d->st[i].want6));
			d->st[i].n_want4 = d->st[i].n_want6 = 0;
		}
		/* both are MIG_DNS_NAME_MAX + 1 bytes, NUL-terminated */
		memcpy(d->st[i].name, d->cfg.names[i], sizeof(d->st[i].name));
		status_put(d, i, &d->st[i]);
		dm_send(d->sock, DM_INIT, (uint32_t)i, &d->st[i], sizeof(d->st[i]));
	}
}

/* ---------------------------------------------------------------------- */
/* One UDP exchange */

static void sa_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		port = ntohs(s->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		port = ntohs(s->sin6_port);
	}
	snprintf(buf, len, "%s port %u", a, port);
}

/* The worker was woken: stop, an address change that makes this attempt
 * stale (want given and no longer current), or nothing for us. */
static int woken(struct mig_dns *d, const struct addrset *want)
{
	struct addrset now;

	drain(d);
	if (stopping(d))
		return X_STOP;
	if (want && !read_addrs(&now) && !addrset_eq(&now, want))
		return X_CHANGED;
	/* the worker looks at the addresses again after this round */
	d->woke = true;
	return 0;
}

static int unreachable(int err, const char *where, char *why, size_t len)
{
	if (err == ECONNREFUSED)
		snprintf(why, len, "server unreachable (%s: connection refused, no DNS server there)",
			 where);
	else
		snprintf(why, len, "server unreachable (%s: %s)", where, strerror(err));
	return MIG_DNS_UNREACHABLE;
}

/*
 * Send q to srv once and wait up to DNS_TIMEOUT_MS for the reply with the
 * same ID.  X_REPLY with the reply in r/rlen, MIG_DNS_TIMEOUT,
 * MIG_DNS_UNREACHABLE or MIG_DNS_ERROR (why says more), X_STOP, or
 * X_CHANGED (want given and the host's addresses changed).
 */
static int exchange(struct mig_dns *d, const struct sockaddr_storage *srv, socklen_t srvlen,
		    const uint8_t *q, size_t qlen, const struct addrset *want,
		    uint8_t *r, size_t rcap, size_t *rlen, char *why, size_t whylen)
{
	uint64_t deadline = mono_ms() + DNS_TIMEOUT_MS, now;
	char where[INET6_ADDRSTRLEN + 16];
	int fd, ret;
	ssize_t n;

	sa_text(srv, where, sizeof(where));
	fd = socket(srv->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return MIG_DNS_ERROR;
	}
	/* connected: ICMP errors come back as ECONNREFUSED/EHOSTUNREACH, and
	 * only the server's datagrams are delivered */
	if (connect(fd, (const struct sockaddr *)srv, srvlen) ||
	    send(fd, q, qlen, 0) != (ssize_t)qlen) {
		ret = unreachable(errno, where, why, whylen);
		goto out;
	}
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = d->sock, .events = POLLIN },
		};

		now = mono_ms();
		if (now >= deadline) {
			snprintf(why, whylen, "timeout (no answer from %s within %d s)", where,
				 DNS_TIMEOUT_MS / 1000);
			ret = MIG_DNS_TIMEOUT;
			goto out;
		}
		if (poll(p, 2, (int)(deadline - now)) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, whylen, "poll: %s", strerror(errno));
			ret = MIG_DNS_ERROR;
			goto out;
		}
		if (p[1].revents && (ret = woken(d, want)))
			goto out;
		if (!p[0].revents)
			continue;
		n = recv(fd, r, rcap, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			ret = unreachable(errno, where, why, whylen);
			goto out;
		}
		/* not a reply to this query: keep waiting */
		if (n < 12) {
			count(d, MIG_STAT_DNS_MALFORMED);
			continue;
		}
		if (memcmp(r, q, 2) || !(r[2] & 0x80))
			continue;
		*rlen = (size_t)n;
		ret = X_REPLY;
		goto out;
	}
out:
	close(fd);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Finding the primary server from the zone's SOA (only without `server`) */

/*
 * Ask ns about name and type once (RD set: ns may be a resolver), signed
 * with the TSIG key; only an answer signed with the same key is taken
 * (the SOA that names the primary, the primary's address, the peers'
 * addresses: an unsigned one could send our UPDATEs and migrations
 * anywhere).
 */
static int query(struct mig_dns *d, const struct sockaddr_storage *ns, socklen_t nslen,
		 const char *name, ldns_rr_type t, uint8_t *r, size_t rcap, size_t *rlen,
		 char *why, size_t whylen)
{
	uint8_t *wire = NULL;
	size_t wlen = 0;
	ldns_rdf *owner = ldns_dname_new_frm_str(name);
	char where[INET6_ADDRSTRLEN + 16];
	ldns_pkt *pkt;
	int ret;

	sa_text(ns, where, sizeof(where));
	pkt = owner ? ldns_pkt_query_new(owner, t, LDNS_RR_CLASS_IN, LDNS_RD) : NULL;
	if (!pkt) {
		ldns_rdf_deep_free(owner);
		snprintf(why, whylen, "out of memory");
		return MIG_DNS_ERROR;
	}
	ldns_pkt_set_id(pkt, random_id());
	if (ldns_pkt_tsig_sign(pkt, d->cfg.key_name, d->cfg.key_secret, 300, "hmac-sha256.",
			       NULL) != LDNS_STATUS_OK || !ldns_pkt_tsig(pkt) ||
	    ldns_pkt2wire(&wire, pkt, &wlen) != LDNS_STATUS_OK) {
		ldns_pkt_free(pkt);
		snprintf(why, whylen, "cannot build a signed query for %s", name);
		return MIG_DNS_ERROR;
	}
	ret = exchange(d, ns, nslen, wire, wlen, NULL, r, rcap, rlen, why, whylen);
	free(wire);
	if (ret == X_REPLY) {
		int v = dns_reply_signed(r, *rlen, d->cfg.key_name, d->cfg.key_secret,
					 ldns_rr_rdf(ldns_pkt_tsig(pkt), 3));

		if (v == -EINVAL) {
			count(d, MIG_STAT_DNS_MALFORMED);
			snprintf(why, whylen, "malformed reply to the %s query from %s: rejected",
				 name, where);
			ret = MIG_DNS_ERROR;
		} else if (v) {
			count(d, MIG_STAT_DNS_TSIG_FAIL);
			snprintf(why, whylen,
				 "the answer to the %s query from %s is not signed with key %s: not taken (without 'server', the resolvers of /etc/resolv.conf must be servers that know the key)",
				 name, where, d->cfg.key_name);
			ret = MIG_DNS_TSIG;
		}
	}
	ldns_pkt_free(pkt);
	return ret;
}

/*
 * No `server` configured: ask the resolvers of /etc/resolv.conf for the
 * zone's SOA, and for the address of its MNAME.  0, X_STOP, or a failure
 * (why says which).
 */
static int find_server(struct mig_dns *d, char *why, size_t whylen)
{
	ldns_resolver *res = NULL;
	ldns_status s;
	size_t i;
	int ret = MIG_DNS_ERROR;

	s = ldns_resolver_new_frm_file(&res, NULL);
	if (s != LDNS_STATUS_OK) {
		snprintf(why, whylen, "no 'server' configured and /etc/resolv.conf unusable: %s",
			 ldns_get_errorstr_by_id(s));
		return MIG_DNS_ERROR;
	}
	snprintf(why, whylen, "no 'server' configured and no nameserver in /etc/resolv.conf");
	for (i = 0; i < ldns_resolver_nameserver_count(res); i++) {
		struct sockaddr_storage *ns;
		uint8_t rbuf[4096];
		char mname[LDNS_MAX_DOMAINLEN + 2];
		size_t nslen = 0, rlen = 0;
		int t;

		ns = ldns_rdf2native_sockaddr_storage(ldns_resolver_nameservers(res)[i], 53, &nslen);
		if (!ns)
			continue;
		ret = query(d, ns, (socklen_t)nslen, d->cfg.zone, LDNS_RR_TYPE_SOA, rbuf,
			    sizeof(rbuf), &rlen, why, whylen);
		if (ret != X_REPLY) {
			free(ns);
			if (ret == X_STOP)
				break;
			continue;
		}
		if (dns_reply_soa(rbuf, rlen, d->cfg.zone, mname, sizeof(mname), why, whylen)) {
			free(ns);
			ret = MIG_DNS_ERROR;
			continue;
		}
		ret = MIG_DNS_ERROR;
		snprintf(why, whylen, "no address for %s, the primary of zone %s", mname, d->cfg.zone);
		for (t = 0; t < 2 && ret != X_REPLY && ret != X_STOP; t++) {
			ldns_rr_type type = t == 0 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA;
			int r = query(d, ns, (socklen_t)nslen, mname, type, rbuf, sizeof(rbuf),
				      &rlen, why, whylen);

			if (r == X_STOP) {
				ret = X_STOP;
				break;
			}
			if (r != X_REPLY)
				continue;
			if (!dns_reply_addr(rbuf, rlen, type, (uint16_t)d->cfg.port, &d->server,
					    &d->server_len))
				ret = X_REPLY;
		}
		free(ns);
		if (ret == X_REPLY) {
			sa_text(&d->server, d->server_text, sizeof(d->server_text));
			pr_info("dns: zone %s: primary server %s (%s, from the SOA record, signed)",
				d->cfg.zone, mname, d->server_text);
			ret = 0;
			break;
		}
		if (ret == X_STOP)
			break;
	}
	ldns_resolver_deep_free(res);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* One UPDATE */

static ldns_rr *rr_new(const char *owner, ldns_rr_type t, ldns_rr_class c,
		       ldns_rdf_type rt, const uint8_t *data, size_t len)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *o = ldns_dname_new_frm_str(owner);

	if (!rr || !o) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(o);
		return NULL;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_type(rr, t);
	ldns_rr_set_class(rr, c);
	ldns_rr_set_ttl(rr, 0);
	if (data) {
		ldns_rdf *rd = ldns_rdf_new_frm_data(rt, len, data);

		if (!rd || !ldns_rr_push_rdf(rr, rd)) {
			ldns_rdf_deep_free(rd);
			ldns_rr_free(rr);
			return NULL;
		}
	}
	return rr;
}

static bool push(ldns_rr_list *l, ldns_rr *rr)
{
	if (rr && ldns_rr_list_push_rr(l, rr))
		return true;
	ldns_rr_free(rr);
	return false;
}

/*
 * The signed UPDATE for name: zone section = the zone; update section =
 * delete the A RRset, delete the AAAA RRset (class ANY, RFC 2136 2.5.2),
 * then add each address with TTL 0.  The server applies the message whole.
 */
static ldns_pkt *build_update(struct mig_dns *d, const char *name, const struct addrset *a)
{
	ldns_rr_list *up = ldns_rr_list_new();
	ldns_rdf *zone = ldns_dname_new_frm_str(d->cfg.zone);
	ldns_pkt *pkt = NULL;
	bool ok = up && zone;
	int i;

	if (ok)
		ok = push(up, rr_new(name, LDNS_RR_TYPE_A, LDNS_RR_CLASS_ANY,
				     LDNS_RDF_TYPE_A, NULL, 0)) &&
		     push(up, rr_new(name, LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_ANY,
				     LDNS_RDF_TYPE_AAAA, NULL, 0));
	for (i = 0; ok && i < a->n4; i++)
		ok = push(up, rr_new(name, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
				     LDNS_RDF_TYPE_A, a->v4[i], 4));
	for (i = 0; ok && i < a->n6; i++)
		ok = push(up, rr_new(name, LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN,
				     LDNS_RDF_TYPE_AAAA, a->v6[i], 16));
	if (ok) {
		pkt = ldns_update_pkt_new(zone, LDNS_RR_CLASS_IN, NULL, up, NULL);
		zone = NULL;   /* owned by the packet (or freed) now */
	}
	ldns_rdf_deep_free(zone);
	ldns_rr_list_deep_free(up);
	if (!pkt)
		return NULL;
	/* ldns_pkt_query_new set RD; an UPDATE's bits there are Z, zero */
	ldns_pkt_set_rd(pkt, false);
	ldns_pkt_set_id(pkt, random_id());
	if (ldns_update_pkt_tsig_add(pkt, d->tsig) != LDNS_STATUS_OK || !ldns_pkt_tsig(pkt)) {
		ldns_pkt_free(pkt);
		return NULL;
	}
	return pkt;
}

static void set_want(struct mig_dns *d, int i)
{
	struct mig_dns_status *st = &d->st[i];

	memcpy(st->want4, d->cur.v4, sizeof(st->want4));
	memcpy(st->want6, d->cur.v6, sizeof(st->want6));
	st->n_want4 = (__u8)d->cur.n4;
	st->n_want6 = (__u8)d->cur.n6;
}

static void record(struct mig_dns *d, int i, int result, const char *text)
{
	struct mig_dns_status *st = &d->st[i];

	st->result = (__u8)result;
	snprintf(st->text, sizeof(st->text), "%s", text);
	status_write(d, i);
	if (result == MIG_DNS_OK) {
		count(d, MIG_STAT_DNS_UPDATE_OK);
		return;
	}
	count(d, MIG_STAT_DNS_UPDATE_FAIL);
	if (result == MIG_DNS_TSIG)
		count(d, MIG_STAT_DNS_TSIG_FAIL);
}

/* Publish d->cur for name i: MIG_DNS_OK, another mig_dns_result, X_STOP
 * or X_CHANGED.  retry_ms only goes into the failure's log line. */
static int publish(struct mig_dns *d, int i, uint64_t retry_ms)
{
	const char *name = d->cfg.names[i];
	struct mig_dns_status *st = &d->st[i];
	char addrs[512], why[1024], shorttxt[MIG_DNS_TEXT_LEN];
	uint8_t *wire = NULL, rbuf[4096];
	size_t wlen = 0, rlen = 0;
	ldns_pkt *pkt;
	int ret;

	cur_str(&d->cur, addrs, sizeof(addrs));
	set_want(d, i);

	pkt = build_update(d, name, &d->cur);
	if (!pkt || ldns_pkt2wire(&wire, pkt, &wlen) != LDNS_STATUS_OK) {
		ldns_pkt_free(pkt);
		pr_warn("dns: %s: cannot build the signed UPDATE (out of memory?); retrying in %.1f s",
			name, (double)retry_ms / 1000);
		record(d, i, MIG_DNS_ERROR, "cannot build the UPDATE");
		return MIG_DNS_ERROR;
	}
	st->attempts++;
	st->last_attempt = (__u64)time(NULL);
	pr_debug("dns: %s: UPDATE to %s: %s, TTL 0 (attempt %u)", name, d->server_text, addrs,
		 st->attempts);
	ret = exchange(d, &d->server, d->server_len, wire, wlen, &d->cur, rbuf, sizeof(rbuf),
		       &rlen, why, sizeof(why));
	free(wire);
	if (ret == X_STOP || ret == X_CHANGED) {
		if (ret == X_CHANGED)
			pr_debug("dns: %s: addresses changed while the UPDATE was out: starting over",
				 name);
		status_write(d, i);
		ldns_pkt_free(pkt);
		return ret;
	}
	if (ret == X_REPLY) {
		ret = dns_reply_judge(rbuf, rlen, ldns_rr_rdf(ldns_pkt_tsig(pkt), 3),
				      d->server_text, d->cfg.key_name, d->cfg.key_secret,
				      shorttxt, sizeof(shorttxt), why, sizeof(why));
		if (!strcmp(shorttxt, "malformed reply"))
			count(d, MIG_STAT_DNS_MALFORMED);
	}
	else if (ret == MIG_DNS_TIMEOUT)
		snprintf(shorttxt, sizeof(shorttxt), "timeout");
	else if (ret == MIG_DNS_UNREACHABLE)
		snprintf(shorttxt, sizeof(shorttxt), "server unreachable");
	else
		snprintf(shorttxt, sizeof(shorttxt), "error");
	ldns_pkt_free(pkt);

	if (ret == MIG_DNS_OK) {
		memcpy(st->addr4, st->want4, sizeof(st->addr4));
		memcpy(st->addr6, st->want6, sizeof(st->addr6));
		st->n_addr4 = st->n_want4;
		st->n_addr6 = st->n_want6;
		st->last_success = st->last_attempt;
		pr_info("dns: %s updated: %s, TTL 0 (server %s)", name, addrs, d->server_text);
	} else {
		pr_warn("dns: %s: update failed: %s; retrying in %.1f s", name, why,
			(double)retry_ms / 1000);
		/* an unreachable or silent primary may have moved: look it
		 * up again after this round (when it came from the SOA) */
		if (ret == MIG_DNS_TIMEOUT || ret == MIG_DNS_UNREACHABLE)
			d->refind = true;
	}
	record(d, i, ret, shorttxt);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* The worker */

static uint64_t jitter(struct mig_dns *d, uint64_t ms)
{
	/* 80 % to 120 %: agents that lost the server together do not all
	 * come back in the same second */
	return ms * 4 / 5 + rng_next(d) % (ms * 2 / 5 + 1);
}

/* Wait for an event or timeout_ms (-1: forever).  1 event, 0 timeout,
 * X_STOP.  An event is followed by a short quiet period, so that the
 * removal and addition of a move are read as one change. */
static int wait_event(struct mig_dns *d, int timeout_ms)
{
	struct pollfd p = { .fd = d->sock, .events = POLLIN };
	int r, i;

	r = poll(&p, 1, timeout_ms);
	if (r < 0 && errno != EINTR)
		pr_debug("dns: poll: %s", strerror(errno));
	if (r <= 0)
		return stopping(d) ? X_STOP : 0;
	for (i = 0; i < SETTLE_MAX; i++) {
		drain(d);
		if (stopping(d))
			return X_STOP;
		if (poll(&p, 1, SETTLE_MS) <= 0)
			break;
	}
	return stopping(d) ? X_STOP : 1;
}

static void addresses_now(struct mig_dns *d, bool *empty_warned)
{
	struct addrset now;
	char buf[512];
	int e;

	/* a failed dump keeps what we had: never publish half a list */
	e = read_addrs(&now);
	if (e) {
		pr_warn("dns: cannot read the host's addresses: %s", strerror(-e));
		return;
	}
	d->cur = now;
	cur_str(&d->cur, buf, sizeof(buf));
	pr_debug("dns: host addresses: %s", buf);
	if (d->cur.dropped && !d->dropped_warned)
		pr_warn("dns: more than %d addresses per family: publishing %s",
			MIG_DNS_MAX_ADDRS, buf);
	d->dropped_warned = d->cur.dropped > 0;
	if (!d->cur.n4 && !d->cur.n6) {
		if (!*empty_warned)
			pr_warn("dns: no global address to publish; records left as they are until one appears");
		*empty_warned = true;
	} else {
		*empty_warned = false;
	}
}

static bool peer_eq(const struct mig_peer_addr *a, int family, const uint32_t *addr)
{
	return a->family == family && !memcmp(a->addr, addr, family == AF_INET ? 4 : 16);
}

/* (agent) */
static void seen_add(struct mig_dns *d, const struct mig_peer_addr *p)
{
	const int max = (int)(sizeof(d->seen) / sizeof(d->seen[0]));
	int i;

	for (i = 0; i < d->n_seen; i++)
		if (d->seen[i].name == p->name && peer_eq(&d->seen[i], p->family, p->addr))
			return;
	if (d->n_seen == max) {
		memmove(d->seen, d->seen + 1, sizeof(d->seen[0]) * (size_t)(max - 1));
		d->n_seen--;
	}
	d->seen[d->n_seen++] = *p;
}

/*
 * Look the configured peer names up again (A and AAAA, at the zone's
 * primary, which is authoritative for them): the mover's last resort when
 * its peer may have moved too.
 */
static void resolve_peers(struct mig_dns *d)
{
	struct mig_peer_addr found[MIG_DNS_MAX_PEER_ADDRS];
	char why[512], text[INET6_ADDRSTRLEN];
	int n = 0, i, t, r;

	if (!d->server_len && find_server(d, why, sizeof(why))) {
		pr_warn("dns: cannot look peers up: %s", why);
		return;
	}
	for (i = 0; i < d->cfg.n_peers; i++) {
		for (t = 0; t < 2; t++) {
			ldns_rr_type type = t == 0 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA;
			uint8_t rbuf[4096];
			size_t rlen = 0;
			int got;

			r = query(d, &d->server, d->server_len, d->cfg.peers[i], type, rbuf,
				  sizeof(rbuf), &rlen, why, sizeof(why));
			if (r == X_STOP)
				return;
			if (r != X_REPLY) {
				pr_warn("dns: looking up peer %s: %s", d->cfg.peers[i], why);
				continue;
			}
			got = dns_reply_addrs(rbuf, rlen, type, i, found + n,
					      MIG_DNS_MAX_PEER_ADDRS - n);
			if (got < 0) {
				count(d, MIG_STAT_DNS_MALFORMED);
				pr_warn("dns: looking up peer %s: malformed reply to the %s query",
					d->cfg.peers[i], d->cfg.peers[i]);
				continue;
			}
			for (; got > 0; got--, n++) {
				inet_ntop(found[n].family, found[n].addr, text, sizeof(text));
				pr_info("dns: peer %s is at %s", d->cfg.peers[i], text);
			}
		}
	}
	count(d, MIG_STAT_DNS_RESOLVE);
	dm_send(d->sock, DM_PEERS, (uint32_t)n, found, sizeof(found[0]) * (size_t)n);
}

static bool take_resolve_req(struct mig_dns *d)
{
	bool r = d->resolve_req;

	d->resolve_req = false;
	return r;
}

static void worker(struct mig_dns *d)
{
	uint64_t backoff = 0, next = 0, now, delay, step;
	bool empty_warned = false, pending, some_failed, looked_up = false;
	int i, r, failed;

	addresses_now(d, &empty_warned);
	for (;;) {
		if (stopping(d))
			break;
		if (take_resolve_req(d))
			resolve_peers(d);
		pending = false;
		for (i = 0; i < d->cfg.n_names; i++)
			pending |= !d->done[i];
		/* Once our own names are published, where the peers are now:
		 * a later lookup can then tell which name a flow's peer went
		 * by (rule 6 in docs/protocol.md). */
		if (!looked_up && !pending && d->cfg.n_peers) {
			looked_up = true;
			resolve_peers(d);
		}
		now = mono_ms();
		if (pending && (d->cur.n4 || d->cur.n6) && now >= next) {
			step = backoff ? backoff * 2 : BACKOFF_FIRST_MS;
			if (step > BACKOFF_MAX_MS)
				step = BACKOFF_MAX_MS;
			delay = jitter(d, step);
			failed = 0;
			some_failed = false;
			r = 0;
			if (!d->server_len) {
				char why[1024];

				r = find_server(d, why, sizeof(why));
				if (r && r != X_STOP) {
					pr_warn("dns: zone %s: %s; retrying in %.1f s", d->cfg.zone,
						why, (double)delay / 1000);
					for (i = 0; i < d->cfg.n_names; i++) {
						if (d->done[i])
							continue;
						set_want(d, i);
						record(d, i, MIG_DNS_ERROR, "no server found");
					}
					failed = 1;   /* no name can be tried */
					r = 0;
				}
			}
			/* every pending name once, each on its own: one that
			 * fails does not hold back the others */
			for (i = 0; !failed && !r && i < d->cfg.n_names; i++) {
				if (d->done[i])
					continue;
				r = publish(d, i, delay);
				if (r == MIG_DNS_OK) {
					d->done[i] = true;
					r = 0;
				} else if (r != X_STOP && r != X_CHANGED) {
					some_failed = true;
					r = 0;
				}
			}
			failed |= some_failed;
			if (d->refind && !d->cfg.have_server)
				d->server_len = 0;
			d->refind = false;
			if (r == X_STOP)
				break;
			if (r != X_CHANGED && d->woke) {
				struct addrset before = d->cur;

				addresses_now(d, &empty_warned);
				if (!addrset_eq(&before, &d->cur))
					r = X_CHANGED;
			}
			d->woke = false;
			if (r == X_CHANGED) {
				wait_event(d, SETTLE_MS);
				addresses_now(d, &empty_warned);
				memset(d->done, 0, sizeof(d->done));
				backoff = 0;
				next = 0;
				continue;
			}
			if (failed) {
				backoff = step;
				next = mono_ms() + delay;
			} else {
				backoff = 0;
			}
			continue;
		}
		r = wait_event(d, pending && (d->cur.n4 || d->cur.n6) ?
				  (int)(next - now) : -1);
		if (r == X_STOP)
			break;
		if (r == 1) {
			struct addrset before = d->cur;

			addresses_now(d, &empty_warned);
			if (!addrset_eq(&before, &d->cur)) {
				/* everything again, at once, with the newest
				 * addresses */
				memset(d->done, 0, sizeof(d->done));
				backoff = 0;
				next = 0;
			}
		}
	}
}

/* ---------------------------------------------------------------------- */
/* API */

static void dns_free(struct mig_dns *d)
{
	if (!d)
		return;
	if (d->tsig)
		ldns_resolver_deep_free(d->tsig);
	if (d->sock >= 0)
		close(d->sock);
	if (d->map_fd >= 0)
		close(d->map_fd);
	explicit_bzero(&d->cfg, sizeof(d->cfg));
	free(d);
}

/* The worker: no privileges, no descriptors but the socketpair and
 * stdio, no way back to root (PR_SET_NO_NEW_PRIVS). */
static void worker_main(struct mig_dns *d, pid_t agent, uid_t uid, gid_t gid)
{
	struct dmsg m;
	ssize_t n;

	/* the agent says when: it closes its end (a signal to the whole
	 * process group must not cut the last status short) */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	prctl(PR_SET_NAME, "migrate-dns", 0, 0, 0);
	if (dup2(d->sock, 3) < 0 || (d->sock != 3 && close(d->sock)) ||
	    close_range(4, ~0U, 0)) {
		pr_err("dns: worker: cannot close descriptors: %s", strerror(errno));
		_exit(1);
	}
	d->sock = 3;
	if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || !setresuid(0, 0, 0)) {
		pr_err("dns: worker: cannot drop privileges to uid %u: %s", (unsigned int)uid,
		       strerror(errno));
		_exit(1);
	}
	/* (after the uid change, which clears it) */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != agent)
		_exit(0);
	d->tsig = ldns_resolver_new();
	if (!d->tsig) {
		pr_err("dns: worker: out of memory");
		_exit(1);
	}
	ldns_resolver_set_tsig_keyname(d->tsig, d->cfg.key_name);
	ldns_resolver_set_tsig_keydata(d->tsig, d->cfg.key_secret);
	ldns_resolver_set_tsig_algorithm(d->tsig, "hmac-sha256.");
	/* the names' previous status, then the go */
	for (;;) {
		n = recv(d->sock, &m, sizeof(m), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		if (n != (ssize_t)sizeof(m))
			continue;
		if (m.type == DM_START)
			break;
		if (m.type == DM_INIT && m.index < (uint32_t)d->cfg.n_names) {
			d->st[m.index] = m.u.st;
			memcpy(d->st[m.index].name, d->cfg.names[m.index],
			       sizeof(d->st[m.index].name));
			d->st[m.index].text[sizeof(d->st[m.index].text) - 1] = '\0';
		}
	}
	worker(d);
	_exit(0);
}

/* d from cfg: the server's address, the random state (both processes) */
static void dns_setup(struct mig_dns *d, const struct mig_dns_config *cfg)
{
	d->sock = -1;
	d->map_fd = -1;
	d->cfg = *cfg;
	if (getrandom(&d->rng, sizeof(d->rng), 0) != sizeof(d->rng) || !d->rng)
		d->rng = mono_ms() | 1;
	if (d->cfg.have_server) {
		if (d->cfg.server.ss_family == AF_INET) {
			((struct sockaddr_in *)&d->server)->sin_family = AF_INET;
			((struct sockaddr_in *)&d->server)->sin_addr =
				((struct sockaddr_in *)&d->cfg.server)->sin_addr;
			((struct sockaddr_in *)&d->server)->sin_port = htons((uint16_t)d->cfg.port);
			d->server_len = sizeof(struct sockaddr_in);
		} else {
			((struct sockaddr_in6 *)&d->server)->sin6_family = AF_INET6;
			((struct sockaddr_in6 *)&d->server)->sin6_addr =
				((struct sockaddr_in6 *)&d->cfg.server)->sin6_addr;
			((struct sockaddr_in6 *)&d->server)->sin6_port = htons((uint16_t)d->cfg.port);
			d->server_len = sizeof(struct sockaddr_in6);
		}
		sa_text(&d->server, d->server_text, sizeof(d->server_text));
	}
}

/* What the agent sends the worker it started, first thing: the worker is a
 * fresh image of the program (exec), so that nothing of the agent's memory
 * (keys) is in the process that parses replies, even when the agent forks
 * it long after keys exist (a reload). */
struct dns_init {
	struct mig_dns_config cfg;
	int32_t agent;
	uint32_t uid, gid;
};

/* main() of the exec'ed worker: argv "--dns-worker", the socket on fd 3. */
int dns_worker_exec(void)
{
	struct dns_init in;
	struct mig_dns *d;
	ssize_t n;

	do
		n = recv(3, &in, sizeof(in), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(in) || in.cfg.n_names < 1 ||
	    in.cfg.n_names > MIG_DNS_MAX_NAMES || in.cfg.n_peers < 0 ||
	    in.cfg.n_peers > MIG_CONF_MAX_NAMES || !in.uid) {
		fprintf(stderr, "migrate-agent: dns worker: no valid start message\n");
		return 1;
	}
	for (n = 0; n < MIG_CONF_MAX_NAMES; n++) {
		in.cfg.names[n][MIG_DNS_NAME_MAX] = '\0';
		in.cfg.peers[n][MIG_DNS_NAME_MAX] = '\0';
	}
	in.cfg.zone[sizeof(in.cfg.zone) - 1] = '\0';
	in.cfg.key_name[sizeof(in.cfg.key_name) - 1] = '\0';
	in.cfg.key_secret[sizeof(in.cfg.key_secret) - 1] = '\0';
	d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	dns_setup(d, &in.cfg);
	explicit_bzero(&in.cfg.key_secret, sizeof(in.cfg.key_secret));
	d->sock = 3;
	worker_main(d, (pid_t)in.agent, (uid_t)in.uid, (gid_t)in.gid);
	return 0;
}

int dns_fork(const struct mig_dns_config *cfg, struct mig_dns **out)
{
	struct passwd *pw;
	struct mig_dns *d;
	uid_t uid = 65534;
	gid_t gid = 65534;
	int sv[2];
	pid_t pid, agent = getpid();

	*out = NULL;
	if (!cfg->enabled)
		return 0;
	if (cfg->n_names < 1 || cfg->n_names > MIG_DNS_MAX_NAMES || !cfg->key_name[0] ||
	    !cfg->key_secret[0]) {
		pr_err("dns: incomplete [dns] configuration");
		return -EINVAL;
	}
	pw = getpwnam("nobody");
	if (pw) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (!uid) {
		pr_err("dns: user nobody is root here: refusing to run the DNS worker as root");
		return -EPERM;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		pr_err("dns: out of memory");
		return -ENOMEM;
	}
	dns_setup(d, cfg);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		pr_err("dns: socketpair: %s", strerror(errno));
		dns_free(d);
		return -errno;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		pr_err("dns: cannot start the worker process: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		dns_free(d);
		return -errno;
	}
	if (pid == 0) {
		/* a fresh image: the agent's memory does not survive exec */
		close(sv[0]);
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		execl("/proc/self/exe", "migrate-agent", "--dns-worker", (char *)NULL);
		fprintf(stderr, "migrate-agent: dns: cannot start the worker: exec: %s\n",
			strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	d->sock = sv[0];
	d->pid = pid;
	{
		struct dns_init in;

		memset(&in, 0, sizeof(in));
		in.cfg = d->cfg;
		in.agent = (int32_t)agent;
		in.uid = (uint32_t)uid;
		in.gid = (uint32_t)gid;
		if (send(d->sock, &in, sizeof(in), MSG_NOSIGNAL) != (ssize_t)sizeof(in)) {
			pr_err("dns: cannot start the worker process: %s", strerror(errno));
			explicit_bzero(&in, sizeof(in));
			dns_stop(d);
			return -EIO;
		}
		explicit_bzero(&in, sizeof(in));
	}
	/* the agent signs nothing */
	explicit_bzero(d->cfg.key_secret, sizeof(d->cfg.key_secret));
	*out = d;
	return 0;
}

int dns_start(struct mig_dns *d, const struct mig_dns_config *cfg, const char *pin_dir,
	      int stats_fd, int ncpus)
{
	char path[4200];

	if (!cfg->enabled) {
		/* a status map left by an earlier configuration would show
		 * names nobody keeps current any more */
		snprintf(path, sizeof(path), "%s/%s", pin_dir, MIG_MAP_DNS);
		if (!unlink(path))
			pr_info("dns: no [dns] configured: removed the old '%s'", path);
		return 0;
	}
	if (!d)
		return -EINVAL;
	d->stats_fd = stats_fd;
	d->ncpus = ncpus;
	d->map_fd = status_open(pin_dir);
	if (d->map_fd < 0)
		return d->map_fd;
	status_init(d);
	dm_send(d->sock, DM_START, 0, NULL, 0);
	d->started = true;
	pr_info("dns: keeping %d name%s of zone %s current (key %s, server %s; worker pid %d, user nobody)",
		d->cfg.n_names, d->cfg.n_names == 1 ? "" : "s", d->cfg.zone, d->cfg.key_name,
		d->cfg.have_server ? d->server_text : "from the zone's signed SOA", (int)d->pid);
	return 0;
}

int dns_fd(struct mig_dns *d)
{
	return d ? d->sock : -1;
}

static bool dns_stat_ok(uint32_t s)
{
	return s == MIG_STAT_DNS_UPDATE_OK || s == MIG_STAT_DNS_UPDATE_FAIL ||
	       s == MIG_STAT_DNS_TSIG_FAIL || s == MIG_STAT_DNS_RESOLVE ||
	       s == MIG_STAT_DNS_MALFORMED;
}

/* One message from the worker, checked before anything is written. */
static int dns_take(struct mig_dns *d, struct dmsg *m)
{
	struct mig_dns_status *st = &m->u.st;
	uint32_t i;

	switch (m->type) {
	case DM_STATUS:
		if (m->index >= (uint32_t)d->cfg.n_names || st->n_addr4 > MIG_DNS_MAX_ADDRS ||
		    st->n_addr6 > MIG_DNS_MAX_ADDRS || st->n_want4 > MIG_DNS_MAX_ADDRS ||
		    st->n_want6 > MIG_DNS_MAX_ADDRS || st->result > MIG_DNS_ERROR)
			return -EINVAL;
		/* the name is ours to say; padding is zero */
		memcpy(st->name, d->cfg.names[m->index], sizeof(st->name));
		st->text[sizeof(st->text) - 1] = '\0';
		memset(st->pad, 0, sizeof(st->pad));
		st->pad2 = 0;
		status_put(d, (int)m->index, st);
		return 0;
	case DM_COUNT:
		if (!dns_stat_ok(m->index))
			return -EINVAL;
		if (d->stats_fd >= 0)
			mig_stat_add(d->stats_fd, d->ncpus, (enum mig_stat)m->index, 1);
		return 0;
	case DM_PEERS:
		if (m->index > MIG_DNS_MAX_PEER_ADDRS)
			return -EINVAL;
		for (i = 0; i < m->index; i++)
			if ((m->u.peers[i].family != AF_INET && m->u.peers[i].family != AF_INET6) ||
			    m->u.peers[i].name < 0 || m->u.peers[i].name >= d->cfg.n_peers)
				return -EINVAL;
		memcpy(d->peers, m->u.peers, sizeof(d->peers[0]) * m->index);
		d->n_peers = (int)m->index;
		d->peers_gen++;
		for (i = 0; i < m->index; i++)
			seen_add(d, &d->peers[i]);
		return 0;
	}
	return -EINVAL;
}

int dns_read(struct mig_dns *d)
{
	struct dmsg m;
	ssize_t n;
	int st;

	if (!d)
		return -1;
	for (;;) {
		n = recv(d->sock, &m, sizeof(m), MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0) {
			if (d->closing)
				return -1;
			if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
				d->pid = 0;
				pr_warn("dns: the DNS worker exited (%s %d): names are no longer kept current",
					WIFSIGNALED(st) ? "signal" : "status",
					WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			} else {
				pr_warn("dns: the DNS worker closed its end: names are no longer kept current");
			}
			return -1;
		}
		if (n != (ssize_t)sizeof(m) || dns_take(d, &m))
			pr_warn("dns: ignored a malformed message from the DNS worker (%zd bytes, type %u)",
				n, n >= 4 ? m.type : 0);
	}
}

void dns_resolve_peers(struct mig_dns *d)
{
	if (!d || !d->cfg.n_peers)
		return;
	dm_send(d->sock, DM_RESOLVE, 0, NULL, 0);
}

int dns_peer_addrs(struct mig_dns *d, uint64_t *gen, struct mig_peer_addr *out, int max)
{
	int n = 0;

	if (!d)
		return 0;
	*gen = d->peers_gen;
	for (n = 0; n < d->n_peers && n < max; n++)
		out[n] = d->peers[n];
	return n;
}

int dns_peer_addrs_of(struct mig_dns *d, int family, const uint32_t *addr, uint64_t *gen,
		      struct mig_peer_addr *out, int max)
{
	bool mine[MIG_CONF_MAX_NAMES] = { false };
	int n = 0, i;

	if (!d)
		return 0;
	*gen = d->peers_gen;
	for (i = 0; i < d->n_seen; i++)
		if (peer_eq(&d->seen[i], family, addr) && d->seen[i].name >= 0 &&
		    d->seen[i].name < MIG_CONF_MAX_NAMES)
			mine[d->seen[i].name] = true;
	for (i = 0; i < d->n_peers && n < max; i++)
		if (d->peers[i].name >= 0 && d->peers[i].name < MIG_CONF_MAX_NAMES &&
		    mine[d->peers[i].name])
			out[n++] = d->peers[i];
	return n;
}

void dns_addresses_changed(struct mig_dns *d)
{
	if (!d)
		return;
	dm_send(d->sock, DM_ADDRS, 0, NULL, 0);
}

void dns_stop(struct mig_dns *d)
{
	uint64_t deadline, now;
	struct pollfd p;
	int st;

	if (!d)
		return;
	if (d->pid > 0) {
		/* The worker stops when it reads the end of its socket and
		 * sends the status of an UPDATE it abandoned: take that, up
		 * to its own end, for at most 3 s. */
		d->closing = true;
		shutdown(d->sock, SHUT_WR);
		deadline = mono_ms() + 3000;
		p.fd = d->sock;
		p.events = POLLIN;
		while ((now = mono_ms()) < deadline) {
			if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR)
				break;
			if (d->started && dns_read(d)) {
				break;
			} else if (!d->started) {
				char b;

				if (recv(d->sock, &b, 1, MSG_DONTWAIT) == 0)
					break;
			}
		}
		if (d->pid > 0 && waitpid(d->pid, &st, WNOHANG) == 0) {
			/* (it closed its end, or the time is up) */
			deadline = mono_ms() + 500;
			while (waitpid(d->pid, &st, WNOHANG) == 0 && mono_ms() < deadline)
				poll(NULL, 0, 10);
			if (waitpid(d->pid, &st, WNOHANG) == 0) {
				kill(d->pid, SIGKILL);
				waitpid(d->pid, &st, 0);
			}
		}
	}
	dns_free(d);
}
