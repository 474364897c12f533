// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * prom.c - "migratectl stats --prometheus": the counters, the keyed
 * flows, the key pool and the fill of the connection-state maps in the
 * Prometheus text exposition format (version 0.0.4), for a node_exporter
 * textfile collector or any scraper that runs a command.
 *
 * Every metric is named migrate_*; counters end in _total.  The grouped
 * metrics (negotiations, fallbacks, migrations, rejections, DNS updates)
 * are sums of the raw counters, which also appear one by one as
 * migrate_counter_total{counter="NAME"} under the names of "show stats".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* One sample of a grouped metric: a label value and the counters summed
 * into it (ended by -1). */
struct prom_sample {
	const char *label;
	int stats[10];
};

struct prom_family {
	const char *name;
	const char *help;
	const char *label;          /* the label's name; NULL: one plain sample */
	struct prom_sample samples[12];
};

#define END -1
static const struct prom_family families[] = {
	{ "migrate_negotiations_total",
	  "Handshakes that offered the Migrate option: our SYN (initiator) or our SYN/ACK (responder).",
	  "role", {
		{ "initiator", { MIG_STAT_SYN_OUT, END } },
		{ "responder", { MIG_STAT_SYNACK_OUT, MIG_STAT_SYNCOOKIE, END } },
		{ NULL } } },
	{ "migrate_keyed_total",
	  "Connections whose key agreement finished (the flow became migratable).",
	  NULL, { { NULL, { MIG_STAT_KEYED, END } }, { NULL } } },
	{ "migrate_fallbacks_total",
	  "Connections left plain TCP, by reason.",
	  "reason", {
		{ "peer_no_option", { MIG_STAT_FALLBACK_PEER, END } },
		{ "syn_no_option", { MIG_STAT_FALLBACK_SYN, END } },
		{ "pool_empty", { MIG_STAT_POOL_EMPTY, END } },
		{ "no_option_space", { MIG_STAT_OPT_NO_SPACE, END } },
		{ "key_epoch_missed", { MIG_STAT_KEY1_EPOCH, END } },
		{ "flow_map_full", { MIG_STAT_MAP_FULL, END } },
		{ "key_error", { MIG_STAT_UNKNOWN_KEY, MIG_STAT_ZERO_SECRET,
				 MIG_STAT_TOKEN_COLLISION, END } },
		{ NULL } } },
	{ "migrate_migrations_total",
	  "Migrations by role and outcome: committed as the host that moved (mover) or the one that stayed (fixed); Migrate SYNs rejected; candidates that expired unconfirmed.",
	  "outcome", {
		{ "committed_mover", { MIG_STAT_COMMIT_MOVER, END } },
		{ "committed_fixed", { MIG_STAT_COMMIT_FIXED, END } },
		{ "rejected", { MIG_STAT_REJ_TOKEN, MIG_STAT_REJ_MAC, MIG_STAT_REJ_REQNO,
				MIG_STAT_REJ_SEQ, MIG_STAT_REJ_STATE, MIG_STAT_REJ_TUPLE,
				MIG_STAT_CAND_FULL, MIG_STAT_CAND_BUSY, MIG_STAT_XLATE_FULL,
				END } },
		{ "expired", { MIG_STAT_CAND_EXPIRED, END } },
		{ NULL } } },
	{ "migrate_migrate_syns_total",
	  "Migrate SYNs sent by this host as the mover, and received by it as the fixed end.",
	  "direction", {
		{ "sent", { MIG_STAT_MSYN_SENT, END } },
		{ "received", { MIG_STAT_MSYN_IN, END } },
		{ NULL } } },
	{ "migrate_rejections_total",
	  "Migrate SYNs refused, by reason.",
	  "reason", {
		{ "token", { MIG_STAT_REJ_TOKEN, END } },
		{ "mac", { MIG_STAT_REJ_MAC, END } },
		{ "reqno", { MIG_STAT_REJ_REQNO, END } },
		{ "seq", { MIG_STAT_REJ_SEQ, END } },
		{ "state", { MIG_STAT_REJ_STATE, END } },
		{ "tuple", { MIG_STAT_REJ_TUPLE, END } },
		{ "candidate_map_full", { MIG_STAT_CAND_FULL, END } },
		{ "candidate_busy", { MIG_STAT_CAND_BUSY, END } },
		{ "xlate_map_full", { MIG_STAT_XLATE_FULL, END } },
		{ NULL } } },
	{ "migrate_dns_updates_total",
	  "DNS UPDATEs sent for the names in [dns], by outcome (tsig_failed is a part of failed).",
	  "outcome", {
		{ "ok", { MIG_STAT_DNS_UPDATE_OK, END } },
		{ "failed", { MIG_STAT_DNS_UPDATE_FAIL, END } },
		{ "tsig_failed", { MIG_STAT_DNS_TSIG_FAIL, END } },
		{ NULL } } },
};
#undef END

