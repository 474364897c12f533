// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * dp_scale - per-packet cost of the data path with a small and a large
 * flow table, and the maps' memory per flow.
 *
 * Two copies of mig_dp are loaded side by side: one whose maps hold
 * SMALL (default 1,000) migrated flows, one whose maps hold LARGE
 * (default 1,000,000).  A migrated flow occupies what it occupies after a
 * commit at the fixed end: mig_flows and mig_tokens (one entry each, by
 * socket tuple and token), mig_ingress (two: the new wire tuple -> XLATE,
 * the previous one -> RETIRED) and mig_egress (one, socket -> wire tuple).
 * The flows are synthetic IPv4 tuples (documentation addresses), filled
 * with BPF_MAP_UPDATE_BATCH.
 *
 * Each measured run takes a random flow (the "in turn" rows: 64 flows
 * spread over the table, one after the other, so their entries stay in
 * the caches: the table's size alone, without the misses): the loop method (one
 * bpf_prog_test_run per packet, repeat = 1, mean of opts.duration), each
 * call with the frame of a flow drawn at random among all of them (for
 * "untouched", a random connection absent from the maps), so that with
 * LARGE flows the hash buckets and elements the program touches are
 * mostly not in the CPU caches: 1 M flows take hundreds of MB, far more
 * than the last-level cache, and between two runs the syscall, the skb
 * allocation and the next frame's build evict more.  The empty program
 * (r0 = 0; exit) is run the same way on the same frames as the baseline.
 * Rounds interleave every row of both tables.
 *
 * Memory: the kernel's own `memlock` of each map (/proc/self/fdinfo),
 * which for these maps (hash, BPF_F_NO_PREALLOC) is the bucket array
 * plus the elements in use on kernels >= 6.4 (on 6.1 it is an estimate
 * from max_entries), before and after the fill: (after - before) / N is
 * the memory a flow takes in use, before / max_entries the fixed part.
 *
 * Output: two Markdown tables.  Root only.
 *
 * usage: dp_scale [-s SMALL] [-L LARGE] [-l LOOPS] [-r ROUNDS]
 */
#include <getopt.h>

#include "../tests/bpf/dp_fixture.h"

#define NROW 8
#define HOT 64   /* flows in turn, the "hot" rows */

struct scale_set {
	struct mig_dp *skel;
	unsigned int n;
	unsigned long long mem0[4], mem1[4], maxe[4];
};

static const char *const map_names[4] = { "mig_flows", "mig_tokens", "mig_ingress",
					  "mig_egress" };

static __u64 rng_s = 0x9e3779b97f4a7c15ULL;

static __u64 rng(void)
{
	rng_s ^= rng_s << 13;
	rng_s ^= rng_s >> 7;
	rng_s ^= rng_s << 17;
	return rng_s;
}

/* Flow i: socket tuple 203.0.113.1:lport <-> 192.0.2.X:rport; after the
 * peer's move its wire tuple has 198.51.100.X.  Unique for i below
 * 60000 * 20000 * 254. */
static void flow_tuples(unsigned int i, struct mig_tuple *sock, struct mig_tuple *wire)
{
	__u32 l[4] = {}, r[4] = {}, w[4] = {};
	__u16 lport = htons((__u16)(1024 + i % 60000));
	__u16 rport = htons((__u16)(40000 + (i / 60000) % 20000));
	__u8 x = (__u8)(1 + (i / (60000u * 20000u)) % 254);

	fx_addr(AF_INET, "203.0.113.1", l);
	fx_addr(AF_INET, "192.0.2.0", r);
	fx_addr(AF_INET, "198.51.100.0", w);
	((__u8 *)r)[3] = x;
	((__u8 *)w)[3] = x;
	fx_tuple(sock, AF_INET, l, lport, r, rport);
	fx_tuple(wire, AF_INET, l, lport, w, rport);
}

static unsigned long long memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static struct bpf_map *set_map(struct mig_dp *s, int k)
{
	switch (k) {
	case 0: return s->maps.mig_flows;
	case 1: return s->maps.mig_tokens;
	case 2: return s->maps.mig_ingress;
	default: return s->maps.mig_egress;
	}
}

#define CHUNK 8192

