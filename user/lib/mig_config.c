// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Placeholder parser: accepts only an empty file (comments, blank lines). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mig_config.h"

void mig_config_init(struct mig_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pool = -1;
	cfg->dns.port = 53;
}

int mig_config_load(const char *path, struct mig_config *cfg, char *err, size_t errlen)
{
	char line[1024];
	int n = 0;
	FILE *f;

	(void)cfg;
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");

		n++;
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		snprintf(err, errlen, "%s:%d: not supported yet: '%.*s'", path, n,
			 (int)strcspn(p, "\n"), p);
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	return 0;
}
