// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * reload.c - SIGHUP: read the configuration file again and apply it while
 * everything stays attached.
 *
 * The file is parsed into a new struct; a refused file changes nothing
 * (the error names the file and the line and quotes the bad text).  Then
 * each setting is compared with what is in force, and only what changed
 * is applied, each change with one log line:
 *
 *   pool       the key pool's new target (surplus keys are taken out of
 *              the queue and erased; 0 publishes no responder key)
 *   interface  filters come off interfaces that left the set and go on
 *              those that entered it; flows stay in the maps
 *   [dns]      the DNS worker stops and starts again with the new section
 *              (status entries of names kept keep their history)
 *   pin_dir,   need a restart: reported, the old value stays in force
 *   cgroup
 *
 * What the command line set wins over the file, as at start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include <openssl/sha.h>

#include "agent.h"
#include "dns.h"
#include "mig_config.h"
#include "mig_crypto.h"
#include "mig_log.h"
#include "mig_notify.h"

static const char *or_default(const char *v, const char *dflt)
{
	return *v ? v : dflt;
}

/* "eth0 eth1", or what an empty list means. */
static const char *ifaces_str(const char (*l)[16], int n, char *buf, size_t len)
{
	size_t off = 0;
	int i;

	if (!n)
		return "every interface but lo";
	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "", l[i]);
	return buf;
}

static const char *names_str(const char (*l)[MIG_DNS_NAME_MAX + 1], int n, char *buf,
			     size_t len)
{
	size_t off = 0;
	int i;

	if (!n)
		return "none";
	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "", l[i]);
	return buf;
}

/* A key only a restart applies: say so, keep the old value in force (and
 * in the configuration kept, so the next reload says it again). */
static int restart_only(const char *key, const char *opt, bool cli, char *old, char *new,
			size_t size, const char *dflt)
{
	if (!strcmp(old, new))
		return 0;
	if (cli)
		pr_info("reload: %s in the file changed to '%s'; %s on the command line "
			"overrides it", key, or_default(new, dflt), opt);
	else
		pr_warn("reload: %s '%s' -> '%s' needs a restart; '%s' stays in force",
			key, or_default(old, dflt), or_default(new, dflt),
			or_default(old, dflt));
	memcpy(new, old, size);
	return 1;
}

/* The same for a number: the file's old and new values (0 or -1: not
 * set) are compared, not what is in force, which a pinned map's size may
 * have decided. */
static int restart_only_num(const char *key, const char *opt, bool cli, long old,
			    long new, const char *in_force, const char *wanted)
{
	if (old == new)
		return 0;
	if (cli)
		pr_info("reload: %s in the file changed to %s; %s on the command line "
			"overrides it", key, wanted, opt);
	else
		pr_warn("reload: %s %s -> %s needs a restart; %s stays in force", key,
			in_force, wanted, in_force);
	return 1;
}

static void meta_pool(struct agent *a)
{
	struct mig_meta meta;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(a->meta_fd, &zero, &meta)) {
		pr_warn("cannot read %s: %s", MIG_MAP_META, strerror(errno));
		return;
	}
	meta.pool_target = a->pool_target;
	if (bpf_map_update_elem(a->meta_fd, &zero, &meta, BPF_ANY))
		pr_warn("cannot write %s: %s", MIG_MAP_META, strerror(errno));
}

static int reload_pool(struct agent *a, const struct mig_config *n)
{
	unsigned int want = n->pool >= 0 ? (unsigned int)n->pool : POOL_DEFAULT;

	if (a->cli.pool) {
		if (want != a->pool_target && n->pool >= 0)
			pr_info("reload: pool in the file is %u; --pool %u on the command "
				"line overrides it", want, a->pool_target);
		return 0;
	}
	if (want == a->pool_target)
		return 0;
	pr_info("reload: pool %u -> %u keys", a->pool_target, want);
	a->pool_target = want;
	pool_set_target(a, want);
	pool_refill(a);
	meta_pool(a);
	return 1;
}

static int reload_ifaces(struct agent *a, const struct mig_config *n)
{
	char was[MIG_CONF_MAX_IFACES * 17], now[MIG_CONF_MAX_IFACES * 17];
	int i;

	if (a->cli.ifaces) {
		if (n->n_ifaces && !mig_ifaces_equal((const char (*)[16])a->ifaces,
						     a->n_ifaces, n->ifaces, n->n_ifaces))
			pr_info("reload: interfaces in the file changed; --iface on the "
				"command line overrides them");
		return 0;
	}
	if (mig_ifaces_equal((const char (*)[16])a->ifaces, a->n_ifaces, n->ifaces,
			     n->n_ifaces))
		return 0;
	pr_info("reload: interfaces '%s' -> '%s'",
		ifaces_str((const char (*)[16])a->ifaces, a->n_ifaces, was, sizeof(was)),
		ifaces_str(n->ifaces, n->n_ifaces, now, sizeof(now)));
	for (i = 0; i < n->n_ifaces; i++)
		memcpy(a->ifaces[i], n->ifaces[i], sizeof(a->ifaces[i]));
	a->n_ifaces = n->n_ifaces;
	dp_release_unserved(a);
	dp_attach_all(a);
	return 1;
}

