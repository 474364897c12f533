// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_tupleset.c - the agent's in-memory index of keyed flows
 * (user/lib/mig_tupleset.c) against a plain array doing the same random
 * additions and removals, including removal during a walk.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "mig_tupleset.h"
#include "unit.h"

static struct mig_tuple tup(unsigned int k)
{
	struct mig_tuple t;

	memset(&t, 0, sizeof(t));
	t.family = AF_INET;
	t.laddr[0] = htonl(0xc0000201);          /* 192.0.2.1 */
	t.raddr[0] = htonl(0xcb007101 + k / 60000);
	t.lport = htons((uint16_t)(1024 + k % 60000));
	t.rport = htons(443);
	return t;
}

/* Every member exactly once, and exactly the model's (with its value,
 * when vals is given). */
static bool same(const struct mig_tupleset *s, const bool *in, const uint32_t *vals,
		 unsigned int n)
{
	unsigned int k, members = 0;
	size_t seen = 0;
	uint32_t v;

	for (k = 0; k < n; k++) {
		struct mig_tuple t = tup(k);

		if (mig_tupleset_has(s, &t) != in[k] ||
		    mig_tupleset_get(s, &t, &v) != in[k] || (in[k] && vals && v != vals[k]))
			return false;
		members += in[k];
	}
	mig_tupleset_each(s, i)
		seen++;
	return seen == members && s->n == members;
}

TEST(add_has_del)
{
	struct mig_tupleset s;
	struct mig_tuple a = tup(1), b = tup(2);

	CHECK(mig_tupleset_init(&s) == 0, "init");
	CHECK(!mig_tupleset_has(&s, &a), "empty set has a member");
	CHECK(!mig_tupleset_del(&s, &a), "removed from an empty set");
	CHECK(mig_tupleset_add(&s, &a) == 0, "add");
	CHECK(mig_tupleset_add(&s, &a) == 0 && s.n == 1, "a second add is no second member");
	{
		uint32_t v = 1;

		CHECK(mig_tupleset_get(&s, &a, &v) && v == 0, "an added member's value is 0");
		CHECK(mig_tupleset_put(&s, &a, 42) == 0 && s.n == 1 &&
		      mig_tupleset_get(&s, &a, &v) && v == 42, "put sets the value");
		CHECK(mig_tupleset_add(&s, &a) == 0 && mig_tupleset_get(&s, &a, &v) && v == 42,
		      "add keeps a member's value");
		CHECK(!mig_tupleset_get(&s, &b, &v), "a non-member has no value");
	}
	CHECK(mig_tupleset_has(&s, &a) && !mig_tupleset_has(&s, &b), "membership");
	CHECK(mig_tupleset_del(&s, &a) && !mig_tupleset_del(&s, &a), "removed once");
	CHECK(s.n == 0 && !mig_tupleset_has(&s, &a), "empty again");
	/* the family and the ports are part of the key */
	b = a;
	b.family = AF_INET6;
	CHECK(mig_tupleset_add(&s, &a) == 0 && !mig_tupleset_has(&s, &b), "family");
	b = a;
	b.rport = htons(80);
	CHECK(!mig_tupleset_has(&s, &b), "remote port");
	mig_tupleset_free(&s);
}

TEST(random_against_model)
{
	enum { N = 5000, OPS = 200000 };
	struct mig_tupleset s;
	bool *in = calloc(N, sizeof(*in));
	uint32_t *vals = calloc(N, sizeof(*vals));
	unsigned int op, bad = 0;

	srand(7);
	CHECK(in && vals && mig_tupleset_init(&s) == 0, "init");
	for (op = 0; op < OPS && in && vals; op++) {
		unsigned int k = (unsigned int)rand() % N;
		struct mig_tuple t = tup(k);

		if (rand() % 3) {
			/* a new member, or a new value for one */
			if (mig_tupleset_put(&s, &t, op))
				bad++;
			in[k] = true;
			vals[k] = op;
		} else {
			if (mig_tupleset_del(&s, &t) != in[k])
				bad++;
			in[k] = false;
		}
		if (op % 20000 == 0 && !same(&s, in, vals, N))
			bad++;
	}
	CHECK(!bad, "%u operations disagreed with the model", bad);
	CHECK(in && vals && same(&s, in, vals, N), "final contents differ from the model");
	mig_tupleset_free(&s);
	free(in);
	free(vals);
}

TEST(remove_while_walking)
{
	enum { N = 3000 };
	struct mig_tupleset s;
	unsigned int k, visits = 0, odd = 0;
	bool *seen = calloc(N, sizeof(*seen));

	CHECK(seen && mig_tupleset_init(&s) == 0, "init");
	for (k = 0; k < N; k++) {
		struct mig_tuple t = tup(k);

		mig_tupleset_add(&s, &t);
	}
	/* every member visited once; the odd ones removed as they are */
	mig_tupleset_each(&s, i) {
		struct mig_tuple t = s.v[i];
		unsigned int key = ntohs(t.lport) - 1024 + (ntohl(t.raddr[0]) - 0xcb007101) * 60000;

		visits++;
		if (key < N) {
			if (seen[key])
				odd = 1000000;
			seen[key] = true;
		}
		if (key % 2) {
			mig_tupleset_del(&s, &t);
			odd++;
		}
	}
	CHECK(visits == N, "%u visits for %d members", visits, N);
	CHECK(odd == N / 2, "%u removed (a member seen twice if >= 1000000)", odd);
	CHECK(s.n == N - N / 2, "%zu left", s.n);
	for (k = 0; k < N; k++) {
		struct mig_tuple t = tup(k);

		if (mig_tupleset_has(&s, &t) != !(k % 2))
			break;
	}
	CHECK(k == N, "member %u wrong after the walk", k);
	mig_tupleset_clear(&s);
	CHECK(s.n == 0 && !mig_tupleset_has(&s, &(struct mig_tuple){ 0 }), "cleared");
	mig_tupleset_free(&s);
	free(seen);
}

UNIT_MAIN()
