/* SPDX-License-Identifier: MIT */
/*
 * fuzz_wal.c - libFuzzer target for the WAL reader (engine/wal_scan.c).
 * The input becomes wal-0000000000000001.log in a fresh directory; the
 * target verifies it read-only, replays and repairs it through
 * eng__wal_open, and checks the properties a repair promises: the verifier
 * and the replay agree on the record count, the repaired log verifies
 * clean, seqs are consecutive from 1, and a record appended afterwards is
 * replayed after the survivors.  A broken property aborts, which the fuzzer
 * reports like a crash.
 */
#include "engine/wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct seen {
    uint64_t records;
    uint64_t last_seq;
} seen_t;

static int on_record(void *arg, uint64_t seq, uint8_t type, const uint8_t *p, size_t n)
{
    seen_t *s = arg;
    (void)type;
    if (seq != s->last_seq + 1 || (n > 0 && p == NULL))
        abort();
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n; i += 4096)
        sink ^= p[i]; /* touch the payload so ASan sees any overread */
    (void)sink;
    s->records++;
    s->last_seq = seq;
    return 0;
}

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void run(const char *dir, const uint8_t *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/wal-0000000000000001.log", dir);
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(size == 0 || fwrite(data, 1, size, f) == size);
    check(fclose(f) == 0);

    uint64_t vrec = 0, vbytes = 0, vbad = 0;
    int vrc = eng__wal_verify(dir, &vrec, &vbytes, &vbad);
    check(vrc == 0 || vrc == CN_ECORRUPT || vrc == CN_EVERSION);
    check(vbytes + vbad <= size);

    eng__wal_opts_t o = {.dir = dir, .durability = ENG_DUR_OS};
    seen_t s = {0, 0};
    eng__wal_t *w = NULL;
    int rc = eng__wal_open(&o, on_record, &s, &w);
    if (rc == CN_EVERSION) {
        check(vrc == CN_EVERSION);
        return;
    }
    check(rc == 0 && vrc != CN_EVERSION);
    check(s.records == vrec);
    eng__wal_stats_t st;
    eng__wal_stats(w, &st);
    check(st.truncated_bytes == vbad && st.replayed_records == vrec);
    uint64_t seq = 0;
    check(eng__wal_append(w, 7, "fuzz", 4, &seq) == 0 && seq == s.last_seq + 1);
    check(eng__wal_wait(w, seq) == 0);
    eng__wal_close(w);

    check(eng__wal_verify(dir, &vrec, &vbytes, &vbad) == 0 && vbad == 0);
    check(vrec == s.records + 1);
    seen_t again = {0, 0};
    check(eng__wal_open(&o, on_record, &again, &w) == 0);
    check(again.records == s.records + 1 && again.last_seq == seq);
    eng__wal_close(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cn_log_set_level(CN_LOG_ERROR); /* repairs warn; thousands of runs need not */
    char dir[] = "/tmp/cairn-fuzz-wal-XXXXXX";
    if (!mkdtemp(dir))
        return 0;
    run(dir, data, size);
    cn_rmtree(dir);
    return 0;
}
