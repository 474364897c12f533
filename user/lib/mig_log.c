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

	char line[1024];
	va_list aq;
	int h, b;

	if (level > log_level)
		return;
	/* a line in one write (stderr is unbuffered: three calls were three
	 * system calls, a move of many flows logs several lines per flow) */
	h = snprintf(line, sizeof(line), "%s: %s", log_prog, tag[level + 1]);
	va_copy(aq, ap);
	b = h >= 0 && (size_t)h < sizeof(line) ?
		vsnprintf(line + h, sizeof(line) - (size_t)h, fmt, aq) : -1;
	va_end(aq);
	if (b >= 0 && (size_t)h + (size_t)b + 1 < sizeof(line)) {
		size_t len = (size_t)h + (size_t)b;

		if (len == 0 || line[len - 1] != '\n')
			line[len++] = '\n';
		fwrite(line, 1, len, stderr);
		return;
	}
	/* longer: one line at a time (the DNS worker logs from its own
	 * thread) */
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
