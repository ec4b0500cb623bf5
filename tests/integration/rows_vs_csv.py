#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""rows_vs_csv.py DUMP CSV [--no-tags TAG,...] - compares cairn_dump's output
for measurement `telemetry` with the workload generator's CSV, value by value.

Every CSV row must be stored exactly once as a row of series
telemetry,device_id=..,fleet=..,model=.. at ts (ms -> ns) with each field
equal: floats as doubles (both sides are the correctly rounded value of the
decimal text, so == is exact), integers with the `i` suffix.  Tags named in
--no-tags are expected absent (MQTT JSON payloads carry only device_id).
Prints the first differences and exits 1, or prints a summary and exits 0.
"""
import csv
import sys

INT_FIELDS = {"rpm", "battery", "status"}


def parse_dump(path):
    rows = {}
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line.startswith("telemetry,"):
            continue
        series, fields, ts = line.rsplit(" ", 2)
        tags = dict(kv.split("=", 1) for kv in series.split(",")[1:])
        vals = dict(kv.split("=", 1) for kv in fields.split(","))
        key = (tags.get("device_id"), int(ts))
        if key in rows:
            raise SystemExit("FAIL: row stored twice: %s" % line)
        rows[key] = (tags, vals)
    return rows


def main():
    dump, csv_path = sys.argv[1], sys.argv[2]
    absent = set()
    if len(sys.argv) > 4 and sys.argv[3] == "--no-tags":
        absent = set(sys.argv[4].split(","))
    got = parse_dump(dump)
    errors, n = [], 0
    with open(csv_path, newline="") as f:
        for rec in csv.DictReader(f):
            n += 1
            key = (rec["device_id"], int(rec["ts"]) * 1000000)
            if key not in got:
                errors.append("missing row %s" % (key,))
                continue
            tags, vals = got.pop(key)
            want_tags = {k: rec[k] for k in ("device_id", "fleet", "model") if k not in absent}
            if tags != want_tags:
                errors.append("%s: tags %r, want %r" % (key, tags, want_tags))
            for k, v in rec.items():
                if k in ("ts", "device_id", "fleet", "model"):
                    continue
                s = vals.get(k)
                if s is None:
                    errors.append("%s: field %s missing" % (key, k))
                elif k in INT_FIELDS:
                    if s != v + "i":
                        errors.append("%s: %s = %s, want %si" % (key, k, s, v))
                elif float(s) != float(v):
                    errors.append("%s: %s = %s, want %s" % (key, k, s, v))
            if len(vals) != len(rec) - 4:
                errors.append("%s: %d fields, want %d" % (key, len(vals), len(rec) - 4))
            if len(errors) > 20:
                break
    if got and len(errors) <= 20:
        errors.append("%d extra rows, e.g. %s" % (len(got), next(iter(got))))
    if errors:
        print("\n".join("FAIL: " + e for e in errors[:20]), file=sys.stderr)
        sys.exit(1)
    print("%d rows, %d values equal" % (n, n * 10))


main()
