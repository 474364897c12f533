// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mig_config.c - the parser of /etc/migrate/agent.conf and of the TSIG key
 * file it names (man/migrate-agent.conf.5, docs/config.md).
 *
 * Strict on purpose: an unknown key, a duplicate, a bad value or a missing
 * one refuses the whole file with "PATH:LINE: what: 'text'", and the
 * caller's struct is only replaced once everything parsed.  A daemon that
 * half-applies its configuration, or guesses, publishes wrong DNS records.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <migrate/mig_abi.h>
#include "mig_config.h"

#define LINE_MAX_CHARS 1023
#define KEY_FILE_MAX   (64 * 1024)
#define QUOTE_MAX      80

void mig_config_init(struct mig_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pool = -1;
	cfg->xdp = -1;
	cfg->dns.port = 53;
}

/* ---------------------------------------------------------------------- */
/* Errors */

/* Copy text for quoting: at most QUOTE_MAX characters, control characters
 * as '?', "..." when cut, so the message stays one printable line. */
static void quote(char *out, size_t outlen, const char *text, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len && i < QUOTE_MAX && n + 1 < outlen; i++) {
		unsigned char ch = (unsigned char)text[i];

		out[n++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (i < len && n + 3 < outlen) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* "FILE:LINE: what: 'text'" into err; returns -EINVAL. */
__attribute__((format(printf, 6, 7)))
static int fail(char *err, size_t errlen, const char *file, int line,
		const char *text, const char *fmt, ...)
{
	char what[256], q[QUOTE_MAX + 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	quote(q, sizeof(q), text, strlen(text));
	snprintf(err, errlen, "%s:%d: %s: '%s'", file, line, what, q);
	return -EINVAL;
}

/* ---------------------------------------------------------------------- */
/* Values */

/*
 * A domain name as this file takes it: labels of 1-63 letters, digits and
 * hyphens (no hyphen first or last; '_' too when underscore is set, as in
 * TSIG key names), at most 253 characters without the final dot.  Written
 * to out lowercase and absolute.  NULL, or what is wrong.
 */
static const char *dns_name_norm(const char *in, bool underscore,
				 char out[MIG_DNS_NAME_MAX + 1])
{
	size_t len = strlen(in), i, label = 0;

	if (len && in[len - 1] == '.')
		len--;
	if (len == 0)
		return "empty name (the root zone is not allowed)";
	if (len > 253)
		return "name longer than 253 characters";
	for (i = 0; i <= len; i++) {
		char ch = i < len ? in[i] : '.';

		if (ch == '.') {
			if (label == 0)
				return "empty label";
			if (in[i - 1] == '-')
				return "label ends with '-'";
			label = 0;
			out[i] = '.';
			continue;
		}
		if (!isalnum((unsigned char)ch) && ch != '-' && !(underscore && ch == '_'))
			return underscore ?
				"invalid character (labels are letters, digits, '-' and '_')" :
				"invalid character (labels are letters, digits and '-')";
		if (label == 0 && ch == '-')
			return "label starts with '-'";
		if (++label > 63)
			return "label longer than 63 characters";
		out[i] = (char)tolower((unsigned char)ch);
	}
	out[len + 1] = '\0';
	return NULL;
}

/* name (absolute, normalized) is zone or below it. */
static bool in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	if (n == z)
		return !strcmp(name, zone);
	return n > z && name[n - z - 1] == '.' && !strcmp(name + n - z, zone);
}

/* Decimal digits only, no sign, at most max. */
static bool parse_num(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (max - (unsigned long)(*s - '0')) / 10)
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*out = v;
	return true;
}

/* Linux's dev_valid_name(): 1-15 bytes, not "." or "..", no '/', ':' or
 * white space. */
static bool ifname_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s))
			return false;
	return true;
}