/* A label value with \, " and newline escaped as the format asks. */
static void label_value(const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", stdout);
		else if (*v == '"')
			fputs("\\\"", stdout);
		else if (*v == '\n')
			fputs("\\n", stdout);
		else
			putchar(*v);
	}
}

static void head(const char *name, const char *type, const char *help)
{
	/* HELP text escapes only \ and newline; ours has neither */
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(const char *name, const char *label, const char *value,
		   unsigned long long v)
{
	fputs(name, stdout);
	if (label) {
		printf("{%s=\"", label);
		label_value(value);
		fputs("\"}", stdout);
	}
	printf(" %llu\n", v);
}

static int meta_read(struct mig_meta *meta)
{
	__u32 key = 0;
	int fd, err = 0;

	fd = ctl_map_open(MIG_MAP_META, BPF_MAP_TYPE_ARRAY, sizeof(key), sizeof(*meta), NULL);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &key, meta)) {
		err = -errno;
		ctl_err("cannot read '%s/%s': %s", ctl.pin_dir, MIG_MAP_META, strerror(errno));
	}
	close(fd);
	return err;
}

int ctl_prometheus(void)
{
	const struct prom_family *fam;
	const struct prom_sample *s;
	__u64 sums[MIG_STAT__MAX], level, used;
	struct ctl_fill fill[CTL_N_FILL];
	struct ctl_flow *flows;
	struct mig_meta meta;
	size_t nflows, i, k;

	if (ctl.json) {
		ctl_err("'stats --prometheus' has no JSON form: leave out -j and -p");
		return CTL_EXIT_USAGE;
	}
	/* Everything is read before anything is printed: a failure leaves
	 * no half-written exposition behind. */
	if (ctl_check_agent() || meta_read(&meta) || ctl_stats_read(sums) ||
	    ctl_flows_load(&flows, &nflows))
		return EXIT_FAILURE;
	free(flows);
	for (i = 0; i < CTL_N_FILL; i++)
		if (ctl_map_fill(ctl_fill_maps[i], &fill[i]))
			return EXIT_FAILURE;

	head("migrate_info", "gauge", "Version of migratectl and ABI version of the agent's state (always 1).");
	printf("migrate_info{version=\"");
	label_value(MIGRATECTL_VERSION);
	printf("\",abi_version=\"%u\"} 1\n", meta.abi_version);

	for (fam = families; fam < families + sizeof(families) / sizeof(families[0]); fam++) {
		head(fam->name, "counter", fam->help);
		for (s = fam->samples; s->label || s == fam->samples; s++) {
			__u64 v = 0;

			for (k = 0; s->stats[k] >= 0; k++)
				v += sums[s->stats[k]];
			sample(fam->name, fam->label, s->label, v);
			if (!fam->label)
				break;
		}
	}

	head("migrate_keyed_flows", "gauge", "Keyed flows in mig_flows now (closed ones not counted).");
	sample("migrate_keyed_flows", NULL, NULL, nflows);

	/* (a pop and its count are not one step: clamp a momentary excess) */
	used = sums[MIG_STAT_POOL_TAKEN] + sums[MIG_STAT_POOL_DRAINED];
	level = sums[MIG_STAT_POOL_PUSHED] > used ? sums[MIG_STAT_POOL_PUSHED] - used : 0;
	head("migrate_key_pool_keys", "gauge", "Public keys ready in the key pool.");
	sample("migrate_key_pool_keys", NULL, NULL, level);
	head("migrate_key_pool_target", "gauge", "Keys the agent keeps in the pool (--pool).");
	sample("migrate_key_pool_target", NULL, NULL, meta.pool_target);

	head("migrate_map_entries", "gauge", "Entries in each connection-state map.");
	for (i = 0; i < CTL_N_FILL; i++)
		if (!fill[i].missing)
			sample("migrate_map_entries", "map", ctl_fill_maps[i], fill[i].entries);
	head("migrate_map_max_entries", "gauge", "Size of each connection-state map.");
	for (i = 0; i < CTL_N_FILL; i++)
		if (!fill[i].missing)
			sample("migrate_map_max_entries", "map", ctl_fill_maps[i], fill[i].max);

	head("migrate_counter_total", "counter", "Every counter of 'migratectl show stats', by name.");
	for (i = 0; i < MIG_STAT__MAX; i++)
		sample("migrate_counter_total", "counter", ctl_stat_names[i], sums[i]);
	return EXIT_SUCCESS;
}