/* Fill the four maps with n migrated flows, in batches. */
static int fill(struct scale_set *ss)
{
	static struct mig_tuple ks[CHUNK], kw[CHUNK], vo[CHUNK];
	static struct mig_flow fv[CHUNK];
	static struct mig_token_key tk[CHUNK];
	static struct mig_in iv[CHUNK];
	static struct mig_tuple ik[CHUNK];
	struct mig_dp *s = ss->skel;
	unsigned int i, j, m;
	int k;

	for (k = 0; k < 4; k++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(bpf_map__fd(set_map(s, k)), &info, &len))
			return -1;
		ss->maxe[k] = info.max_entries;
		ss->mem0[k] = memlock(bpf_map__fd(set_map(s, k)));
	}
	for (i = 0; i < ss->n; i += m) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		__u32 cnt;

		m = ss->n - i < CHUNK / 2 ? ss->n - i : CHUNK / 2;
		for (j = 0; j < m; j++) {
			__u64 t = ((__u64)(i + j) << 20) ^ 0x5ca1e00000000000ULL;

			flow_tuples(i + j, &ks[j], &kw[j]);
			fx_flow(&fv[j], &ks[j], false, 0, 0);
			memcpy(fv[j].token, &t, 8);
			memcpy(tk[j].token, &t, 8);
			fv[j].wire = kw[j];
			fv[j].prev = ks[j];
			fv[j].migrations = 1;
			fv[j].migrated_ns = fx_now_ns();
			vo[j] = kw[j];
			/* ingress: new wire tuple -> XLATE, old one -> RETIRED */
			ik[2 * j] = kw[j];
			iv[2 * j] = (struct mig_in){ .sock = ks[j], .type = MIG_IN_XLATE, .seen = 1 };
			ik[2 * j + 1] = ks[j];
			iv[2 * j + 1] = (struct mig_in){ .sock = ks[j], .type = MIG_IN_RETIRED };
		}
		cnt = m;
		if (bpf_map_update_batch(bpf_map__fd(s->maps.mig_flows), ks, fv, &cnt, &o))
			return -1;
		cnt = m;
		if (bpf_map_update_batch(bpf_map__fd(s->maps.mig_tokens), tk, ks, &cnt, &o))
			return -1;
		cnt = m;
		if (bpf_map_update_batch(bpf_map__fd(s->maps.mig_egress), ks, vo, &cnt, &o))
			return -1;
		cnt = 2 * m;
		if (bpf_map_update_batch(bpf_map__fd(s->maps.mig_ingress), ik, iv, &cnt, &o))
			return -1;
	}
	fx_xf_sync(s);
	for (k = 0; k < 4; k++)
		ss->mem1[k] = memlock(bpf_map__fd(set_map(s, k)));
	return 0;
}

enum rowkind { R_IN_PLAIN, R_IN_MIG, R_OUT_PLAIN, R_OUT_MIG, R_XDP_PLAIN, R_XDP_MIG,
	       R_IN_HOT, R_OUT_HOT };

static const char *const row_names[NROW] = {
	"ingress TC, untouched flow", "ingress TC, migrated flow",
	"egress TC, untouched flow", "egress TC, migrated flow",
	"ingress XDP, untouched flow", "ingress XDP, migrated flow",
	"ingress TC, migrated flow, 64 flows in turn", "egress TC, migrated flow, 64 flows in turn",
};

