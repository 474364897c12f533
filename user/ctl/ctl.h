/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ctl.h - what migratectl's subcommands share: global options, messages,
 * read-only access to the agent's pinned maps, and the flow table.
 *
 * migratectl reads the pinned maps (opened BPF_F_RDONLY), so it works
 * while the agent is down and can never change the data path.  The one
 * command that talks to the agent, "migrate", asks it over its control
 * socket (migrate.c, mig_ctlreq.h); it never writes a map either.
 */
#ifndef MIGRATECTL_CTL_H
#define MIGRATECTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include <migrate/mig_abi.h>

#include "json.h"

#ifndef MIGRATECTL_VERSION
#define MIGRATECTL_VERSION "0.2.0"
#endif

#define CTL_EXIT_USAGE 2

/* Global options, set once by main before a subcommand runs. */
struct ctl_opts {
	const char *pin_dir;   /* where to open the pins */
	const char *pin_name;  /* the same as the user named it (messages) */
	const char *env_err;   /* why the pin directory is not on a bpffs */
	bool json;
	bool pretty;
	bool verbose;
};
extern struct ctl_opts ctl;

/* "migratectl: <msg>" on stderr; in JSON mode also {"error":"<msg>"} on
 * stdout.  Subcommands report an error at most once, before any output. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report an argument a subcommand does not take; returns CTL_EXIT_USAGE. */
int ctl_unexpected(const char *cmd, const char *arg);
/* Only with -v. */
void ctl_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* JSON document on stdout with the global -p setting. */
void ctl_json_begin(struct json *j);

/*
 * Check <pin_dir>/mig_meta: agent state present and of our ABI version.
 * 0 or -errno; the error has been reported.
 */
int ctl_check_agent(void);

/*
 * Open <pin_dir>/<name> read-only and check that it is a map of the given
 * type and key/value sizes.  Returns the fd or -errno (reported); info,
 * if not NULL, receives the map's info.
 */
int ctl_map_open(const char *name, enum bpf_map_type type, __u32 key_size,
		 __u32 value_size, struct bpf_map_info *info);

/* One keyed flow as migratectl shows it (no authenticators). */
struct ctl_flow {
	struct mig_tuple t;
	__u8  token[MIG_TOKEN_LEN];
	__u64 cookie;
	__u64 age_s;
	__u32 peer_reqno;
	__u32 own_reqno;
	__u8  role;
	__u8  state;
	struct mig_tuple wire;   /* where the flow is on the wire now */
	__u32 migrations;
	__u64 migrated_ago_s;    /* meaningful when migrations > 0 */
};

/* All flows of mig_flows, sorted by local then remote endpoint.  0 or
 * -errno (reported); *flows is the caller's to free. */
int ctl_flows_load(struct ctl_flow **flows, size_t *n);

/* Print flows as JSON {"flows":[...]} (shared by show and dump -j). */
void ctl_flows_json(const struct ctl_flow *flows, size_t n);

/* Formatting.  Buffers are the caller's, of the sizes below. */
#define CTL_NAME_LEN 16                        /* "state-255", "family-255" */
#define CTL_ADDR_LEN INET6_ADDRSTRLEN
#define CTL_ENDPOINT_LEN (INET6_ADDRSTRLEN + 8) /* "[addr]:65535" */
#define CTL_TOKEN_LEN (2 * MIG_TOKEN_LEN + 1)

const char *ctl_state_name(__u8 state, char buf[CTL_NAME_LEN]);
const char *ctl_role_name(__u8 role, char buf[CTL_NAME_LEN]);
const char *ctl_family_name(__u8 family, char buf[CTL_NAME_LEN]);
/* Address of the local or remote side, without port or brackets. */
const char *ctl_addr(const struct mig_tuple *t, bool local, char buf[CTL_ADDR_LEN]);
/* Host-order port of the local or remote side. */
unsigned int ctl_port(const struct mig_tuple *t, bool local);
/* "192.0.2.1:5000" or "[2001:db8::1]:443". */
const char *ctl_endpoint(const struct mig_tuple *t, bool local,
			 char buf[CTL_ENDPOINT_LEN]);
const char *ctl_token_hex(const __u8 token[MIG_TOKEN_LEN], char buf[CTL_TOKEN_LEN]);

/* Counter names, index = enum mig_stat (stats.c). */
extern const char *const ctl_stat_names[MIG_STAT__MAX];
/* Sum every counter of mig_stats over the possible CPUs: 0 or -errno
 * (reported). */
int ctl_stats_read(__u64 sums[MIG_STAT__MAX]);

/* The connection-state maps "show maps" lists, and how full one is
 * (fill.c).  A map not pinned is "missing", not an error.  0 or -errno
 * (reported). */
#define CTL_N_FILL 9
extern const char *const ctl_fill_maps[CTL_N_FILL];
struct ctl_fill {
	__u32 entries, max;
	bool missing;
};
int ctl_map_fill(const char *name, struct ctl_fill *f);

/* Subcommands: argv[0] is the subcommand's name; return an exit code. */
int cmd_show(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_dump(int argc, char **argv);
/* "show dns" and "dns" (dns.c) */
int cmd_dns(int argc, char **argv);
/* "show maps" (fill.c) */
int cmd_maps(int argc, char **argv);
/* "stats --prometheus" (prom.c) */
int ctl_prometheus(void);
/* "migrate [FLOW|all]" (migrate.c) */
int cmd_migrate(int argc, char **argv);

#endif