/* Standard base64 with padding; decoded length into *n. */
static const char *base64_check(const char *s, size_t *n)
{
	size_t len = strlen(s), i, pad = 0;

	if (len == 0)
		return "empty secret";
	if (len % 4)
		return "secret is not valid base64 (length not a multiple of 4)";
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (ch == '=') {
			pad++;
			continue;
		}
		if (pad)
			return "secret is not valid base64 ('=' inside)";
		if (!isalnum((unsigned char)ch) && ch != '+' && ch != '/')
			return "secret is not valid base64 (invalid character)";
	}
	if (pad > 2)
		return "secret is not valid base64 (too much padding)";
	*n = len / 4 * 3 - pad;
	if (*n == 0)
		return "empty secret";
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* The key file: key "NAME" { algorithm hmac-sha256; secret "BASE64"; }; */

struct tok {
	const char *s;     /* into the file buffer; for strings, the inside */
	size_t len;
	int line;
	bool quoted;
	bool eof;
};

struct lexer {
	const char *p, *end;
	int line;
	const char *path;
	char *err;
	size_t errlen;
};

static bool tok_is(const struct tok *t, const char *word)
{
	/* BIND's keywords are case-insensitive */
	return !t->quoted && !t->eof && t->len == strlen(word) &&
	       !strncasecmp(t->s, word, t->len);
}

/* Next token: a word, a quoted string, or one of { } ;.  Skips blanks and
 * BIND's three comment styles.  0 or -EINVAL (reported). */
static int lex(struct lexer *lx, struct tok *t)
{
	char text[QUOTE_MAX + 1];

	memset(t, 0, sizeof(*t));
	for (;;) {
		while (lx->p < lx->end && isspace((unsigned char)*lx->p)) {
			if (*lx->p == '\n')
				lx->line++;
			lx->p++;
		}
		if (lx->p >= lx->end)
			break;
		if (*lx->p == '#' ||
		    (*lx->p == '/' && lx->p + 1 < lx->end && lx->p[1] == '/')) {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		}
		if (*lx->p == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			int start = lx->line;

			lx->p += 2;
			while (lx->p + 1 < lx->end && !(lx->p[0] == '*' && lx->p[1] == '/')) {
				if (*lx->p == '\n')
					lx->line++;
				lx->p++;
			}
			if (lx->p + 1 >= lx->end)
				return fail(lx->err, lx->errlen, lx->path, start, "/*",
					    "unterminated comment");
			lx->p += 2;
			continue;
		}
		break;
	}
	t->line = lx->line;
	if (lx->p >= lx->end) {
		t->eof = true;
		return 0;
	}
	if (strchr("{};", *lx->p)) {
		t->s = lx->p++;
		t->len = 1;
		return 0;
	}
	if (*lx->p == '"') {
		const char *q = ++lx->p;

		while (lx->p < lx->end && *lx->p != '"' && *lx->p != '\n')
			lx->p++;
		if (lx->p >= lx->end || *lx->p != '"') {
			quote(text, sizeof(text), q - 1, (size_t)(lx->p - q + 1));
			return fail(lx->err, lx->errlen, lx->path, t->line, text,
				    "unterminated string");
		}
		t->s = q;
		t->len = (size_t)(lx->p - q);
		t->quoted = true;
		lx->p++;
		return 0;
	}
	t->s = lx->p;
	while (lx->p < lx->end && !isspace((unsigned char)*lx->p) &&
	       !strchr("{};\"#", *lx->p))
		lx->p++;
	t->len = (size_t)(lx->p - t->s);
	return 0;
}

static void tok_text(const struct tok *t, char *buf, size_t buflen)
{
	if (t->eof)
		snprintf(buf, buflen, "end of file");
	else
		quote(buf, buflen, t->s, t->len);
}

/* Expect a token that is exactly word. */
static int expect(struct lexer *lx, const char *word, const char *ctx)
{
	char text[QUOTE_MAX + 4];
	struct tok t;
	int e = lex(lx, &t);

	if (e)
		return e;
	if (tok_is(&t, word))
		return 0;
	tok_text(&t, text, sizeof(text));
	return fail(lx->err, lx->errlen, lx->path, t.line, text,
		    "expected '%s' %s", word, ctx);
}

