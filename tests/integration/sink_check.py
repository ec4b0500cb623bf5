# SPDX-License-Identifier: MIT
"""sink_check.py EXPECTED GOT - checks a sink's output against its input.
Both files hold one JSON object {"d": device, "n": number} per line
(EXPECTED may carry a "SINK KEY " prefix per line, as sink_driver reads it).
Passes when every expected object arrived with its exact bytes and, per
device, the first arrivals keep the input order; duplicates (redelivery
after a crash) are allowed.  Prints "N expected, M received, D duplicates"."""
import json
import sys

exp = [l.split(' ', 2)[2] if l.count(' ') >= 2 and not l.startswith('{') else l
       for l in open(sys.argv[1]).read().splitlines()]
got = open(sys.argv[2]).read().splitlines()
want = set(exp)
seen = set()
order = {}
dups = 0
for line in got:
    if line not in want:
        sys.exit('unexpected body: %r' % line)
    if line in seen:
        dups += 1
        continue
    seen.add(line)
    o = json.loads(line)
    order.setdefault(o['d'], []).append(o['n'])
missing = want - seen
if missing:
    sys.exit('%d missing, e.g. %r' % (len(missing), sorted(missing)[:3]))
for d, ns in order.items():
    if ns != sorted(ns):
        sys.exit('device %r out of order: %r' % (d, ns[:20]))
print('%d expected, %d received, %d duplicates' % (len(want), len(got), dups))
