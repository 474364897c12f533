#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""schema_check.py SCHEMA DEF [FILE] - validate one JSON document (FILE, or
standard input) against the definition DEF of SCHEMA (e.g. docs/
migratectl.schema.json flows).  Python's standard library only: the subset
of JSON Schema that schema uses (type, properties, required,
additionalProperties, propertyNames, minProperties, items, maxItems,
pattern, minLength, minimum, maximum, enum, $ref to #/$defs/...).  A keyword
outside that subset is an error, so the schema cannot silently say more
than is checked.  Exit 0 if valid, 1 with the reasons if not, 2 on usage."""
import json
import re
import sys

KNOWN = {"$schema", "$id", "title", "description", "$defs", "type", "properties",
         "required", "additionalProperties", "propertyNames", "minProperties",
         "items", "maxItems", "pattern", "minLength", "minimum", "maximum",
         "enum", "$ref"}


def type_ok(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "null":
        return v is None
    raise ValueError("unknown type %r" % t)


def check(root, s, v, path, errs):
    for k in s:
        if k not in KNOWN:
            raise ValueError("schema keyword %r not supported (at %s)" % (k, path))
    if "$ref" in s:
        ref = s["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError("unsupported $ref %r" % ref)
        check(root, root["$defs"][ref[8:]], v, path, errs)
    if "type" in s:
        ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(type_ok(v, t) for t in ts):
            errs.append("%s: %r is not of type %s" % (path, v, "/".join(ts)))
            return
    if "enum" in s and v not in s["enum"]:
        errs.append("%s: %r not one of %r" % (path, v, s["enum"]))
    if isinstance(v, str):
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append("%s: %r does not match %s" % (path, v, s["pattern"]))
        if len(v) < s.get("minLength", 0):
            errs.append("%s: %r shorter than %d" % (path, v, s["minLength"]))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s and v < s["minimum"]:
            errs.append("%s: %r below %r" % (path, v, s["minimum"]))
        if "maximum" in s and v > s["maximum"]:
            errs.append("%s: %r above %r" % (path, v, s["maximum"]))
    if isinstance(v, dict):
        for r in s.get("required", []):
            if r not in v:
                errs.append("%s: member %r missing" % (path, r))
        if len(v) < s.get("minProperties", 0):
            errs.append("%s: fewer than %d members" % (path, s["minProperties"]))
        props = s.get("properties", {})
        for k, x in v.items():
            p = "%s.%s" % (path, k)
            if "propertyNames" in s:
                check(root, s["propertyNames"], k, p + "(name)", errs)
            if k in props:
                check(root, props[k], x, p, errs)
            else:
                ap = s.get("additionalProperties", True)
                if ap is False:
                    errs.append("%s: member not in the schema" % p)
                elif isinstance(ap, dict):
                    check(root, ap, x, p, errs)
    if isinstance(v, list):
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append("%s: more than %d items" % (path, s["maxItems"]))
        if "items" in s:
            for i, x in enumerate(v):
                check(root, s["items"], x, "%s[%d]" % (path, i), errs)


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        root = json.load(f)
    if sys.argv[2] not in root["$defs"]:
        print("schema_check: no definition %r" % sys.argv[2], file=sys.stderr)
        return 2
    text = open(sys.argv[3]).read() if len(sys.argv) == 4 else sys.stdin.read()
    try:
        doc = json.loads(text)
    except ValueError as e:
        print("schema_check: not JSON: %s: %r" % (e, text[:200]), file=sys.stderr)
        return 1
    errs = []
    check(root, root["$defs"][sys.argv[2]], doc, "$", errs)
    for e in errs:
        print("schema_check: %s" % e, file=sys.stderr)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
