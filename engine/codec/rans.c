/* SPDX-License-Identifier: MIT */
/*
 * rans.c - a static order-0 rANS entropy coder over byte symbols, with four
 * interleaved states so the decoder has four independent dependency chains.
 *
 * Why rANS: the sparse columns of a sensor fleet (a position that moves one
 * record in eight, a battery that drops one step an hour) carry a fraction of
 * a bit per value.  Bit packing and Huffman cannot spend less than one bit
 * per value; arithmetic-style coders can, and rANS decodes with one table
 * lookup, one multiply and one add per symbol.
 *
 * Model.  Probabilities are quantised to PROB_BITS = 12 bits (they sum to
 * 4096).  The table on disk stores one 6-bit code per symbol, a log-scale
 * approximation of its count: codes 1..16 are the counts themselves, each
 * code above multiplies by 2^(1/4) (PSEUDO[] below, up to 55109).  Code 0
 * means "never occurs".  Encoder and decoder turn the codes into frequencies
 * with the same integer-only normalise(), so the coarse table costs at most
 * ~0.002 bits per symbol in model mismatch and 6 bits per symbol on disk.
 *
 * Format (appended by eng__rans_encode, read by eng__rans_decode):
 *   off  size            meaning
 *   0    1               K - 1, K = alphabet size (1..256)
 *   1    ceil(6K/8)      K codes of 6 bits, LSB-first (symbol 0 first)
 *   ..   4 x 4           final encoder states x0..x3, u32 LE, each >= 2^16
 *   ..   uvarint         stream length in bytes (even)
 *   ..   stream          16-bit LE words in the order the decoder reads them
 * Symbol i is coded by state i mod 4.  Version 1 of the format; any change to
 * PSEUDO[], normalise() or PROB_BITS needs a new codec id.
 *
 * NOTES
 * 1. States live in [2^16, 2^32).  Encoding s with frequency f first emits
 *    16 bits while x >= f << 20, which leaves x < f << 20, so the update
 *    x' = (x / f) << 12 | ... stays below 2^32; decoding is its exact inverse
 *    and needs at most one 16-bit refill per symbol.
 * 2. Encoders start every state at 2^16, so a valid stream ends with every
 *    state back at 2^16 and all words consumed: the decoder checks both and
 *    reports CN_ECORRUPT otherwise, which catches most damaged streams.
 */
#include "codec_int.h"

#define PROB_BITS  12
#define PROB_SCALE (1u << PROB_BITS)
#define PROB_MASK  (PROB_SCALE - 1)
#define RANS_L     (1u << 16)

/* Pseudo counts of the 6-bit table codes (format constant, see above). */
static const uint32_t PSEUDO[64] = {
    0,    1,    2,     3,     4,     5,     6,     7,     8,     9,     10,    11,    12,
    13,   14,   15,    16,    19,    23,    27,    32,    38,    45,    54,    64,    76,
    91,   108,  128,   152,   181,   215,   256,   304,   362,   431,   512,   609,   724,
    861,  1024, 1218,  1448,  1722,  2048,  2435,  2896,  3444,  4096,  4871,  5793,  6889,
    8192, 9742, 11585, 13777, 16384, 19484, 23170, 27554, 32768, 38968, 46341, 55109,
};

/* The code whose pseudo count is nearest to c on a log scale (0 for 0). */
static unsigned quantise(uint32_t c)
{
    if (c <= 16)
        return c;
    unsigned q = 16;
    while (q < 63 && PSEUDO[q + 1] <= c)
        q++;
    if (q < 63 && (uint64_t)c * c >= (uint64_t)PSEUDO[q] * PSEUDO[q + 1])
        q++;
    return q;
}

static unsigned argmax(const uint32_t *f, unsigned k)
{
    unsigned best = 0;
    for (unsigned s = 1; s < k; s++)
        if (f[s] > f[best])
            best = s;
    return best;
}

/* Codes -> frequencies summing to PROB_SCALE; every coded symbol gets >= 1. */
static int normalise(const uint8_t *code, unsigned k, uint32_t *freq)
{
    uint64_t total = 0;
    for (unsigned s = 0; s < k; s++)
        total += PSEUDO[code[s]];
    if (total == 0)
        return CN_CORRUPT();
    uint32_t sum = 0;
    for (unsigned s = 0; s < k; s++) {
        uint32_t f = (uint32_t)((uint64_t)PSEUDO[code[s]] * PROB_SCALE / total);
        freq[s] = code[s] && f == 0 ? 1 : f;
        sum += freq[s];
    }
    /* Rounding up rare symbols to 1 may overshoot by at most K < 4096. */
    while (sum > PROB_SCALE) {
        unsigned s = argmax(freq, k);
        uint32_t cut = CN_MIN(freq[s] - 1, sum - PROB_SCALE);
        freq[s] -= cut;
        sum -= cut;
    }
    freq[argmax(freq, k)] += PROB_SCALE - sum;
    return 0;
}

size_t eng__rans_overhead(unsigned k)
{
    return 1 + eng__bp_bytes(k, 6) + 16 + 3;
}

static void put_table(const uint8_t *code, unsigned k, cn_buf_t *out)
{
    cn_buf_put_u8(out, (uint8_t)(k - 1));
    eng_bw_t bw;
    eng__bw_init(&bw, out);
    for (unsigned s = 0; s < k; s++)
        eng__bw_put(&bw, code[s], 6);
    eng__bw_flush(&bw);
}

