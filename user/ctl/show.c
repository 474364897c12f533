// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * show.c - "migratectl show [flows]" and the dispatch of "show stats".
 *
 *   LOCAL           REMOTE            STATE        ROLE       TOKEN             COOKIE  AGE  WIRE LOCAL         WIRE REMOTE       MIGR  LAST
 *   192.0.2.1:5000  203.0.113.1:443   ESTABLISHED  initiator  0123456789abcdef  4097    12s  198.51.100.1:5000  203.0.113.1:443   1     3s
 *
 * WIRE LOCAL/REMOTE: where the flow is on the wire ("=" when it never
 * moved); MIGR: migrations; LAST: time since the last one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

enum { COL_LOCAL, COL_REMOTE, COL_STATE, COL_ROLE, COL_TOKEN, COL_COOKIE,
       COL_AGE, COL_WLOCAL, COL_WREMOTE, COL_MIGR, COL_LAST, COL__MAX };

static const char *const col_names[COL__MAX] = {
	"LOCAL", "REMOTE", "STATE", "ROLE", "TOKEN", "COOKIE", "AGE",
	"WIRE LOCAL", "WIRE REMOTE", "MIGR", "LAST",
};

#define CELL_LEN CTL_ENDPOINT_LEN

static void flow_cells(const struct ctl_flow *f, char cells[COL__MAX][CELL_LEN])
{
	char buf[CTL_NAME_LEN];

	ctl_endpoint(&f->t, true, cells[COL_LOCAL]);
	ctl_endpoint(&f->t, false, cells[COL_REMOTE]);
	snprintf(cells[COL_STATE], CELL_LEN, "%s", ctl_state_name(f->state, buf));
	snprintf(cells[COL_ROLE], CELL_LEN, "%s", ctl_role_name(f->role, buf));
	ctl_token_hex(f->token, cells[COL_TOKEN]);
	snprintf(cells[COL_COOKIE], CELL_LEN, "%llu", (unsigned long long)f->cookie);
	snprintf(cells[COL_AGE], CELL_LEN, "%llus", (unsigned long long)f->age_s);
	if (f->migrations) {
		ctl_endpoint(&f->wire, true, cells[COL_WLOCAL]);
		ctl_endpoint(&f->wire, false, cells[COL_WREMOTE]);
		snprintf(cells[COL_LAST], CELL_LEN, "%llus",
			 (unsigned long long)f->migrated_ago_s);
	} else {
		snprintf(cells[COL_WLOCAL], CELL_LEN, "=");
		snprintf(cells[COL_WREMOTE], CELL_LEN, "=");
		snprintf(cells[COL_LAST], CELL_LEN, "-");
	}
	snprintf(cells[COL_MIGR], CELL_LEN, "%u", f->migrations);
}

static void print_row(char cells[COL__MAX][CELL_LEN], const int width[COL__MAX])
{
	int c;

	/* Last column unpadded: no trailing blanks. */
	for (c = 0; c < COL__MAX - 1; c++)
		printf("%-*s  ", width[c], cells[c]);
	printf("%s\n", cells[COL__MAX - 1]);
}

static void flows_human(const struct ctl_flow *flows, size_t n)
{
	char cells[COL__MAX][CELL_LEN];
	int width[COL__MAX], c, len;
	size_t i;

	if (!n) {
		printf("no keyed flows\n");
		return;
	}
	/* Two passes: widths first, so columns line up however long the
	 * IPv6 addresses are. */
	for (c = 0; c < COL__MAX; c++)
		width[c] = (int)strlen(col_names[c]);
	for (i = 0; i < n; i++) {
		flow_cells(&flows[i], cells);
		for (c = 0; c < COL__MAX; c++) {
			len = (int)strlen(cells[c]);
			if (len > width[c])
				width[c] = len;
		}
	}
	for (c = 0; c < COL__MAX; c++)
		snprintf(cells[c], CELL_LEN, "%s", col_names[c]);
	print_row(cells, width);
	for (i = 0; i < n; i++) {
		flow_cells(&flows[i], cells);
		print_row(cells, width);
	}
}

static int show_flows(void)
{
	struct ctl_flow *flows;
	size_t n;

	if (ctl_check_agent() || ctl_flows_load(&flows, &n))
		return EXIT_FAILURE;
	if (ctl.json)
		ctl_flows_json(flows, n);
	else
		flows_human(flows, n);
	free(flows);
	return EXIT_SUCCESS;
}

int cmd_show(int argc, char **argv)
{
	if (argc < 2)
		return show_flows();
	if (!strcmp(argv[1], "flows")) {
		if (argc > 2)
			return ctl_unexpected("show flows", argv[2]);
		return show_flows();
	}
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (!strcmp(argv[1], "dns"))
		return cmd_dns(argc - 1, argv + 1);
	if (!strcmp(argv[1], "maps"))
		return cmd_maps(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		return ctl_unexpected("show", argv[1]);
	ctl_err("unknown object '%s' for 'show': expected 'flows', 'stats', 'dns' or 'maps'", argv[1]);
	return CTL_EXIT_USAGE;
}
