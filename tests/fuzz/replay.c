// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * replay.c - main() for a fuzz harness built without libFuzzer: feeds each
 * file named on the command line to LLVMFuzzerTestOneInput once, as the
 * regression run of the committed corpus (tests/fuzz/test_fuzz_corpus.sh).
 * A harness's assertion or a sanitizer's report ends the process with a
 * non-zero status.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	int i;

	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t n;

		if (!f) {
			perror(argv[i]);
			return EXIT_FAILURE;
		}
		n = fread(buf, 1, sizeof(buf), f);
		if (ferror(f) || !feof(f)) {
			fprintf(stderr, "%s: cannot read (or larger than %zu bytes)\n", argv[i],
				sizeof(buf));
			fclose(f);
			return EXIT_FAILURE;
		}
		fclose(f);
		/* a block of exactly n bytes, as libFuzzer gives, so that a
		 * read past the input is caught */
		uint8_t *in = malloc(n ? n : 1);

		if (!in) {
			perror("malloc");
			return EXIT_FAILURE;
		}
		memcpy(in, buf, n);
		LLVMFuzzerTestOneInput(in, n);
		free(in);
	}
	return EXIT_SUCCESS;
}