/* A token's text as a C string (bounded by size). */
static bool tok_copy(const struct tok *t, char *out, size_t size)
{
	if (t->len >= size)
		return false;
	memcpy(out, t->s, t->len);
	out[t->len] = '\0';
	return true;
}

/* Parse the text of a key file (n bytes at buf, named path in messages)
 * into dns->key_name, key_algorithm and key_secret.  0 or -EINVAL. */
static int parse_key_text(const char *path, const char *buf, size_t n,
			  struct mig_dns_config *dns, char *err, size_t errlen)
{
	char text[QUOTE_MAX + 4], word[512];
	struct lexer lx = { .line = 1, .path = path, .err = err, .errlen = errlen };
	int alg_line = 0, secret_line = 0, key_line, e = 0;
	const char *why = NULL;
	struct tok t;
	size_t declen;

	if (n > KEY_FILE_MAX) {
		snprintf(err, errlen, "%s: key file larger than %d bytes", path, KEY_FILE_MAX);
		e = -EINVAL;
		goto out;
	}
	if (memchr(buf, '\0', n)) {
		snprintf(err, errlen, "%s: key file holds a NUL byte: not a text file", path);
		e = -EINVAL;
		goto out;
	}
	lx.p = buf;
	lx.end = buf + n;

	if ((e = lex(&lx, &t)))
		goto out;
	if (t.eof) {
		e = fail(err, errlen, path, t.line, "", "empty key file: expected 'key \"NAME\" { ... };'");
		goto out;
	}
	if (!tok_is(&t, "key")) {
		tok_text(&t, text, sizeof(text));
		e = fail(err, errlen, path, t.line, text,
			 "expected 'key \"NAME\" { algorithm hmac-sha256; secret \"...\"; };'");
		goto out;
	}
	key_line = t.line;
	if ((e = lex(&lx, &t)))
		goto out;
	tok_text(&t, text, sizeof(text));
	if (t.eof || (!t.quoted && strchr("{};", *t.s))) {
		e = fail(err, errlen, path, t.line, text, "expected the key's name");
		goto out;
	}
	if (!tok_copy(&t, word, sizeof(word)) ||
	    (why = dns_name_norm(word, true, dns->key_name))) {
		e = fail(err, errlen, path, t.line, text, "invalid key name (%s)",
			 t.len >= sizeof(word) ? "too long" : why);
		goto out;
	}
	if ((e = expect(&lx, "{", "after the key's name")))
		goto out;
	for (;;) {
		if ((e = lex(&lx, &t)))
			goto out;
		if (tok_is(&t, "}"))
			break;
		tok_text(&t, text, sizeof(text));
		if (tok_is(&t, "algorithm")) {
			int line = t.line;

			if (alg_line) {
				e = fail(err, errlen, path, line, text,
					 "duplicate algorithm (first on line %d)", alg_line);
				goto out;
			}
			alg_line = line;
			if ((e = lex(&lx, &t)))
				goto out;
			tok_text(&t, text, sizeof(text));
			if (t.eof || !tok_copy(&t, word, sizeof(word)) ||
			    strcasecmp(word, "hmac-sha256")) {
				e = fail(err, errlen, path, t.line, text,
					 "unsupported algorithm (only hmac-sha256)");
				goto out;
			}
			snprintf(dns->key_algorithm, sizeof(dns->key_algorithm), "hmac-sha256");
		} else if (tok_is(&t, "secret")) {
			int line = t.line;

			if (secret_line) {
				e = fail(err, errlen, path, line, text,
					 "duplicate secret (first on line %d)", secret_line);
				goto out;
			}
			secret_line = line;
			if ((e = lex(&lx, &t)))
				goto out;
			/* Never quote the secret itself: error messages end up
			 * in logs. */
			if (t.eof || (!t.quoted && strchr("{};", *t.s))) {
				e = fail(err, errlen, path, t.line, "secret",
					 "missing secret value");
				goto out;
			}
			if (!tok_copy(&t, dns->key_secret, sizeof(dns->key_secret))) {
				e = fail(err, errlen, path, t.line, "secret",
					 "secret longer than %zu characters",
					 sizeof(dns->key_secret) - 1);
				goto out;
			}
			if ((why = base64_check(dns->key_secret, &declen))) {
				e = fail(err, errlen, path, t.line, "secret", "%s", why);
				goto out;
			}
		} else if (t.eof) {
			e = fail(err, errlen, path, t.line, text,
				 "missing '}' of the key opened on line %d", key_line);
			goto out;
		} else {
			e = fail(err, errlen, path, t.line, text,
				 "unknown statement in key (expected algorithm or secret)");
			goto out;
		}
		if ((e = expect(&lx, ";", "after the value")))
			goto out;
	}
	if ((e = expect(&lx, ";", "after '}'")))
		goto out;
	if ((e = lex(&lx, &t)))
		goto out;
	if (!t.eof) {
		tok_text(&t, text, sizeof(text));
		e = fail(err, errlen, path, t.line, text,
			 "text after the key (one key per file)");
		goto out;
	}
	if (!alg_line) {
		e = fail(err, errlen, path, key_line, dns->key_name,
			 "key without 'algorithm hmac-sha256;'");
		goto out;
	}
	if (!secret_line) {
		e = fail(err, errlen, path, key_line, dns->key_name,
			 "key without 'secret \"...\";'");
		goto out;
	}
	e = 0;
out:
	if (e)
		/* no half-read secret stays behind in the temporary */
		explicit_bzero(dns->key_secret, sizeof(dns->key_secret));
	return e;
}

