// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * dns.c - "migratectl show dns" (alias "migratectl dns"): the names the
 * agent keeps current in DNS, from the pinned array mig_dns.
 *
 *   NAME              ADDRESSES                RESULT  ATTEMPTS  TRIED  UPDATED  DETAIL
 *   m.example.test.   192.0.2.1,2001:db8:1::1  ok      1         12s    12s      NOERROR
 *
 * ADDRESSES are the last ones the server accepted; while an UPDATE is
 * failing, DETAIL also names the addresses being published.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* enum mig_dns_result as the JSON "result" member spells it */
static const char *result_name(__u8 r, char buf[CTL_NAME_LEN])
{
	switch (r) {
	case MIG_DNS_NONE:        return "none";
	case MIG_DNS_OK:          return "ok";
	case MIG_DNS_TSIG:        return "tsig";
	case MIG_DNS_RCODE:       return "rcode";
	case MIG_DNS_TIMEOUT:     return "timeout";
	case MIG_DNS_UNREACHABLE: return "unreachable";
	case MIG_DNS_ERROR:       return "error";
	}
	snprintf(buf, CTL_NAME_LEN, "result-%u", r);
	return buf;
}

/* Addresses as "a,b,c" (n clamped to what the entry can hold). */
static void addrs_join(const __u8 (*v4)[4], __u8 n4, const __u8 (*v6)[16], __u8 n6,
		       char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n4 && i < MIG_DNS_MAX_ADDRS && off < len; i++) {
		inet_ntop(AF_INET, v4[i], a, sizeof(a));
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", a);
	}
	for (i = 0; i < n6 && i < MIG_DNS_MAX_ADDRS && off < len; i++) {
		inet_ntop(AF_INET6, v6[i], a, sizeof(a));
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", a);
	}
}

static void addrs_json(struct json *j, const char *name, const __u8 (*v4)[4], __u8 n4,
		       const __u8 (*v6)[16], __u8 n6)
{
	char a[INET6_ADDRSTRLEN];
	int i;

	json_name(j, name);
	json_array_start(j);
	for (i = 0; i < n4 && i < MIG_DNS_MAX_ADDRS; i++)
		json_string(j, inet_ntop(AF_INET, v4[i], a, sizeof(a)));
	for (i = 0; i < n6 && i < MIG_DNS_MAX_ADDRS; i++)
		json_string(j, inet_ntop(AF_INET6, v6[i], a, sizeof(a)));
	json_array_end(j);
}

/* The entry has an UPDATE that has not succeeded yet. */
static bool pending(const struct mig_dns_status *s)
{
	return s->result != MIG_DNS_OK && (s->n_want4 || s->n_want6);
}

/* Every configured entry (non-empty name), in configuration order.
 * Returns the count, 0 when the map is absent (DNS not configured), or
 * -errno (reported). */
static int dns_load(struct mig_dns_status **out)
{
	struct mig_dns_status *st = NULL;
	struct bpf_map_info info;
	char path[4200];
	__u32 key;
	int fd, n = 0, err;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/%s", ctl.pin_dir, MIG_MAP_DNS);
	if (access(path, F_OK) && errno == ENOENT)
		return 0;
	fd = ctl_map_open(MIG_MAP_DNS, BPF_MAP_TYPE_ARRAY, sizeof(__u32),
			  sizeof(struct mig_dns_status), &info);
	if (fd < 0)
		return fd;
	st = calloc(info.max_entries ? info.max_entries : 1, sizeof(*st));
	if (!st) {
		ctl_err("out of memory");
		close(fd);
		return -ENOMEM;
	}
	for (key = 0; key < info.max_entries; key++) {
		if (bpf_map_lookup_elem(fd, &key, &st[n])) {
			err = -errno;
			ctl_err("cannot read '%s': %s", path, strerror(-err));
			free(st);
			close(fd);
			return err;
		}
		st[n].name[sizeof(st[n].name) - 1] = '\0';
		st[n].text[sizeof(st[n].text) - 1] = '\0';
		if (st[n].name[0])
			n++;
	}
	close(fd);
	*out = st;
	return n;
}

static void age(__u64 t, time_t now, char *buf, size_t len)
{
	if (!t)
		snprintf(buf, len, "never");
	else
		snprintf(buf, len, "%llus",
			 (unsigned long long)((__u64)now > t ? (__u64)now - t : 0));
}

