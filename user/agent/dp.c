// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The migration data path: loads mig_dp (ingress and egress programs) and
 * mig_iter (socket records) on the maps sock_ops already pinned, and
 * attaches the programs to the host's interfaces with TC (clsact).
 * Filters live on the interfaces, not on the agent: a restart replaces
 * them in place and `--detach` removes them.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mig_log.h"
#include "mig_dp.skel.h"
#include "mig_dp_open.h"
#include "mig_iter.skel.h"
#include "mig_lookup.skel.h"
#include "mig_keyed.skel.h"

static int pin_maps(struct bpf_object *obj, const char *dir)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj) {
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		err = bpf_map__set_pin_path(map, path);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Map sizes, before an object is loaded (rule 2: settable at load time).
 * Maps that are pinned already keep their size: libbpf refuses to reuse a
 * pin whose size differs, and replacing them would drop live flows.  So
 * the pinned mig_flows decides, and a different --max-flows says how to
 * apply it.
 */
int dp_sizes(struct agent *a, struct bpf_object *obj)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	struct bpf_map *map;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", a->pin_dir, MIG_MAP_FLOWS);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
		if (!err && info.max_entries != a->max_flows) {
			pr_warn("the pinned maps hold %u flows; --max-flows %u applies after "
				"'migrate-agent --detach' (which drops every keyed flow)",
				info.max_entries, a->max_flows);
			a->max_flows = info.max_entries;
		}
	}
	bpf_object__for_each_map(map, obj) {
		const char *n = bpf_map__name(map);
		__u32 size = 0;

		if (!strcmp(n, MIG_MAP_FLOWS) || !strcmp(n, MIG_MAP_TOKENS) ||
		    !strcmp(n, MIG_MAP_EGRESS) || !strcmp(n, MIG_MAP_PEND) ||
		    !strcmp(n, MIG_MAP_HOLD))
			size = a->max_flows;
		else if (!strcmp(n, MIG_MAP_INGRESS) || !strcmp(n, MIG_MAP_CAND))
			size = 2 * a->max_flows;
		if (size && (err = bpf_map__set_max_entries(map, size))) {
			pr_err("cannot size %s to %u entries: %s", n, size, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* mig_host: the boot secret b that keys the nonces (made once, from
 * getrandom, and kept with the pins so that an agent restart answers
 * retransmitted Migrate SYNs alike), and the hold gate. */
int dp_host_init(struct agent *a)
{
	static const __u8 zero_key[MIG_SIP_KEY_LEN];
	__u32 zero = 0;

	if (bpf_map_lookup_elem(a->host_fd, &zero, &a->host)) {
		pr_err("cannot read %s: %s", MIG_MAP_HOST, strerror(errno));
		return -errno;
	}
	if (!memcmp(a->host.boot, zero_key, sizeof(zero_key)) &&
	    getrandom(a->host.boot, sizeof(a->host.boot), 0) != sizeof(a->host.boot)) {
		pr_err("getrandom: %s", strerror(errno));
		return -EIO;
	}
	return addr_kept_load(a) ?: dp_host_holds(a, 0);
}

/*
 * The count of held flows changed by delta.  The egress program looks for
 * holds only while the count is non-zero: mig_host is written at once
 * when that changes (delta 0: always), else once the event-loop pass ends
 * (dp_host_flush) - not a system call per flow of a move.
 */
int dp_host_holds(struct agent *a, int delta)
{
	__u32 zero = 0, was = a->host.holds;

	if (delta < 0 && a->host.holds < (__u32)-delta)
		a->host.holds = 0;
	else
		a->host.holds += delta;
	if (delta && !was == !a->host.holds) {
		a->host_dirty = true;
		return 0;
	}
	a->host_dirty = false;
	if (bpf_map_update_elem(a->host_fd, &zero, &a->host, BPF_ANY)) {
		pr_err("cannot write %s: %s", MIG_MAP_HOST, strerror(errno));
		return -errno;
	}
	return 0;
}

void dp_host_flush(struct agent *a)
{
	if (a->host_dirty)
		dp_host_holds(a, 0);
}

/* Open the data path objects (nothing loaded yet): their maps are pinned
 * by name and sized, so that pins_check can compare them with the pins. */
int dp_open(struct agent *a)
{
	char why[160] = "";
	bool kctx = mig_dp_want_kctx(why, sizeof(why));
	int err;

	a->dp = mig_dp_open_build(kctx);
	a->iter = mig_iter__open();
	if (a->dp) {
		if (kctx)
			pr_info("data path: the TC programs read the skb's checksum state "
				"(bpf_cast_to_kern_ctx)");
		else
			pr_info("data path: the TC programs ask the kernel's helpers for "
				"checksum updates: %s", why);
	}
	if (!a->dp || !a->iter) {
		pr_err("cannot open the data path objects: %s", strerror(errno));
		return -errno;
	}
	/* the XDP program needs more of the kernel (bpf_xdp_load_bytes,
	 * 5.18) than the rest: loaded only when asked for */
	bpf_program__set_autoload(a->dp->progs.mig_in_xdp, a->xdp);
	err = pin_maps(a->dp->obj, a->pin_dir) ?: dp_sizes(a, a->dp->obj);
	if (err)
		pr_err("cannot prepare the data path objects: %s", strerror(-err));
	return err;
}

struct bpf_object *dp_object(struct agent *a)
{
	return a->dp->obj;
}

static int dp_fds(struct agent *a)
{
	struct {
		const char *name;
		int *fd;
	} m[] = {
		{ MIG_MAP_INGRESS, &a->ingress_fd }, { MIG_MAP_EGRESS, &a->egress_fd },
		{ MIG_MAP_CAND, &a->cand_fd }, { MIG_MAP_PEND, &a->pend_fd },
		{ MIG_MAP_HOLD, &a->hold_fd }, { MIG_MAP_HOST, &a->host_fd },
		{ MIG_MAP_RKEY, &a->rkey_fd }, { MIG_MAP_KEPT, &a->kept_fd },
		{ MIG_MAP_XF, &a->xf_fd },
	};
	struct bpf_map_info info;
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (a->adopt) {
			*m[i].fd = pin_map_get(a, m[i].name, &info);
			if (*m[i].fd < 0) {
				pr_err("--adopt: cannot open the pinned map '%s'", m[i].name);
				return *m[i].fd;
			}
		} else {
			*m[i].fd = bpf_map__fd(bpf_object__find_map_by_name(a->dp->obj,
									 m[i].name));
		}
	}
	return 0;
}

/* The lookup program, apart from the rest: a kernel that refuses it only
 * makes moves slower (every socket record from a walk). */
static void lookup_load(struct agent *a)
{
	int err;

	a->lookup = mig_lookup__open();
	err = a->lookup ? mig_lookup__load(a->lookup) : -errno;
	if (err) {
		pr_warn("socket lookup program not loaded (%s): socket records come from "
			"walks of the socket table, which makes every move slower", strerror(-err));
		mig_lookup__destroy(a->lookup);
		a->lookup = NULL;
	}
}

/*
 * The walk that finds the "keyed" events the ring buffer lost
 * (mig_keyed.bpf.c), on sock_ops' socket storage sk_fd; apart from the
 * rest: a kernel that refuses it leaves such connections plain, as
 * before, and says so.
 */
void dp_keyed_load(struct agent *a, int sk_fd)
{
	int err;

	a->keyed = mig_keyed__open();
	err = a->keyed ? bpf_map__reuse_fd(a->keyed->maps.mig_sk, sk_fd) : -errno;
	if (!err)
		err = mig_keyed__load(a->keyed);
	if (!err) {
		a->keyed_link = bpf_program__attach_iter(a->keyed->progs.mig_keyed_iter, NULL);
		err = libbpf_get_error(a->keyed_link);
		if (err)
			a->keyed_link = NULL;
	}
	if (err) {
		pr_warn("keyed-event recovery not loaded (%s): a connection whose \"keyed\" "
			"event finds the ring buffer full stays plain at this end", strerror(-err));
		mig_keyed__destroy(a->keyed);
		a->keyed = NULL;
	}
}

/* The events of every socket marked lost (each mark is cleared as its
 * event is written). */
int dp_keyed_read(struct agent *a, struct mig_event **out, size_t *n)
{
	struct mig_event *v = NULL, *nv;
	size_t cap = 0, got = 0;   /* events, bytes */
	ssize_t r;
	int fd;

	*out = NULL;
	*n = 0;
	if (!a->keyed_link)
		return -ENOENT;
	fd = bpf_iter_create(bpf_link__fd(a->keyed_link));
	if (fd < 0)
		return -errno;
	for (;;) {
		if (got == cap * sizeof(*v)) {
			nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));
			if (!nv)
				break;   /* the marks of what was read are cleared:
					  * hand over what we have */
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		r = read(fd, (char *)v + got, cap * sizeof(*v) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*out = v;
	*n = got / sizeof(*v);
	return 0;
}

/* One full socket's record by its tuple: -ENOENT if the kernel's lookup
 * (as for a segment arriving on lo) finds none. */
static int lookup_one(struct agent *a, const struct mig_tuple *t, struct mig_sockinfo *out)
{
	uint8_t pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);

	a->lookup->bss->lk_tuple = *t;
	if (bpf_prog_test_run_opts(bpf_program__fd(a->lookup->progs.mig_sk_lookup), &o))
		return -errno;
	if (!a->lookup->bss->lk_found)
		return -ENOENT;
	*out = a->lookup->bss->lk_out;
	return 0;
}

int dp_load(struct agent *a)
{
	int err;

	err = mig_dp__load(a->dp);
	if (!err)
		err = mig_iter__load(a->iter);
	if (err) {
		pr_err("cannot load the data path programs: %s (run with -v for the verifier's log)",
		       strerror(-err));
		return err;
	}
	err = dp_fds(a) ?: dp_host_init(a);
	if (err)
		return err;
	a->iter_link = bpf_program__attach_iter(a->iter->progs.mig_iter_tcp, NULL);
	err = libbpf_get_error(a->iter_link);
	if (err) {
		a->iter_link = NULL;
		pr_err("cannot attach the socket iterator: %s", strerror(-err));
		return err;
	}
	lookup_load(a);
	return 0;
}

/*
 * The translation filter (mig_xf, mig_abi.h): mapped, so that the agent's
 * deletes take their counts off atomically.  Its counts are trusted when
 * the data path was loaded afresh or the stamp shows that the agent
 * before this one (meta.started_ns, read before this start wrote its own)
 * kept them; otherwise a build without the filter may have changed the
 * maps, and every slot gets MIG_XF_BIAS (every segment looks up, as that
 * build's did) until the data path is loaded afresh.  Then the stamp
 * becomes this start's.
 */
int dp_xf_init(struct agent *a, bool trust, uint64_t stamp)
{
	size_t len = (size_t)(MIG_XF_SLOTS + 1) * sizeof(uint64_t);
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, a->xf_fd, 0);
	uint32_t i;

	if (m == MAP_FAILED) {
		pr_err("cannot map %s: %s", MIG_MAP_XF, strerror(errno));
		return -errno;
	}
	a->xf = m;
	if (!trust || __atomic_load_n(&a->xf[MIG_XF_STAMP], __ATOMIC_RELAXED) != a->prev_started_ns) {
		if (a->xf[0] < MIG_XF_BIAS) {
			pr_warn("%s: the pinned maps were kept by a build without the translation "
				"filter: every segment looks its flow up until the data path is "
				"loaded afresh (migrate-agent --detach, then start)", MIG_MAP_XF);
			for (i = 0; i < MIG_XF_SLOTS; i++)
				__atomic_fetch_add(&a->xf[i], MIG_XF_BIAS, __ATOMIC_RELAXED);
		}
	}
	__atomic_store_n(&a->xf[MIG_XF_STAMP], stamp, __ATOMIC_RELEASE);
	return 0;
}

/* An entry of mig_ingress or mig_egress the agent deleted. */
void xf_deleted(struct agent *a, const struct mig_tuple *k)
{
	if (a->xf)
		__atomic_fetch_sub(&a->xf[mig_xf_slot(k)], 1, __ATOMIC_RELAXED);
}

/* --adopt: the maps and the iterator's link that other tools pinned;
 * nothing is loaded. */
int dp_adopt(struct agent *a)
{
	struct bpf_link_info info = {};
	struct bpf_prog_info pinfo = {};
	__u32 len = sizeof(info), plen = sizeof(pinfo);
	char path[PATH_MAX];
	int err, fd;

	err = dp_fds(a);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%s", a->pin_dir, MIG_LINK_ITER);
	a->iter_link = bpf_link__open(path);
	err = libbpf_get_error(a->iter_link);
	if (err) {
		a->iter_link = NULL;
		pr_err("--adopt: cannot open '%s': %s", path, strerror(-err));
		return err;
	}
	if (bpf_obj_get_info_by_fd(bpf_link__fd(a->iter_link), &info, &len) ||
	    info.type != BPF_LINK_TYPE_ITER) {
		pr_err("--adopt: '%s' is not an iterator link", path);
		return -EPROTO;
	}
	fd = bpf_prog_get_fd_by_id(info.prog_id);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &pinfo, &plen) ||
	    strcmp(pinfo.name, "mig_iter_tcp")) {
		pr_err("--adopt: '%s' is not the link of mig_iter_tcp (mig_iter.bpf.o)", path);
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	close(fd);
	return dp_host_init(a);
}

