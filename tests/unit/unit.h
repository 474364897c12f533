/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * unit.h - a minimal test harness shared by the C test programs.
 * Each TEST() body runs once; CHECK() records a failure and goes on.
 * UNIT_MAIN() runs the registered tests and prints "N passed, N failed".
 */
#ifndef MIGRATE_UNIT_H
#define MIGRATE_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(int *failed);
};

#define UNIT_MAX_TESTS 256
static struct unit_test unit_tests[UNIT_MAX_TESTS];
static int unit_ntests;

#define TEST(name)                                                        \
	static void test_##name(int *unit_failed);                        \
	__attribute__((constructor)) static void unit_reg_##name(void)    \
	{                                                                 \
		if (unit_ntests < UNIT_MAX_TESTS)                         \
			unit_tests[unit_ntests++] =                       \
				(struct unit_test){ #name, test_##name }; \
	}                                                                 \
	static void test_##name(int *unit_failed)

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "  %s:%d: check failed: %s: ",    \
				__FILE__, __LINE__, #cond);               \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
			*unit_failed = 1;                                 \
		}                                                         \
	} while (0)

/* Compare byte strings; on mismatch print both as hex. */
static inline int unit_memeq(const void *a, const void *b, size_t n,
			     const char *what)
{
	const unsigned char *x = a, *y = b;
	size_t i;

	if (!memcmp(a, b, n))
		return 1;
	fprintf(stderr, "  %s differs\n    got:  ", what);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%02x", x[i]);
	fprintf(stderr, "\n    want: ");
	for (i = 0; i < n; i++)
		fprintf(stderr, "%02x", y[i]);
	fputc('\n', stderr);
	return 0;
}
#define CHECK_MEM(got, want, n) CHECK(unit_memeq(got, want, n, #got), "bytes differ")

/* Parse a hex string into out (at most max bytes); returns the length. */
static inline size_t unit_hex(const char *hex, unsigned char *out, size_t max)
{
	size_t n = 0;
	unsigned int v;

	while (hex[0] && hex[1] && n < max) {
		if (sscanf(hex, "%2x", &v) != 1)
			break;
		out[n++] = (unsigned char)v;
		hex += 2;
	}
	return n;
}

#define UNIT_MAIN()                                                       \
	int main(int argc, char **argv)                                   \
	{                                                                 \
		int i, passed = 0, failed = 0;                            \
		const char *only = argc > 1 ? argv[1] : NULL;             \
		for (i = 0; i < unit_ntests; i++) {                       \
			int f = 0;                                        \
			if (only && strcmp(only, unit_tests[i].name))     \
				continue;                                 \
			unit_tests[i].fn(&f);                             \
			printf("%s %s\n", f ? "FAIL" : "ok  ",            \
			       unit_tests[i].name);                       \
			if (f)                                            \
				failed++;                                 \
			else                                              \
				passed++;                                 \
		}                                                         \
		printf("%d passed, %d failed\n", passed, failed);         \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;              \
	}

#endif
