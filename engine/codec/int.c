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
 * exact sizes of RLE, constant, raw and radix; only the winner is encoded.
 * When rANS wins on the estimate but loses in fact, the smaller of FOR and
 * radix is written instead.
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
 * ENG_C_I_RADIX  u8 t | init | svarint base | u8 K - 1 | u8 g |
 *                ceil((n - t) / g) codes of w = bits(K^g - 1) bits
 *                (bitpack.c).  Each value is d = base + digit with digit in
 *                [0, K); code j = sum over i < g of digit[g*j + i] * K^i
 *                (mixed radix, first digit lowest); the digits of the last
 *                code beyond n - t are 0.  K 2..256, g 1..8, K^g <= 4096.
 *                Why: a uniform walk of K steps (temperature +-0.05 is
 *                K = 11) costs log2(K) bits per value, which bit packing
 *                rounds up to a whole bit (4 for 3.46) but pairs round up
 *                to half a bit (7 bits per pair); it matches rANS in size
 *                and decodes with one table lookup per code.  Added with
 *                segment format version 2; the other ids are version 1.
 * A decoder rejects t > 2, w > 64, run or escape counts that disagree with n,
 * and radix codes >= K^g or with non-zero padding digits as CN_ECORRUPT.
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

enum { PLAN_RAW, PLAN_CONST, PLAN_RLE, PLAN_FOR, PLAN_RANS, PLAN_RADIX };

typedef struct plan {
    int kind, t;
    size_t bytes;
    rplan_t r;
    unsigned g; /* PLAN_RADIX: digits per code */
} plan_t;

#define RADIX_MAX_G 8

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

/* Bits of a radix code for K^g (*kg), or 0 when K^g > ENG_RADIX_MAX_CODES. */
static unsigned radix_width(unsigned k, unsigned g, uint32_t *kg)
{
    uint32_t p = 1;
    for (unsigned i = 0; i < g; i++) {
        p *= k;
        if (p > ENG_RADIX_MAX_CODES)
            return 0;
    }
    *kg = p;
    return eng__bits(p - 1);
}

/* Exact radix size for m values spanning K = range + 1 with g digits per
 * code; SIZE_MAX when the shape is not allowed. */
static size_t radix_size(size_t m, uint64_t range, int64_t base, unsigned g, size_t init_bytes)
{
    uint32_t kg;
    unsigned w;
    if (m == 0 || range == 0 || range > 255 || (w = radix_width((unsigned)range + 1, g, &kg)) == 0)
        return SIZE_MAX;
    return 5 + init_bytes + svarint_len(base) + eng__bp_bytes((m + g - 1) / g, w);
}

