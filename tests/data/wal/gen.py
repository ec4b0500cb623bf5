#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerates the WAL fixtures in tests/data/wal/<case>/ and the seed corpus
in tests/fuzz/corpus/wal/.  The format is documented at the top of
engine/wal.c; this is an independent writer so the tests also check that the
C reader agrees with the written-down format.

Record seq s carries payload(s) and type (s % 5) + 1, the same functions as
fixture_payload() in tests/engine/test_wal.c.  Expected outcomes are checked
by test_wal.c (table `fixtures`).

    python3 tests/data/wal/gen.py      # from the repository root
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "fuzz", "corpus", "wal")


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


TABLE = _table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def fhdr(first_seq, version=1):
    h = b"CAIRNWAL" + struct.pack("<IIQI", version, 0, first_seq, 0)
    return h + struct.pack("<I", crc32c(h))


def payload(s):
    head = b"rec-%d:" % s
    return head + bytes((s + i) & 0xFF for i in range(s * 7 % 40))


def record(s, data=None, typ=None):
    data = payload(s) if data is None else data
    typ = (s % 5) + 1 if typ is None else typ
    lenb = struct.pack("<I", len(data))
    tail = struct.pack("<QB", s, typ)
    crc = crc32c(lenb + tail, crc32c(data))
    return lenb + struct.pack("<I", crc) + tail + data


def wal_file(first, last):
    return fhdr(first) + b"".join(record(s) for s in range(first, last + 1))


def name(first):
    return "wal-%016x.log" % first


def flip(buf, off, bit=0):
    b = bytearray(buf)
    b[off] ^= 1 << bit
    return bytes(b)


def cases():
    """case name -> {file name: bytes}"""
    c = {}
    c["clean"] = {name(1): wal_file(1, 5), name(6): wal_file(6, 10)}
    f = wal_file(1, 6)
    last = len(record(6))
    c["torn_tail"] = {name(1): f[: len(f) - last // 2]}
    c["torn_header"] = {name(1): wal_file(1, 4), name(5): fhdr(5)[:10]}
    c["bitflip_last"] = {name(1): flip(f, len(f) - 3, 5)}
    f = wal_file(1, 5)
    off3 = 32 + len(record(1)) + len(record(2))
    c["bitflip_middle"] = {name(1): flip(f, off3 + 20, 2), name(6): wal_file(6, 10)}
    c["header_only"] = {name(1): wal_file(1, 3), name(4): fhdr(4)}
    c["empty"] = {name(1): b""}
    c["zero_tail"] = {name(1): wal_file(1, 4) + bytes(4096)}
    c["seq_gap"] = {name(1): wal_file(1, 3) + record(5)}
    c["newer_version"] = {name(1): fhdr(1, version=2) + record(1)}
    c["bad_length"] = {name(1): wal_file(1, 2) + struct.pack("<I", 0xFFFFFFF0) + bytes(40)}
    c["name_mismatch"] = {name(1): wal_file(1, 3), name(9): wal_file(4, 6)}
    return c


def main():
    for case, files in cases().items():
        d = os.path.join(HERE, case)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for fname, data in files.items():
            with open(os.path.join(d, fname), "wb") as fh:
                fh.write(data)
    # Fuzz seeds: single files named wal-0000000000000001.log by the target.
    os.makedirs(CORPUS, exist_ok=True)
    seeds = {
        "clean": wal_file(1, 12),
        "torn_tail": cases()["torn_tail"][name(1)],
        "bitflip_last": cases()["bitflip_last"][name(1)],
        "bitflip_middle": cases()["bitflip_middle"][name(1)],
        "header_only": fhdr(1),
        "empty": b"",
        "zero_tail": cases()["zero_tail"][name(1)],
        "seq_gap": cases()["seq_gap"][name(1)],
        "newer_version": cases()["newer_version"][name(1)],
        "bad_length": cases()["bad_length"][name(1)],
        "big_record": fhdr(1) + record(1, bytes(range(256)) * 64, 7) + record(2),
    }
    for seed, data in seeds.items():
        with open(os.path.join(CORPUS, seed), "wb") as fh:
            fh.write(data)


if __name__ == "__main__":
    main()
