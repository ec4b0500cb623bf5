/* SPDX-License-Identifier: MIT */
/*
 * int.c - the int64 codec pipeline.  Integer columns use it directly; the
 * timestamp codec, the decimal float codec and the string codecs feed it
 * their integers (deltas of deltas, scaled mantissas, lengths, indices).
 *
 * The encoder first chooses a transform t of the values:
 *   t = 0  the values themselves
 *   t = 1  deltas        d[i] = v[i+1] - v[i]
 *   t = 2  delta-of-delta
 * (all wrapping in uint64, so INT64_MIN/MAX are fine), keeping the first t
 * values / deltas aside.  For each transform it computes, in one pass, the
 * exact frame-of-reference size and an entropy estimate for rANS, plus the
 * exact sizes of RLE, constant and raw; only the winner is encoded.  When
 * rANS wins on the estimate but loses in fact, FOR is written instead.
 *
 * Formats (after the codec id byte; "init" = t svarints: v[0], then for
 * t = 2 the first delta):
 *
 * ENG_C_I_RAW    n x 8 bytes, int64 LE.
 * ENG_C_I_CONST  svarint value.
 * ENG_C_I_RLE    uvarint runs; per run: svarint (value - previous run's
 *                value, first against 0, wrapping), uvarint (length - 1).
 *                Run lengths must add up to exactly n.
 * ENG_C_I_FOR    u8 t | init | svarint base | u8 w (0..64) |
 *                (n - t) values of w bits (bitpack.c), each d - base.
 * ENG_C_I_RANS   u8 t | init | svarint base | uvarint E (escapes) |
 *                if E > 0: svarint ebase, u8 ew, E values of ew bits |
 *                rANS table and stream of n - t symbols (rans.c).
 *                With alphabet size K, symbol s < K-1 means d = base + s and
 *                symbol K-1 means "take the next escape" (ebase + packed).
 *                The escapes carry values outside the 255-wide window around
 *                the median and in-window values too rare to deserve a slot.
 * Version notes: all v1.  A decoder rejects t > 2, w > 64 and run or escape
 * counts that disagree with n as CN_ECORRUPT.
 */
#include "codec_int.h"

#include <math.h>
#include <stdlib.h>

#define WIN 255 /* histogram window: symbols 0..254, escape is 255 at most */

/* Per-transform statistics gathered in one pass over the transformed data. */
typedef struct tstat {
    size_t m;           /* values after the transform: n - t */
    int64_t min, max;   /* signed range (FOR) */
    uint64_t centre;    /* window is [centre - 127, centre + 127] */
    uint32_t hist[WIN]; /* counts of d - centre + 127 */
    size_t outside;     /* values outside the window */
    int64_t omin, omax; /* their signed range */
} tstat_t;

typedef struct rplan {
    unsigned lo, k; /* first window slot kept, alphabet size incl. escape */
    uint32_t thr;   /* window slots with fewer values are escaped */
    size_t bytes;   /* estimated encoded size */
} rplan_t;

enum { PLAN_RAW, PLAN_CONST, PLAN_RLE, PLAN_FOR, PLAN_RANS };

typedef struct plan {
    int kind, t;
    size_t bytes;
    rplan_t r;
} plan_t;

static size_t svarint_len(int64_t v)
{
    return eng__uvarint_len(cn_zigzag(v));
}

/* ------------------------------------------------------------- transforms */

/* d[0..n-t) gets transform t of v; init[0..t) the values it needs back. */
static void forward(const int64_t *v, size_t n, int t, uint64_t *d, uint64_t *init)
{
    const uint64_t *u = (const uint64_t *)v;
    if (t == 0) {
        memcpy(d, u, n * sizeof *d);
        return;
    }
    init[0] = u[0];
    if (t == 1) {
        for (size_t i = 1; i < n; i++)
            d[i - 1] = u[i] - u[i - 1];
        return;
    }
    init[1] = u[1] - u[0];
    uint64_t prev = init[1];
    for (size_t i = 2; i < n; i++) {
        uint64_t delta = u[i] - u[i - 1];
        d[i - 2] = delta - prev;
        prev = delta;
    }
}