/* The best digits-per-code for st and its size (SIZE_MAX: not possible). */
static size_t radix_bytes(const tstat_t *st, size_t init_bytes, unsigned *g)
{
    uint64_t range = (uint64_t)st->max - (uint64_t)st->min;
    size_t best = SIZE_MAX;
    *g = 1;
    for (unsigned k = 1; k <= RADIX_MAX_G; k++) {
        size_t b = radix_size(st->m, range, st->min, k, init_bytes);
        if (b < best) {
            best = b;
            *g = k;
        }
    }
    return best;
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
        unsigned g;
        size_t xb = radix_bytes(&st, ib, &g);
        if (xb < best->bytes) {
            best->kind = PLAN_RADIX;
            best->t = t;
            best->bytes = xb;
            best->g = g;
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

/* Radix codes of d[0..m) (range at most 255 above their signed minimum,
 * K^g allowed).  Clobbers d. */
static void put_radix(cn_buf_t *out, uint64_t *d, size_t m, unsigned g)
{
    uint64_t min = UINT64_MAX, max = 0;
    for (size_t i = 0; i < m; i++) {
        uint64_t s = d[i] ^ ((uint64_t)1 << 63); /* signed order */
        min = CN_MIN(min, s);
        max = CN_MAX(max, s);
    }
    unsigned k = (unsigned)(max - min) + 1;
    uint32_t kg;
    unsigned w = radix_width(k, g, &kg);
    assert(m > 0 && max - min <= 255 && w > 0);
    min ^= (uint64_t)1 << 63;
    cn_buf_put_svarint(out, (int64_t)min);
    cn_buf_put_u8(out, (uint8_t)(k - 1));
    cn_buf_put_u8(out, (uint8_t)g);
    size_t nc = (m + g - 1) / g;
    /* Code j reads d[g*j ..] before d[j] is overwritten (g*j >= j). */
    for (size_t j = 0; j < nc; j++) {
        uint64_t c = 0;
        for (size_t i = CN_MIN(g * j + g, m); i-- > g * j;)
            c = c * k + (d[i] - min);
        d[j] = c;
    }
    eng__bp_put(out, d, nc, w);
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
    unsigned g = pl->g;
    if (pl->kind == PLAN_RANS) {
        tstat_t st;
        gather(d, m, &st);
        size_t fb = for_bytes(&st, init_len(init, pl->t));
        size_t xb = radix_bytes(&st, init_len(init, pl->t), &g);
        size_t start = out->len;
        put_head(out, ENG_C_I_RANS, pl->t, init);
        put_rans(out, d, &st, &pl->r);
        /* The estimate can miss; fall back to FOR or radix when smaller. */
        if (out->len - start <= CN_MIN(fb, xb))
            return;
        out->len = start;
        forward(v, n, pl->t, d, init);
        if (xb < fb) {
            put_head(out, ENG_C_I_RADIX, pl->t, init);
            put_radix(out, d, m, g);
            return;
        }
    } else if (pl->kind == PLAN_RADIX) {
        put_head(out, ENG_C_I_RADIX, pl->t, init);
        put_radix(out, d, m, g);
        return;
    }
    put_head(out, ENG_C_I_FOR, pl->t, init);
    put_for(out, d, m);
}

bool eng__i64_encode_radix(const int64_t *v, size_t n, int t, unsigned g, cn_buf_t *out)
{
    if (t < 0 || t > 2 || (size_t)t >= n || g == 0 || g > RADIX_MAX_G)
        return false;
    uint64_t *d = cn_malloc(n * sizeof *d), init[2];
    forward(v, n, t, d, init);
    size_t m = n - (size_t)t;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < m; i++) {
        lo = CN_MIN(lo, (int64_t)d[i]);
        hi = CN_MAX(hi, (int64_t)d[i]);
    }
    bool ok = radix_size(m, (uint64_t)hi - (uint64_t)lo, lo, g, 0) != SIZE_MAX;
    if (ok) {
        put_head(out, ENG_C_I_RADIX, t, init);
        put_radix(out, d, m, g);
    }
    cn_free(d);
    return ok;
}

int eng__i64_encode(const int64_t *v, size_t n, cn_buf_t *out)
{
    if (n == 0 || !all_equal(v, n)) {
        plan_t pl = {PLAN_RAW, 0, 1 + 8 * n, {0}, 1};
        uint64_t *d = n ? cn_malloc(n * sizeof *d) : NULL;
        if (n)
            choose(v, n, d, &pl);
        if (pl.kind == PLAN_FOR || pl.kind == PLAN_RANS || pl.kind == PLAN_RADIX)
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

/* The parsed header of an ENG_C_I_RADIX encoding and its codes. */
typedef struct xhead {
    int t;
    uint64_t init[2];
    int64_t base;
    unsigned k, g, w;
    uint32_t kg;
    const uint8_t *codes; /* ceil((n - t) / g) codes of w bits */
} xhead_t;

static int get_xhead(cn_rd_t *rd, size_t n, xhead_t *h)
{
    int rc = get_head(rd, n, &h->t, h->init);
    if (rc < 0)
        return rc;
    uint8_t km1, g;
    if ((rc = cn_rd_svarint(rd, &h->base)) < 0 || (rc = cn_rd_u8(rd, &km1)) < 0 ||
        (rc = cn_rd_u8(rd, &g)) < 0)
        return rc;
    h->k = km1 + 1u;
    h->g = g;
    if (km1 == 0 || g == 0 || g > RADIX_MAX_G || (h->w = radix_width(h->k, g, &h->kg)) == 0)
        return CN_CORRUPT();
    size_t m = n - (size_t)h->t;
    return eng__rd_packed(rd, (m + g - 1) / g, h->w, &h->codes);
}

/* Eight codes of W bits start on a byte boundary (8W bits = W bytes): one
 * function per width turns every shift and offset into a constant.  Each
 * code stores its table entry's 8 bytes at o and advances o by g. */
#define RADIX_CODE(W, I)                                                                           \
    do {                                                                                           \
        uint64_t c_ = (cn_ld64(p + ((I) * (W)) / 8) >> (((I) * (W)) % 8)) & ((1u << (W)) - 1);     \
        memcpy(o, &tab[c_], 8);                                                                    \
        o += g;                                                                                    \
    } while (0)
#define RADIX_RUN(W)                                                                               \
    static uint8_t *radix_run_##W(const uint8_t *p, size_t groups, const uint64_t *tab,            \
                                  unsigned g, uint8_t *o)                                          \
    {                                                                                              \
        for (size_t j = 0; j < groups; j++, p += (W)) {                                            \
            RADIX_CODE(W, 0);                                                                      \
            RADIX_CODE(W, 1);                                                                      \
            RADIX_CODE(W, 2);                                                                      \
            RADIX_CODE(W, 3);                                                                      \
            RADIX_CODE(W, 4);                                                                      \
            RADIX_CODE(W, 5);                                                                      \
            RADIX_CODE(W, 6);                                                                      \
            RADIX_CODE(W, 7);                                                                      \
        }                                                                                          \
        return o;                                                                                  \
    }
RADIX_RUN(1)
RADIX_RUN(2)
RADIX_RUN(3)
RADIX_RUN(4)
RADIX_RUN(5)
RADIX_RUN(6)
RADIX_RUN(7)
RADIX_RUN(8)
RADIX_RUN(9)
RADIX_RUN(10)
RADIX_RUN(11)
RADIX_RUN(12)

/* The per-width functions, by w (1..12). */
typedef uint8_t *(*radix_run_fn)(const uint8_t *p, size_t groups, const uint64_t *tab, unsigned g,
                                 uint8_t *o);
static const radix_run_fn RADIX_RUNS[13] = {
    NULL,        radix_run_1, radix_run_2, radix_run_3,  radix_run_4,  radix_run_5,  radix_run_6,
    radix_run_7, radix_run_8, radix_run_9, radix_run_10, radix_run_11, radix_run_12,
};

/* tab[c] = the g digits of code c, one per byte (tab has 2^w entries).
 * Level by level: the codes below K^(l+1) are those below K^l with digit
 * l = d added (straight copies, no per-entry carries).  A code >= K^g
 * decodes to g digits equal to K, which every caller rejects together with
 * any other digit >= K (there is no such code when K = 256). */
static void radix_table(const xhead_t *h, uint64_t *tab)
{
    unsigned g = h->g, k = h->k;
    for (uint32_t c = 0; c < k; c++)
        tab[c] = c;
    for (uint32_t l = 1, size = k; l < g; l++, size *= k)
        for (uint32_t d = 1; d < k; d++)
            for (uint32_t c = 0; c < size; c++)
                tab[d * size + c] = tab[c] | (uint64_t)d << (8 * l);
    uint64_t inval = 0;
    for (unsigned i = 0; i < g && k < 256; i++)
        inval |= (uint64_t)k << (8 * i);
    for (uint32_t c = h->kg; c < (uint32_t)1 << h->w; c++)
        tab[c] = inval;
}

/* The digits of codes j0.. of the m values of h into syms[0..m - j0*g)
 * (syms has 8 bytes more: each code stores 8 bytes, of which its g digits
 * count), one table lookup per code.  Returns false when the last code's
 * padding digits are not 0. */
static bool radix_digits(const xhead_t *h, const uint64_t *tab, size_t m, size_t j0, uint8_t *syms)
{
    unsigned g = h->g, w = h->w;
    size_t nc = (m + g - 1) / g, len = eng__bp_bytes(nc, w);
    if (j0 >= nc)
        return true;
    const uint8_t *p = h->codes;
    /* Whole groups of eight codes from j0 (a multiple of 8), all before the
     * last code, whose loads (up to byte 7w/8 + 8 of the group) stay inside
     * the input. */
    assert(j0 % 8 == 0);
    size_t groups = (nc - 1 - j0) / 8;
    while (groups && (j0 / 8 + groups - 1) * w + (7 * w) / 8 + 8 > len)
        groups--;
    uint8_t *o = RADIX_RUNS[w](p + j0 / 8 * w, groups, tab, g, syms);
    uint64_t mask = eng__mask(w);
    size_t j = j0 + groups * 8, bit = j * w;
    for (; j + 1 < nc; j++, bit += w, o += g) {
        uint64_t c = (eng__ld64_safe(p, len, bit >> 3) >> (bit & 7)) & mask;
        memcpy(o, &tab[c], 8);
    }
    uint64_t c = (eng__ld64_safe(p, len, bit >> 3) >> (bit & 7)) & mask;
    size_t r = m - (nc - 1) * g; /* digits of the last code, 1..g */
    uint64_t e = tab[c];
    memcpy(o, &e, r);
    return r == 8 || e >> (8 * r) == 0;
}

static int get_radix(cn_rd_t *rd, size_t n, uint64_t *out)
{
    xhead_t h;
    int rc = get_xhead(rd, n, &h);
    if (rc < 0)
        return rc;
    size_t m = n - (size_t)h.t;
    uint8_t *syms = cn_malloc(m + 8);
    uint64_t tab[ENG_RADIX_MAX_CODES];
    radix_table(&h, tab);
    bool bad = !radix_digits(&h, tab, m, 0, syms);
    for (size_t i = 0; i < m; i++) {
        bad |= syms[i] >= h.k;
        out[h.t + i] = (uint64_t)h.base + syms[i];
    }
    if (bad)
        rc = CN_CORRUPT();
    else
        inverse(out, n, h.t, h.init);
    cn_free(syms);
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
    case ENG_C_I_RADIX:
        return get_radix(rd, n, u);
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

static inline double scale(int64_t m, const eng_dscale_t *ds)
{
    return eng__dscale(m, ds);
}

#ifdef __x86_64__
#include <immintrin.h>

/* One step of eight deltas: V holds base-free symbols in int32 lanes; they
 * are checked against the escape, offset by base, prefix-summed onto the
 * carry, converted and scaled into OUT[0..8) exactly as eng__dscale does
 * (the FMA forms are the same single roundings as C's fma()).  Uses vb, ve,
 * last, vp, vr, mode, carry and badv of the enclosing function. */
#define DELTA_STEP8(V, OUT)                                                                        \
    do {                                                                                           \
        __m256i v_ = (V);                                                                          \
        badv = _mm256_or_si256(badv, _mm256_cmpeq_epi32(v_, ve));                                  \
        v_ = _mm256_add_epi32(v_, vb);                                                             \
        v_ = _mm256_add_epi32(v_, _mm256_slli_si256(v_, 4));                                       \
        v_ = _mm256_add_epi32(v_, _mm256_slli_si256(v_, 8));                                       \
        __m256i t_ = _mm256_shuffle_epi32(v_, 0xff);                                               \
        v_ = _mm256_add_epi32(v_, _mm256_permute2x128_si256(t_, t_, 0x08));                        \
        v_ = _mm256_add_epi32(v_, carry);                                                          \
        carry = _mm256_permutevar8x32_epi32(v_, last);                                             \
        __m256d lo_ = _mm256_cvtepi32_pd(_mm256_castsi256_si128(v_));                              \
        __m256d hi_ = _mm256_cvtepi32_pd(_mm256_extracti128_si256(v_, 1));                         \
        if (mode == ENG_DS_MUL) {                                                                  \
            lo_ = _mm256_mul_pd(lo_, vr);                                                          \
            hi_ = _mm256_mul_pd(hi_, vr);                                                          \
        } else if (mode == ENG_DS_DIV) {                                                           \
            lo_ = _mm256_div_pd(lo_, vp);                                                          \
            hi_ = _mm256_div_pd(hi_, vp);                                                          \
        } else {                                                                                   \
            __m256d ql_ = _mm256_mul_pd(lo_, vr), qh_ = _mm256_mul_pd(hi_, vr);                    \
            lo_ = _mm256_fmadd_pd(_mm256_fnmadd_pd(ql_, vp, lo_), vr, ql_);                        \
            hi_ = _mm256_fmadd_pd(_mm256_fnmadd_pd(qh_, vp, hi_), vr, qh_);                        \
        }                                                                                          \
        _mm256_storeu_pd((OUT), lo_);                                                              \
        _mm256_storeu_pd((OUT) + 4, hi_);                                                          \
    } while (0)

#define DELTA_CONSTS(BASE, ESC, ACC, DS)                                                           \
    const __m256i vb = _mm256_set1_epi32(BASE), ve = _mm256_set1_epi32((int)(ESC));                \
    const __m256i last = _mm256_set1_epi32(7);                                                     \
    const __m256d vp = _mm256_set1_pd((DS)->p), vr = _mm256_set1_pd((DS)->r);                      \
    __m256i carry = _mm256_set1_epi32(ACC), badv = _mm256_setzero_si256()

/* The deltas fused with their prefix sum and the conversion, eight values
 * per step in int32 lanes (the caller proved every partial sum fits).
 * out[i] = scale(acc + sum of base + syms[0..i]); *acc (IN/OUT) ends as
 * the last partial sum.  Division and multiplication are exact IEEE
 * operations lane by lane, so the results equal the scalar loop's bit for
 * bit.  Returns the values done. */
__attribute__((target("avx2,fma"))) static size_t
deltas_f64_avx2(const uint8_t *syms, size_t m, unsigned esc, int32_t base, int32_t *acc,
                const eng_dscale_t *ds, double *out, bool *bad)
{
    DELTA_CONSTS(base, esc, *acc, ds);
    const int mode = ds->mode;
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
        uint64_t w;
        memcpy(&w, syms + i, 8);
        DELTA_STEP8(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)w)), out + i);
    }
    *bad = !_mm256_testz_si256(badv, badv);
    *acc = _mm256_cvtsi256_si32(carry);
    return i;
}

