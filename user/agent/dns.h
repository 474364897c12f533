/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * dns.h - keeping this host's names current in DNS (RFC 2136 UPDATE with
 * TSIG, TTL 0) and looking peers' names up again.  Runs in a process of
 * its own without privileges (it parses replies from the network), forked
 * before any key exists: a DNS failure never blocks or delays a migration,
 * and a DNS reply never meets a flow key.
 */
#ifndef MIGRATE_AGENT_DNS_H
#define MIGRATE_AGENT_DNS_H

#include <stdint.h>

#include "mig_config.h"

struct mig_dns;

/* Fork the DNS worker if cfg->enabled (else *out = NULL, returns 0): call
 * before any key is made or loaded.  The worker waits for dns_start. */
int dns_fork(const struct mig_dns_config *cfg, struct mig_dns **out);
/* The worker's main() (migrate-agent --dns-worker, socket on fd 3): the
 * worker runs in a fresh image of the program, fork + exec. */
int dns_worker_exec(void);
/* Open (or create) the pinned status map mig_dns under pin_dir, hand the
 * names' previous status to the worker and let it start.  Counters go to
 * stats_fd (CPU 0's slots).  With [dns] not configured, removes an old
 * status map and returns 0. */
int dns_start(struct mig_dns *d, const struct mig_dns_config *cfg, const char *pin_dir,
	      int stats_fd, int ncpus);
/* The agent's end of the socketpair (poll it for input), or -1. */
int dns_fd(struct mig_dns *d);
/* Take the worker's messages: 0, or -1 once it is gone (stop polling). */
int dns_read(struct mig_dns *d);
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
