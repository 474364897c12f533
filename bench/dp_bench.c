// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * dp_bench - per-packet cost of the data path programs (bpf/mig_dp.bpf.c),
 * measured with bpf_prog_test_run_opts against an empty program of the
 * same type (r0 = 0; exit) in the same run.
 *
 * Setup as tests/bpf/test_dp.c (shared: tests/bpf/dp_fixture.h): a private
 * netns with real, quiet TCP connections, so that the Migrate SYN case
 * finds its socket; maps filled as the agent fills them.
 *
 * Two methods:
 *   repeat  one syscall, opts.repeat = N; opts.duration is the kernel's
 *           average ns per run.  test_run hands the SAME buffer to every
 *           run, so a rewrite changes the input of the next run.  The
 *           migrated cases therefore install translations both ways
 *           (wire -> socket and socket -> wire tuple), so that every run
 *           does a full rewrite; the xlate counters prove it.
 *   loop    N syscalls with repeat = 1, mean of opts.duration.  For the
 *           Migrate SYN, which the first run turns into a SYN/ACK (every
 *           later run is a repeat from the same tuple: the candidate is
 *           refreshed, nonce and MIGRATE_ACK tag computed again).  Each
 *           run then pays the timer reads of one test_run, so compare it
 *           only with the empty program measured the same way.
 *
 * The egress cases run with mig_host.holds = 0 (no flow held: the hold
 * map is not looked at) unless the case says "holds active" (another
 * flow is held, so every segment pays the mig_hold lookup).  The
 * migrated cases change the destination, so reroute runs: without
 * forwarding on lo the kernel refuses its FIB lookup at once; the "FIB
 * lookup" cases turn forwarding on lo on, and pay a real lookup (in a
 * namespace with a two-route table: a miss to NEW, a local address on
 * the way back; a host with a large table pays more).
 *
 * Output: a Markdown table (case, method, ns/packet, ratio to the empty
 * program), the median of -r rounds.  Root only.
 *
 * usage: dp_bench [-n REPEAT] [-l LOOPS] [-r ROUNDS]
 */
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/ether.h>
#include <unistd.h>

#include "../tests/bpf/dp_fixture.h"

static struct mig_dp *skel;
static struct fx_conn conns[3];

/* The wire port of the moved end of conn c: FX_NEW_PORT (it moved behind
 * a NAT, so its port changed too, and the rewrite changes both ports),
 * except for the "port kept" connection (conns[2]), which moved with its
 * port as a host without a NAT does (the rewrite changes the addresses
 * alone). */
static __be16 new_port(const struct fx_conn *c)
{
	return c == &conns[2] ? c->srv.t.rport : htons(FX_NEW_PORT);
}

static int empty_prog(enum bpf_prog_type type, const char *name)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, name, "GPL", insns, 2, NULL);
}

struct bcase {
	const char *name;
	int fd;
	bool skb;
	bool loop;              /* loop method, else repeat */
	int empty;              /* index of the baseline in cases[] */
	__u32 want_ret;
	__u32 stat;             /* counter that must grow by the run count, or MIG_STAT__MAX */
	const struct mig_tuple *token_to;   /* point the test token at this flow first */
	bool untouched;         /* the xlate counters must not move */
	__u32 holds;            /* mig_host.holds during the case */
	int cands;              /* -1: mig_cand emptied first; 1: one candidate live */
	bool fib;               /* lo forwards: reroute's FIB lookups are answered */
	/* the skb's device (0: lo), and shell commands around the case (the
	 * route it needs, taken away after) */
	int ifindex;
	const char *pre, *post;
	/* the translation filter's slot of this tuple counts one entry of
	 * another flow during the case: the lookup it saves is made */
	const struct mig_tuple *xf_share;
	__u8 frame[FX_PKT_MAX];
	size_t len;
	double ns[16];          /* per round */
	double med;
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Forwarding on lo (both families) in the benchmark's netns: with it
 * the FIB answers reroute's lookups (here: no route to NEW, a local
 * address for the way back, so the segment stays on its route); without
 * it the kernel refuses them before looking. */
