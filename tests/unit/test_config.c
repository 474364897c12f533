// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_config.c - the agent.conf parser and the TSIG key-file parser
 * (user/lib/mig_config.c, man/migrate-agent.conf.5): every value it takes,
 * every refusal with its line number and quoted text, and the rule that a
 * refused file leaves the caller's struct exactly as it was.
 *
 * Files are written into a fresh directory under $TMPDIR, removed at exit.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "mig_config.h"
#include "unit.h"

/* A key as tsig-keygen -a hmac-sha256 writes it (this secret is only a
 * test value). */
#define SECRET "q2YTNmHmFPvJkN0nGmGx4yL5jUBLNRnTd+7FoTzVzZ8="
#define KEY_OK                                     \
	"key \"tsig-key\" {\n"                     \
	"\talgorithm hmac-sha256;\n"               \
	"\tsecret \"" SECRET "\";\n"               \
	"};\n"

static char dir[256];
static char keypath[300];
static char confpath[300];
static int nfile;

__attribute__((constructor)) static void setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/mig-test-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
}

__attribute__((destructor)) static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* Write len bytes to a new file in dir; its path into out. */
static void write_bytes(char *out, size_t outlen, const char *base, const char *data, size_t len)
{
	FILE *f;

	snprintf(out, outlen, "%s/%s-%d", dir, base, nfile++);
	f = fopen(out, "w");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		perror(out);
		exit(1);
	}
}

static void write_key(const char *text)
{
	write_bytes(keypath, sizeof(keypath), "key", text, strlen(text));
}

/* The config text: every "@KEY@" becomes the current key file's path. */
static void write_conf(const char *text)
{
	char buf[64 * 1024];
	const char *p = text, *at;
	size_t n = 0;

	while ((at = strstr(p, "@KEY@"))) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%.*s%s", (int)(at - p), p, keypath);
		p = at + 5;
	}
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", p);
	write_bytes(confpath, sizeof(confpath), "agent.conf", buf, n);
}

/* Load text (with the standard key file unless one was written since) into
 * a freshly initialised cfg; err gets the message. */
static int load(const char *text, struct mig_config *cfg, char *err, size_t errlen)
{
	write_conf(text);
	mig_config_init(cfg);
	err[0] = '\0';
	return mig_config_load(confpath, cfg, err, errlen);
}

/* "CONFPATH:LINE: " + rest must be the whole message. */
static bool msg_is(const char *err, const char *file, int line, const char *rest)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s:%d: %s", file, line, rest);
	if (strcmp(err, want)) {
		fprintf(stderr, "  message: %s\n  wanted:  %s\n", err, want);
		return false;
	}
	return true;
}