/* The same straight from radix codes of w bits with G digits each (G
 * divides 8): each step gathers the digits of 8 / G codes from the table
 * into one 64-bit word, so digits never go through memory and the integer
 * work overlaps the floating point.  One 64-bit load serves up to four
 * codes (4w + 7 <= 64 bits for every width G allows).  The body is
 * instantiated per scaling mode so that no test is left in the loop.
 * Decodes `steps` steps of 8 values (the caller checked that each code's
 * 8-byte load stays inside the input). */
#define RADIX_PER_LOAD(G) ((G) == 1 ? 4 : 8 / (G) < 4 ? 8 / (G) : 4)
#define RADIX_F64(G)                                                                               \
    static inline __attribute__((always_inline, target("avx2,fma"))) void radix_f64_body_##G(      \
        const uint8_t *p, unsigned w, size_t steps, const uint64_t *tab, unsigned esc,             \
        int32_t base, int32_t *acc, const eng_dscale_t *ds, const int mode, double *out,           \
        bool *bad)                                                                                 \
    {                                                                                              \
        DELTA_CONSTS(base, esc, *acc, ds);                                                         \
        uint64_t mask = eng__mask(w);                                                              \
        size_t bit = 0;                                                                            \
        for (size_t i = 0; i < steps; i++) {                                                       \
            uint64_t wd = 0;                                                                       \
            _Pragma("GCC unroll 2") for (unsigned h = 0; h < 8 / (G) / RADIX_PER_LOAD(G); h++)     \
            {                                                                                      \
                uint64_t x = cn_ld64(p + (bit >> 3)) >> (bit & 7);                                 \
                _Pragma("GCC unroll 4") for (unsigned q = 0; q < RADIX_PER_LOAD(G); q++)           \
                {                                                                                  \
                    wd |= tab[(x >> (q * w)) & mask] << (8 * (G) * (h * RADIX_PER_LOAD(G) + q));   \
                }                                                                                  \
                bit += RADIX_PER_LOAD(G) * w;                                                      \
            }                                                                                      \
            DELTA_STEP8(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)wd)), out + 8 * i);      \
        }                                                                                          \
        *bad = !_mm256_testz_si256(badv, badv);                                                    \
        *acc = _mm256_cvtsi256_si32(carry);                                                        \
    }                                                                                              \
    __attribute__((target("avx2,fma"))) static void radix_f64_avx2_##G(                            \
        const uint8_t *p, unsigned w, size_t steps, const uint64_t *tab, unsigned esc,             \
        int32_t base, int32_t *acc, const eng_dscale_t *ds, double *out, bool *bad)                \
    {                                                                                              \
        if (ds->mode == ENG_DS_FIX)                                                                \
            radix_f64_body_##G(p, w, steps, tab, esc, base, acc, ds, ENG_DS_FIX, out, bad);        \
        else if (ds->mode == ENG_DS_MUL)                                                           \
            radix_f64_body_##G(p, w, steps, tab, esc, base, acc, ds, ENG_DS_MUL, out, bad);        \
        else                                                                                       \
            radix_f64_body_##G(p, w, steps, tab, esc, base, acc, ds, ENG_DS_DIV, out, bad);        \
    }