void dp_unload(struct agent *a)
{
	bpf_link__destroy(a->iter_link);
	mig_iter__destroy(a->iter);
	mig_lookup__destroy(a->lookup);
	a->lookup = NULL;
	bpf_link__destroy(a->keyed_link);
	a->keyed_link = NULL;
	mig_keyed__destroy(a->keyed);
	a->keyed = NULL;
	mig_dp__destroy(a->dp);
	free(a->si_snap);
	a->si_snap = NULL;
	a->iter_link = NULL;
	a->iter = NULL;
	a->dp = NULL;
}

static int tc_attach_one(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MIG_TC_HANDLE, .priority = MIG_TC_PRIO,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

/* Remove our filter (handle and priority) from one TC hook: 0 if there
 * was one. */
static int tc_detach_one(int ifindex, enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MIG_TC_HANDLE, .priority = MIG_TC_PRIO);

	return bpf_tc_detach(&hook, &opts);
}

/* The program on the XDP hook of ifindex: its id (0 for none), name, the
 * mode flag it was attached with, and an fd (-1 for none) that pins it
 * down for an atomic replace. */
struct xdp_cur {
	__u32 id;
	__u32 mode;
	int fd;
	char name[BPF_OBJ_NAME_LEN];
};

static int xdp_current(int ifindex, struct xdp_cur *cur)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err;

	memset(cur, 0, sizeof(*cur));
	cur->fd = -1;
	err = bpf_xdp_query(ifindex, 0, &q);
	if (err)
		return err;
	switch (q.attach_mode) {
	case XDP_ATTACHED_NONE:
		return 0;
	case XDP_ATTACHED_DRV:
		cur->id = q.drv_prog_id;
		cur->mode = XDP_FLAGS_DRV_MODE;
		break;
	case XDP_ATTACHED_SKB:
		cur->id = q.skb_prog_id;
		cur->mode = XDP_FLAGS_SKB_MODE;
		break;
	case XDP_ATTACHED_HW:
		cur->id = q.hw_prog_id;
		cur->mode = XDP_FLAGS_HW_MODE;
		break;
	default:   /* several at once (offload and driver): not ours to sort out */
		cur->id = q.prog_id;
		snprintf(cur->name, sizeof(cur->name), "(several)");
		return 0;
	}
	cur->fd = bpf_prog_get_fd_by_id(cur->id);
	if (cur->fd < 0) {
		if (errno != ENOENT)
			return -errno;
		cur->id = 0;      /* gone since the query */
		return 0;
	}
	if (bpf_obj_get_info_by_fd(cur->fd, &info, &len))
		return -errno;
	snprintf(cur->name, sizeof(cur->name), "%s", info.name);
	return 0;
}