/* Refused with exactly "CONFPATH:LINE: rest", and cfg untouched. */
#define REFUSE(text, line, rest)                                               \
	do {                                                                    \
		struct mig_config c_, before_;                                  \
		char e_[512];                                                   \
		int r_;                                                         \
		write_conf(text);                                               \
		mig_config_init(&c_);                                           \
		memcpy(&before_, &c_, sizeof(c_));                              \
		r_ = mig_config_load(confpath, &c_, e_, sizeof(e_));            \
		CHECK(r_ == -EINVAL, "returned %d for %s", r_, #text);          \
		CHECK(msg_is(e_, confpath, line, rest), "message of %s", #text); \
		CHECK(!strchr(e_, '\n'), "one line: %s", e_);                   \
		CHECK(!memcmp(&c_, &before_, sizeof(c_)), "cfg changed by %s", #text); \
	} while (0)

/* As REFUSE, but the message is located in the key file, and never shows
 * the secret. */
#define REFUSE_KEY(keytext, line, rest)                                        \
	do {                                                                    \
		struct mig_config c_, before_;                                  \
		char e_[512];                                                   \
		int r_;                                                         \
		write_key(keytext);                                             \
		write_conf(DNS_MIN);                                            \
		mig_config_init(&c_);                                           \
		memcpy(&before_, &c_, sizeof(c_));                              \
		r_ = mig_config_load(confpath, &c_, e_, sizeof(e_));            \
		CHECK(r_ == -EINVAL, "returned %d for %s", r_, #keytext);       \
		CHECK(msg_is(e_, keypath, line, rest), "message of %s", #keytext); \
		CHECK(!strstr(e_, SECRET), "secret leaked: %s", e_);            \
		CHECK(!memcmp(&c_, &before_, sizeof(c_)), "cfg changed by %s", #keytext); \
	} while (0)

#define DNS_MIN                             \
	"[dns]\n"                           \
	"zone = example.test.\n"            \
	"name = host.example.test.\n"       \
	"key_file = @KEY@\n"

static void std_key(void)
{
	write_key(KEY_OK);
}

/* ---------------------------------------------------------------------- */

TEST(full_example)
{
	struct mig_config c;
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.dns.server;
	char e[512];
	int r;

	std_key();
	r = load("# comment\n"
		 "pin_dir = /sys/fs/bpf/migrate\n"
		 "cgroup = /sys/fs/cgroup\n"
		 "pool = 64\n"
		 "interface = eth0          # repeatable\n"
		 "interface = wlan0\n"
		 "\n"
		 "[dns]\n"
		 "zone = Example.TEST.\n"
		 "name = host.example.test.        # repeatable: names this host keeps current\n"
		 "name = WWW.Example.Test\n"
		 "server = 192.0.2.53              # optional\n"
		 "port = 5353\n"
		 "key_file = @KEY@ # BIND key-file format\n"
		 "peer = server.example.test.      # repeatable\n"
		 "peer = other.example.org\n",
		 &c, e, sizeof(e));
	CHECK(r == 0, "load: %d %s", r, e);
	CHECK(!strcmp(c.pin_dir, "/sys/fs/bpf/migrate"), "pin_dir %s", c.pin_dir);
	CHECK(!strcmp(c.cgroup, "/sys/fs/cgroup"), "cgroup %s", c.cgroup);
	CHECK(c.pool == 64, "pool %d", c.pool);
	CHECK(c.n_ifaces == 2 && !strcmp(c.ifaces[0], "eth0") && !strcmp(c.ifaces[1], "wlan0"),
	      "ifaces %d", c.n_ifaces);
	CHECK(c.dns.enabled, "dns enabled");
	CHECK(!strcmp(c.dns.zone, "example.test."), "zone %s", c.dns.zone);
	CHECK(c.dns.n_names == 2, "n_names %d", c.dns.n_names);
	CHECK(!strcmp(c.dns.names[0], "host.example.test."), "name0 %s", c.dns.names[0]);
	CHECK(!strcmp(c.dns.names[1], "www.example.test."), "name1 %s", c.dns.names[1]);
	CHECK(c.dns.have_server && sin->sin_family == AF_INET &&
	      sin->sin_addr.s_addr == htonl(0xc0000235), "server");
	CHECK(c.dns.port == 5353, "port %u", c.dns.port);
	CHECK(!strcmp(c.dns.key_file, keypath), "key_file %s", c.dns.key_file);
	CHECK(!strcmp(c.dns.key_name, "tsig-key."), "key_name %s", c.dns.key_name);
	CHECK(!strcmp(c.dns.key_algorithm, "hmac-sha256"), "alg %s", c.dns.key_algorithm);
	CHECK(!strcmp(c.dns.key_secret, SECRET), "secret");
	CHECK(c.dns.n_peers == 2 && !strcmp(c.dns.peers[0], "server.example.test.") &&
	      !strcmp(c.dns.peers[1], "other.example.org."), "peers");
}

TEST(empty_and_comments_give_defaults)
{
	struct mig_config c, def;
	char e[512];

	mig_config_init(&def);
	CHECK(load("", &c, e, sizeof(e)) == 0, "empty: %s", e);
	CHECK(!memcmp(&c, &def, sizeof(c)), "empty file = defaults");
	CHECK(load("# only a comment\n\n   \t\n  # indented\n", &c, e, sizeof(e)) == 0, "%s", e);
	CHECK(!memcmp(&c, &def, sizeof(c)), "comments = defaults");
	CHECK(c.pool == -1 && c.dns.port == 53 && !c.dns.enabled, "defaults");
}

TEST(spacing_crlf_and_no_final_newline)
{
	struct mig_config c;
	char e[512];

	std_key();
	CHECK(load("pool=7\r\n\tinterface\t=\teth1\t\r\n[dns]\r\nzone=example.test\r\n"
		   "name=example.test\r\nkey_file=@KEY@", &c, e, sizeof(e)) == 0, "%s", e);
	CHECK(c.pool == 7 && c.n_ifaces == 1 && !strcmp(c.ifaces[0], "eth1"), "values");
	/* the zone's apex is a name inside the zone */
	CHECK(!strcmp(c.dns.names[0], "example.test."), "apex %s", c.dns.names[0]);
	CHECK(!c.dns.have_server && c.dns.port == 53, "no server, port 53");
}

TEST(ipv6_server_and_bounds)
{
	struct mig_config c;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c.dns.server;
	struct in6_addr want;
	char e[512];

	std_key();
	inet_pton(AF_INET6, "2001:db8::53", &want);
	CHECK(load("pool = 0\n" DNS_MIN "server = 2001:DB8::53\nport = 65535\n", &c, e,
		   sizeof(e)) == 0, "%s", e);
	CHECK(c.pool == 0, "pool 0");
	CHECK(c.dns.have_server && sin6->sin6_family == AF_INET6 &&
	      !memcmp(&sin6->sin6_addr, &want, 16), "v6 server");
	CHECK(c.dns.port == 65535, "port");
	CHECK(load("pool = 1024\n" DNS_MIN "port = 1\n", &c, e, sizeof(e)) == 0, "%s", e);
	CHECK(c.pool == 1024 && c.dns.port == 1, "upper pool, lower port");
	CHECK(load("pool = 0064\n", &c, e, sizeof(e)) == 0 && c.pool == 64, "leading zeros");
}

TEST(names_at_the_limits)
{
	struct mig_config c;
	char text[4096], label63[64], name[300], e[512];
	int n;

	std_key();
	memset(label63, 'a', 63);
	label63[63] = '\0';
	/* 63-character label; a 253-character name: 3 labels of 63 and one
	 * of 57, plus the zone */
	snprintf(name, sizeof(name), "%s.%s.%s.%.*s.example.test", label63, label63, label63,
		 253 - 3 * 64 - 13, label63);
	CHECK(strlen(name) == 253, "built %zu", strlen(name));
	n = snprintf(text, sizeof(text), "[dns]\nzone = example.test.\nname = %s\n"
		     "name = %s.example.test.\nname = x-1.9.example.test\nkey_file = @KEY@\n",
		     name, label63);
	CHECK(n > 0 && load(text, &c, e, sizeof(e)) == 0, "%s", e);
	CHECK(c.dns.n_names == 3 && strlen(c.dns.names[0]) == 254, "absolute 254");
	CHECK(!strcmp(c.dns.names[2], "x-1.9.example.test."), "digits and hyphen");
}

TEST(max_entries_accepted)
{
	struct mig_config c;
	char text[8192], e[512];
	size_t n = 0;
	int i;

	std_key();
	for (i = 0; i < MIG_CONF_MAX_IFACES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "interface = eth%d\n", i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "[dns]\nzone = example.test\nkey_file = @KEY@\n");
	for (i = 0; i < MIG_CONF_MAX_NAMES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "name = h%d.example.test\npeer = p%d.example.org\n", i, i);
	CHECK(load(text, &c, e, sizeof(e)) == 0, "%s", e);
	CHECK(c.n_ifaces == MIG_CONF_MAX_IFACES && c.dns.n_names == MIG_CONF_MAX_NAMES &&
	      c.dns.n_peers == MIG_CONF_MAX_NAMES, "counts");
}

TEST(line_length)
{
	struct mig_config c;
	char text[1100], e[512];
	char quoted[200];
	int n;

	/* the message quotes the first 80 characters */
	snprintf(quoted, sizeof(quoted), "line longer than 1023 characters: '#%.79s...'",
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	/* line 2 holds '#' and 1022 'x': 1023 characters */
	n = snprintf(text, sizeof(text), "pool=1\n#");
	memset(text + n, 'x', 1022);
	strcpy(text + n + 1022, "\n");
	CHECK(load(text, &c, e, sizeof(e)) == 0 && c.pool == 1, "1023: %s", e);
	text[n + 1022] = '\0';
	CHECK(load(text, &c, e, sizeof(e)) == 0, "1023 at EOF: %s", e);
	strcpy(text + n + 1022, "\r\n");
	CHECK(load(text, &c, e, sizeof(e)) == 0, "1023 and CRLF: %s", e);
	/* 1024: refused, with or without the newline */
	strcpy(text + n + 1022, "y\n");
	REFUSE(text, 2, quoted);
	text[n + 1023] = '\0';
	REFUSE(text, 2, quoted);
	strcpy(text + n + 1022, "yyyy\npool=2\n");
	REFUSE(text, 2, quoted);
}

TEST(syntax_errors)
{
	std_key();
	REFUSE("pool = 1\njust some words\n", 2, "expected 'key = value' or '[dns]': 'just some words'");
	REFUSE("= 5\n", 1, "expected 'key = value' or '[dns]': '= 5'");
	REFUSE("pool 5\n", 1, "expected 'key = value' or '[dns]': 'pool 5'");
	REFUSE("pool =\n", 1, "missing value: 'pool'");
	REFUSE("pool =   # nothing\n", 1, "missing value: 'pool'");
	REFUSE("[dns\n", 1, "unknown section (the only section is [dns]): '[dns'");
	REFUSE("\n[global]\n", 2, "unknown section (the only section is [dns]): '[global]'");
	REFUSE("[DNS]\n", 1, "unknown section (the only section is [dns]): '[DNS]'");
	REFUSE(DNS_MIN "[dns]\n", 5, "duplicate section (first on line 1): '[dns]'");
	REFUSE("pool = 1\x01\n", 1, "invalid pool size (a number from 0 to 1024): '1?'");
}

TEST(nul_byte_refused)
{
	struct mig_config c, before;
	char e[512];
	int r;

	write_bytes(confpath, sizeof(confpath), "nul.conf", "pool = 1\npo\0ol = 2\n", 19);
	mig_config_init(&c);
	memcpy(&before, &c, sizeof(c));
	r = mig_config_load(confpath, &c, e, sizeof(e));
	CHECK(r == -EINVAL, "r %d", r);
	CHECK(msg_is(e, confpath, 2, "NUL byte in line: not a text file: 'po'"), "msg");
	CHECK(!memcmp(&c, &before, sizeof(c)), "untouched");
}

TEST(unknown_and_misplaced_keys)
{
	std_key();
	REFUSE("pool = 1\npools = 2\n", 2,
	       "unknown key (pin_dir, cgroup, pool, interface, max_flows, xdp; the rest goes in [dns]): 'pools'");
	REFUSE("Pool = 2\n", 1,
	       "unknown key (pin_dir, cgroup, pool, interface, max_flows, xdp; the rest goes in [dns]): 'Pool'");
	REFUSE(DNS_MIN "ttl = 0\n", 5,
	       "unknown key in [dns] (zone, name, server, port, key_file, peer): 'ttl'");
	REFUSE("zone = example.test\n", 1, "key belongs in the [dns] section: 'zone'");
	REFUSE(DNS_MIN "pool = 3\n", 5, "key belongs before the [dns] section: 'pool'");
}

TEST(duplicates)
{
	std_key();
	REFUSE("pool = 1\n\npool = 1\n", 3, "duplicate key (first set on line 1): 'pool'");
	REFUSE("pin_dir = /a\npin_dir = /b\n", 2, "duplicate key (first set on line 1): 'pin_dir'");
	REFUSE("cgroup = /a\ncgroup = /a\n", 2, "duplicate key (first set on line 1): 'cgroup'");
	REFUSE(DNS_MIN "zone = example.test\n", 5, "duplicate key (first set on line 2): 'zone'");
	REFUSE(DNS_MIN "server = 192.0.2.1\nserver = 192.0.2.2\n", 6,
	       "duplicate key (first set on line 5): 'server'");
	REFUSE(DNS_MIN "port = 53\nport = 53\n", 6, "duplicate key (first set on line 5): 'port'");
	REFUSE(DNS_MIN "key_file = @KEY@\n", 5, "duplicate key (first set on line 4): 'key_file'");
	REFUSE("interface = eth0\ninterface = eth0\n", 2, "interface listed twice: 'eth0'");
	REFUSE(DNS_MIN "name = HOST.example.test\n", 5, "name listed twice: 'HOST.example.test'");
	REFUSE(DNS_MIN "peer = a.example.org\npeer = a.example.org.\n", 6,
	       "peer listed twice: 'a.example.org.'");
}

TEST(bad_numbers)
{
	std_key();
	REFUSE("pool = abc\n", 1, "invalid pool size (a number from 0 to 1024): 'abc'");
	REFUSE("pool = -1\n", 1, "invalid pool size (a number from 0 to 1024): '-1'");
	REFUSE("pool = +1\n", 1, "invalid pool size (a number from 0 to 1024): '+1'");
	REFUSE("pool = 1025\n", 1, "invalid pool size (a number from 0 to 1024): '1025'");
	REFUSE("pool = 64k\n", 1, "invalid pool size (a number from 0 to 1024): '64k'");
	REFUSE("pool = 0x10\n", 1, "invalid pool size (a number from 0 to 1024): '0x10'");
	REFUSE("pool = 6 4\n", 1, "invalid pool size (a number from 0 to 1024): '6 4'");
	REFUSE("pool = 99999999999999999999999\n", 1,
	       "invalid pool size (a number from 0 to 1024): '99999999999999999999999'");
	REFUSE(DNS_MIN "port = 0\n", 5, "invalid port (a number from 1 to 65535): '0'");
	REFUSE(DNS_MIN "port = 65536\n", 5, "invalid port (a number from 1 to 65535): '65536'");
	REFUSE(DNS_MIN "port = domain\n", 5, "invalid port (a number from 1 to 65535): 'domain'");
}

TEST(bad_addresses)
{
	std_key();
	REFUSE(DNS_MIN "server = ns.example.test\n", 5,
	       "invalid server address (an IPv4 or IPv6 address, no name or port): 'ns.example.test'");
	REFUSE(DNS_MIN "server = 192.0.2.300\n", 5,
	       "invalid server address (an IPv4 or IPv6 address, no name or port): '192.0.2.300'");
	REFUSE(DNS_MIN "server = 192.0.2.1:53\n", 5,
	       "invalid server address (an IPv4 or IPv6 address, no name or port): '192.0.2.1:53'");
	REFUSE(DNS_MIN "server = [2001:db8::1]\n", 5,
	       "invalid server address (an IPv4 or IPv6 address, no name or port): '[2001:db8::1]'");
	REFUSE(DNS_MIN "server = 2001:db8::1%eth0\n", 5,
	       "invalid server address (an IPv4 or IPv6 address, no name or port): '2001:db8::1%eth0'");
}

TEST(paths)
{
	char text[5000], longp[4200];

	std_key();
	REFUSE("pin_dir = sys/fs/bpf\n", 1, "pin_dir must be an absolute path: 'sys/fs/bpf'");
	REFUSE("cgroup = ./cg\n", 1, "cgroup must be an absolute path: './cg'");
	REFUSE("[dns]\nzone = example.test\nname = a.example.test\nkey_file = tsig.key\n", 4,
	       "key_file must be an absolute path: 'tsig.key'");
	longp[0] = '/';
	memset(longp + 1, 'p', 4096);
	longp[4097] = '\0';
	/* a long path is also a long line: that is what is reported */
	snprintf(text, sizeof(text), "pin_dir = %s\n", longp);
	REFUSE(text, 1,
	       "line longer than 1023 characters: "
	       "'pin_dir = /ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp...'");
}

TEST(interfaces)
{
	char text[4096];
	size_t n = 0;
	int i;

	std_key();
	REFUSE("interface = averyveryverylong\n", 1,
	       "invalid interface name (1-15 characters, no '/', ':' or blanks): 'averyveryverylong'");
	REFUSE("interface = eth/0\n", 1,
	       "invalid interface name (1-15 characters, no '/', ':' or blanks): 'eth/0'");
	REFUSE("interface = eth0:1\n", 1,
	       "invalid interface name (1-15 characters, no '/', ':' or blanks): 'eth0:1'");
	REFUSE("interface = eth 0\n", 1,
	       "invalid interface name (1-15 characters, no '/', ':' or blanks): 'eth 0'");
	REFUSE("interface = ..\n", 1,
	       "invalid interface name (1-15 characters, no '/', ':' or blanks): '..'");
	for (i = 0; i <= MIG_CONF_MAX_IFACES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "interface = eth%d\n", i);
	REFUSE(text, 17, "too many interfaces (at most 16): 'eth16'");
}

TEST(dns_names)
{
	char text[4096], label64[65];

	std_key();
	memset(label64, 'a', 64);
	label64[64] = '\0';
	snprintf(text, sizeof(text), "[dns]\nzone = example.test\nname = %s.example.test\n", label64);
	REFUSE(text, 3, "invalid name (label longer than 63 characters): "
	       "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.test'");
	snprintf(text, sizeof(text), "[dns]\nzone = example.test\nname = %s.%s.%s.%s.example.test\n",
		 label64 + 1, label64 + 1, label64 + 1, label64 + 1);
	REFUSE(text, 3, "invalid name (name longer than 253 characters): "
	       "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaa...'");
	REFUSE("[dns]\nname = a_b.example.test\n", 2,
	       "invalid name (invalid character (labels are letters, digits and '-')): 'a_b.example.test'");
	REFUSE("[dns]\nname = -a.example.test\n", 2,
	       "invalid name (label starts with '-'): '-a.example.test'");
	REFUSE("[dns]\nname = a-.example.test\n", 2,
	       "invalid name (label ends with '-'): 'a-.example.test'");
	REFUSE("[dns]\nname = a..example.test\n", 2,
	       "invalid name (empty label): 'a..example.test'");
	REFUSE("[dns]\nname = .example.test\n", 2,
	       "invalid name (empty label): '.example.test'");
	REFUSE("[dns]\nname = example.test..\n", 2,
	       "invalid name (empty label): 'example.test..'");
	REFUSE("[dns]\nzone = .\n", 2,
	       "invalid zone name (empty name (the root zone is not allowed)): '.'");
	REFUSE("[dns]\nzone = exa mple.test\n", 2,
	       "invalid zone name (invalid character (labels are letters, digits and '-')): 'exa mple.test'");
	REFUSE("[dns]\npeer = p\xc3\xa9r.example.org\n", 2,
	       "invalid peer name (invalid character (labels are letters, digits and '-')): 'p\xc3\xa9r.example.org'");
}

TEST(names_outside_the_zone)
{
	std_key();
	REFUSE("[dns]\nname = host.other.test\nzone = example.test\nkey_file = @KEY@\n", 2,
	       "name outside zone example.test.: 'host.other.test.'");
	/* a suffix that is not at a label boundary */
	REFUSE(DNS_MIN "name = xexample.test\n", 5,
	       "name outside zone example.test.: 'xexample.test.'");
	REFUSE(DNS_MIN "name = example.test.evil\n", 5,
	       "name outside zone example.test.: 'example.test.evil.'");
	REFUSE("[dns]\nzone = sub.example.test\nname = example.test\nkey_file = @KEY@\n", 3,
	       "name outside zone sub.example.test.: 'example.test.'");
}

TEST(too_many_names_and_peers)
{
	char text[8192];
	size_t n;
	int i;

	std_key();
	n = (size_t)snprintf(text, sizeof(text), DNS_MIN);
	for (i = 1; i <= MIG_CONF_MAX_NAMES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "name = h%d.example.test\n", i);
	REFUSE(text, 4 + MIG_CONF_MAX_NAMES,
	       "too many name entries (at most 16): 'h16.example.test'");
	n = (size_t)snprintf(text, sizeof(text), DNS_MIN);
	for (i = 0; i <= MIG_CONF_MAX_NAMES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "peer = p%d.example.org\n", i);
	REFUSE(text, 5 + MIG_CONF_MAX_NAMES,
	       "too many peer entries (at most 16): 'p16.example.org'");
}

TEST(dns_section_needs_zone_name_key)
{
	std_key();
	REFUSE("pool = 1\n[dns]\nname = a.example.test\nkey_file = @KEY@\n", 2,
	       "[dns] section without 'zone = ...': '[dns]'");
	REFUSE("[dns]\nzone = example.test\nkey_file = @KEY@\n", 1,
	       "[dns] section without 'name = ...': '[dns]'");
	REFUSE("[dns]\nzone = example.test\nname = a.example.test\n", 1,
	       "[dns] section without 'key_file = ...': '[dns]'");
	REFUSE("[dns]\n", 1, "[dns] section without 'zone = ...': '[dns]'");
}

TEST(key_file_unreadable)
{
	struct mig_config c;
	char e[512], want[600];
	int r;

	snprintf(keypath, sizeof(keypath), "%s/no-such-key", dir);
	r = load(DNS_MIN, &c, e, sizeof(e));
	CHECK(r == -EINVAL, "r %d", r);
	snprintf(want, sizeof(want), "cannot read key_file (No such file or directory): '%s'", keypath);
	CHECK(msg_is(e, confpath, 4, want), "missing key file");

	snprintf(keypath, sizeof(keypath), "%s", dir);
	r = load(DNS_MIN, &c, e, sizeof(e));
	snprintf(want, sizeof(want), "cannot read key_file (Is a directory): '%s'", keypath);
	CHECK(r == -EINVAL && msg_is(e, confpath, 4, want), "directory as key file");

	if (geteuid() != 0) {   /* root reads a mode 000 file anyway */
		std_key();
		chmod(keypath, 0);
		r = load(DNS_MIN, &c, e, sizeof(e));
		snprintf(want, sizeof(want), "cannot read key_file (Permission denied): '%s'", keypath);
		CHECK(r == -EINVAL && msg_is(e, confpath, 4, want), "mode 000");
	}
}

TEST(key_file_formats_accepted)
{
	struct mig_config c;
	char e[512];

	/* all three comment styles, an unquoted name, upper-case algorithm,
	 * everything on one line */
	write_key("# made by hand\n// BIND style\n/* a\n block */ key Mig_Key.Example { ALGORITHM "
		  "\"HMAC-SHA256\" ; secret \"" SECRET "\" ; } ;\n# end\n");
	CHECK(load(DNS_MIN, &c, e, sizeof(e)) == 0, "%s", e);
	CHECK(!strcmp(c.dns.key_name, "mig_key.example."), "key name %s", c.dns.key_name);
	CHECK(!strcmp(c.dns.key_algorithm, "hmac-sha256"), "alg");
	/* a one-byte secret, "AA==" */
	write_key("key k { algorithm hmac-sha256; secret \"AA==\"; };");
	CHECK(load(DNS_MIN, &c, e, sizeof(e)) == 0 && !strcmp(c.dns.key_secret, "AA=="), "%s", e);
	write_key("key k { secret \"AAA=\"; algorithm hmac-sha256; };");
	CHECK(load(DNS_MIN, &c, e, sizeof(e)) == 0, "secret first: %s", e);
}

TEST(key_file_refused)
{
	std_key();
	REFUSE_KEY("", 1, "empty key file: expected 'key \"NAME\" { ... };': ''");
	REFUSE_KEY("# nothing\n", 2, "empty key file: expected 'key \"NAME\" { ... };': ''");
	REFUSE_KEY("\nkeys \"k\" {};\n", 2,
		   "expected 'key \"NAME\" { algorithm hmac-sha256; secret \"...\"; };': 'keys'");
	REFUSE_KEY("key {\n", 1, "expected the key's name: '{'");
	REFUSE_KEY("key \"bad name\" {\n", 1,
		   "invalid key name (invalid character (labels are letters, digits, '-' and '_')): 'bad name'");
	REFUSE_KEY("key \"k\"\n algorithm", 2, "expected '{' after the key's name: 'algorithm'");
	REFUSE_KEY("key \"k\" {\n\talgorithm hmac-md5;\n\tsecret \"" SECRET "\";\n};\n", 2,
		   "unsupported algorithm (only hmac-sha256): 'hmac-md5'");
	REFUSE_KEY("key \"k\" {\n\talgorithm hmac-sha256\n\tsecret \"" SECRET "\";\n};\n", 3,
		   "expected ';' after the value: 'secret'");
	REFUSE_KEY("key \"k\" {\n\talgorithm hmac-sha256;\n\tsecret \"" SECRET "\";\n}\n", 5,
		   "expected ';' after '}': 'end of file'");
	REFUSE_KEY("key \"k\" {\n\talgorithm hmac-sha256;\n\tsecret \"" SECRET "\";\n", 4,
		   "missing '}' of the key opened on line 1: 'end of file'");
	REFUSE_KEY("key \"k\" {\n\talgorithm hmac-sha256;\n\tsecret \"" SECRET "\";\n\tfoo bar;\n};\n", 4,
		   "unknown statement in key (expected algorithm or secret): 'foo'");
	REFUSE_KEY("key \"k\" {\n\tsecret \"" SECRET "\";\n};\n", 1,
		   "key without 'algorithm hmac-sha256;': 'k.'");
	REFUSE_KEY("key \"k\" {\n\talgorithm hmac-sha256;\n};\n", 1,
		   "key without 'secret \"...\";': 'k.'");
	REFUSE_KEY("key \"k\" {\n\talgorithm hmac-sha256;\n\talgorithm hmac-sha256;\n", 3,
		   "duplicate algorithm (first on line 2): 'algorithm'");
	REFUSE_KEY("key \"k\" {\n\tsecret \"" SECRET "\";\n\tsecret \"" SECRET "\";\n", 3,
		   "duplicate secret (first on line 2): 'secret'");
	REFUSE_KEY(KEY_OK KEY_OK, 5, "text after the key (one key per file): 'key'");
	REFUSE_KEY("key \"k\n", 1, "unterminated string: '\"k'");
	REFUSE_KEY("/* key \"k\" {\n", 1, "unterminated comment: '/*'");
	REFUSE_KEY("key \"k\" {\n\tsecret;\n", 2, "missing secret value: 'secret'");
	/* base64: never quoted, only described */
	REFUSE_KEY("key \"k\" {\n\tsecret \"" SECRET "!\";\n", 2,
		   "secret is not valid base64 (length not a multiple of 4): 'secret'");
	REFUSE_KEY("key \"k\" {\n\tsecret \"q2YT*mHm\";\n", 2,
		   "secret is not valid base64 (invalid character): 'secret'");
	REFUSE_KEY("key \"k\" {\n\tsecret \"q2=TNmHm\";\n", 2,
		   "secret is not valid base64 ('=' inside): 'secret'");
	REFUSE_KEY("key \"k\" {\n\tsecret \"q===\";\n", 2,
		   "secret is not valid base64 (too much padding): 'secret'");
	REFUSE_KEY("key \"k\" {\n\tsecret \"\";\n", 2, "empty secret: 'secret'");
}

TEST(key_file_binary_and_huge)
{
	struct mig_config c;
	char e[512], want[600], *big;
	int r;

	write_bytes(keypath, sizeof(keypath), "key", "key \"k\" {\0", 10);
	r = load(DNS_MIN, &c, e, sizeof(e));
	snprintf(want, sizeof(want), "%s: key file holds a NUL byte: not a text file", keypath);
	CHECK(r == -EINVAL && !strcmp(e, want), "NUL: %s", e);

	big = malloc(70000);
	if (!big)
		abort();
	memset(big, '#', 70000);
	write_bytes(keypath, sizeof(keypath), "key", big, 70000);
	free(big);
	r = load(DNS_MIN, &c, e, sizeof(e));
	snprintf(want, sizeof(want), "%s: key file larger than 65536 bytes", keypath);
	CHECK(r == -EINVAL && !strcmp(e, want), "huge: %s", e);
}

TEST(missing_config_file)
{
	struct mig_config c, before;
	char e[512], want[400], path[300];
	int r;

	snprintf(path, sizeof(path), "%s/none.conf", dir);
	mig_config_init(&c);
	memcpy(&before, &c, sizeof(c));
	r = mig_config_load(path, &c, e, sizeof(e));
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	CHECK(r == -ENOENT && !strcmp(e, want), "r %d: %s", r, e);
	CHECK(!memcmp(&c, &before, sizeof(c)), "untouched");
}

/* Errors found late (after values were applied to the temporary), in the
 * key file, and at the end-of-file checks leave cfg byte for byte as it
 * was, including values a previous load put there. */
TEST(cfg_untouched_on_error)
{
	static const char *const bad[] = {
		"pin_dir = /x\npool = 9\ninterface = a\ninterface = b\n[dns]\nzone = example.test\n"
		"name = a.example.test\nkey_file = @KEY@\nport = 0\n",
		"pin_dir = /x\npool = 9\n[dns]\nzone = example.test\nname = a.example.test\n"
		"key_file = @BADKEY@\n",
		"pin_dir = /x\npool = 9\ninterface = q\n[dns]\nzone = example.test\n"
		"name = a.other.test\nkey_file = @KEY@\n",
		"pin_dir = /x\n[dns]\nzone = example.test\nname = a.example.test\n",
	};
	struct mig_config c, before;
	char e[512], goodkey[300];
	size_t i;
	int r;

	std_key();
	snprintf(goodkey, sizeof(goodkey), "%s", keypath);
	/* a first, good load fills cfg with non-defaults */
	r = load("pin_dir = /sys/fs/bpf/first\ncgroup = /cg\npool = 3\ninterface = eth9\n"
		 "[dns]\nzone = first.test\nname = n.first.test\nserver = 2001:db8::1\n"
		 "port = 99\nkey_file = @KEY@\npeer = p.first.test\n", &c, e, sizeof(e));
	CHECK(r == 0, "first load: %s", e);
	memcpy(&before, &c, sizeof(c));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[1024];
		const char *at = strstr(bad[i], "@BADKEY@");

		if (at) {
			write_key("key \"k\" { algorithm hmac-sha256; secret \"%%%%\"; };\n");
			snprintf(text, sizeof(text), "%.*s@KEY@%s", (int)(at - bad[i]), bad[i], at + 8);
		} else {
			snprintf(keypath, sizeof(keypath), "%s", goodkey);
			snprintf(text, sizeof(text), "%s", bad[i]);
		}
		write_conf(text);
		r = mig_config_load(confpath, &c, e, sizeof(e));
		CHECK(r == -EINVAL, "bad[%zu] accepted", i);
		CHECK(e[0], "bad[%zu] has a message", i);
		CHECK(!memcmp(&c, &before, sizeof(c)), "bad[%zu] changed cfg (%s)", i, e);
	}
	snprintf(keypath, sizeof(keypath), "%s", goodkey);
}

/* A good load replaces everything: a second file without [dns] turns DNS
 * off, lists start over. */
TEST(reload_replaces)
{
	struct mig_config c;
	char e[512];

	std_key();
	CHECK(load("interface = a\n" DNS_MIN, &c, e, sizeof(e)) == 0, "%s", e);
	write_conf("interface = b\n");
	CHECK(mig_config_load(confpath, &c, e, sizeof(e)) == 0, "%s", e);
	CHECK(c.n_ifaces == 1 && !strcmp(c.ifaces[0], "b") && !c.dns.enabled &&
	      c.dns.n_names == 0 && !c.dns.key_secret[0], "replaced");
}

/* mig_config_parse: the same parser from a buffer.  With the key text
 * given it opens nothing and gives what mig_config_load gives for the same
 * files; without it, it reads key_file; errors name the buffer (and, for
 * the key, key_file's path) and leave cfg as it was. */
TEST(parse_from_buffer)
{
	static const char text[] = "pool = 3\ninterface = eth0\n" DNS_MIN;
	struct mig_config a, b, before;
	char conf[1024], e[512];
	int r;

	std_key();
	CHECK(load(text, &a, e, sizeof(e)) == 0, "load: %s", e);
	/* key_file names a path that does not exist: given text, not opened */
	snprintf(conf, sizeof(conf), "pool = 3\ninterface = eth0\n[dns]\n"
		 "zone = example.test.\nname = host.example.test.\n"
		 "key_file = %s/none.key\n", dir);
	mig_config_init(&b);
	r = mig_config_parse("buf", conf, strlen(conf), KEY_OK, strlen(KEY_OK), &b, e, sizeof(e));
	CHECK(r == 0, "parse: %d %s", r, e);
	CHECK(a.pool == b.pool && a.n_ifaces == b.n_ifaces && !strcmp(a.ifaces[0], b.ifaces[0]) &&
	      a.dns.enabled == b.dns.enabled && !strcmp(a.dns.zone, b.dns.zone) &&
	      a.dns.n_names == b.dns.n_names && !strcmp(a.dns.names[0], b.dns.names[0]) &&
	      !strcmp(a.dns.key_name, b.dns.key_name) &&
	      !strcmp(a.dns.key_algorithm, b.dns.key_algorithm) &&
	      !strcmp(a.dns.key_secret, b.dns.key_secret) && a.dns.port == b.dns.port,
	      "parse gives what load gives");
	CHECK(!strncmp(b.dns.key_file, dir, strlen(dir)) && strstr(b.dns.key_file, "/none.key"),
	      "key_file kept: %s", b.dns.key_file);
	/* NULL key text: key_file is read */
	write_conf(text);
	snprintf(conf, sizeof(conf), "[dns]\nzone = example.test.\nname = h.example.test.\n"
		 "key_file = %s\n", keypath);
	mig_config_init(&b);
	r = mig_config_parse("buf", conf, strlen(conf), NULL, 0, &b, e, sizeof(e));
	CHECK(r == 0 && !strcmp(b.dns.key_secret, SECRET), "key file read: %d %s", r, e);
	/* refusals: located in the buffer, or in the key text under its path */
	mig_config_init(&b);
	b.pool = 9;
	memcpy(&before, &b, sizeof(b));
	r = mig_config_parse("buf", "pool = 1\npool = 2", 17, NULL, 0, &b, e, sizeof(e));
	CHECK(r == -EINVAL && msg_is(e, "buf", 2, "duplicate key (first set on line 1): 'pool'"),
	      "duplicate: %d", r);
	CHECK(!memcmp(&b, &before, sizeof(b)), "cfg untouched");
	snprintf(conf, sizeof(conf), "[dns]\nzone = example.test.\nname = h.example.test.\n"
		 "key_file = /k.key\n");
	r = mig_config_parse("buf", conf, strlen(conf), "key \"k\" { };", 12, &b, e, sizeof(e));
	CHECK(r == -EINVAL && msg_is(e, "/k.key", 1, "key without 'algorithm hmac-sha256;': 'k.'"),
	      "key text refused: %d", r);
	CHECK(!memcmp(&b, &before, sizeof(b)), "cfg untouched");
	/* a NUL byte in the text is refused as in a file */
	r = mig_config_parse("buf", "pool = 1\0\n", 10, NULL, 0, &b, e, sizeof(e));
	CHECK(r == -EINVAL && strstr(e, "NUL byte"), "NUL: %d %s", r, e);
}

/* The two keys only a restart applies (a reload reports them). */
TEST(max_flows_and_xdp)
{
	struct mig_config c;
	char e[512];

	std_key();
	CHECK(load("pool = 1\n", &c, e, sizeof(e)) == 0, "%s", e);
	CHECK(c.max_flows == 0 && c.xdp == -1, "defaults: not set");
	CHECK(load("max_flows = 64\nxdp = yes\n", &c, e, sizeof(e)) == 0, "%s", e);
	CHECK(c.max_flows == 64 && c.xdp == 1, "set: %u %d", c.max_flows, c.xdp);
	CHECK(load("max_flows = 1073741824\nxdp = no\n", &c, e, sizeof(e)) == 0, "%s", e);
	CHECK(c.max_flows == 1U << 30 && c.xdp == 0, "set: %u %d", c.max_flows, c.xdp);
	REFUSE("max_flows = 63\n", 1, "invalid max_flows (a number from 64 to 1073741824): '63'");
	REFUSE("max_flows = 1073741825\n", 1,
	       "invalid max_flows (a number from 64 to 1073741824): '1073741825'");
	REFUSE("max_flows = -1\n", 1, "invalid max_flows (a number from 64 to 1073741824): '-1'");
	REFUSE("max_flows = 99999999999999999999999\n", 1,
	       "invalid max_flows (a number from 64 to 1073741824): '99999999999999999999999'");
	REFUSE("xdp = 1\n", 1, "invalid xdp (yes or no): '1'");
	REFUSE("xdp = YES\n", 1, "invalid xdp (yes or no): 'YES'");
	REFUSE("xdp = no\nxdp = yes\n", 2, "duplicate key (first set on line 1): 'xdp'");
	REFUSE(DNS_MIN "max_flows = 64\n", 5, "key belongs before the [dns] section: 'max_flows'");
}

/* The whole bad line, for the reload's log and --check-config. */
TEST(err_line)
{
	struct mig_config c;
	char e[512], line[96], other[512];

	std_key();
	CHECK(load("pool = 8\n\n  interface = eth0   # two\npool = lots\n", &c, e, sizeof(e)) ==
	      -EINVAL, "refused");
	CHECK(mig_config_err_line(confpath, e, line, sizeof(line)) == 0, "%s", e);
	CHECK(!strcmp(line, "pool = lots"), "line '%s'", line);
	CHECK(load("pool = \x01x\n", &c, e, sizeof(e)) == -EINVAL, "refused");
	CHECK(mig_config_err_line(confpath, e, line, sizeof(line)) == 0 &&
	      !strcmp(line, "pool = ?x"), "control characters shown as '?': '%s'", line);
	/* a message about another file, or none with a line */
	snprintf(other, sizeof(other), "%s.other:1: what: 'x'", confpath);
	CHECK(mig_config_err_line(confpath, other, line, sizeof(line)) == -ENOENT, "other file");
	snprintf(other, sizeof(other), "%s: No such file or directory", confpath);
	CHECK(mig_config_err_line(confpath, other, line, sizeof(line)) == -ENOENT, "no line");
	snprintf(other, sizeof(other), "%s:99: what: 'x'", confpath);
	CHECK(mig_config_err_line(confpath, other, line, sizeof(line)) == -ENOENT, "past the end");
	snprintf(other, sizeof(other), "%s:0: what: 'x'", confpath);
	CHECK(mig_config_err_line(confpath, other, line, sizeof(line)) == -ENOENT, "line 0");
	snprintf(other, sizeof(other), "%s:99999999999999999999: what", confpath);
	CHECK(mig_config_err_line(confpath, other, line, sizeof(line)) == -ENOENT, "huge");
}

/* What a reload compares: interface sets in any order, [dns] field by
 * field (not the bytes after a name's NUL). */
TEST(reload_compare)
{
	static struct mig_config a, b;
	char e[512];
	const char x[][16] = { "eth0", "eth1" }, y[][16] = { "eth1", "eth0" },
		   z[][16] = { "eth0", "eth2" }, w[][16] = { "eth0", "eth0" };

	CHECK(mig_ifaces_equal(x, 2, y, 2), "order does not matter");
	CHECK(!mig_ifaces_equal(x, 2, z, 2), "eth1 vs eth2");
	CHECK(!mig_ifaces_equal(x, 2, x, 1), "count");
	CHECK(!mig_ifaces_equal(x, 2, w, 2), "duplicates are not the set");
	CHECK(mig_ifaces_equal(x, 0, z, 0), "both empty");

	std_key();
	CHECK(load(DNS_MIN "peer = p.example.org\n", &a, e, sizeof(e)) == 0, "%s", e);
	CHECK(load(DNS_MIN "peer = p.example.org\n", &b, e, sizeof(e)) == 0, "%s", e);
	memset(b.dns.names[0] + strlen(b.dns.names[0]) + 1, 'x', 8);
	CHECK(mig_dns_config_equal(&a.dns, &b.dns), "same file, same [dns]");
	CHECK(load(DNS_MIN "peer = q.example.org\n", &b, e, sizeof(e)) == 0, "%s", e);
	CHECK(!mig_dns_config_equal(&a.dns, &b.dns), "peer changed");
	CHECK(load(DNS_MIN "peer = p.example.org\nport = 5353\n", &b, e, sizeof(e)) == 0, "%s", e);
	CHECK(!mig_dns_config_equal(&a.dns, &b.dns), "port changed");
	CHECK(load(DNS_MIN "peer = p.example.org\nserver = 192.0.2.53\n", &b, e, sizeof(e)) == 0,
	      "%s", e);
	CHECK(!mig_dns_config_equal(&a.dns, &b.dns), "server added");
	CHECK(load(DNS_MIN "peer = p.example.org\nname = b.example.test\n", &b, e, sizeof(e)) == 0,
	      "%s", e);
	CHECK(!mig_dns_config_equal(&a.dns, &b.dns), "name added");
	CHECK(load("pool = 1\n", &b, e, sizeof(e)) == 0, "%s", e);
	CHECK(!mig_dns_config_equal(&a.dns, &b.dns), "[dns] removed");
	CHECK(load("pool = 2\n", &a, e, sizeof(e)) == 0, "%s", e);
	CHECK(mig_dns_config_equal(&a.dns, &b.dns), "no [dns] in either");
	/* the same key file path with another secret is a change */
	CHECK(load(DNS_MIN, &a, e, sizeof(e)) == 0, "%s", e);
	write_key("key \"tsig-key\" { algorithm hmac-sha256; secret \"AAAA\"; };\n");
	CHECK(load(DNS_MIN, &b, e, sizeof(e)) == 0, "%s", e);
	CHECK(!mig_dns_config_equal(&a.dns, &b.dns), "secret changed");
}

UNIT_MAIN()