static void dns_changes(const struct mig_dns_config *o, const struct mig_dns_config *n,
			bool secret_changed)
{
	char was[MIG_CONF_MAX_NAMES * (MIG_DNS_NAME_MAX + 2)];
	char now[MIG_CONF_MAX_NAMES * (MIG_DNS_NAME_MAX + 2)];

	if (!o->enabled || !n->enabled) {
		pr_info("reload: [dns] %s", n->enabled ? "added" : "removed");
		return;
	}
	if (strcmp(o->zone, n->zone))
		pr_info("reload: dns zone %s -> %s", o->zone, n->zone);
	if (strcmp(names_str(o->names, o->n_names, was, sizeof(was)),
		   names_str(n->names, n->n_names, now, sizeof(now))))
		pr_info("reload: dns names '%s' -> '%s'", was, now);
	if (strcmp(names_str(o->peers, o->n_peers, was, sizeof(was)),
		   names_str(n->peers, n->n_peers, now, sizeof(now))))
		pr_info("reload: dns peers '%s' -> '%s'", was, now);
	if (o->have_server != n->have_server || o->port != n->port ||
	    memcmp(&o->server, &n->server, sizeof(o->server)))
		pr_info("reload: dns server or port changed");
	/* never the secret itself: logs are read by others */
	if (strcmp(o->key_file, n->key_file) || strcmp(o->key_name, n->key_name) ||
	    secret_changed)
		pr_info("reload: dns key changed (key %s from '%s')", n->key_name, n->key_file);
}

void dns_key_digest(const char *secret, unsigned char out[32])
{
	SHA256((const unsigned char *)secret, strlen(secret), out);
}

static int reload_dns(struct agent *a, struct mig_config *n)
{
	struct mig_dns_config *o = &a->cfg->dns;
	struct mig_dns *d = NULL;
	unsigned char dg[32];
	size_t i;
	bool same;

	/* the secret in force was erased here: the same secret is the one
	 * whose digest we kept */
	dns_key_digest(n->dns.key_secret, dg);
	if (!memcmp(dg, a->dns_key_digest, sizeof(dg)))
		memcpy(o->key_secret, n->dns.key_secret, sizeof(o->key_secret));
	same = mig_dns_config_equal(o, &n->dns);
	explicit_bzero(o->key_secret, sizeof(o->key_secret));
	if (same) {
		explicit_bzero(n->dns.key_secret, sizeof(n->dns.key_secret));
		return 0;
	}
	dns_changes(o, &n->dns, memcmp(dg, a->dns_key_digest, sizeof(dg)) != 0);
	/* a new worker (fork and exec: none of our memory goes with it),
	 * then the old one stops; if the new one cannot start, the old one
	 * stays, with the old section */
	if (dns_fork(&n->dns, &d) ||
	    dns_start(d, &n->dns, a->pin_dir, a->stats_fd, a->ncpus)) {
		dns_stop(d);
		pr_err("reload: the new [dns] cannot start; the old one stays in force");
		n->dns = *o;
		return 0;
	}
	dns_stop(a->dns);
	a->dns = d;
	memcpy(a->dns_key_digest, dg, sizeof(dg));
	explicit_bzero(n->dns.key_secret, sizeof(n->dns.key_secret));
	/* lookups asked of the old worker count generations that restart */
	for (i = 0; i < a->n_moves; i++)
		a->moves[i].dns_asked = false;
	return 1;
}

int agent_reload(struct agent *a)
{
	const char *path = a->config_path;
	struct mig_config *n;
	char err[512], cur[32], want[48];
	int changed = 0, e;

	if ((e = mig_notify_reloading()) < 0)
		pr_debug("cannot tell the service manager: %s", strerror(-e));
	if (!path && access(MIG_CONFIG_DEFAULT, F_OK) == 0)
		path = MIG_CONFIG_DEFAULT;
	if (!path) {
		pr_info("reload: no configuration file ('%s' does not exist): nothing to do",
			MIG_CONFIG_DEFAULT);
		goto ready;
	}
	n = malloc(sizeof(*n));
	if (!n) {
		pr_err("reload: out of memory; the configuration in force stays");
		goto ready;
	}
	mig_config_init(n);
	if (mig_config_load(path, n, err, sizeof(err))) {
		char line[96];

		if (mig_config_err_line(path, err, line, sizeof(line)))
			pr_err("reload refused, the configuration in force stays: %s", err);
		else
			pr_err("reload refused, the configuration in force stays: %s (the line: '%s')",
			       err, line);
		goto out;
	}
	pr_info("reload: read '%s'", path);
	changed += restart_only("pin_dir", "--pin-dir", a->cli.pin_dir, a->cfg->pin_dir,
				n->pin_dir, sizeof(n->pin_dir), MIG_PIN_DIR_DEFAULT);
	changed += restart_only("cgroup", "--cgroup", a->cli.cgroup, a->cfg->cgroup,
				n->cgroup, sizeof(n->cgroup), "the cgroup v2 root");
	snprintf(cur, sizeof(cur), "%u", a->max_flows);
	snprintf(want, sizeof(want), n->max_flows ? "%u" : "%u (the default)",
		 n->max_flows ? n->max_flows : MIG_MAX_FLOWS);
	changed += restart_only_num("max_flows", "--max-flows", a->cli.max_flows,
				    a->cfg->max_flows, n->max_flows, cur, want);
	changed += restart_only_num("xdp", "--xdp", a->cli.xdp, a->cfg->xdp, n->xdp,
				    a->xdp ? "yes" : "no", n->xdp == 1 ? "yes" : "no");
	/* kept as they were: the next reload compares with these again */
	n->max_flows = a->cfg->max_flows;
	n->xdp = a->cfg->xdp;
	changed += reload_pool(a, n);
	changed += reload_ifaces(a, n);
	changed += reload_dns(a, n);
	if (!changed)
		pr_info("reload: no change");
	*a->cfg = *n;
	pr_info("reload: done; %u keys in the pool", a->pool_target);
out:
	mig_wipe(n, sizeof(*n));
	free(n);
ready:
	if ((e = mig_notify("READY=1")) < 0)
		pr_debug("cannot tell the service manager: %s", strerror(-e));
	return 0;
}