/* In place: out[t..n) holds the transformed values, init the rest. */
static void inverse(uint64_t *out, size_t n, int t, const uint64_t *init)
{
    if (t == 0 || n == 0)
        return;
    out[0] = init[0];
    if (t == 1) {
        for (size_t i = 1; i < n; i++)
            out[i] += out[i - 1];
        return;
    }
    if (n < 2)
        return;
    uint64_t delta = init[1];
    out[1] = out[0] + delta;
    for (size_t i = 2; i < n; i++) {
        delta += out[i];
        out[i] = out[i - 1] + delta;
    }
}

/* -------------------------------------------------------------- planning */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void gather(const uint64_t *d, size_t m, tstat_t *st)
{
    assert(m > 0);
    int64_t sample[15];
    size_t ns = CN_MIN(m, CN_ARRAY_LEN(sample));
    for (size_t i = 0; i < ns; i++)
        sample[i] = (int64_t)d[i * m / ns];
    qsort(sample, ns, sizeof sample[0], cmp_i64);
    memset(st, 0, sizeof *st);
    st->m = m;
    st->centre = (uint64_t)sample[ns / 2];
    st->min = INT64_MAX, st->max = INT64_MIN;
    st->omin = INT64_MAX, st->omax = INT64_MIN;
    uint64_t lo = st->centre - 127;
    for (size_t i = 0; i < m; i++) {
        int64_t s = (int64_t)d[i];
        st->min = CN_MIN(st->min, s);
        st->max = CN_MAX(st->max, s);
        uint64_t slot = d[i] - lo;
        if (slot < WIN) {
            st->hist[slot]++;
        } else {
            st->outside++;
            st->omin = CN_MIN(st->omin, s);
            st->omax = CN_MAX(st->omax, s);
        }
    }
}

static size_t for_bytes(const tstat_t *st, size_t init_bytes)
{
    unsigned w = eng__bits((uint64_t)st->max - (uint64_t)st->min);
    return 3 + init_bytes + svarint_len(st->min) + eng__bp_bytes(st->m, w);
}

/* Estimated rANS size when slots with fewer than thr values are escaped. */
static size_t rans_cost(const tstat_t *st, const double *hl, uint32_t thr, size_t init_bytes,
                        rplan_t *rp)
{
    unsigned lo = WIN, hi = 0;
    size_t kept = 0;
    double bits = 0;
    int64_t emin = st->omin, emax = st->omax;
    for (unsigned s = 0; s < WIN; s++) {
        uint32_t h = st->hist[s];
        if (h >= thr) {
            lo = CN_MIN(lo, s);
            hi = s;
            kept += h;
            bits -= hl[s];
        } else if (h) {
            int64_t val = (int64_t)(st->centre - 127 + s);
            emin = CN_MIN(emin, val);
            emax = CN_MAX(emax, val);
        }
    }
    if (kept == 0)
        return SIZE_MAX;
    size_t esc = st->m - kept;
    bits += (double)kept * log2((double)st->m);
    size_t bytes = 2 + init_bytes + 10 + eng__uvarint_len(esc);
    if (esc) {
        bits += (double)esc * log2((double)st->m / (double)esc);
        unsigned ew = eng__bits((uint64_t)emax - (uint64_t)emin);
        bytes += svarint_len(emin) + 1 + eng__bp_bytes(esc, ew);
    }
    rp->lo = lo;
    rp->k = hi - lo + 2;
    rp->thr = thr;
    rp->bytes = bytes + eng__rans_overhead(rp->k) + (size_t)(bits / 8) + 1;
    return rp->bytes;
}

