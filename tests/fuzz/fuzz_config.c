// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_config.c - the configuration parser (user/lib/mig_config.c) through
 * mig_config_parse.  The input is the configuration text, then (after the
 * first NUL byte, if any) the text of the TSIG key file that `key_file`
 * names: no file is opened.
 *
 * Checked: a refused file leaves the caller's struct exactly as it was and
 * says why in one line that names the file; an accepted one holds only
 * terminated strings and counts within their bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <migrate/mig_abi.h>
#include "mig_config.h"

#define FUZZ_ASSERT(c)                                                          \
	do {                                                                    \
		if (!(c)) {                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n",        \
				__FILE__, __LINE__, #c);                        \
			abort();                                                \
		}                                                               \
	} while (0)

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mig_config cfg, before;
	const char *text = (const char *)data, *key = NULL;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t tlen = size, klen = 0;
	char err[512];
	int e, i;

	if (nul) {
		tlen = (size_t)(nul - data);
		key = text + tlen + 1;
		klen = size - tlen - 1;
	} else {
		key = "";
	}
	/* something not the defaults, to see that a refusal keeps it */
	mig_config_init(&cfg);
	cfg.pool = 7;
	snprintf(cfg.pin_dir, sizeof(cfg.pin_dir), "/before");
	memcpy(&before, &cfg, sizeof(cfg));
	memset(err, 0x55, sizeof(err));
	err[sizeof(err) - 1] = '\0';

	e = mig_config_parse("fuzz.conf", text, tlen, key, klen, &cfg, err, sizeof(err));
	if (e) {
		FUZZ_ASSERT(e < 0);
		FUZZ_ASSERT(!memcmp(&cfg, &before, sizeof(cfg)));
		FUZZ_ASSERT(TERMINATED(err) && err[0] != '\0');
		FUZZ_ASSERT(!strchr(err, '\n'));
		return 0;
	}
	FUZZ_ASSERT(TERMINATED(cfg.pin_dir) && TERMINATED(cfg.cgroup));
	FUZZ_ASSERT(cfg.pool >= -1 && cfg.pool <= MIG_POOL_MAX);
	FUZZ_ASSERT(cfg.n_ifaces >= 0 && cfg.n_ifaces <= MIG_CONF_MAX_IFACES);
	for (i = 0; i < cfg.n_ifaces; i++)
		FUZZ_ASSERT(TERMINATED(cfg.ifaces[i]) && cfg.ifaces[i][0]);
	FUZZ_ASSERT(cfg.dns.n_names >= 0 && cfg.dns.n_names <= MIG_CONF_MAX_NAMES);
	FUZZ_ASSERT(cfg.dns.n_peers >= 0 && cfg.dns.n_peers <= MIG_CONF_MAX_NAMES);
	for (i = 0; i < cfg.dns.n_names; i++)
		FUZZ_ASSERT(TERMINATED(cfg.dns.names[i]));
	for (i = 0; i < cfg.dns.n_peers; i++)
		FUZZ_ASSERT(TERMINATED(cfg.dns.peers[i]));
	FUZZ_ASSERT(TERMINATED(cfg.dns.zone) && TERMINATED(cfg.dns.key_file));
	FUZZ_ASSERT(TERMINATED(cfg.dns.key_name) && TERMINATED(cfg.dns.key_secret));
	FUZZ_ASSERT(TERMINATED(cfg.dns.key_algorithm));
	FUZZ_ASSERT(cfg.dns.port >= 1 && cfg.dns.port <= 65535);
	if (cfg.dns.enabled)
		FUZZ_ASSERT(cfg.dns.zone[0] && cfg.dns.n_names > 0 && cfg.dns.key_secret[0]);
	return 0;
}
