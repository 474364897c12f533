// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * dump.c - "migratectl dump": the keyed flows for scripts, as "wg show
 * dump" does it: one flow per line, tab-separated, no header, in the
 * order of "show".  Fields (new ones are only ever appended):
 *
 *   family  local-addr  local-port  remote-addr  remote-port  state  role
 *   token  cookie
 *
 * With -j the output is that of "show -j".
 */
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"

static void flows_dump(const struct ctl_flow *flows, size_t n)
{
	char fam[CTL_NAME_LEN], state[CTL_NAME_LEN], role[CTL_NAME_LEN];
	char laddr[CTL_ADDR_LEN], raddr[CTL_ADDR_LEN], token[CTL_TOKEN_LEN];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct ctl_flow *f = &flows[i];

		printf("%s\t%s\t%u\t%s\t%u\t%s\t%s\t%s\t%llu\n",
		       ctl_family_name(f->t.family, fam),
		       ctl_addr(&f->t, true, laddr), ctl_port(&f->t, true),
		       ctl_addr(&f->t, false, raddr), ctl_port(&f->t, false),
		       ctl_state_name(f->state, state),
		       ctl_role_name(f->role, role),
		       ctl_token_hex(f->token, token),
		       (unsigned long long)f->cookie);
	}
}

int cmd_dump(int argc, char **argv)
{
	struct ctl_flow *flows;
	size_t n;

	if (argc > 1)
		return ctl_unexpected(argv[0], argv[1]);
	if (ctl_check_agent() || ctl_flows_load(&flows, &n))
		return EXIT_FAILURE;
	if (ctl.json)
		ctl_flows_json(flows, n);
	else
		flows_dump(flows, n);
	free(flows);
	return EXIT_SUCCESS;
}