static bool xdp_ours(const struct xdp_cur *cur)
{
	return cur->fd >= 0 && !strcmp(cur->name, "mig_in_xdp");
}

static const char *xdp_mode_name(__u32 mode)
{
	return mode == XDP_FLAGS_DRV_MODE ? "native" :
	       mode == XDP_FLAGS_SKB_MODE ? "generic" :
	       mode == XDP_FLAGS_HW_MODE ? "offloaded" : "unknown";
}

/* Remove our XDP program from ifindex, and only ours (XDP_FLAGS_REPLACE
 * checks that it is still the one we looked at): 0 if there was one. */
static int xdp_detach_ours(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o);
	struct xdp_cur cur;
	int err;

	err = xdp_current(ifindex, &cur);
	if (!err && !xdp_ours(&cur))
		err = -ENOENT;
	if (!err) {
		o.old_prog_fd = cur.fd;
		err = bpf_xdp_attach(ifindex, -1, cur.mode | XDP_FLAGS_REPLACE, &o);
	}
	if (cur.fd >= 0)
		close(cur.fd);
	return err;
}

/*
 * XDP ingress on one interface.  An interface has one XDP program: ours
 * (a restart) is replaced in place; anybody else's is left alone unless
 * --xdp-replace says otherwise.  Replace and first attach are atomic
 * against a program appearing in between (XDP_FLAGS_REPLACE,
 * XDP_FLAGS_UPDATE_IF_NOEXIST), so nothing is ever replaced unseen.
 */
