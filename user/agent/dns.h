/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * dns.h - keeping this host's names current in DNS (RFC 2136 UPDATE with
 * TSIG, TTL 0) and looking peers' names up again.  Runs in its own thread:
 * a DNS failure never blocks or delays a migration.
 */
#ifndef MIGRATE_AGENT_DNS_H
#define MIGRATE_AGENT_DNS_H

#include <stdint.h>

#include "mig_config.h"

struct mig_dns;

/* Start the DNS worker if cfg->enabled (else *out = NULL, returns 0).
 * stats_fd: the pinned mig_stats map (the worker adds its counters to
 * CPU 0's slots with the same read-add-write as the agent's stat_add; the
 * agent guards that with mig_stats_lock()).  pin_dir: where the worker
 * pins its status map for `migratectl show dns`. */
int dns_start(const struct mig_dns_config *cfg, const char *pin_dir,
	      int stats_fd, int ncpus, struct mig_dns **out);
/* The host's addresses changed: publish them again (non-blocking). */
void dns_addresses_changed(struct mig_dns *d);
/* An address of a configured peer name, as last looked up. */
#define MIG_DNS_MAX_PEER_ADDRS 32
struct mig_peer_addr {
	int family;
	uint32_t addr[4];
	int name;                /* index of the peer name in the configuration */
};
/* Ask the worker to look the peer names up again (non-blocking). */
void dns_resolve_peers(struct mig_dns *d);
/* The addresses of the last lookup; *gen changes with every lookup. */
int dns_peer_addrs(struct mig_dns *d, uint64_t *gen, struct mig_peer_addr *out, int max);
/* The same, limited to the peer names that ever resolved to addr (the
 * names that belong to a flow whose peer was at addr). */
int dns_peer_addrs_of(struct mig_dns *d, int family, const uint32_t *addr, uint64_t *gen,
		      struct mig_peer_addr *out, int max);

/* Stop the worker and free everything (NULL is fine). */
void dns_stop(struct mig_dns *d);

#endif