static int lo_forwarding(bool on)
{
	static const char *const f[] = { "/proc/sys/net/ipv4/conf/lo/forwarding",
					 "/proc/sys/net/ipv6/conf/lo/forwarding" };
	int i, fd, ok;

	for (i = 0; i < 2; i++) {
		fd = open(f[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		ok = write(fd, on ? "1" : "0", 1) == 1;
		close(fd);
		if (!ok)
			return -1;
	}
	return 0;
}

/* One measurement: average ns per run. */
static int measure(struct bcase *c, int repeat, int loops, double *ns)
{
	static struct fx_res r;
	__u64 before = c->stat < MIG_STAT__MAX ? fx_stat(skel, c->stat) : 0, sum = 0;
	__u64 xl = fx_stat(skel, MIG_STAT_XLATE_IN) + fx_stat(skel, MIG_STAT_XLATE_OUT);
	long runs;
	int i;

	if (fx_host(skel, c->holds) || lo_forwarding(c->fib))
		return -1;
	if (c->pre && system(c->pre) != 0) {
		fprintf(stderr, "%s: %s failed\n", c->name, c->pre);
		return -1;
	}
	fx_run_ifindex = c->ifindex;
	/* the Migrate SYN rows leave candidates: the untouched rows say
	 * whether one is live (mig_gate makes segments skip mig_cand while
	 * there is none) */
	if (c->cands) {
		struct mig_gate g = { 0 };
		struct mig_cand_ref ref = {};
		struct mig_tuple w = {};
		__u32 zero = 0;

		fx_map_clear(skel->maps.mig_cand);
		if (c->cands > 0) {
			w.family = AF_INET;
			w.lport = htons(1);
			if (bpf_map_update_elem(bpf_map__fd(skel->maps.mig_cand), &w, &ref,
						BPF_NOEXIST))
				return -1;
			g.cands = 1;
		}
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.mig_gate), &zero, &g, BPF_ANY))
			return -1;
	}
	/* both connections' flows share the fixture's token */
	if (c->token_to) {
		struct mig_token_key tk;

		memcpy(tk.token, fx_token, 8);
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.mig_tokens), &tk, c->token_to,
					BPF_ANY))
			return -1;
	}
	if (c->xf_share) {
		__u32 slot = mig_xf_slot(c->xf_share);
		__u64 one = 1;

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.mig_xf), &slot, &one, BPF_ANY))
			return -1;
	}
	if (c->loop) {
		for (i = 0; i < loops; i++) {
			if (fx_run(c->fd, c->skb, c->frame, c->len, 0, 1, &r))
				return -1;
			sum += r.duration;
		}
		*ns = (double)sum / loops;
		runs = loops;
	} else {
		if (fx_run(c->fd, c->skb, c->frame, c->len, 0, repeat, &r))
			return -1;
		*ns = r.duration;
		runs = repeat;
	}
	if (c->xf_share)
		fx_xf_sync(skel);
	fx_run_ifindex = 0;
	if (c->post && system(c->post) != 0) {
		fprintf(stderr, "%s: %s failed\n", c->name, c->post);
		return -1;
	}
	if (r.ret != c->want_ret) {
		fprintf(stderr, "%s: verdict %u, want %u\n", c->name, r.ret, c->want_ret);
		return -1;
	}
	if (c->stat < MIG_STAT__MAX && fx_stat(skel, c->stat) - before != (__u64)runs) {
		fprintf(stderr, "%s: counter %u grew by %llu, want %ld: not every run did the work\n",
			c->name, c->stat,
			(unsigned long long)(fx_stat(skel, c->stat) - before), runs);
		return -1;
	}
	if (c->untouched &&
	    fx_stat(skel, MIG_STAT_XLATE_IN) + fx_stat(skel, MIG_STAT_XLATE_OUT) != xl) {
		fprintf(stderr, "%s: rewrote an untouched flow\n", c->name);
		return -1;
	}
	return 0;
}

