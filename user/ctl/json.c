// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* json.c - streaming JSON writer, see json.h. */
#include <inttypes.h>

#include "json.h"

void json_init(struct json *j, FILE *f, bool pretty)
{
	j->f = f;
	j->pretty = pretty;
	j->depth = 0;
	j->after_name = false;
	j->has_items[0] = false;
}

static void json_indent(struct json *j)
{
	int i;

	fputc('\n', j->f);
	for (i = 0; i < j->depth; i++)
		fputs("    ", j->f);
}

/* Separator and indentation before a value or a member name. */
static void json_begin_item(struct json *j)
{
	if (j->after_name) {
		j->after_name = false;
		return;
	}
	if (j->has_items[j->depth])
		fputc(',', j->f);
	j->has_items[j->depth] = true;
	if (j->pretty && j->depth > 0)
		json_indent(j);
}

static void json_open(struct json *j, char c)
{
	json_begin_item(j);
	fputc(c, j->f);
	if (j->depth < JSON_MAX_DEPTH - 1)
		j->depth++;
	j->has_items[j->depth] = false;
}

static void json_close(struct json *j, char c)
{
	bool had = j->has_items[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (j->pretty && had)
		json_indent(j);
	fputc(c, j->f);
}

void json_object_start(struct json *j) { json_open(j, '{'); }
void json_object_end(struct json *j)   { json_close(j, '}'); }
void json_array_start(struct json *j)  { json_open(j, '['); }
void json_array_end(struct json *j)    { json_close(j, ']'); }

/* Length of the valid UTF-8 sequence at s, 0 if s does not start one
 * (overlong forms, surrogates and values above U+10FFFF are invalid). */
static int utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	int n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

static void json_put_string(struct json *j, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	int n;

	fputc('"', j->f);
	while (*s) {
		switch (*s) {
		case '"':  fputs("\\\"", j->f); s++; continue;
		case '\\': fputs("\\\\", j->f); s++; continue;
		case '\n': fputs("\\n", j->f);  s++; continue;
		case '\r': fputs("\\r", j->f);  s++; continue;
		case '\t': fputs("\\t", j->f);  s++; continue;
		case '\b': fputs("\\b", j->f);  s++; continue;
		case '\f': fputs("\\f", j->f);  s++; continue;
		}
		if (*s < 0x20 || *s == 0x7f) {
			fprintf(j->f, "\\u%04x", *s);
			s++;
			continue;
		}
		n = utf8_len(s);
		if (!n) {
			fputs("\\ufffd", j->f);
			s++;
			continue;
		}
		fwrite(s, 1, n, j->f);
		s += n;
	}
	fputc('"', j->f);
}

void json_name(struct json *j, const char *name)
{
	json_begin_item(j);
	json_put_string(j, name);
	fputs(j->pretty ? ": " : ":", j->f);
	j->after_name = true;
}

void json_string(struct json *j, const char *s)
{
	json_begin_item(j);
	json_put_string(j, s);
}

void json_uint(struct json *j, uint64_t v)
{
	json_begin_item(j);
	fprintf(j->f, "%" PRIu64, v);
}

void json_int(struct json *j, int64_t v)
{
	json_begin_item(j);
	fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json *j, bool v)
{
	json_begin_item(j);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
	json_begin_item(j);
	fputs("null", j->f);
}

void json_string_field(struct json *j, const char *name, const char *s)
{
	json_name(j, name);
	json_string(j, s);
}

void json_uint_field(struct json *j, const char *name, uint64_t v)
{
	json_name(j, name);
	json_uint(j, v);
}

void json_finish(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