static void rans_best(const tstat_t *st, size_t init_bytes, rplan_t *best)
{
    double hl[WIN];
    uint32_t hmax = 0;
    for (unsigned s = 0; s < WIN; s++) {
        uint32_t h = st->hist[s];
        hl[s] = h ? (double)h * log2((double)h) : 0;
        hmax = CN_MAX(hmax, h);
    }
    best->bytes = SIZE_MAX;
    for (uint32_t thr = 1; thr <= hmax; thr *= 2) {
        rplan_t rp;
        if (rans_cost(st, hl, thr, init_bytes, &rp) < best->bytes)
            *best = rp;
    }
}

static size_t rle_bytes(const int64_t *v, size_t n, size_t limit)
{
    size_t bytes = 1, runs = 0;
    int64_t prev = 0;
    for (size_t i = 0; i < n && bytes < limit;) {
        size_t j = i + 1;
        while (j < n && v[j] == v[i])
            j++;
        bytes +=
            svarint_len((int64_t)((uint64_t)v[i] - (uint64_t)prev)) + eng__uvarint_len(j - i - 1);
        prev = v[i];
        runs++;
        i = j;
    }
    return bytes + eng__uvarint_len(runs);
}

static size_t init_len(const uint64_t *init, int t)
{
    size_t b = 0;
    for (int i = 0; i < t; i++)
        b += svarint_len((int64_t)init[i]);
    return b;
}

/* Picks the cheapest encoding.  d is scratch for n values. */
#define RANS_MIN_N 32

static void choose(const int64_t *v, size_t n, uint64_t *d, plan_t *best)
{
    best->kind = PLAN_RAW;
    best->t = 0;
    best->bytes = 1 + 8 * n;
    size_t rle = rle_bytes(v, n, best->bytes);
    if (rle < best->bytes) {
        best->kind = PLAN_RLE;
        best->bytes = rle;
    }
    for (int t = 0; t <= 2 && (size_t)t < n; t++) {
        uint64_t init[2];
        tstat_t st;
        forward(v, n, t, d, init);
        gather(d, n - (size_t)t, &st);
        size_t ib = init_len(init, t);
        size_t fb = for_bytes(&st, ib);
        if (fb < best->bytes) {
            best->kind = PLAN_FOR;
            best->t = t;
            best->bytes = fb;
        }
        /* Under RANS_MIN_N values the coder's table and states cost more
         * than entropy coding can save, and trying it dominated flushes of
         * many tiny blocks (a million 10-point series). */
        if (n < RANS_MIN_N)
            continue;
        rplan_t rp;
        rans_best(&st, ib, &rp);
        if (rp.bytes < best->bytes) {
            best->kind = PLAN_RANS;
            best->t = t;
            best->bytes = rp.bytes;
            best->r = rp;
        }
    }
}

/* -------------------------------------------------------------- encoders */

static void put_head(cn_buf_t *out, uint8_t id, int t, const uint64_t *init)
{
    cn_buf_put_u8(out, id);
    cn_buf_put_u8(out, (uint8_t)t);
    for (int i = 0; i < t; i++)
        cn_buf_put_svarint(out, (int64_t)init[i]);
}

/* Frame of reference: svarint base (the signed minimum), u8 width, then
 * d[i] - base packed.  Clobbers d.  Used for FOR data and rANS escapes. */
static void put_for(cn_buf_t *out, uint64_t *d, size_t m)
{
    uint64_t min = UINT64_MAX, max = 0;
    for (size_t i = 0; i < m; i++) {
        uint64_t s = d[i] ^ ((uint64_t)1 << 63); /* signed order */
        min = CN_MIN(min, s);
        max = CN_MAX(max, s);
    }
    unsigned w = eng__bits(max - min);
    min ^= (uint64_t)1 << 63;
    for (size_t i = 0; i < m; i++)
        d[i] -= min;
    cn_buf_put_svarint(out, (int64_t)min);
    cn_buf_put_u8(out, (uint8_t)w);
    eng__bp_put(out, d, m, w);
}