static int xdp_attach_one(struct agent *a, int ifindex, const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o);
	int fd = bpf_program__fd(a->dp->progs.mig_in_xdp);
	struct xdp_cur cur;
	__u32 flags;
	int err;

	err = xdp_current(ifindex, &cur);
	if (err) {
		pr_err("interface '%s': cannot read its XDP program: %s", ifname,
		       strerror(-err));
		goto out;
	}
	if (cur.id && !xdp_ours(&cur)) {
		if (!a->xdp_replace) {
			pr_err("interface '%s' runs XDP program %u ('%s') already: not replacing "
			       "it; remove it, serve the interface with TC ingress (no --xdp) or "
			       "pass --xdp-replace", ifname, cur.id, cur.name);
			err = -EBUSY;
			goto out;
		}
		pr_warn("interface '%s': replacing XDP program %u ('%s') (--xdp-replace)",
			ifname, cur.id, cur.name);
	}
	if (cur.fd >= 0) {
		o.old_prog_fd = cur.fd;
		flags = cur.mode | XDP_FLAGS_REPLACE;
	} else {
		flags = XDP_FLAGS_UPDATE_IF_NOEXIST;
	}
	err = bpf_xdp_attach(ifindex, fd, flags, &o);
	if (err == -EEXIST || err == -EBUSY) {
		pr_err("interface '%s': another XDP program was attached meanwhile; "
		       "not replacing it", ifname);
		goto out;
	}
	if (err)
		pr_err("interface '%s': cannot attach the XDP program: %s", ifname,
		       strerror(-err));