static int parse_key_file(const char *path, struct mig_dns_config *dns,
			  char *err, size_t errlen)
{
	char *buf;
	size_t n;
	FILE *f;
	int e;

	f = fopen(path, "r");
	if (!f) {
		e = -errno;
		snprintf(err, errlen, "%s: cannot read key file: %s", path, strerror(-e));
		return e;
	}
	buf = malloc(KEY_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	n = fread(buf, 1, KEY_FILE_MAX + 1, f);
	if (ferror(f)) {
		e = -(errno ? errno : EIO);
		snprintf(err, errlen, "%s: cannot read key file: %s", path, strerror(-e));
	} else {
		e = parse_key_text(path, buf, n, dns, err, errlen);
	}
	free(buf);
	fclose(f);
	return e;
}

/* ---------------------------------------------------------------------- */
/* The configuration file */

enum section { SEC_GLOBAL, SEC_DNS };

enum key_id {
	K_PIN_DIR, K_CGROUP, K_POOL, K_INTERFACE, K_MAX_FLOWS, K_XDP,
	K_ZONE, K_NAME, K_SERVER, K_PORT, K_KEY_FILE, K_PEER,
	K__MAX
};

static const struct {
	const char *name;
	enum section sec;
	bool multi;
} keys[K__MAX] = {
	[K_PIN_DIR]   = { "pin_dir",   SEC_GLOBAL, false },
	[K_CGROUP]    = { "cgroup",    SEC_GLOBAL, false },
	[K_POOL]      = { "pool",      SEC_GLOBAL, false },
	[K_INTERFACE] = { "interface", SEC_GLOBAL, true },
	[K_MAX_FLOWS] = { "max_flows", SEC_GLOBAL, false },
	[K_XDP]       = { "xdp",       SEC_GLOBAL, false },
	[K_ZONE]      = { "zone",      SEC_DNS,    false },
	[K_NAME]      = { "name",      SEC_DNS,    true },
	[K_SERVER]    = { "server",    SEC_DNS,    false },
	[K_PORT]      = { "port",      SEC_DNS,    false },
	[K_KEY_FILE]  = { "key_file",  SEC_DNS,    false },
	[K_PEER]      = { "peer",      SEC_DNS,    true },
};

struct parser {
	const char *path;
	char *err;
	size_t errlen;
	struct mig_config *c;
	int line;
	enum section sec;
	int dns_line;                         /* line of [dns], 0 if none */
	int first[K__MAX];                    /* line a key was first set */
	int name_line[MIG_CONF_MAX_NAMES];
	const char *key_text;                 /* NULL: read key_file */
	size_t key_len;
};

static int set_path(struct parser *p, const char *key, const char *v,
		    char *out, size_t size)
{
	if (v[0] != '/')
		return fail(p->err, p->errlen, p->path, p->line, v,
			    "%s must be an absolute path", key);
	if (strlen(v) >= size)
		return fail(p->err, p->errlen, p->path, p->line, v,
			    "%s longer than %zu characters", key, size - 1);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int set_name(struct parser *p, const char *what, const char *v,
		    char *out)
{
	const char *why = dns_name_norm(v, false, out);

	if (why)
		return fail(p->err, p->errlen, p->path, p->line, v,
			    "invalid %s (%s)", what, why);
	return 0;
}

static int apply(struct parser *p, enum key_id k, const char *v)
{
	struct mig_config *c = p->c;
	struct mig_dns_config *d = &c->dns;
	char norm[MIG_DNS_NAME_MAX + 1];
	unsigned long num;
	int i, e;

	switch (k) {
	case K_PIN_DIR:
		return set_path(p, "pin_dir", v, c->pin_dir, sizeof(c->pin_dir));
	case K_CGROUP:
		return set_path(p, "cgroup", v, c->cgroup, sizeof(c->cgroup));
	case K_POOL:
		if (!parse_num(v, MIG_POOL_MAX, &num))
			return fail(p->err, p->errlen, p->path, p->line, v,
				    "invalid pool size (a number from 0 to %d)", MIG_POOL_MAX);
		c->pool = (int)num;
		return 0;
	case K_INTERFACE:
		if (!ifname_valid(v))
			return fail(p->err, p->errlen, p->path, p->line, v,
				    "invalid interface name (1-15 characters, no '/', ':' or blanks)");
		for (i = 0; i < c->n_ifaces; i++)
			if (!strcmp(c->ifaces[i], v))
				return fail(p->err, p->errlen, p->path, p->line, v,
					    "interface listed twice");
		if (c->n_ifaces >= MIG_CONF_MAX_IFACES)
			return fail(p->err, p->errlen, p->path, p->line, v,
				    "too many interfaces (at most %d)", MIG_CONF_MAX_IFACES);
		memcpy(c->ifaces[c->n_ifaces++], v, strlen(v) + 1);
		return 0;
	case K_MAX_FLOWS:
		if (!parse_num(v, MIG_FLOWS_LIMIT, &num) || num < MIG_MIN_FLOWS)
			return fail(p->err, p->errlen, p->path, p->line, v,
				    "invalid max_flows (a number from %d to %u)", MIG_MIN_FLOWS,
				    MIG_FLOWS_LIMIT);
		c->max_flows = (unsigned int)num;
		return 0;
	case K_XDP:
		if (!strcmp(v, "yes"))
			c->xdp = 1;
		else if (!strcmp(v, "no"))
			c->xdp = 0;
		else
			return fail(p->err, p->errlen, p->path, p->line, v,
				    "invalid xdp (yes or no)");
		return 0;
	case K_ZONE:
		return set_name(p, "zone name", v, d->zone);
	case K_NAME:
	case K_PEER: {
		char (*list)[MIG_DNS_NAME_MAX + 1] = k == K_NAME ? d->names : d->peers;
		int *n = k == K_NAME ? &d->n_names : &d->n_peers;

		if ((e = set_name(p, k == K_NAME ? "name" : "peer name", v, norm)))
			return e;
		for (i = 0; i < *n; i++)
			if (!strcmp(list[i], norm))
				return fail(p->err, p->errlen, p->path, p->line, v,
					    "%s listed twice", keys[k].name);
		if (*n >= MIG_CONF_MAX_NAMES)
			return fail(p->err, p->errlen, p->path, p->line, v,
				    "too many %s entries (at most %d)", keys[k].name,
				    MIG_CONF_MAX_NAMES);
		if (k == K_NAME)
			p->name_line[*n] = p->line;
		memcpy(list[(*n)++], norm, sizeof(norm));
		return 0;
	}
	case K_SERVER: {
		struct sockaddr_in *sin = (struct sockaddr_in *)&d->server;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&d->server;

		memset(&d->server, 0, sizeof(d->server));
		if (inet_pton(AF_INET, v, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
		} else if (inet_pton(AF_INET6, v, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
		} else {
			return fail(p->err, p->errlen, p->path, p->line, v,
				    "invalid server address (an IPv4 or IPv6 address, no name or port)");
		}
		d->have_server = true;
		return 0;
	}
	case K_PORT:
		if (!parse_num(v, 65535, &num) || num == 0)
			return fail(p->err, p->errlen, p->path, p->line, v,
				    "invalid port (a number from 1 to 65535)");
		d->port = (unsigned int)num;
		return 0;
	case K_KEY_FILE:
		if ((e = set_path(p, "key_file", v, d->key_file, sizeof(d->key_file))))
			return e;
		if (p->key_text)
			return parse_key_text(d->key_file, p->key_text, p->key_len, d,
					      p->err, p->errlen);
		if ((e = parse_key_file(d->key_file, d, p->err, p->errlen)) == -EINVAL)
			return e;  /* located in the key file */
		if (e)
			/* cannot read it: located here */
			return fail(p->err, p->errlen, p->path, p->line, v,
				    "cannot read key_file (%s)", strerror(-e));
		return 0;
	case K__MAX:
		break;
	}
	return -EINVAL;
}

/* One line, without its newline. */
static int parse_line(struct parser *p, char *s)
{
	char *key, *v, *end, *hash;
	size_t klen;
	int k;

	/* '#' starts a comment anywhere: no value here contains one */
	hash = strchr(s, '#');
	if (hash)
		*hash = '\0';
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (!*s)
		return 0;

	if (*s == '[') {
		if (strcmp(s, "[dns]"))
			return fail(p->err, p->errlen, p->path, p->line, s,
				    "unknown section (the only section is [dns])");
		if (p->dns_line)
			return fail(p->err, p->errlen, p->path, p->line, s,
				    "duplicate section (first on line %d)", p->dns_line);
		p->dns_line = p->line;
		p->sec = SEC_DNS;
		p->c->dns.enabled = true;
		return 0;
	}

	key = s;
	klen = strcspn(s, " \t=");
	v = s + klen;
	while (isspace((unsigned char)*v))
		v++;
	if (klen == 0 || *v != '=')
		return fail(p->err, p->errlen, p->path, p->line, s,
			    "expected 'key = value' or '[dns]'");
	key[klen] = '\0';
	v++;
	while (isspace((unsigned char)*v))
		v++;

	for (k = 0; k < K__MAX; k++)
		if (!strcmp(keys[k].name, key))
			break;
	if (k == K__MAX)
		return fail(p->err, p->errlen, p->path, p->line, key,
			    p->sec == SEC_DNS ?
			    "unknown key in [dns] (zone, name, server, port, key_file, peer)" :
			    "unknown key (pin_dir, cgroup, pool, interface, max_flows, xdp; "
			    "the rest goes in [dns])");
	if (keys[k].sec != p->sec)
		return fail(p->err, p->errlen, p->path, p->line, key,
			    keys[k].sec == SEC_DNS ? "key belongs in the [dns] section" :
			    "key belongs before the [dns] section");
	if (!*v)
		return fail(p->err, p->errlen, p->path, p->line, key, "missing value");
	if (!keys[k].multi && p->first[k])
		return fail(p->err, p->errlen, p->path, p->line, key,
			    "duplicate key (first set on line %d)", p->first[k]);
	if (!p->first[k])
		p->first[k] = p->line;
	return apply(p, (enum key_id)k, v);
}

/* What [dns] needs once the whole file is read. */
static int check_dns(struct parser *p)
{
	const struct mig_dns_config *d = &p->c->dns;
	static const enum key_id required[] = { K_ZONE, K_NAME, K_KEY_FILE };
	size_t r;
	int i;

	if (!d->enabled)
		return 0;
	for (r = 0; r < sizeof(required) / sizeof(required[0]); r++)
		if (!p->first[required[r]])
			return fail(p->err, p->errlen, p->path, p->dns_line, "[dns]",
				    "[dns] section without '%s = ...'", keys[required[r]].name);
	for (i = 0; i < d->n_names; i++)
		if (!in_zone(d->names[i], d->zone))
			return fail(p->err, p->errlen, p->path, p->name_line[i], d->names[i],
				    "name outside zone %s", d->zone);
	return 0;
}

/* Where the text comes from: a file, or a buffer (p up to end). */
struct src {
	FILE *f;
	const char *p, *end;
};

static int src_getc(struct src *s)
{
	if (s->f)
		return getc(s->f);
	return s->p < s->end ? (unsigned char)*s->p++ : EOF;
}

/* Read one line into buf (at most LINE_MAX_CHARS characters, without its
 * newline or a CR before it).  1: a line, 0: end of file, -E2BIG: longer,
 * -EILSEQ: a NUL byte, -errno: read error. */
static int read_line(struct src *f, char buf[LINE_MAX_CHARS + 2], size_t *len)
{
	size_t n = 0;
	int ch;

	while ((ch = src_getc(f)) != EOF && ch != '\n') {
		if (ch == '\0') {
			buf[n] = '\0';
			return -EILSEQ;
		}
		if (n > LINE_MAX_CHARS) {
			buf[n] = '\0';
			*len = n;
			return -E2BIG;
		}
		buf[n++] = (char)ch;
	}
	if (ch == EOF && f->f && ferror(f->f))
		return -(errno ? errno : EIO);
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	if (n > LINE_MAX_CHARS)
		return -E2BIG;
	return ch == EOF && n == 0 ? 0 : 1;
}

static int parse(const char *path, struct src *f, const char *key_text, size_t key_len,
		 struct mig_config *cfg, char *err, size_t errlen)
{
	char line[LINE_MAX_CHARS + 2];
	struct parser *p = NULL;
	struct mig_config *tmp = NULL;
	int e = 0, r;
	size_t len;

	p = calloc(1, sizeof(*p));
	tmp = malloc(sizeof(*tmp));
	if (!p || !tmp) {
		snprintf(err, errlen, "%s: out of memory", path);
		e = -ENOMEM;
		goto out;
	}
	/* The file says everything: start from the defaults, not from cfg. */
	mig_config_init(tmp);
	p->path = path;
	p->err = err;
	p->errlen = errlen;
	p->c = tmp;
	p->sec = SEC_GLOBAL;
	p->key_text = key_text;
	p->key_len = key_len;

	while ((r = read_line(f, line, &len)) != 0) {
		p->line++;
		if (r == -E2BIG) {
			e = fail(err, errlen, path, p->line, line,
				 "line longer than %d characters", LINE_MAX_CHARS);
			goto out;
		}
		if (r == -EILSEQ) {
			e = fail(err, errlen, path, p->line, line,
				 "NUL byte in line: not a text file");
			goto out;
		}
		if (r < 0) {
			e = r;
			snprintf(err, errlen, "%s: read error: %s", path, strerror(-e));
			goto out;
		}
		if ((e = parse_line(p, line)))
			goto out;
	}
	if ((e = check_dns(p)))
		goto out;
	memcpy(cfg, tmp, sizeof(*cfg));
	e = 0;
out:
	if (tmp) {
		/* the temporary may hold the TSIG secret */
		explicit_bzero(tmp->dns.key_secret, sizeof(tmp->dns.key_secret));
		free(tmp);
	}
	free(p);
	return e;
}

int mig_config_load(const char *path, struct mig_config *cfg, char *err, size_t errlen)
{
	struct src s = { 0 };
	int e;

	s.f = fopen(path, "r");
	if (!s.f) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	e = parse(path, &s, NULL, 0, cfg, err, errlen);
	fclose(s.f);
	return e;
}

int mig_config_parse(const char *name, const char *text, size_t len, const char *key_text,
		     size_t key_len, struct mig_config *cfg, char *err, size_t errlen)
{
	struct src s = { .p = text, .end = text + len };

	return parse(name, &s, key_text, key_len, cfg, err, errlen);
}

int mig_config_err_line(const char *path, const char *err, char *out, size_t outlen)
{
	char line[LINE_MAX_CHARS + 2];
	size_t plen = strlen(path), len = 0;
	unsigned long want, n = 0;
	const char *p;
	char num[16];
	struct src src = { 0 };
	int r = 1;

	if (strncmp(err, path, plen) || err[plen] != ':')
		return -ENOENT;
	p = err + plen + 1;
	len = strspn(p, "0123456789");
	if (!len || len >= sizeof(num) || p[len] != ':')
		return -ENOENT;
	memcpy(num, p, len);
	num[len] = '\0';
	if (!parse_num(num, 1UL << 30, &want) || !want)
		return -ENOENT;
	src.f = fopen(path, "r");
	if (!src.f)
		return -errno;
	while (n < want && (r = read_line(&src, line, &len)) != 0)
		n++;
	fclose(src.f);
	/* an over-long line is quoted cut; NUL and read errors are not */
	if (n != want || (r < 0 && r != -E2BIG))
		return -ENOENT;
	quote(out, outlen, line, strlen(line));
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Comparisons for a reload */

static bool names_equal(const char (*a)[MIG_DNS_NAME_MAX + 1], int na,
			const char (*b)[MIG_DNS_NAME_MAX + 1], int nb)
{
	int i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

static bool server_equal(const struct mig_dns_config *a, const struct mig_dns_config *b)
{
	const struct sockaddr_in *a4 = (const void *)&a->server, *b4 = (const void *)&b->server;
	const struct sockaddr_in6 *a6 = (const void *)&a->server, *b6 = (const void *)&b->server;

	if (a->have_server != b->have_server)
		return false;
	if (!a->have_server)
		return true;
	if (a->server.ss_family != b->server.ss_family)
		return false;
	if (a->server.ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}

/* Field by field: the name buffers hold bytes past their NUL that say
 * nothing. */
bool mig_dns_config_equal(const struct mig_dns_config *a, const struct mig_dns_config *b)
{
	if (a->enabled != b->enabled)
		return false;
	if (!a->enabled)
		return true;
	return !strcmp(a->zone, b->zone) &&
	       names_equal(a->names, a->n_names, b->names, b->n_names) &&
	       names_equal(a->peers, a->n_peers, b->peers, b->n_peers) &&
	       server_equal(a, b) && a->port == b->port &&
	       !strcmp(a->key_file, b->key_file) && !strcmp(a->key_name, b->key_name) &&
	       !strcmp(a->key_algorithm, b->key_algorithm) &&
	       !strcmp(a->key_secret, b->key_secret);
}

static bool ifaces_within(const char (*a)[16], int na, const char (*b)[16], int nb)
{
	int i, j;

	for (i = 0; i < na; i++) {
		for (j = 0; j < nb; j++)
			if (!strncmp(a[i], b[j], 16))
				break;
		if (j == nb)
			return false;
	}
	return true;
}

bool mig_ifaces_equal(const char (*a)[16], int na, const char (*b)[16], int nb)
{
	return ifaces_within(a, na, b, nb) && ifaces_within(b, nb, a, na);
}