/* d (the transformed values, described by st) is clobbered. */
static void put_rans(cn_buf_t *out, uint64_t *d, const tstat_t *st, const rplan_t *rp)
{
    size_t m = st->m;
    uint64_t base = st->centre - 127 + rp->lo;
    unsigned esc_sym = rp->k - 1;
    uint8_t *syms = cn_malloc(m);
    uint32_t cnt[ENG_RANS_MAX_SYMS] = {0};
    size_t nesc = 0;
    for (size_t i = 0; i < m; i++) {
        uint64_t u = d[i] - base;
        unsigned s = u < esc_sym && st->hist[rp->lo + u] >= rp->thr ? (unsigned)u : esc_sym;
        syms[i] = (uint8_t)s;
        cnt[s]++;
        if (s == esc_sym)
            d[nesc++] = d[i]; /* compact escapes in place: nesc <= i */
    }
    cn_buf_put_svarint(out, (int64_t)base);
    cn_buf_put_uvarint(out, nesc);
    if (nesc)
        put_for(out, d, nesc);
    eng__rans_encode(syms, m, cnt, rp->k, out);
    cn_free(syms);
}

static void put_rle(cn_buf_t *out, const int64_t *v, size_t n)
{
    size_t runs = 0;
    for (size_t i = 1; i <= n; i++)
        runs += i == n || v[i] != v[i - 1];
    cn_buf_put_u8(out, ENG_C_I_RLE);
    cn_buf_put_uvarint(out, runs);
    uint64_t prev = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && v[j] == v[i])
            j++;
        cn_buf_put_svarint(out, (int64_t)((uint64_t)v[i] - prev));
        cn_buf_put_uvarint(out, j - i - 1);
        prev = (uint64_t)v[i];
        i = j;
    }
}

static bool all_equal(const int64_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[0])
            return false;
    return true;
}

static void put_transformed(cn_buf_t *out, const int64_t *v, size_t n, uint64_t *d,
                            const plan_t *pl)
{
    uint64_t init[2];
    size_t m = n - (size_t)pl->t;
    forward(v, n, pl->t, d, init);
    if (pl->kind == PLAN_RANS) {
        tstat_t st;
        gather(d, m, &st);
        size_t fb = for_bytes(&st, init_len(init, pl->t));
        size_t start = out->len;
        put_head(out, ENG_C_I_RANS, pl->t, init);
        put_rans(out, d, &st, &pl->r);
        /* The estimate can miss; fall back to FOR when that is smaller. */
        if (out->len - start <= fb)
            return;
        out->len = start;
        forward(v, n, pl->t, d, init);
    }
    put_head(out, ENG_C_I_FOR, pl->t, init);
    put_for(out, d, m);
}

int eng__i64_encode(const int64_t *v, size_t n, cn_buf_t *out)
{
    if (n == 0 || !all_equal(v, n)) {
        plan_t pl = {PLAN_RAW, 0, 1 + 8 * n, {0}};
        uint64_t *d = n ? cn_malloc(n * sizeof *d) : NULL;
        if (n)
            choose(v, n, d, &pl);
        if (pl.kind == PLAN_FOR || pl.kind == PLAN_RANS)
            put_transformed(out, v, n, d, &pl);
        else if (pl.kind == PLAN_RLE)
            put_rle(out, v, n);
        else {
            cn_buf_put_u8(out, ENG_C_I_RAW);
            for (size_t i = 0; i < n; i++)
                cn_buf_put_u64(out, (uint64_t)v[i]);
        }
        cn_free(d);
        return 0;
    }
    cn_buf_put_u8(out, ENG_C_I_CONST);
    cn_buf_put_svarint(out, v[0]);
    return 0;
}

/* -------------------------------------------------------------- decoders */

static int get_head(cn_rd_t *rd, size_t n, int *t, uint64_t *init)
{
    uint8_t tb;
    int rc = cn_rd_u8(rd, &tb);
    if (rc < 0)
        return rc;
    if (tb > 2 || tb > n)
        return CN_CORRUPT();
    *t = tb;
    for (int i = 0; i < *t; i++) {
        int64_t x;
        if ((rc = cn_rd_svarint(rd, &x)) < 0)
            return rc;
        init[i] = (uint64_t)x;
    }
    return 0;
}