enum { C_NAME, C_ADDRS, C_RESULT, C_ATTEMPTS, C_TRIED, C_UPDATED, C_DETAIL, C__MAX };
static const char *const cols[C__MAX] = {
	"NAME", "ADDRESSES", "RESULT", "ATTEMPTS", "TRIED", "UPDATED", "DETAIL",
};
#define CELL 400

static void cells_of(const struct mig_dns_status *s, time_t now, char c[C__MAX][CELL])
{
	char buf[CTL_NAME_LEN], want[CELL];

	snprintf(c[C_NAME], CELL, "%s", s->name);
	addrs_join((const __u8 (*)[4])s->addr4, s->n_addr4, (const __u8 (*)[16])s->addr6,
		   s->n_addr6, c[C_ADDRS], CELL);
	if (!c[C_ADDRS][0])
		snprintf(c[C_ADDRS], CELL, "-");
	snprintf(c[C_RESULT], CELL, "%s", result_name(s->result, buf));
	snprintf(c[C_ATTEMPTS], CELL, "%u", s->attempts);
	age(s->last_attempt, now, c[C_TRIED], CELL);
	age(s->last_success, now, c[C_UPDATED], CELL);
	if (pending(s)) {
		addrs_join((const __u8 (*)[4])s->want4, s->n_want4,
			   (const __u8 (*)[16])s->want6, s->n_want6, want, sizeof(want));
		snprintf(c[C_DETAIL], CELL, "%.64s; publishing %.300s",
			 s->text[0] ? s->text : "not tried", want);
	} else {
		snprintf(c[C_DETAIL], CELL, "%s", s->text[0] ? s->text : "-");
	}
}

static void dns_human(const struct mig_dns_status *st, int n)
{
	char c[C__MAX][CELL];
	int w[C__MAX], i, k, len;
	time_t now = time(NULL);

	if (!n) {
		printf("no DNS names configured\n");
		return;
	}
	for (k = 0; k < C__MAX; k++)
		w[k] = (int)strlen(cols[k]);
	for (i = 0; i < n; i++) {
		cells_of(&st[i], now, c);
		for (k = 0; k < C__MAX; k++) {
			len = (int)strlen(c[k]);
			if (len > w[k])
				w[k] = len;
		}
	}
	for (k = 0; k < C__MAX - 1; k++)
		printf("%-*s  ", w[k], cols[k]);
	printf("%s\n", cols[C__MAX - 1]);
	for (i = 0; i < n; i++) {
		cells_of(&st[i], now, c);
		for (k = 0; k < C__MAX - 1; k++)
			printf("%-*s  ", w[k], c[k]);
		printf("%s\n", c[C__MAX - 1]);
	}
}

static void time_field(struct json *j, const char *name, __u64 t)
{
	json_name(j, name);
	if (t)
		json_uint(j, t);
	else
		json_null(j);
}

static void dns_json(const struct mig_dns_status *st, int n)
{
	char buf[CTL_NAME_LEN];
	struct json j;
	int i;

	ctl_json_begin(&j);
	json_object_start(&j);
	json_name(&j, "dns");
	json_array_start(&j);
	for (i = 0; i < n; i++) {
		const struct mig_dns_status *s = &st[i];

		json_object_start(&j);
		json_string_field(&j, "name", s->name);
		addrs_json(&j, "addresses", (const __u8 (*)[4])s->addr4, s->n_addr4,
			   (const __u8 (*)[16])s->addr6, s->n_addr6);
		json_string_field(&j, "result", result_name(s->result, buf));
		time_field(&j, "last_attempt", s->last_attempt);
		time_field(&j, "last_success", s->last_success);
		json_uint_field(&j, "attempts", s->attempts);
		json_string_field(&j, "detail", s->text);
		if (pending(s))
			addrs_json(&j, "pending", (const __u8 (*)[4])s->want4, s->n_want4,
				   (const __u8 (*)[16])s->want6, s->n_want6);
		else
			addrs_json(&j, "pending", NULL, 0, NULL, 0);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

int cmd_dns(int argc, char **argv)
{
	struct mig_dns_status *st;
	int n;

	if (argc > 1)
		return ctl_unexpected(argv[0], argv[1]);
	if (ctl_check_agent())
		return EXIT_FAILURE;
	n = dns_load(&st);
	if (n < 0)
		return EXIT_FAILURE;
	if (ctl.json)
		dns_json(st, n);
	else
		dns_human(st, n);
	free(st);
	return EXIT_SUCCESS;
}