/* Translations for the fixed end of conn c (srv) as after a commit to
 * NEW:new_port(c), plus the reverse ones so that repeated runs over one
 * buffer keep rewriting (see the top). */
static int install_pingpong(const struct fx_conn *c, int family)
{
	struct mig_in in = { .type = MIG_IN_XLATE };
	struct mig_out out = {};
	struct mig_tuple wire;
	__u32 na[4];
	int fi = bpf_map__fd(skel->maps.mig_ingress), fo = bpf_map__fd(skel->maps.mig_egress);

	fx_addr(family, family == AF_INET ? FX_NEW4 : FX_NEW6, na);
	fx_tuple(&wire, family, c->srv.t.laddr, c->srv.t.lport, na, new_port(c));
	in.sock = c->srv.t;
	if (bpf_map_update_elem(fi, &wire, &in, BPF_ANY))
		return -1;
	in.sock = wire;
	if (bpf_map_update_elem(fi, &c->srv.t, &in, BPF_ANY))
		return -1;
	out.wire = wire;
	if (bpf_map_update_elem(fo, &c->srv.t, &out, BPF_ANY))
		return -1;
	out.wire = c->srv.t;
	if (bpf_map_update_elem(fo, &wire, &out, BPF_ANY))
		return -1;
	fx_xf_sync(skel);
	return 0;
}

static int install_fixed(const struct fx_conn *c)
{
	struct mig_token_key tk;
	struct mig_flow f;

	fx_flow(&f, &c->srv.t, false, 0, 0);
	memcpy(tk.token, fx_token, 8);
	return bpf_map_update_elem(bpf_map__fd(skel->maps.mig_flows), &c->srv.t, &f, BPF_ANY) ||
	       bpf_map_update_elem(bpf_map__fd(skel->maps.mig_tokens), &tk, &c->srv.t, BPF_ANY);
}

/* A hold on a flow no case sends on (cli's socket of c), for the "holds
 * active" cases. */
static int install_hold(const struct fx_conn *c)
{
	struct mig_hold h = { .since_ns = fx_now_ns() };

	return bpf_map_update_elem(bpf_map__fd(skel->maps.mig_hold), &c->cli.t, &h, BPF_ANY);
}

static size_t data_frame(const struct fx_conn *c, bool from_new, bool egress, __u8 *f)
{
	static const __u8 payload[100] = "dp_bench payload";
	struct fx_pkt p;
	__u32 na[4];

	fx_addr(c->family, c->family == AF_INET ? FX_NEW4 : FX_NEW6, na);
	if (egress)
		fx_pkt_in(&p, c->family, c->srv.t.laddr, c->srv.t.lport,
			  c->srv.t.raddr, c->srv.t.rport);
	else if (from_new)
		fx_pkt_in(&p, c->family, na, new_port(c),
			  c->srv.t.laddr, c->srv.t.lport);
	else
		fx_pkt_in(&p, c->family, c->srv.t.raddr, c->srv.t.rport,
			  c->srv.t.laddr, c->srv.t.lport);
	p.seq = egress ? c->srv.snd_nxt : c->cli.snd_nxt;
	p.ack = egress ? c->srv.rcv_nxt : c->cli.rcv_nxt;
	p.flags = 0x18;
	fx_opt_ts(&p, 1, 2);
	p.payload = payload;
	p.plen = sizeof(payload);
	return fx_build(&p, f);
}

/* The MAC of NEW's neighbour entry on mrb0, the next hop of the "next
 * hop kept" rows; their frames carry it as destination. */
#define MRB_NEXTHOP "02:00:5e:00:53:07"