static int get_for(cn_rd_t *rd, size_t n, uint64_t *out)
{
    uint64_t init[2];
    int t, rc = get_head(rd, n, &t, init);
    if (rc < 0)
        return rc;
    int64_t base;
    uint8_t w;
    const uint8_t *p;
    if ((rc = cn_rd_svarint(rd, &base)) < 0 || (rc = cn_rd_u8(rd, &w)) < 0)
        return rc;
    size_t m = n - (size_t)t;
    if ((rc = eng__rd_packed(rd, m, w, &p)) < 0)
        return rc;
    eng__bp_get(p, eng__bp_bytes(m, w), m, w, (uint64_t)base, out + t);
    inverse(out, n, t, init);
    return 0;
}

/* Maps decoded symbols to values, taking escapes in order. */
static int map_syms(const uint8_t *syms, size_t m, unsigned k, uint64_t base, const uint64_t *esc,
                    size_t nesc, uint64_t *out)
{
    size_t j = 0;
    unsigned esc_sym = k - 1;
    for (size_t i = 0; i < m; i++) {
        if (syms[i] != esc_sym) {
            out[i] = base + syms[i];
            continue;
        }
        if (j == nesc)
            return CN_CORRUPT();
        out[i] = esc[j++];
    }
    return j == nesc ? 0 : CN_CORRUPT();
}

/* The common case fused into one pass: no escapes, deltas (t = 1). */
static int map_deltas(const uint8_t *syms, size_t m, unsigned k, uint64_t base, uint64_t acc,
                      uint64_t *out)
{
    unsigned bad = 0, esc_sym = k - 1;
    out[0] = acc;
    for (size_t i = 0; i < m; i++) {
        bad |= syms[i] == esc_sym;
        acc += base + syms[i];
        out[i + 1] = acc;
    }
    return bad ? CN_CORRUPT() : 0;
}

/* The parsed header of an ENG_C_I_RANS encoding, up to the rANS table. */
typedef struct rhead {
    int t;
    uint64_t init[2];
    int64_t base, ebase;
    uint64_t nesc;
    uint8_t ew;
    const uint8_t *esc; /* nesc packed escapes of ew bits */
} rhead_t;

static int get_rhead(cn_rd_t *rd, size_t n, rhead_t *h)
{
    int rc = get_head(rd, n, &h->t, h->init);
    if (rc < 0)
        return rc;
    size_t m = n - (size_t)h->t;
    h->ebase = 0;
    h->ew = 0;
    h->esc = NULL;
    if ((rc = cn_rd_svarint(rd, &h->base)) < 0 || (rc = cn_rd_uvarint(rd, &h->nesc)) < 0)
        return rc;
    if (h->nesc > m || m == 0)
        return CN_CORRUPT();
    if (h->nesc && ((rc = cn_rd_svarint(rd, &h->ebase)) < 0 || (rc = cn_rd_u8(rd, &h->ew)) < 0 ||
                    (rc = eng__rd_packed(rd, h->nesc, h->ew, &h->esc)) < 0))
        return rc;
    return 0;
}

static int get_rans(cn_rd_t *rd, size_t n, uint64_t *out, bool simd)
{
    rhead_t h;
    int rc = get_rhead(rd, n, &h);
    if (rc < 0)
        return rc;
    size_t m = n - (size_t)h.t, nesc = (size_t)h.nesc;
    uint64_t *esc = cn_malloc((nesc ? nesc : 1) * sizeof *esc);
    uint8_t *syms = cn_malloc(m);
    unsigned k;
    if (nesc)
        eng__bp_get(h.esc, eng__bp_bytes(nesc, h.ew), nesc, h.ew, (uint64_t)h.ebase, esc);
    rc = eng__rans_decode(rd, m, syms, &k, simd);
    if (rc == 0 && nesc == 0 && h.t == 1) {
        rc = map_deltas(syms, m, k, (uint64_t)h.base, h.init[0], out);
    } else if (rc == 0) {
        rc = map_syms(syms, m, k, (uint64_t)h.base, esc, nesc, out + h.t);
        if (rc == 0)
            inverse(out, n, h.t, h.init);
    }
    cn_free(syms);
    cn_free(esc);
    return rc;
}

