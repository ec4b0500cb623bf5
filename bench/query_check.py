#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/query_check.py - answer checks of `bench/run query` (bench/query.sh).

  query_check.py influx A.json B.json
      Compares two InfluxDB-1.x /query answers (cairn's and InfluxDB's for
      the same InfluxQL, both with epoch=ms): the same statements, series
      (matched by name and tags, in any order), columns and rows; numbers
      equal, floats within 1e-9 relative.  Prints MATCH or
      "MISMATCH: <first difference>"; exit 0 either way, 2 when a file is not
      such an answer.

  query_check.py vm Qn VM.json INFLUX.json
      Checks that VictoriaMetrics' answer to the MetricsQL of query Qn
      carries the same values as InfluxDB's answer (the equivalence of the
      two queries, not a speed figure).  Prints MATCH or "MISMATCH: ...".

  query_check.py ok FILE
      Exit 0 when FILE is a successful answer of either kind (no "error" in
      any statement, VM status "success"), else print the error, exit 1.

  query_check.py url PATH K=V ...
      Prints PATH?K=V&... with each V URL-encoded as curl's --data-urlencode
      encodes it (a space as +, every other byte but A-Z a-z 0-9 - . _ ~ as
      %xx), for bench/query.sh's query_lat requests.
"""
import json
import math
import sys

REL = 1e-9


def load(path):
    with open(path, "rb") as f:
        return json.load(f)


def num_eq(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= REL * max(abs(a), abs(b))
    return a == b


def series_key(s):
    return (s.get("name", ""), tuple(sorted((s.get("tags") or {}).items())))


def cmp_influx(a, b):
    ra, rb = a.get("results"), b.get("results")
    if not isinstance(ra, list) or not isinstance(rb, list):
        return "not a /query answer"
    if len(ra) != len(rb):
        return "%d statements vs %d" % (len(ra), len(rb))
    for i, (x, y) in enumerate(zip(ra, rb)):
        if x.get("error") != y.get("error"):
            return "statement %d: error %r vs %r" % (i, x.get("error"), y.get("error"))
        sa = sorted(x.get("series", []), key=series_key)
        sb = sorted(y.get("series", []), key=series_key)
        if len(sa) != len(sb):
            return "statement %d: %d series vs %d" % (i, len(sa), len(sb))
        for p, q in zip(sa, sb):
            if series_key(p) != series_key(q):
                return "series %r vs %r" % (series_key(p), series_key(q))
            if p.get("columns") != q.get("columns"):
                return "series %r: columns %r vs %r" % (series_key(p), p.get("columns"),
                                                        q.get("columns"))
            vp, vq = p.get("values", []), q.get("values", [])
            if len(vp) != len(vq):
                return "series %r: %d rows vs %d" % (series_key(p), len(vp), len(vq))
            for r, (u, v) in enumerate(zip(vp, vq)):
                if len(u) != len(v) or not all(num_eq(c, d) for c, d in zip(u, v)):
                    return "series %r row %d: %r vs %r" % (series_key(p), r, u, v)
    return None


# ------------------------------------------------------------------ VM
def vm_result(doc):
    if doc.get("status") != "success":
        raise ValueError("VM answer: %r" % doc.get("error"))
    return doc["data"]["result"]


def influx_series(doc):
    r = doc["results"][0]
    if "error" in r:
        raise ValueError("InfluxDB answer: %r" % r["error"])
    return r.get("series", [])


def field_of(metric):
    return metric.get("__name__", "").removeprefix("telemetry_")


def close(a, b):
    return num_eq(float(a), float(b))


def cmp_vm(q, vm, inf):
    res = vm_result(vm)
    ser = influx_series(inf)
    want, got = {}, {}
    if q in ("q1", "q5"):  # one row of last_<f> / count_<f> columns
        pre = "last_" if q == "q1" else "count_"
        s = ser[0]
        for c, v in zip(s["columns"], s["values"][0]):
            if c.startswith(pre):
                want[c[len(pre):]] = v
        for r in res:
            got[field_of(r["metric"])] = r["value"][1]
    elif q in ("q3", "q6"):  # one row per device
        for s in ser:
            want[s["tags"]["device_id"]] = s["values"][0][1]
        for r in res:
            got[r["metric"]["device_id"]] = r["value"][1]
    elif q == "q2":  # 1-minute buckets [t, t+60s) vs evaluation at t+59s
        for t, v in ser[0]["values"]:
            if v is not None:
                want[t // 1000 + 59] = v
        for t, v in res[0]["values"]:
            got[int(t)] = v
    elif q == "q4":  # hourly buckets per field
        s = ser[0]
        for row in s["values"]:
            for c, v in zip(s["columns"][1:], row[1:]):
                if v is not None:
                    want[(c.removeprefix("mean_"), row[0] // 1000 + 3599)] = v
        for r in res:
            for t, v in r["values"]:
                got[(field_of(r["metric"]), int(t))] = v
    else:
        raise ValueError("unknown query " + q)
    if not want:
        return "InfluxDB's answer has no values"
    if set(want) != set(got):
        miss = sorted(set(want) ^ set(got), key=str)[:3]
        return "%d keys vs %d (differ: %r)" % (len(got), len(want), miss)
    for k in want:
        if not close(got[k], want[k]):
            return "%r: VM %s vs InfluxDB %s" % (k, got[k], want[k])
    return None


UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def url_value(v):
    return "".join(chr(c) if c in UNRESERVED else "+" if c == 0x20 else "%%%02x" % c
                   for c in v.encode())


def url(path, pairs):
    parts = []
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep:
            raise ValueError("not K=V: %r" % p)
        parts.append(k + "=" + url_value(v))
    return path + "?" + "&".join(parts)


def main(argv):
    if len(argv) >= 4 and argv[1] == "url":
        try:
            print(url(argv[2], argv[3:]))
        except ValueError as e:
            print(e, file=sys.stderr)
            return 2
        return 0
    try:
        if len(argv) == 3 and argv[1] == "ok":
            doc = load(argv[2])
            if "status" in doc:
                vm_result(doc)
            else:
                if "results" not in doc:
                    raise ValueError(doc.get("error", "not a /query answer"))
                for r in doc["results"]:
                    if "error" in r:
                        raise ValueError(r["error"])
            return 0
        if len(argv) == 4 and argv[1] == "influx":
            err = cmp_influx(load(argv[2]), load(argv[3]))
        elif len(argv) == 5 and argv[1] == "vm":
            err = cmp_vm(argv[2], load(argv[3]), load(argv[4]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        if len(argv) == 3 and argv[1] == "ok":
            print(str(e)[:300])
            return 1
        print("MISMATCH: %s" % str(e)[:300])
        return 0
    print("MATCH" if err is None else "MISMATCH: " + err[:300])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