/* The frame of a random flow for row kind r (set n flows). */
static size_t frame(int r, unsigned int n, __u8 *f)
{
	static const __u8 payload[100] = "dp_scale payload";
	struct mig_tuple s, w;
	struct fx_pkt p;
	bool plain = r == R_IN_PLAIN || r == R_OUT_PLAIN || r == R_XDP_PLAIN;
	bool hot = r == R_IN_HOT || r == R_OUT_HOT;
	static unsigned int turn;

	flow_tuples(hot ? (unsigned int)(turn++ % (n < HOT ? n : HOT)) * (n / HOT ? n / HOT : 1) :
		    (unsigned int)(rng() % n), &s, &w);
	if (plain) {
		/* a connection nobody keyed: another local address */
		((__u8 *)s.laddr)[3] = 2;
		s.lport = htons((__u16)(1024 + rng() % 60000));
	}
	if (r == R_OUT_PLAIN || r == R_OUT_MIG || r == R_OUT_HOT)
		fx_pkt_in(&p, AF_INET, s.laddr, s.lport, s.raddr, s.rport);
	else if (plain)
		fx_pkt_in(&p, AF_INET, s.raddr, s.rport, s.laddr, s.lport);
	else
		fx_pkt_in(&p, AF_INET, w.raddr, w.rport, w.laddr, w.lport);
	p.seq = (__u32)rng();
	p.ack = (__u32)rng();
	p.flags = 0x18;
	fx_opt_ts(&p, 1, 2);
	p.payload = payload;
	p.plen = sizeof(payload);
	return fx_build(&p, f);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Mean ns per run of LOOPS runs of prog (the empty one if efd >= 0) on
 * random frames of row r; checks the verdict and the xlate counters. */
static int run_row(struct scale_set *ss, int r, int efd, int loops, double *ns)
{
	static __u8 f[FX_PKT_MAX];
	static struct fx_res res;
	bool xdp = r == R_XDP_PLAIN || r == R_XDP_MIG, mig = r != R_IN_PLAIN &&
		   r != R_OUT_PLAIN && r != R_XDP_PLAIN;
	bool out = r == R_OUT_MIG || r == R_OUT_PLAIN || r == R_OUT_HOT;
	__u32 st = out ? MIG_STAT_XLATE_OUT : MIG_STAT_XLATE_IN;
	__u64 before = fx_stat(ss->skel, st), sum = 0;
	int fd, i;

	if (efd >= 0)
		fd = efd;
	else if (xdp)
		fd = bpf_program__fd(ss->skel->progs.mig_in_xdp);
	else if (out)
		fd = bpf_program__fd(ss->skel->progs.mig_out_tc);
	else
		fd = bpf_program__fd(ss->skel->progs.mig_in_tc);
	for (i = 0; i < loops; i++) {
		size_t len = frame(r, ss->n, f);

		if (fx_run(fd, !xdp, f, len, 0, 1, &res))
			return -1;
		if (efd < 0 && res.ret != (xdp ? XDP_PASS : TC_ACT_OK)) {
			fprintf(stderr, "%s: verdict %u\n", row_names[r], res.ret);
			return -1;
		}
		sum += res.duration;
	}
	*ns = (double)sum / loops;
	if (efd < 0 && fx_stat(ss->skel, st) - before != (mig ? (__u64)loops : 0)) {
		fprintf(stderr, "%s: xlate counter grew by %llu, want %d\n", row_names[r],
			(unsigned long long)(fx_stat(ss->skel, st) - before), mig ? loops : 0);
		return -1;
	}
	return 0;
}

static int empty_prog(enum bpf_prog_type type, const char *name)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, name, "GPL", insns, 2, NULL);
}

static void mmm(double *v, int n, double out[3])
{
	double s[16];

	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_d);
	out[0] = s[0];
	out[1] = s[n / 2];
	out[2] = s[n - 1];
}