/* Frame f (len bytes) without its Ethernet header, as a tun or WireGuard
 * device has it; the new length. */
static size_t l3_frame(__u8 *f, size_t len)
{
	memmove(f, f + 14, len - 14);
	return len - 14;
}

static size_t msyn_frame(const struct fx_conn *c, __u8 *f)
{
	struct fx_pkt p;
	__u8 mac[8];
	__u32 na[4];

	fx_addr(c->family, c->family == AF_INET ? FX_NEW4 : FX_NEW6, na);
	fx_mac_migrate(fx_s_i, 1, mac);
	/* not FX_NEW_PORT: that wire tuple holds a translation */
	fx_pkt_in(&p, c->family, na, htons(FX_NEW_PORTB), c->srv.t.laddr, c->srv.t.lport);
	p.seq = c->cli.snd_una - 1;
	p.ack = FX_CHALLENGE;
	p.flags = 0x02;
	p.win = 64240;
	fx_opt_sig(&p, MIG_SUB_MIGRATE, 1, fx_token, mac);
	return fx_build(&p, f);
}

int main(int argc, char **argv)
{
	enum { E_TC, E_XDP, E_TC_LOOP, E_XDP_LOOP, N_EMPTY };
	static struct bcase cases[32];
	int repeat = 1000000, loops = 100000, rounds = 5, opt, n = 0, i, k;
	const char *only = NULL;
	int efd_tc, efd_xdp, in_tc, in_xdp, out_tc, in_l3, out_l3, mrb = 0;
	const struct fx_conn *c4 = &conns[0], *c6 = &conns[1], *c4k = &conns[2];

	while ((opt = getopt(argc, argv, "n:l:r:c:h")) != -1) {
		switch (opt) {
		case 'n': repeat = atoi(optarg); break;
		case 'l': loops = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'c': only = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-n REPEAT] [-l LOOPS] [-r ROUNDS] [-c CASE]\n"
				"  -c CASE: only the rows whose name contains CASE (and the\n"
				"           empty programs), e.g. to profile one path\n", argv[0]);
			return opt == 'h' ? EXIT_SUCCESS : 2;
		}
	}
	if (repeat < 1 || loops < 1 || rounds < 1 || rounds > 16) {
		fprintf(stderr, "%s: bad -n, -l or -r (rounds 1..16)\n", argv[0]);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "%s: needs root (netns, TCP_REPAIR, BPF); try: sudo make bench\n",
			argv[0]);
		return EXIT_FAILURE;
	}
	if (fx_netns() || fx_pin_cpu())
		return EXIT_FAILURE;
	skel = fx_dp_open_and_load();
	if (!skel) {
		fprintf(stderr, "loading mig_dp: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	efd_tc = empty_prog(BPF_PROG_TYPE_SCHED_CLS, "empty_tc");
	efd_xdp = empty_prog(BPF_PROG_TYPE_XDP, "empty_xdp");
	if (efd_tc < 0 || efd_xdp < 0) {
		fprintf(stderr, "loading the empty programs: %s\n", strerror(errno));
		goto fail;
	}
	if (fx_conn_open(AF_INET, &conns[0]) || fx_conn_open(AF_INET6, &conns[1]) ||
	    fx_conn_open(AF_INET, &conns[2]))
		goto fail;
	/* a device of the netns for the "next hop kept" rows (no route:
	 * each case adds its own) */
	if (system("ip link add mrb0 type veth peer name mrb1 && ip link set mrb1 up && "
		   "ip link set mrb0 up") != 0 || !(mrb = (int)if_nametoindex("mrb0"))) {
		fprintf(stderr, "making a veth pair in the benchmark's netns failed\n");
		goto fail;
	}
	in_tc = bpf_program__fd(skel->progs.mig_in_tc);
	in_xdp = bpf_program__fd(skel->progs.mig_in_xdp);
	out_tc = bpf_program__fd(skel->progs.mig_out_tc);
	in_l3 = bpf_program__fd(skel->progs.mig_in_tc_l3);
	out_l3 = bpf_program__fd(skel->progs.mig_out_tc_l3);
	fx_reset(skel);
	if (install_fixed(c4) || install_fixed(c6) ||
	    install_pingpong(c4, AF_INET) || install_pingpong(c6, AF_INET6) ||
	    install_pingpong(c4k, AF_INET) ||
	    install_hold(c4)) {
		fprintf(stderr, "filling the maps: %s\n", strerror(errno));
		goto fail;
	}

#define ADD(nm, f, isskb, lp, e, ret, st) \
	(cases[n] = (struct bcase){ .name = nm, .fd = f, .skb = isskb, .loop = lp, \
				    .empty = e, .want_ret = ret, .stat = st }, &cases[n++])
	{
		/* an untouched flow: the fixed end's connection before any
		 * migration, seen from cli's socket tuple (no entry) */
		static struct fx_conn plain;   /* (xf_share points here) */
		struct bcase *b;

		plain = *c4;

		b = ADD("empty program, TC", efd_tc, true, false, E_TC, 0, MIG_STAT__MAX);
		b->len = data_frame(c4, false, false, b->frame);
		b = ADD("empty program, XDP", efd_xdp, false, false, E_XDP, 0, MIG_STAT__MAX);
		b->len = data_frame(c4, false, false, b->frame);
		b = ADD("empty program, TC", efd_tc, true, true, E_TC_LOOP, 0, MIG_STAT__MAX);
		b->len = data_frame(c4, false, false, b->frame);
		b = ADD("empty program, XDP", efd_xdp, false, true, E_XDP_LOOP, 0, MIG_STAT__MAX);
		b->len = data_frame(c4, false, false, b->frame);

		/* untouched: use the v4 connection's frames; its ingress key
		 * (srv <- cli) has a ping-pong entry, so take the raddr of
		 * another port: a connection the data path never saw */
		plain.srv.t.rport = htons(ntohs(plain.srv.t.rport) ^ 0x4000);
		{
			/* its filter slot counts none of the translations
			 * installed (the ports are the kernel's choice: one of
			 * them may share it, and every untouched row would then
			 * measure the lookup) */
			__u32 slot = mig_xf_slot(&plain.srv.t);
			__u64 cnt = 0;

			if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.mig_xf), &slot, &cnt) ||
			    cnt) {
				fprintf(stderr, "the untouched flow's filter slot %u counts %llu "
					"translations of the migrated rows' flows; run again "
					"(other ports)\n", slot, (unsigned long long)cnt);
				goto fail;
			}
		}
		b = ADD("ingress TC, untouched flow", in_tc, true, false, E_TC, TC_ACT_OK,
			MIG_STAT__MAX);
		b->untouched = true;
		b->cands = -1;
		b->len = data_frame(&plain, false, false, b->frame);
		b = ADD("ingress TC, untouched flow, filter slot shared", in_tc, true, false, E_TC,
			TC_ACT_OK, MIG_STAT__MAX);
		b->untouched = true;
		b->cands = -1;
		b->xf_share = &plain.srv.t;
		b->len = data_frame(&plain, false, false, b->frame);
		b = ADD("ingress TC, untouched flow, a candidate live", in_tc, true, false, E_TC,
			TC_ACT_OK, MIG_STAT__MAX);
		b->untouched = true;
		b->cands = 1;
		b->len = data_frame(&plain, false, false, b->frame);
		b = ADD("ingress TC, migrated flow v4", in_tc, true, false, E_TC, TC_ACT_OK,
			MIG_STAT_XLATE_IN);
		b->len = data_frame(c4, true, false, b->frame);
		b = ADD("ingress TC, migrated flow v4, port kept", in_tc, true, false, E_TC,
			TC_ACT_OK, MIG_STAT_XLATE_IN);
		b->len = data_frame(c4k, true, false, b->frame);
		b = ADD("ingress TC, migrated flow v6", in_tc, true, false, E_TC, TC_ACT_OK,
			MIG_STAT_XLATE_IN);
		b->len = data_frame(c6, true, false, b->frame);
		b = ADD("ingress TC, Migrate SYN answered v4", in_tc, true, true, E_TC_LOOP,
			TC_ACT_REDIRECT, MIG_STAT_MSYN_ANSWERED);
		b->len = msyn_frame(c4, b->frame);
		b->token_to = &c4->srv.t;
		b = ADD("ingress TC, Migrate SYN answered v6", in_tc, true, true, E_TC_LOOP,
			TC_ACT_REDIRECT, MIG_STAT_MSYN_ANSWERED);
		b->len = msyn_frame(c6, b->frame);
		b->token_to = &c6->srv.t;
		b = ADD("egress TC, untouched flow", out_tc, true, false, E_TC, TC_ACT_OK,
			MIG_STAT__MAX);
		b->untouched = true;
		b->len = data_frame(&plain, false, true, b->frame);
		b = ADD("egress TC, untouched flow, filter slot shared", out_tc, true, false, E_TC,
			TC_ACT_OK, MIG_STAT__MAX);
		b->untouched = true;
		b->xf_share = &plain.srv.t;
		b->len = data_frame(&plain, false, true, b->frame);
		b = ADD("egress TC, untouched flow, holds active", out_tc, true, false, E_TC,
			TC_ACT_OK, MIG_STAT__MAX);
		b->untouched = true;
		b->holds = 1;
		b->len = data_frame(&plain, false, true, b->frame);
		b = ADD("egress TC, migrated flow v4", out_tc, true, false, E_TC, TC_ACT_OK,
			MIG_STAT_XLATE_OUT);
		b->len = data_frame(c4, false, true, b->frame);
		b = ADD("egress TC, migrated flow v4, port kept", out_tc, true, false, E_TC,
			TC_ACT_OK, MIG_STAT_XLATE_OUT);
		b->len = data_frame(c4k, false, true, b->frame);
		b = ADD("egress TC, migrated flow v6", out_tc, true, false, E_TC, TC_ACT_OK,
			MIG_STAT_XLATE_OUT);
		b->len = data_frame(c6, false, true, b->frame);
		/* devices without a link-layer header: the frame from its IP
		 * header on */
		b = ADD("ingress TC on L3 device, migrated flow v4", in_l3, true, false, E_TC,
			TC_ACT_OK, MIG_STAT_XLATE_IN);
		b->len = l3_frame(b->frame, data_frame(c4, true, false, b->frame));
		b = ADD("egress TC on L3 device, migrated flow v4", out_l3, true, false, E_TC,
			TC_ACT_OK, MIG_STAT_XLATE_OUT);
		b->len = l3_frame(b->frame, data_frame(c4, false, true, b->frame));
		b = ADD("egress TC, migrated flow v4, FIB lookup", out_tc, true, false, E_TC,
			TC_ACT_OK, MIG_STAT_ROUTE_FAIL);
		b->fib = true;
		b->len = data_frame(c4, false, true, b->frame);
		b = ADD("egress TC, migrated flow v6, FIB lookup", out_tc, true, false, E_TC,
			TC_ACT_OK, MIG_STAT_ROUTE_FAIL);
		b->fib = true;
		b->len = data_frame(c6, false, true, b->frame);
		/* The case a host that forwards on lo meets most: the route
		 * to the peer's new address leaves by the device and next hop
		 * the kernel chose (the old one's), so nothing changes.  The
		 * skb on mrb0, NEW routed there, its neighbour known with the
		 * frame's MAC.  A loop: the way back goes to a local address,
		 * which no repeat could make alike.  mig_dp_kc answers it from
		 * the flow's route memo after the first run of each round (the
		 * route added anew), mig_dp asks the FIB every time. */
		for (k = 0; k < 2; k++) {
			static char pre[2][192], post[2][96];
			const char *na = k ? FX_NEW6 "/128" : FX_NEW4 "/32";

			b = ADD(k ? "egress TC, migrated flow v6, FIB lookup, next hop kept" :
				    "egress TC, migrated flow v4, FIB lookup, next hop kept",
				out_tc, true, true, E_TC_LOOP, TC_ACT_OK, MIG_STAT_XLATE_OUT);
			b->fib = true;
			b->ifindex = mrb;
			snprintf(pre[k], sizeof(pre[k]),
				 "ip route add %s dev mrb0 && ip neigh replace %s lladdr "
				 MRB_NEXTHOP " nud permanent dev mrb0",
				 na, k ? FX_NEW6 : FX_NEW4);
			snprintf(post[k], sizeof(post[k]), "ip route del %s dev mrb0", na);
			b->pre = pre[k];
			b->post = post[k];
			b->len = data_frame(k ? c6 : c4, false, true, b->frame);
			memcpy(b->frame, ether_aton(MRB_NEXTHOP), 6);
		}
		b = ADD("ingress XDP, untouched flow", in_xdp, false, false, E_XDP, XDP_PASS,
			MIG_STAT__MAX);
		b->untouched = true;
		b->cands = -1;
		b->len = data_frame(&plain, false, false, b->frame);
		b = ADD("ingress XDP, migrated flow v4", in_xdp, false, false, E_XDP, XDP_PASS,
			MIG_STAT_XLATE_IN);
		b->len = data_frame(c4, true, false, b->frame);
		b = ADD("ingress XDP, Migrate SYN answered v4", in_xdp, false, true, E_XDP_LOOP,
			XDP_TX, MIG_STAT_MSYN_ANSWERED);
		b->len = msyn_frame(c4, b->frame);
		b->token_to = &c4->srv.t;
	}