void eng__rans_encode(const uint8_t *syms, size_t n, const uint32_t *cnt, unsigned k, cn_buf_t *out)
{
    assert(k >= 1 && k <= ENG_RANS_MAX_SYMS && n > 0);
    uint8_t code[ENG_RANS_MAX_SYMS] = {0};
    uint32_t freq[ENG_RANS_MAX_SYMS], cum[ENG_RANS_MAX_SYMS];
    for (unsigned s = 0; s < k; s++)
        code[s] = (uint8_t)quantise(cnt[s]);
    int rc = normalise(code, k, freq);
    assert(rc == 0);
    (void)rc;
    uint32_t c = 0;
    for (unsigned s = 0; s < k; s++) {
        cum[s] = c;
        c += freq[s];
    }
    put_table(code, k, out);

    /* Each symbol costs at most PROB_BITS < 16 bits: at most one word. */
    uint16_t *words = cn_malloc(n * sizeof *words);
    size_t nw = 0;
    uint32_t x[4] = {RANS_L, RANS_L, RANS_L, RANS_L};
    for (size_t i = n; i-- > 0;) {
        uint32_t s = syms[i], f = freq[s], xs = x[i & 3];
        assert(f > 0);
        if (xs >= ((uint64_t)f << (32 - PROB_BITS))) {
            words[nw++] = (uint16_t)xs;
            xs >>= 16;
        }
        x[i & 3] = ((xs / f) << PROB_BITS) + (xs % f) + cum[s];
    }
    for (int j = 0; j < 4; j++)
        cn_buf_put_u32(out, x[j]);
    cn_buf_put_uvarint(out, (uint64_t)nw * 2);
    uint8_t *dst = cn_buf_extend(out, nw * 2);
    for (size_t j = 0; j < nw; j++) {
        uint16_t w = words[nw - 1 - j];
        memcpy(dst + 2 * j, &w, 2);
    }
    cn_free(words);
}

static int get_table(cn_rd_t *rd, unsigned *k, uint32_t *tab)
{
    uint8_t km1;
    int rc = cn_rd_u8(rd, &km1);
    if (rc < 0)
        return rc;
    *k = km1 + 1u;
    const uint8_t *p;
    if ((rc = eng__rd_packed(rd, *k, 6, &p)) < 0)
        return rc;
    eng_br_t br;
    eng__br_init(&br, p, eng__bp_bytes(*k, 6));
    uint8_t code[ENG_RANS_MAX_SYMS];
    for (unsigned s = 0; s < *k; s++)
        code[s] = (uint8_t)eng__br_get(&br, 6);
    uint32_t freq[ENG_RANS_MAX_SYMS];
    if ((rc = normalise(code, *k, freq)) < 0)
        return rc;
    /* Slot entry: symbol << 24 | (freq - 1) << 12 | cum, the same for all
     * of a symbol's slots.  Filled 32 bytes at a time (two vector stores);
     * a symbol's last chunk may spill into the next symbol's slots, which
     * that symbol then overwrites, and the last one into the padding. */
    uint32_t slot = 0, pat[8];
    for (unsigned s = 0; s < *k; s++) {
        uint32_t e = (uint32_t)s << 24 | (freq[s] - 1) << 12 | slot;
        for (int l = 0; l < 8; l++)
            pat[l] = e;
        for (uint32_t j = 0; j < freq[s]; j += 8)
            memcpy(&tab[slot + j], pat, sizeof pat);
        slot += freq[s];
    }
    assert(slot == PROB_SCALE);
    return 0;
}

/* One decode step of state X for output index I.  The refill is
 * branch-free (renormalisation is data-dependent and mispredicts) and
 * unchecked: the caller guarantees two readable bytes at p. */
#define RANS_STEP(X, I)                                                                            \
    do {                                                                                           \
        uint32_t e_ = tab[(X)&PROB_MASK];                                                          \
        syms[I] = (uint8_t)(e_ >> 24);                                                             \
        (X) = (((e_ >> 12) & PROB_MASK) + 1) * ((X) >> PROB_BITS) + ((X)&PROB_MASK) -              \
              (e_ & PROB_MASK);                                                                    \
        uint32_t r_ = (X) < RANS_L;                                                                \
        (X) = ((X) << (r_ << 4)) | (cn_ld16(p) & (0u - r_));                                       \
        p += r_ * 2;                                                                               \
    } while (0)

int eng__rans_decode(cn_rd_t *rd, size_t n, uint8_t *syms, unsigned *kout)
{
    uint32_t tab[PROB_SCALE + 8];
    unsigned k;
    int rc = get_table(rd, &k, tab);
    if (rc < 0)
        return rc;
    uint32_t x[4];
    for (int j = 0; j < 4; j++) {
        if ((rc = cn_rd_u32(rd, &x[j])) < 0)
            return rc;
        if (x[j] < RANS_L)
            return CN_CORRUPT();
    }
    const uint8_t *p, *end;
    size_t len;
    if ((rc = eng__rd_blob(rd, &p, &len)) < 0)
        return rc;
    end = p + len;
    uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
    size_t i = 0;
    for (; i + 4 <= n && end - p >= 8; i += 4) {
        RANS_STEP(x0, i);
        RANS_STEP(x1, i + 1);
        RANS_STEP(x2, i + 2);
        RANS_STEP(x3, i + 3);
    }
    x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
    for (; i < n; i++) {
        uint32_t *xs = &x[i & 3];
        uint32_t e = tab[*xs & PROB_MASK];
        syms[i] = (uint8_t)(e >> 24);
        *xs = (((e >> 12) & PROB_MASK) + 1) * (*xs >> PROB_BITS) + (*xs & PROB_MASK) -
              (e & PROB_MASK);
        if (*xs < RANS_L) {
            if (end - p < 2)
                return CN_ETRUNC;
            *xs = (*xs << 16) | cn_ld16(p);
            p += 2;
        }
    }
    if (p != end || x[0] != RANS_L || x[1] != RANS_L || x[2] != RANS_L || x[3] != RANS_L)
        return CN_CORRUPT();
    *kout = k;
    return 0;
}
