/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* mig_log.h - leveled logging; libbpf's own messages go one level down. */
#ifndef MIGRATE_MIG_LOG_H
#define MIGRATE_MIG_LOG_H

#include <stdarg.h>

enum mig_log_level { MIG_LOG_ERR = -1, MIG_LOG_WARN = 0, MIG_LOG_INFO = 1, MIG_LOG_DEBUG = 2 };

void mig_log_init(const char *prog, enum mig_log_level level);
enum mig_log_level mig_log_level(void);
void mig_log(enum mig_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Route libbpf's messages: warnings become debug lines. */
void mig_log_libbpf(void);
int mig_log_parse_level(const char *s, enum mig_log_level *out);

#define pr_err(...)   mig_log(MIG_LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  mig_log(MIG_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  mig_log(MIG_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) mig_log(MIG_LOG_DEBUG, __VA_ARGS__)

#endif