out:
	if (cur.fd >= 0)
		close(cur.fd);
	return err;
}

#ifndef ARPHRD_IP6GRE
#define ARPHRD_IP6GRE 823
#endif
#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif

/*
 * How the packets of interface ifname start, from its link type (ARPHRD,
 * read with SIOCGIFHWADDR in this network namespace; sysfs may show
 * another one's): LINK_ETHER with an Ethernet header, LINK_L3 at the IP
 * header (tun and WireGuard are ARPHRD_NONE; IP-in-IP, sit and GRE
 * tunnels), LINK_OTHER for anything the data path does not parse.  The
 * L3 list is the kernel's own for redirecting without a MAC header
 * (dev_is_mac_header_xmit).
 */
enum link_kind { LINK_ETHER, LINK_L3, LINK_OTHER };

static enum link_kind link_kind(const char *ifname, int *type)
{
	struct ifreq ifr;
	int fd;

	*type = -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return LINK_OTHER;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		close(fd);
		return LINK_OTHER;
	}
	close(fd);
	*type = ifr.ifr_hwaddr.sa_family;
	switch (*type) {
	case ARPHRD_ETHER:
		return LINK_ETHER;
	case ARPHRD_NONE:
	case ARPHRD_VOID:
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_SIT:
	case ARPHRD_IPGRE:
	case ARPHRD_IP6GRE:
	case ARPHRD_RAWIP:
	case ARPHRD_PIMREG:
		return LINK_L3;
	default:
		return LINK_OTHER;
	}
}

static bool served(const struct agent *a, const char *name)
{
	int i;

	if (!strcmp(name, "lo"))
		return false;
	if (!a->n_ifaces)
		return true;
	for (i = 0; i < a->n_ifaces; i++)
		if (!strcmp(a->ifaces[i], name))
			return true;
	return false;
}

/* Interface ifindex of link type `type` was refused before: true (then
 * it is not said again); else remembered, false. */