RADIX_F64(1)
RADIX_F64(2)
RADIX_F64(4)
RADIX_F64(8)
#endif

/* True when deltas base..base+k over m steps from acc keep every partial
 * sum inside int32 (the AVX2 lanes). */
static bool lanes32(int64_t base, unsigned k, uint64_t acc, size_t m)
{
    uint64_t step =
        CN_MAX(cn_zigzag(base) / 2 + 1, cn_zigzag((int64_t)((uint64_t)base + k)) / 2 + 1);
    uint64_t a0 = cn_zigzag((int64_t)acc) / 2 + 1;
    return a0 < ((uint64_t)1 << 31) && step < ((uint64_t)1 << 24) && m < ((uint64_t)1 << 32) &&
           a0 + step * m < ((uint64_t)1 << 31);
}

/* out[i] = scale(acc += base + syms[i]) for i < m, SIMD when allowed (the
 * caller checked lanes32).  Returns true when a symbol equals esc. */
static bool deltas_run(const uint8_t *syms, size_t m, unsigned esc, int64_t base, uint64_t *accp,
                       const eng_dscale_t *ds, bool simd, double *out)
{
    uint64_t acc = *accp;
    size_t i = 0;
    bool bad = false;
#ifdef __x86_64__
    if (simd) {
        int32_t a32 = (int32_t)(int64_t)acc;
        i = deltas_f64_avx2(syms, m, esc, (int32_t)base, &a32, ds, out, &bad);
        acc = (uint64_t)(int64_t)a32; /* every partial sum fits, the last too */
    }
#endif
    (void)simd;
    for (; i < m; i++) {
        bad |= syms[i] == esc;
        acc += (uint64_t)base + syms[i];
        out[i] = scale((int64_t)acc, ds);
    }
    *accp = acc;
    return bad;
}