static int get_rle(cn_rd_t *rd, size_t n, uint64_t *out)
{
    uint64_t runs, prev = 0;
    int rc = cn_rd_uvarint(rd, &runs);
    if (rc < 0)
        return rc;
    if (runs > n)
        return CN_CORRUPT();
    size_t at = 0;
    for (uint64_t r = 0; r < runs; r++) {
        int64_t dv;
        uint64_t len;
        if ((rc = cn_rd_svarint(rd, &dv)) < 0 || (rc = cn_rd_uvarint(rd, &len)) < 0)
            return rc;
        if (len >= n - at)
            return CN_CORRUPT();
        prev += (uint64_t)dv;
        for (uint64_t i = 0; i <= len; i++)
            out[at++] = prev;
    }
    return at == n ? 0 : CN_CORRUPT();
}

int eng__i64_decode_id(cn_rd_t *rd, uint8_t id, size_t n, int64_t *out, bool simd)
{
    uint64_t *u = (uint64_t *)out;
    int rc;
    switch (id) {
    case ENG_C_I_RAW:
        return eng__rd_words(rd, n, out);
    case ENG_C_I_CONST: {
        int64_t x;
        if ((rc = cn_rd_svarint(rd, &x)) < 0)
            return rc;
        for (size_t i = 0; i < n; i++)
            out[i] = x;
        return 0;
    }
    case ENG_C_I_RLE:
        return get_rle(rd, n, u);
    case ENG_C_I_FOR:
        return get_for(rd, n, u);
    case ENG_C_I_RANS:
        return get_rans(rd, n, u, simd);
    default:
        return CN_CORRUPT();
    }
}

int eng__i64_decode(cn_rd_t *rd, size_t n, int64_t *out)
{
    uint8_t id;
    int rc = cn_rd_u8(rd, &id);
    if (rc < 0)
        return rc;
    return eng__i64_decode_id(rd, id, n, out, eng__simd());
}

/* ------------------------------------------------- decimal float mantissas */

static inline double scale(int64_t m, double s, bool mul)
{
    return mul ? (double)m * s : (double)m / s;
}

#ifdef __x86_64__
#include <immintrin.h>

/* The deltas fused with their prefix sum and the conversion, eight values
 * per step in int32 lanes (the caller proved every partial sum fits).
 * out[i] = scale(acc + sum of base + syms[0..i]); *acc (IN/OUT) ends as
 * the last partial sum.  Division and
 * multiplication are exact IEEE operations lane by lane, so the results
 * equal the scalar loop's bit for bit.  Returns the values done. */