int main(int argc, char **argv)
{
	/* [set][row][round]; row NROW: empty TC, NROW+1: empty XDP */
	static double ns[2][NROW + 2][16];
	struct scale_set set[2] = { { .n = 1000 }, { .n = 1000000 } };
	int loops = 100000, rounds = 5, opt, efd[2], k, r, s;
	__u64 t0;

	while ((opt = getopt(argc, argv, "s:L:l:r:h")) != -1) {
		switch (opt) {
		case 's': set[0].n = (unsigned int)atoi(optarg); break;
		case 'L': set[1].n = (unsigned int)atoi(optarg); break;
		case 'l': loops = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-s SMALL] [-L LARGE] [-l LOOPS] [-r ROUNDS]\n",
				argv[0]);
			return opt == 'h' ? EXIT_SUCCESS : 2;
		}
	}
	if (loops < 1 || rounds < 1 || rounds > 16 || set[0].n < 1 || set[1].n < 1 ||
	    set[0].n > MIG_MAX_FLOWS || set[1].n > MIG_MAX_FLOWS) {
		fprintf(stderr, "%s: bad -s, -L (1..%u), -l or -r (rounds 1..16)\n", argv[0],
			MIG_MAX_FLOWS);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "%s: needs root (netns, BPF)\n", argv[0]);
		return EXIT_FAILURE;
	}
	if (fx_netns() || fx_pin_cpu())
		return EXIT_FAILURE;
	efd[0] = empty_prog(BPF_PROG_TYPE_SCHED_CLS, "empty_tc");
	efd[1] = empty_prog(BPF_PROG_TYPE_XDP, "empty_xdp");
	if (efd[0] < 0 || efd[1] < 0) {
		fprintf(stderr, "loading the empty programs: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	for (s = 0; s < 2; s++) {
		set[s].skel = fx_dp_open_and_load();
		if (!set[s].skel) {
			fprintf(stderr, "loading mig_dp: %s\n", strerror(errno));
			goto fail;
		}
		fx_reset(set[s].skel);
		t0 = fx_now_ns();
		if (fill(&set[s])) {
			fprintf(stderr, "filling %u flows: %s\n", set[s].n, strerror(errno));
			goto fail;
		}
		fprintf(stderr, "dp_scale: %u flows filled in %.1f s\n", set[s].n,
			(double)(fx_now_ns() - t0) / 1e9);
	}
	t0 = fx_now_ns();
	for (k = 0; k < rounds; k++)
		for (r = 0; r < NROW; r++)
			for (s = 0; s < 2; s++) {
				if (run_row(&set[s], r, -1, loops, &ns[s][r][k]))
					goto fail;
				/* the baselines, between the rows */
				if (r == R_IN_PLAIN || r == R_XDP_PLAIN)
					if (run_row(&set[s], r, efd[r == R_XDP_PLAIN], loops,
						    &ns[s][NROW + (r == R_XDP_PLAIN)][k]))
						goto fail;
			}

	fprintf(stderr, "dp_scale: measured in %.1f s\n", (double)(fx_now_ns() - t0) / 1e9);
	printf("| case | ns/packet, %u flows (min / median / max) | ns/packet, %u flows | "
	       "ratio %u / %u flows (medians) | above empty, %u / %u flows |\n",
	       set[0].n, set[1].n, set[1].n, set[0].n, set[0].n, set[1].n);
	printf("|---|---:|---:|---:|---:|\n");
	for (r = 0; r < NROW + 2; r++) {
		double a[3], b[3], ea[3], eb[3];
		int e = NROW + (r == R_XDP_PLAIN || r == R_XDP_MIG || r == NROW + 1);

		mmm(ns[0][r], rounds, a);
		mmm(ns[1][r], rounds, b);
		mmm(ns[0][e], rounds, ea);
		mmm(ns[1][e], rounds, eb);
		printf("| %s | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f | %.3f |",
		       r < NROW ? row_names[r] : r == NROW ? "empty program, TC" :
		       "empty program, XDP", a[0], a[1], a[2], b[0], b[1], b[2],
		       a[1] > 0 ? b[1] / a[1] : 0.0);
		if (r < NROW)
			printf(" %.1f / %.1f |\n", a[1] - ea[1], b[1] - eb[1]);
		else
			printf(" - |\n");
	}
	printf("\nloop method: %d runs (repeat = 1, a random flow each) per row and round, "
	       "%d rounds interleaved\n\n", loops, rounds);

	printf("| map | max_entries | memlock empty | memlock, %u flows | bytes per entry in use "
	       "| memlock, %u flows | bytes per entry in use | entries per flow |\n",
	       set[0].n, set[1].n);
	printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
	{
		double tot = 0;

		for (k = 0; k < 4; k++) {
			int per = k == 2 ? 2 : 1;
			double d = (double)(set[1].mem1[k] - set[1].mem0[k]) / set[1].n;

			tot += d * per;
			printf("| %s | %llu | %llu | %llu | %.0f | %llu | %.0f | %d |\n", map_names[k],
			       set[1].maxe[k], set[1].mem0[k], set[0].mem1[k],
			       (double)(set[0].mem1[k] - set[0].mem0[k]) / (set[0].n * per),
			       set[1].mem1[k], d / per, per);
		}
		printf("\nmemory of one migrated flow in use (%u flows): %.0f bytes; the maps "
		       "empty: %.1f MiB (bucket arrays for --max-flows %llu)\n", set[1].n, tot,
		       (double)(set[1].mem0[0] + set[1].mem0[1] + set[1].mem0[2] + set[1].mem0[3]) /
		       (1 << 20), set[1].maxe[0]);
	}
	for (s = 0; s < 2; s++)
		mig_dp__destroy(set[s].skel);
	return EXIT_SUCCESS;
fail:
	for (s = 0; s < 2; s++)
		if (set[s].skel)
			mig_dp__destroy(set[s].skel);
	return EXIT_FAILURE;
}