#undef ADD

	/* rounds interleave the cases, so drift hits all of them alike */
	for (k = 0; k < rounds; k++)
		for (i = 0; i < n; i++)
			if ((i < N_EMPTY || !only || strstr(cases[i].name, only)) &&
			    measure(&cases[i], repeat, loops, &cases[i].ns[k]))
				goto fail;
	for (i = 0; i < n; i++) {
		double s[16];

		memcpy(s, cases[i].ns, sizeof(s));
		qsort(s, (size_t)rounds, sizeof(double), cmp_d);
		cases[i].med = s[rounds / 2];
	}

	printf("| case | method | ns/packet | ratio to empty |\n");
	printf("|---|---|---:|---:|\n");
	for (i = 0; i < n; i++) {
		const struct bcase *b = &cases[i], *e = &cases[b->empty];

		if (i >= N_EMPTY && only && !strstr(b->name, only))
			continue;
		printf("| %s | %s | %.1f | %.2f |\n", b->name,
		       b->loop ? "loop, repeat=1" : "repeat", b->med,
		       e->med > 0 ? b->med / e->med : 0.0);
	}
	printf("\nrepeat = %d, loop = %d syscalls, median of %d rounds; data path build %s "
	       "(%s)\n", repeat, loops, rounds, fx_dp_build,
	       strcmp(fx_dp_build, "mig_dp") ? "the TC programs read the skb's checksum state" :
					       "the TC programs ask the checksum helpers");
	fx_conn_close(&conns[0]);
	fx_conn_close(&conns[1]);
	fx_conn_close(&conns[2]);
	close(efd_tc);
	close(efd_xdp);
	mig_dp__destroy(skel);
	return EXIT_SUCCESS;
fail:
	fx_conn_close(&conns[0]);
	fx_conn_close(&conns[1]);
	fx_conn_close(&conns[2]);
	mig_dp__destroy(skel);
	return EXIT_FAILURE;
}