__attribute__((target("avx2"))) static size_t deltas_f64_avx2(const uint8_t *syms, size_t m,
                                                              unsigned esc, int32_t base,
                                                              int32_t *acc, double s, bool mul,
                                                              double *out, bool *bad)
{
    const __m256i vb = _mm256_set1_epi32(base), ve = _mm256_set1_epi32((int)esc);
    const __m256i last = _mm256_set1_epi32(7);
    const __m256d vs = _mm256_set1_pd(s);
    __m256i carry = _mm256_set1_epi32(*acc), badv = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
        uint64_t w;
        memcpy(&w, syms + i, 8);
        __m256i v = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)w));
        badv = _mm256_or_si256(badv, _mm256_cmpeq_epi32(v, ve));
        v = _mm256_add_epi32(v, vb);
        v = _mm256_add_epi32(v, _mm256_slli_si256(v, 4));
        v = _mm256_add_epi32(v, _mm256_slli_si256(v, 8));
        __m256i t = _mm256_shuffle_epi32(v, 0xff);
        v = _mm256_add_epi32(v, _mm256_permute2x128_si256(t, t, 0x08));
        v = _mm256_add_epi32(v, carry);
        carry = _mm256_permutevar8x32_epi32(v, last);
        __m256d lo = _mm256_cvtepi32_pd(_mm256_castsi256_si128(v));
        __m256d hi = _mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1));
        if (mul) {
            lo = _mm256_mul_pd(lo, vs);
            hi = _mm256_mul_pd(hi, vs);
        } else {
            lo = _mm256_div_pd(lo, vs);
            hi = _mm256_div_pd(hi, vs);
        }
        _mm256_storeu_pd(out + i, lo);
        _mm256_storeu_pd(out + i + 4, hi);
    }
    *bad = !_mm256_testz_si256(badv, badv);
    *acc = _mm256_cvtsi256_si32(carry);
    return i;
}
#endif

/* t = 1 without escapes, straight into doubles: out[0] from init, then
 * the running sum of base + symbol. */
static int deltas_f64(const uint8_t *syms, size_t m, unsigned k, const rhead_t *h, double s,
                      bool mul, bool simd, double *out)
{
    unsigned esc = k - 1;
    uint64_t acc = h->init[0], base = (uint64_t)h->base;
    out[0] = scale((int64_t)acc, s, mul);
    size_t i = 0;
    bool bad = false;
#ifdef __x86_64__
    /* int32 lanes suffice when no partial sum can leave (-2^31, 2^31). */
    uint64_t step =
        CN_MAX(cn_zigzag(h->base) / 2 + 1, cn_zigzag((int64_t)((uint64_t)h->base + k)) / 2 + 1);
    uint64_t a0 = cn_zigzag((int64_t)acc) / 2 + 1;
    if (simd && a0 < ((uint64_t)1 << 31) && step < ((uint64_t)1 << 24) && m < ((uint64_t)1 << 32) &&
        a0 + step * m < ((uint64_t)1 << 31)) {
        int32_t a32 = (int32_t)(int64_t)acc;
        i = deltas_f64_avx2(syms, m, esc, (int32_t)h->base, &a32, s, mul, out + 1, &bad);
        acc = (uint64_t)(int64_t)a32; /* every partial sum fits, the last too */
    }
#endif
    (void)simd;
    for (; i < m; i++) {
        bad |= syms[i] == esc;
        acc += base + syms[i];
        out[i + 1] = scale((int64_t)acc, s, mul);
    }
    return bad ? CN_CORRUPT() : 0;
}

int eng__i64_decode_f64(cn_rd_t *rd, size_t n, double *out, double s, bool mul, bool simd)
{
    cn_rd_t save = *rd;
    uint8_t id;
    rhead_t h;
    int rc = cn_rd_u8(rd, &id);
    if (rc < 0)
        return rc;
    if (id == ENG_C_I_RANS && (rc = get_rhead(rd, n, &h)) == 0 && h.t == 1 && h.nesc == 0) {
        size_t m = n - 1;
        uint8_t *syms = cn_malloc(m);
        unsigned k;
        rc = eng__rans_decode(rd, m, syms, &k, simd);
        if (rc == 0)
            rc = deltas_f64(syms, m, k, &h, s, mul, simd, out);
        cn_free(syms);
        return rc;
    }
    /* Any other shape: the int64 values first, then the conversion. */
    *rd = save;
    int64_t *v = cn_malloc((n ? n : 1) * sizeof *v);
    if ((rc = cn_rd_u8(rd, &id)) == 0 && (rc = eng__i64_decode_id(rd, id, n, v, simd)) == 0) {
        for (size_t i = 0; i < n; i++)
            out[i] = scale(v[i], s, mul);
    }
    cn_free(v);
    return rc;
}
