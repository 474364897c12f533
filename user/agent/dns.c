// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Placeholder until the DNS worker lands: DNS configured is refused. */
#include <errno.h>
#include <stddef.h>

#include "dns.h"
#include "mig_log.h"

int dns_start(const struct mig_dns_config *cfg, const char *pin_dir,
	      int stats_fd, int ncpus, struct mig_dns **out)
{
	(void)pin_dir;
	(void)stats_fd;
	(void)ncpus;
	*out = NULL;
	if (!cfg->enabled)
		return 0;
	pr_err("DNS updates are not built into this migrate-agent");
	return -EOPNOTSUPP;
}

void dns_addresses_changed(struct mig_dns *d)
{
	(void)d;
}

void dns_stop(struct mig_dns *d)
{
	(void)d;
}