static bool refused_before(struct agent *a, int ifindex, int type)
{
	size_t k;

	for (k = 0; k < a->n_refused; k++)
		if (a->refused[k].ifindex == ifindex && a->refused[k].type == type)
			return true;
	if (a->n_refused < sizeof(a->refused) / sizeof(a->refused[0])) {
		a->refused[a->n_refused].ifindex = ifindex;
		a->refused[a->n_refused].type = type;
		a->n_refused++;
	}
	return false;
}

/*
 * Ingress and egress on one interface.  One ingress hook at a time: the
 * other mode's (left by a run with or without --xdp) goes once ours is
 * on, and a failure leaves neither of ours behind.
 */
static int attach_iface(struct agent *a, int ifindex, const char *ifname)
{
	struct bpf_program *in = a->dp->progs.mig_in_tc, *out = a->dp->progs.mig_out_tc;
	enum link_kind kind;
	struct xdp_cur cur;
	int err, type;

	kind = link_kind(ifname, &type);
	if ((kind == LINK_OTHER || (kind == LINK_L3 && a->xdp)) &&
	    refused_before(a, ifindex, type))
		return -EALREADY;   /* said at the first refusal */
	if (kind == LINK_OTHER) {
		pr_err("interface '%s': link type %d is neither Ethernet nor a device without "
		       "a link-layer header (tun, WireGuard, IP tunnels): not served; leave "
		       "it out of 'interface'", ifname, type);
		return -EOPNOTSUPP;
	}
	if (kind == LINK_L3 && a->xdp) {
		/* mig_in_xdp parses Ethernet; generic XDP on tun would
		 * see IP packets (refused rather than half served) */
		pr_err("interface '%s' has no link-layer header (link type %d): --xdp "
		       "serves Ethernet devices only (TC ingress, without --xdp, serves "
		       "both); leave it out of 'interface'", ifname, type);
		/* not served means nothing of ours there, also not an
		 * earlier run's TC filters */
		if (!tc_detach_one(ifindex, BPF_TC_INGRESS) +
		    !tc_detach_one(ifindex, BPF_TC_EGRESS))
			pr_info("interface '%s': removed the TC filters of an earlier run",
				ifname);
		return -EOPNOTSUPP;
	}
	if (kind == LINK_L3) {
		in = a->dp->progs.mig_in_tc_l3;
		out = a->dp->progs.mig_out_tc_l3;
	}
	if (a->xdp)
		err = xdp_attach_one(a, ifindex, ifname);
	else
		err = tc_attach_one(ifindex, BPF_TC_INGRESS, bpf_program__fd(in));
	if (err) {
		if (!a->xdp)
			pr_err("interface '%s': cannot attach the TC ingress filter: %s",
			       ifname, strerror(-err));
		goto undo;
	}
	err = tc_attach_one(ifindex, BPF_TC_EGRESS, bpf_program__fd(out));
	if (err) {
		pr_err("interface '%s': cannot attach the TC egress filter: %s", ifname,
		       strerror(-err));
		goto undo;
	}
	if (a->xdp) {
		if (!tc_detach_one(ifindex, BPF_TC_INGRESS))
			pr_info("interface '%s': removed the TC ingress filter of an earlier run",
				ifname);
		xdp_current(ifindex, &cur);
		pr_info("attached to interface '%s' (XDP ingress, %s mode)", ifname,
			xdp_mode_name(cur.mode));
		if (cur.fd >= 0)
			close(cur.fd);
	} else {
		if (!xdp_detach_ours(ifindex))
			pr_info("interface '%s': removed the XDP program of an earlier run",
				ifname);
		pr_info("attached to interface '%s' (TC ingress%s)", ifname,
			kind == LINK_L3 ? ", no link-layer header" : "");
	}
	return 0;
undo:
	tc_detach_one(ifindex, BPF_TC_INGRESS);
	tc_detach_one(ifindex, BPF_TC_EGRESS);
	xdp_detach_ours(ifindex);
	return err;
}

/* Attach to every served interface that has no filter of ours yet
 * (called at start and on every link event).  Returns the last error. */
