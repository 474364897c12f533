// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "mig_log.h"

static const char *log_prog = "migrate";
static enum mig_log_level log_level = MIG_LOG_INFO;

void mig_log_init(const char *prog, enum mig_log_level level)
{
	log_prog = prog;
	log_level = level;
}

enum mig_log_level mig_log_level(void)
{
	return log_level;
}

static void vlog(enum mig_log_level level, const char *fmt, va_list ap)
{
	static const char *tag[] = { "error: ", "warning: ", "", "debug: " };
	size_t n = strlen(fmt);

	if (level > log_level)
		return;
	/* one line at a time: the DNS worker logs from its own thread */
	flockfile(stderr);
	fprintf(stderr, "%s: %s", log_prog, tag[level + 1]);
	vfprintf(stderr, fmt, ap);
	if (n == 0 || fmt[n - 1] != '\n')
		fputc('\n', stderr);
	funlockfile(stderr);
}

void mig_log(enum mig_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	(void)level;
	if (log_level < MIG_LOG_DEBUG)
		return 0;
	fprintf(stderr, "%s: debug: libbpf: ", log_prog);
	return vfprintf(stderr, fmt, ap);
}

void mig_log_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

int mig_log_parse_level(const char *s, enum mig_log_level *out)
{
	if (!strcmp(s, "warn") || !strcmp(s, "warning"))
		*out = MIG_LOG_WARN;
	else if (!strcmp(s, "info"))
		*out = MIG_LOG_INFO;
	else if (!strcmp(s, "debug"))
		*out = MIG_LOG_DEBUG;
	else
		return -1;
	return 0;
}
