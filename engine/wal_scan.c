/* SPDX-License-Identifier: MIT */
/*
 * wal_scan.c - the WAL's reader: lists the files of a WAL directory in
 * sequence order, validates every record of each (length, CRC-32C,
 * sequence) and either repairs the log (replay on open: truncate at the first
 * invalid record, delete what follows) or only reports (eng__wal_verify for
 * `cairn inspect`).  The format it reads is documented at the top of wal.c.
 *
 * Files are mapped whole with mmap(MAP_POPULATE) so that replay costs one
 * syscall per file rather than one per record; the parser itself reads only
 * through bounded cursors, so a hostile file can at worst be reported as
 * corrupt.
 */
#include "wal_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* What scanning one file found. */
typedef struct file_res {
    size_t valid_end; /* bytes up to the last valid record; < size means corrupt */
    uint64_t last_seq;
    uint64_t records;
    uint64_t record_bytes;
} file_res_t;

int eng__wal_path(char *out, size_t cap, const char *dir, uint64_t first_seq)
{
    int n = snprintf(out, cap, "%s/wal-%016" PRIx64 ".log", dir, first_seq);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

void eng__wal_fhdr_encode(uint8_t *out, uint64_t first_seq)
{
    memset(out, 0, WAL_FHDR);
    memcpy(out, WAL_MAGIC, 8);
    cn_st32(out + 8, WAL_VERSION);
    cn_st64(out + 16, first_seq);
    cn_st32(out + 28, cn_crc32c(0, out, 28));
}

uint32_t eng__wal_rec_crc(uint32_t payload_crc, const uint8_t *rhdr)
{
    uint32_t crc = cn_crc32c(payload_crc, rhdr, 4); /* length */
    return cn_crc32c(crc, rhdr + 8, 9);             /* seq, type */
}

/* 0, CN_EVERSION, or another negative code meaning "not a valid header". */
static int parse_fhdr(cn_rd_t *rd, uint64_t name_seq, uint64_t prev_seq)
{
    const uint8_t *h;
    int rc = cn_rd_bytes(rd, WAL_FHDR, &h);
    if (rc < 0)
        return rc;
    if (memcmp(h, WAL_MAGIC, 8) != 0 || cn_ld32(h + 28) != cn_crc32c(0, h, 28))
        return CN_CORRUPT();
    if (cn_ld32(h + 8) != WAL_VERSION)
        return CN_EVERSION;
    if (cn_ld64(h + 16) != name_seq || name_seq <= prev_seq)
        return CN_CORRUPT();
    return 0;
}

/*
 * Validates the file image p[0..n) whose name says it starts at name_seq;
 * the previous file ended at prev_seq.  Calls fn for each valid record.
 * Returns 0 (r filled; r->valid_end < n when invalid data was found),
 * fn's negative code, or CN_EVERSION.
 */
static int scan_mem(const uint8_t *p, size_t n, uint64_t name_seq, uint64_t prev_seq,
                    eng__wal_replay_fn fn, void *arg, file_res_t *r)
{
    memset(r, 0, sizeof *r);
    if (n == 0)
        return 0; /* created but never written: valid and empty */
    cn_rd_t rd = cn_rd_make(p, n);
    int rc = parse_fhdr(&rd, name_seq, prev_seq);
    if (rc == CN_EVERSION)
        return rc;
    if (rc < 0)
        return 0; /* invalid from offset 0 */
    r->valid_end = WAL_FHDR;
    uint64_t expect = name_seq;
    while (cn_rd_left(&rd) > 0) {
        const uint8_t *rec = rd.p, *payload;
        uint32_t len, crc;
        uint64_t seq;
        uint8_t type;
        if (cn_rd_u32(&rd, &len) < 0 || cn_rd_u32(&rd, &crc) < 0 || cn_rd_u64(&rd, &seq) < 0 ||
            cn_rd_u8(&rd, &type) < 0)
            break;
        if (len > WAL_MAX_PAYLOAD || seq != expect || cn_rd_bytes(&rd, len, &payload) < 0)
            break;
        if (eng__wal_rec_crc(cn_crc32c(0, payload, len), rec) != crc)
            break;
        if (fn) {
            rc = fn(arg, seq, type, payload, len);
            if (rc < 0)
                return rc;
        }
        r->records++;
        r->record_bytes += len;
        r->last_seq = seq;
        r->valid_end = (size_t)(rd.p - p);
        expect++;
    }
    return 0;
}

static int scan_path(const char *path, uint64_t name_seq, uint64_t prev_seq, eng__wal_replay_fn fn,
                     void *arg, file_res_t *r, uint64_t *size)
{
    int fd = cn_open_ro(path, size);
    if (fd < 0)
        return fd;
    const uint8_t *map = NULL;
    if (*size > 0) {
        map = mmap(NULL, (size_t)*size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (map == MAP_FAILED) {
            int rc = -errno;
            close(fd);
            return rc;
        }
    }
    close(fd);
    int rc = scan_mem(map, (size_t)*size, name_seq, prev_seq, fn, arg, r);
    if (map)
        munmap((void *)map, (size_t)*size);
    return rc;
}

/* Parses a canonical "wal-<16 lowercase hex>.log" name; false otherwise. */
static bool parse_name(const char *name, uint64_t *seq)
{
    if (strlen(name) != WAL_NAME_LEN || memcmp(name, "wal-", 4) != 0 ||
        memcmp(name + 20, ".log", 4) != 0)
        return false;
    uint64_t v = 0;
    for (int i = 4; i < 20; i++) {
        char c = name[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return false;
    }
    *seq = v;
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The first seqs of the regular WAL files in dir, ascending (*seqs owned). */
static int list_dir(const char *dir, uint64_t **seqs, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    size_t cap = 0;
    *seqs = NULL;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t seq;
        struct stat st;
        if (!parse_name(e->d_name, &seq))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
            cn_warn("wal: %s/%s is not a regular file, ignored", dir, e->d_name);
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *seqs = cn_realloc(*seqs, cap * sizeof **seqs);
        }
        (*seqs)[(*n)++] = seq;
    }
    closedir(d);
    if (*n > 1)
        qsort(*seqs, *n, sizeof **seqs, cmp_u64);
    return 0;
}

/* Truncates path to `len` bytes durably, or deletes it when it would keep
 * no record. */
static int cut_file(const char *path, uint64_t len, bool keep)
{
    if (!keep)
        return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (ftruncate(fd, (off_t)len) < 0 || fsync(fd) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

static void push_file(eng__wal_scan_t *s, uint64_t first, uint64_t last, uint64_t bytes)
{
    s->files = cn_realloc(s->files, (s->nfiles + 1) * sizeof *s->files);
    s->files[s->nfiles++] = (eng__wal_file_t){first, last, bytes};
}

/*
 * Accounts for (and with `repair` deletes) files[from..n), which follow a
 * corrupt file.  Newest first, and before the corrupt file is cut: a crash
 * in the middle of a repair must never leave a later file behind an already
 * repaired one, where it would replay after a gap; as it is, the next open
 * meets the same corruption and finishes the job.
 */
static int drop_later_files(const char *dir, const uint64_t *seqs, size_t from, size_t n,
                            bool repair, eng__wal_scan_t *out)
{
    int rc = 0;
    for (size_t j = n; j-- > from && rc == 0;) {
        char path[PATH_MAX];
        struct stat st;
        rc = eng__wal_path(path, sizeof path, dir, seqs[j]);
        if (rc == 0 && stat(path, &st) < 0)
            rc = -errno;
        if (rc < 0)
            break;
        out->bad_bytes += (uint64_t)st.st_size;
        if (!repair)
            continue;
        cn_warn("wal: %s: dropping %" PRIu64 " bytes after corruption in an earlier file", path,
                (uint64_t)st.st_size);
        rc = cut_file(path, 0, false);
    }
    if (rc == 0 && repair && n > from)
        rc = cn_fsync_dir(dir);
    return rc;
}

int eng__wal_scan_dir(const char *dir, bool repair, eng__wal_replay_fn fn, void *arg,
                      eng__wal_scan_t *out)
{
    memset(out, 0, sizeof *out);
    uint64_t *seqs = NULL;
    size_t n = 0;
    int rc = list_dir(dir, &seqs, &n);
    if (rc < 0)
        return rc;
    bool dirty = false;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[PATH_MAX];
        file_res_t r;
        memset(&r, 0, sizeof r);
        uint64_t size = 0;
        rc = eng__wal_path(path, sizeof path, dir, seqs[i]);
        if (rc == 0)
            rc = scan_path(path, seqs[i], out->last_seq, fn, arg, &r, &size);
        if (rc < 0)
            break;
        out->records += r.records;
        out->record_bytes += r.record_bytes;
        out->valid_bytes += r.valid_end;
        bool bad = r.valid_end < size;
        if (bad) {
            out->bad_bytes += size - r.valid_end;
            cn_log(repair ? CN_LOG_WARN : CN_LOG_DEBUG,
                   "wal: %s: invalid record at offset %zu, %s %" PRIu64 " bytes", path, r.valid_end,
                   repair ? "dropping" : "would drop", size - r.valid_end);
            rc = drop_later_files(dir, seqs, i + 1, n, repair, out);
        }
        /* Files without records go too, so a new file never meets its name. */
        if (rc == 0 && repair && (bad || r.records == 0)) {
            rc = cut_file(path, r.valid_end, r.records > 0);
            dirty = true;
        }
        if (r.records > 0) {
            push_file(out, seqs[i], r.last_seq, r.valid_end);
            out->last_seq = r.last_seq;
        }
        if (bad)
            break;
    }
    if (rc == 0 && repair && dirty)
        rc = cn_fsync_dir(dir);
    cn_free(seqs);
    if (rc < 0)
        eng__wal_scan_free(out);
    return rc;
}

void eng__wal_scan_free(eng__wal_scan_t *s)
{
    cn_free(s->files);
    s->files = NULL;
    s->nfiles = 0;
}

int eng__wal_verify(const char *dir, uint64_t *records, uint64_t *bytes, uint64_t *bad_tail_bytes)
{
    eng__wal_scan_t s;
    int rc = eng__wal_scan_dir(dir, false, NULL, NULL, &s);
    if (rc < 0)
        return rc;
    if (records)
        *records = s.records;
    if (bytes)
        *bytes = s.valid_bytes;
    if (bad_tail_bytes)
        *bad_tail_bytes = s.bad_bytes;
    eng__wal_scan_free(&s);
    return s.bad_bytes ? CN_ECORRUPT : 0;
}
