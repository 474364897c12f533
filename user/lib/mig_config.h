/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_config.h - /etc/migrate/agent.conf.  The file is parsed whole into
 * a struct mig_config; any bad or missing value refuses the whole file
 * with its line number, so nothing is ever half applied.  Command-line
 * options given to migrate-agent override the file.
 */
#ifndef MIGRATE_MIG_CONFIG_H
#define MIGRATE_MIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

#define MIG_CONFIG_DEFAULT "/etc/migrate/agent.conf"
#define MIG_CONF_MAX_NAMES 16
#define MIG_CONF_MAX_IFACES 16
#define MIG_DNS_NAME_MAX 255
/* mig_ingress and mig_cand hold twice max_flows (a u32) */
#define MIG_FLOWS_LIMIT (1U << 30)

struct mig_dns_config {
	bool enabled;                       /* a [dns] section was given */
	char zone[MIG_DNS_NAME_MAX + 1];    /* absolute, with trailing dot */
	char names[MIG_CONF_MAX_NAMES][MIG_DNS_NAME_MAX + 1]; /* kept current */
	int n_names;
	char peers[MIG_CONF_MAX_NAMES][MIG_DNS_NAME_MAX + 1]; /* re-resolved */
	int n_peers;
	struct sockaddr_storage server;     /* primary; family 0 = from SOA */
	bool have_server;
	unsigned int port;                  /* default 53 */
	char key_file[4096];
	/* from key_file (BIND format), filled by the parser */
	char key_name[MIG_DNS_NAME_MAX + 1];
	char key_algorithm[64];             /* "hmac-sha256" */
	char key_secret[256];               /* base64, as in the file */
};

struct mig_config {
	char pin_dir[4096];       /* "" = default */
	char cgroup[4096];        /* "" = cgroup v2 root */
	int pool;                 /* -1 = default */
	char ifaces[MIG_CONF_MAX_IFACES][16];
	int n_ifaces;             /* 0 = every interface but lo */
	unsigned int max_flows;   /* 0 = default */
	int xdp;                  /* -1 = not set, 0 = TC, 1 = XDP */
	struct mig_dns_config dns;
};

/* Defaults into cfg. */
void mig_config_init(struct mig_config *cfg);
/* Parse path into cfg (which mig_config_init prepared).  On error returns
 * -errno or -EINVAL and writes one line "PATH:LINE: what is wrong: 'text'"
 * into err; cfg is then left as it was before the call. */
int mig_config_load(const char *path, struct mig_config *cfg, char *err, size_t errlen);
/* The same from len bytes of text (named name in messages).  key_text
 * (key_len bytes): the text of the key file that `key_file` names, which
 * is then not opened (its path is still checked and kept); NULL reads the
 * file, as mig_config_load does. */
int mig_config_parse(const char *name, const char *text, size_t len, const char *key_text,
		     size_t key_len, struct mig_config *cfg, char *err, size_t errlen);
/* When err (from mig_config_load) points at a line of path ("PATH:LINE:
 * ..."), that whole line, quoted as the errors quote, into out: 0, else
 * -ENOENT. */
int mig_config_err_line(const char *path, const char *err, char *out, size_t outlen);
/* Whether two [dns] sections say the same (names in the same order: each
 * name's status entry is its position). */
bool mig_dns_config_equal(const struct mig_dns_config *a, const struct mig_dns_config *b);
/* Whether two interface lists hold the same names, in any order. */
bool mig_ifaces_equal(const char (*a)[16], int na, const char (*b)[16], int nb);

#endif