/* t = 1 without escapes, straight into doubles: out[0] from init, then
 * the running sum of base + symbol. */
static int deltas_f64(const uint8_t *syms, size_t m, unsigned k, const rhead_t *h,
                      const eng_dscale_t *ds, bool simd, double *out)
{
    uint64_t acc = h->init[0];
    out[0] = scale((int64_t)acc, ds);
    simd = simd && lanes32(h->base, k, acc, m);
    return deltas_run(syms, m, k - 1, h->base, &acc, ds, simd, out + 1) ? CN_CORRUPT() : 0;
}

/* Radix over deltas (t = 1) straight into doubles.  With AVX2, G in
 * {1, 2, 4, 8} and int32 partial sums, the fused decoder takes every whole
 * step of eight values before the last code; the rest (or everything)
 * goes through digits and deltas_run.  K digits are valid, K is the
 * escape that invalid codes decode to. */
static int radix_f64(const xhead_t *x, size_t n, const eng_dscale_t *ds, bool simd, double *out)
{
    size_t m = n - 1, done = 0, nc = (m + x->g - 1) / x->g;
    uint64_t acc = x->init[0];
    out[0] = scale((int64_t)acc, ds);
    uint64_t tab[ENG_RADIX_MAX_CODES];
    radix_table(x, tab);
    simd = simd && lanes32(x->base, x->k + 1, acc, m);
    bool bad = false;
#ifdef __x86_64__
    size_t len = eng__bp_bytes(nc, x->w);
    size_t fast = len >= 8 ? ((len - 8) * 8) / x->w : 0; /* codes with 8 bytes to load */
    /* Whole steps of 8 values = 8 / g codes, all before the last code and
     * ending on a group of 8 codes for radix_digits. */
    size_t codes = CN_MIN(fast, nc - 1) / 8 * 8;
    if (simd && 8 % x->g == 0 && codes) {
        int32_t a32 = (int32_t)(int64_t)acc;
        size_t steps = codes * x->g / 8;
        void (*fn)(const uint8_t *, unsigned, size_t, const uint64_t *, unsigned, int32_t,
                   int32_t *, const eng_dscale_t *, double *, bool *) =
            x->g == 1   ? radix_f64_avx2_1
            : x->g == 2 ? radix_f64_avx2_2
            : x->g == 4 ? radix_f64_avx2_4
                        : radix_f64_avx2_8;
        fn(x->codes, x->w, steps, tab, x->k, (int32_t)x->base, &a32, ds, out + 1, &bad);
        acc = (uint64_t)(int64_t)a32;
        done = codes * x->g;
    }
#endif
    uint8_t *syms = cn_malloc(m - done + 8);
    bad |= !radix_digits(x, tab, m, done / x->g, syms);
    bad |= deltas_run(syms, m - done, x->k, x->base, &acc, ds, simd, out + 1 + done);
    cn_free(syms);
    return bad ? CN_CORRUPT() : 0;
}

