/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * json.h - a small streaming JSON writer for migratectl's -j/-p output.
 *
 * The writer only tracks nesting and commas; the caller emits values in
 * order.  Compact mode writes no whitespace at all ({"a":1,"b":[]});
 * pretty mode indents by four spaces.  Strings are escaped and any byte
 * sequence that is not valid UTF-8 becomes U+FFFD, so the output is valid
 * JSON whatever the input (error messages quote the user's arguments).
 */
#ifndef MIGRATECTL_JSON_H
#define MIGRATECTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Deeper nesting is a programming error; it is clamped, not checked. */
#define JSON_MAX_DEPTH 16

struct json {
	FILE *f;
	bool pretty;
	int depth;
	bool after_name;              /* a "name": was just written */
	bool has_items[JSON_MAX_DEPTH];  /* current container is non-empty */
};

void json_init(struct json *j, FILE *f, bool pretty);
/* Ends the document with a newline and flushes. */
void json_finish(struct json *j);

void json_object_start(struct json *j);
void json_object_end(struct json *j);
void json_array_start(struct json *j);
void json_array_end(struct json *j);

/* Member name inside an object; the next call writes its value. */
void json_name(struct json *j, const char *name);

void json_string(struct json *j, const char *s);
void json_uint(struct json *j, uint64_t v);
void json_int(struct json *j, int64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* "name": value shorthands. */
void json_string_field(struct json *j, const char *name, const char *s);
void json_uint_field(struct json *j, const char *name, uint64_t v);

#endif
