#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""prom_check.py [FILE] - check that FILE (or standard input) is valid
Prometheus text exposition format 0.0.4 and print its samples as one JSON
object {"name{label=\"value\",...}": value}, labels sorted.  Checked: every
line is a HELP, TYPE or sample line; metric and label names are valid;
label values are quoted with only \\\\, \\" and \\n escapes; values are
numbers; HELP and TYPE come at most once per family and before its samples;
a family's samples are contiguous; no series appears twice; a counter's
name ends in _total; the text ends with a newline.  Exit 1 with the
offending line on the first error."""
import json
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def fail(n, line, why):
    print("prom_check: line %d: %s: %r" % (n, why, line), file=sys.stderr)
    sys.exit(1)


def parse_labels(n, line, s):
    """s starts after '{'; returns (labels, rest after '}')."""
    labels = {}
    i = 0
    while True:
        if s[i:i + 1] == "}":
            return labels, s[i + 1:]
        m = re.match(LABEL, s[i:])
        if not m:
            fail(n, line, "bad label name")
        name = m.group(0)
        i += len(name)
        if s[i:i + 2] != '="':
            fail(n, line, "label %s: expected =\"" % name)
        i += 2
        val = []
        while True:
            if i >= len(s):
                fail(n, line, "unterminated label value")
            c = s[i]
            if c == "\\":
                e = s[i + 1:i + 2]
                if e not in ("\\", '"', "n"):
                    fail(n, line, "bad escape \\%s" % e)
                val.append("\n" if e == "n" else e)
                i += 2
                continue
            if c == '"':
                i += 1
                break
            if c == "\n":
                fail(n, line, "raw newline in a label value")
            val.append(c)
            i += 1
        if name in labels:
            fail(n, line, "label %s twice" % name)
        labels[name] = "".join(val)
        if s[i:i + 1] == ",":
            i += 1
        elif s[i:i + 1] != "}":
            fail(n, line, "expected , or } after a label")


def family_of(name, types):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[:-len(suf)]) in ("histogram", "summary"):
            return name[:-len(suf)]
    return name


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    if not text:
        fail(0, "", "empty output")
    if not text.endswith("\n"):
        fail(0, text[-40:], "no newline at the end")
    helps, types, seen_fam, done_fam, series = set(), {}, set(), set(), {}
    cur = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            m = re.match(r"# (HELP|TYPE) (%s)(?: (.*))?$" % NAME, line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    fail(n, line, "malformed HELP or TYPE")
                continue   # a plain comment
            kind, name, rest = m.groups()
            if name in seen_fam:
                fail(n, line, "%s after the samples of %s" % (kind, name))
            if kind == "HELP":
                if name in helps:
                    fail(n, line, "second HELP")
                if rest is None or re.search(r"\\[^\\n]", rest):
                    fail(n, line, "HELP text missing or badly escaped")
                helps.add(name)
            else:
                if name in types:
                    fail(n, line, "second TYPE")
                if rest not in TYPES:
                    fail(n, line, "unknown type")
                if rest == "counter" and not name.endswith("_total"):
                    fail(n, line, "counter name without _total")
                types[name] = rest
            continue
        if not line.strip():
            fail(n, line, "empty line")
        m = re.match(r"(%s)(\{)?" % NAME, line)
        if not m:
            fail(n, line, "bad metric name")
        name = m.group(1)
        rest = line[m.end():]
        labels = {}
        if m.group(2):
            labels, rest = parse_labels(n, line, rest)
        m2 = re.match(r" ([^ ]+)(?: (-?[0-9]+))?$", rest)
        if not m2:
            fail(n, line, "expected ' VALUE [TIMESTAMP]'")
        v = m2.group(1)
        if not re.match(r"^([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?Inf|NaN)$", v):
            fail(n, line, "bad value")
        fam = family_of(name, types)
        if fam != cur:
            if fam in done_fam:
                fail(n, line, "samples of %s not together" % fam)
            if cur is not None:
                done_fam.add(cur)
            cur = fam
        seen_fam.add(fam)
        key = name + "{" + ",".join('%s="%s"' % (k, labels[k]) for k in sorted(labels)) + "}"
        if key in series:
            fail(n, line, "series twice")
        series[key] = float(v) if "." in v or "e" in v.lower() or v in ("NaN",) else int(v)
    json.dump(series, sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