#ifdef __x86_64__
/* out[i] = scale(v[i], ds) for the FIX mode with the FMA instructions
 * inline: the same single roundings as C's fma(), which is otherwise a
 * libm call per value.  Only when the caller's simd says the CPU has FMA. */
__attribute__((target("avx2,fma"))) static void scale_fix_fma(const int64_t *v, size_t n,
                                                               const eng_dscale_t *ds, double *out)
{
    double p = ds->p, r = ds->r;
    for (size_t i = 0; i < n; i++) {
        double x = (double)v[i];
        double q = x * r;
        out[i] = __builtin_fma(__builtin_fma(-q, p, x), r, q);
    }
}
#endif

int eng__i64_decode_f64(cn_rd_t *rd, size_t n, double *out, const eng_dscale_t *ds, bool simd)
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
            rc = deltas_f64(syms, m, k, &h, ds, simd, out);
        cn_free(syms);
        return rc;
    }
    *rd = save;
    xhead_t x;
    if (cn_rd_u8(rd, &id) == 0 && id == ENG_C_I_RADIX && (rc = get_xhead(rd, n, &x)) == 0 &&
        x.t == 1) {
        return radix_f64(&x, n, ds, simd, out);
    }
    /* Any other shape: the int64 values first, then the conversion. */
    *rd = save;
    int64_t *v = cn_malloc((n ? n : 1) * sizeof *v);
    if ((rc = cn_rd_u8(rd, &id)) == 0 && (rc = eng__i64_decode_id(rd, id, n, v, simd)) == 0) {
        bool done = false;
#ifdef __x86_64__
        if (simd && ds->mode == ENG_DS_FIX) {
            scale_fix_fma(v, n, ds, out);
            done = true;
        }
#endif
        for (size_t i = 0; !done && i < n; i++)
            out[i] = scale(v[i], ds);
    }
    cn_free(v);
    return rc;
}