int dp_attach_all(struct agent *a)
{
	struct if_nameindex *ifs, *i;
	int err, ret = 0;
	size_t k;

	if (a->adopt)   /* the programs are attached by whoever loaded them */
		return 0;
	ifs = if_nameindex();
	if (!ifs)
		return -errno;
	/* forget refusals of interfaces that are gone */
	for (k = 0; k < a->n_refused;) {
		for (i = ifs; i->if_index; i++)
			if ((int)i->if_index == a->refused[k].ifindex)
				break;
		if (i->if_index)
			k++;
		else
			a->refused[k] = a->refused[--a->n_refused];
	}
	for (i = ifs; i->if_index; i++) {
		bool known = false;

		if (!served(a, i->if_name))
			continue;
		for (k = 0; k < a->n_attached; k++)
			if (a->attached[k] == (int)i->if_index)
				known = true;
		if (known)
			continue;
		err = attach_iface(a, (int)i->if_index, i->if_name);
		if (err == -EALREADY)
			continue;   /* refused before for its link type, and said so */
		if (err) {
			pr_warn("interface '%s' is not served (nothing of ours is attached to it)",
				i->if_name);
			ret = err;
			continue;
		}
		if (a->n_attached < sizeof(a->attached) / sizeof(a->attached[0]))
			a->attached[a->n_attached++] = (int)i->if_index;
	}
	if_freenameindex(ifs);
	return ret;
}

/* Our filters off one interface; our XDP program only if it is the one
 * attached there (the replace flag makes the kernel compare). */
static int detach_one(struct agent *a, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, in, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_hook, out, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MIG_TC_HANDLE, .priority = MIG_TC_PRIO);
	LIBBPF_OPTS(bpf_xdp_attach_opts, xo);
	int err = 0, e;

	if (a->xdp) {
		xo.old_prog_fd = bpf_program__fd(a->dp->progs.mig_in_xdp);
		err = bpf_xdp_detach(ifindex, XDP_FLAGS_REPLACE, &xo);
	} else {
		e = bpf_tc_detach(&in, &opts);
		err = e == -ENOENT ? 0 : e;
	}
	e = bpf_tc_detach(&out, &opts);
	return err ?: (e == -ENOENT ? 0 : e);
}

/* After the served set changed (a reload): our filters come off the
 * interfaces that left it; dp_attach_all then adds those that entered.
 * Connections on a released interface go on as plain TCP there. */
void dp_release_unserved(struct agent *a)
{
	char name[IF_NAMESIZE];
	size_t k, kept = 0;
	int err;

	for (k = 0; k < a->n_attached; k++) {
		int ifindex = a->attached[k];

		if (!if_indextoname((unsigned int)ifindex, name))
			continue;   /* gone with its filters */
		if (served(a, name)) {
			a->attached[kept++] = ifindex;
			continue;
		}
		err = detach_one(a, ifindex);
		if (err)
			pr_warn("cannot detach from interface '%s': %s", name, strerror(-err));
		else
			pr_info("detached from interface '%s' (no longer served)", name);
	}
	a->n_attached = kept;
}

/* Remove our filters and our XDP program (never someone else's) from
 * every interface of this network namespace.  Returns how many hooks
 * went. */
int dp_detach_all(void)
{
	struct if_nameindex *ifs, *i;
	int n = 0;

	ifs = if_nameindex();
	if (!ifs)
		return 0;
	for (i = ifs; i->if_index; i++) {
		n += !tc_detach_one((int)i->if_index, BPF_TC_INGRESS);
		n += !tc_detach_one((int)i->if_index, BPF_TC_EGRESS);
		n += !xdp_detach_ours((int)i->if_index);
	}
	if_freenameindex(ifs);
	return n;
}

/* Read every TCP socket's record from the iterator. */
int dp_sockinfo(struct agent *a, struct mig_sockinfo **out, size_t *n)
{
	struct mig_sockinfo *v = NULL, *nv;
	size_t cap = 0, cnt = 0;
	uint64_t t = mono_ns();
	ssize_t r;
	int fd, err = 0;

	fd = bpf_iter_create(bpf_link__fd(a->iter_link));
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				close(fd);
				return -ENOMEM;
			}
			v = nv;
		}
		r = read(fd, &v[cnt], (cap - cnt) * sizeof(*v));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			/* a part of the table is no answer: a socket missing
			 * from it would look closed */
			err = -errno;
			pr_warn("walk of the socket table failed after %zu records: %s", cnt,
				strerror(-err));
			break;
		}
		if (r == 0)
			break;
		cnt += (size_t)r / sizeof(*v);
	}
	close(fd);
	a->walk_ns += mono_ns() - t;
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int si_cmp(const void *x, const void *y)
{
	return memcmp(&((const struct mig_sockinfo *)x)->tuple,
		      &((const struct mig_sockinfo *)y)->tuple, sizeof(struct mig_tuple));
}

