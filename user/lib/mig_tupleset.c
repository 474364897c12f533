// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mig_tupleset.h"
#include "migrate/mig_siphash.h"

int mig_tupleset_init(struct mig_tupleset *s)
{
	memset(s, 0, sizeof(*s));
	if (getrandom(s->key, sizeof(s->key), 0) != (ssize_t)sizeof(s->key))
		return -EIO;
	return 0;
}

void mig_tupleset_free(struct mig_tupleset *s)
{
	free(s->v);
	free(s->val);
	free(s->slot);
	s->v = NULL;
	s->val = NULL;
	s->slot = NULL;
	s->n = s->cap = s->mask = 0;
}

void mig_tupleset_clear(struct mig_tupleset *s)
{
	s->n = 0;
	if (s->slot)
		memset(s->slot, 0, (s->mask + 1) * sizeof(*s->slot));
}

static size_t home(const struct mig_tupleset *s, const struct mig_tuple *t)
{
	return (size_t)mig_siphash(s->key, (const __u8 *)t, sizeof(*t)) & s->mask;
}

/* The slot holding t, or the empty slot where it would go. */
static size_t find(const struct mig_tupleset *s, const struct mig_tuple *t)
{
	size_t i = home(s, t);

	while (s->slot[i] && memcmp(&s->v[s->slot[i] - 1], t, sizeof(*t)))
		i = (i + 1) & s->mask;
	return i;
}

/* The slot holding position pos (a member). */
static size_t slot_of(const struct mig_tupleset *s, size_t pos)
{
	size_t i = home(s, &s->v[pos]);

	while (s->slot[i] != pos + 1)
		i = (i + 1) & s->mask;
	return i;
}

/* Index of nslots (a power of two, at least twice the members). */
static int reindex(struct mig_tupleset *s, size_t nslots)
{
	uint32_t *slot = calloc(nslots, sizeof(*slot));
	size_t k;

	if (!slot)
		return -ENOMEM;
	free(s->slot);
	s->slot = slot;
	s->mask = nslots - 1;
	for (k = 0; k < s->n; k++)
		s->slot[find(s, &s->v[k])] = (uint32_t)(k + 1);
	return 0;
}

int mig_tupleset_put(struct mig_tupleset *s, const struct mig_tuple *t, uint32_t val)
{
	size_t i;

	if (s->slot && s->slot[i = find(s, t)]) {
		s->val[s->slot[i] - 1] = val;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct mig_tuple *v;
		uint32_t *nv;

		if (cap > UINT32_MAX / 4)
			return -ENOMEM;
		v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		nv = realloc(s->val, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->val = nv;
		s->cap = cap;
	}
	/* at most half full */
	if (!s->slot || 2 * (s->n + 1) > s->mask + 1) {
		size_t nslots = s->slot ? 2 * (s->mask + 1) : 128;

		if (reindex(s, nslots))
			return -ENOMEM;
	}
	s->v[s->n] = *t;
	s->val[s->n] = val;
	i = find(s, t);
	s->slot[i] = (uint32_t)(++s->n);
	return 0;
}

int mig_tupleset_add(struct mig_tupleset *s, const struct mig_tuple *t)
{
	uint32_t old;

	if (mig_tupleset_get(s, t, &old))
		return 0;
	return mig_tupleset_put(s, t, 0);
}

bool mig_tupleset_has(const struct mig_tupleset *s, const struct mig_tuple *t)
{
	return s->slot && s->slot[find(s, t)];
}

bool mig_tupleset_get(const struct mig_tupleset *s, const struct mig_tuple *t, uint32_t *val)
{
	size_t i;

	if (!s->slot || !s->slot[i = find(s, t)])
		return false;
	*val = s->val[s->slot[i] - 1];
	return true;
}

bool mig_tupleset_del(struct mig_tupleset *s, const struct mig_tuple *t)
{
	size_t i, j, h, pos, last;

	if (!s->slot)
		return false;
	i = find(s, t);
	if (!s->slot[i])
		return false;
	pos = s->slot[i] - 1;
	/* the last member takes the freed position */
	last = s->n - 1;
	if (pos != last) {
		s->slot[slot_of(s, last)] = (uint32_t)(pos + 1);
		s->v[pos] = s->v[last];
		s->val[pos] = s->val[last];
	}
	s->n--;
	/* backward-shift deletion: the probe chains stay unbroken */
	s->slot[i] = 0;
	for (j = (i + 1) & s->mask; s->slot[j]; j = (j + 1) & s->mask) {
		h = home(s, &s->v[s->slot[j] - 1]);
		/* the entry at j may move to i if i lies on its probe path */
		if (((j - h) & s->mask) >= ((j - i) & s->mask)) {
			s->slot[i] = s->slot[j];
			s->slot[j] = 0;
			i = j;
		}
	}
	return true;
}