/* A tuple's record among the sorted ones: a live socket before a
 * time-wait one of the same tuple. */
static const struct mig_sockinfo *si_find(const struct agent *a, const struct mig_tuple *t)
{
	struct mig_sockinfo key = { .tuple = *t };
	const struct mig_sockinfo *v = a->si_snap, *e = a->si_snap + a->si_n, *hit, *p;

	hit = bsearch(&key, v, a->si_n, sizeof(key), si_cmp);
	if (!hit)
		return NULL;
	while (hit > v && !si_cmp(hit - 1, &key))
		hit--;
	for (p = hit; p < e && !si_cmp(p, &key); p++)
		if (p->state != BPF_TCP_TIME_WAIT)
			return p;
	return hit;
}

/*
 * One socket's record.  First the kernel's own lookup of the tuple
 * (mig_lookup.bpf.c, a few microseconds), for the first LOOKUPS_PER_PASS
 * records of an event-loop pass (main.c counts passes in a->pass).  Past
 * those, or when the lookup finds no full socket: a walk of the socket
 * table, which costs the whole established hash (shared by every network
 * namespace, about a millisecond even when nearly empty) plus every
 * socket here, so its records serve the rest of the pass: a move of many
 * flows walks the table once a pass.  A tuple missing from them is looked
 * for once more in a fresh walk.
 */
#define LOOKUPS_PER_PASS 64

int dp_sockinfo_one(struct agent *a, const struct mig_tuple *t,
		    struct mig_sockinfo *out)
{
	const struct mig_sockinfo *hit;
	bool fresh = false;
	int err;

	if (a->lk_pass != a->pass) {
		a->lk_pass = a->pass;
		a->lk_n = 0;
	}
	if (a->lookup && a->lk_n < LOOKUPS_PER_PASS &&
	    !(a->si_snap && a->si_pass == a->pass)) {
		a->lk_n++;
		if (!lookup_one(a, t, out))
			return 0;
	}
	for (;;) {
		if (a->si_snap && a->si_pass == a->pass) {
			hit = si_find(a, t);
			if (hit) {
				*out = *hit;
				return 0;
			}
			if (fresh)
				return -ENOENT;
		}
		free(a->si_snap);
		a->si_snap = NULL;
		err = dp_sockinfo(a, &a->si_snap, &a->si_n);
		if (err) {
			a->si_snap = NULL;
			return err;
		}
		qsort(a->si_snap, a->si_n, sizeof(*a->si_snap), si_cmp);
		a->si_pass = a->pass;
		fresh = true;
	}
}

/*
 * Whether a listening socket holds port (network order) on addr or on the
 * wildcard address of family (or, for IPv4, on IPv6's wildcard): such a
 * listener keeps every other local socket off that address and port, so
 * it reserves a wire tuple as well as a bound socket of ours would.  From
 * this pass's records (one walk at most).
 */
bool dp_listening(struct agent *a, int family, const uint32_t addr[4], uint16_t port)
{
	static const uint32_t any[4];
	size_t i;

	if (!a->si_snap || a->si_pass != a->pass) {
		struct mig_sockinfo dummy;
		struct mig_tuple t = { .family = (uint16_t)family };

		/* (a tuple no socket has: makes this pass's records) */
		dp_sockinfo_one(a, &t, &dummy);
	}
	for (i = 0; a->si_snap && i < a->si_n; i++) {
		const struct mig_sockinfo *si = &a->si_snap[i];
		const uint32_t *l = si->tuple.laddr;

		if (si->state != BPF_TCP_LISTEN || si->tuple.lport != port)
			continue;
		if (si->tuple.family == family &&
		    (!memcmp(l, addr, 16) || !memcmp(l, any, 16)))
			return true;
		if (family == AF_INET && si->tuple.family == AF_INET6 && !memcmp(l, any, 16))
			return true;
	}
	return false;
}
