/* SPDX-License-Identifier: MIT */
/*
 * rans.c - a static order-0 rANS entropy coder over byte symbols, with
 * sixteen interleaved states so the decoder has sixteen independent
 * dependency chains: two AVX2 vectors of eight lanes, or sixteen scalar
 * chains on CPUs without AVX2.  Both decoders read the same format and
 * produce the same symbols.
 *
 * Why rANS: the sparse columns of a sensor fleet (a position that moves one
 * record in eight, a battery that drops one step an hour) carry a fraction of
 * a bit per value.  Bit packing and Huffman cannot spend less than one bit
 * per value; arithmetic-style coders can, and rANS decodes with one table
 * lookup, one multiply and one add per symbol.
 *
 * Model.  Probabilities are quantised to PROB_BITS = 10 bits (they sum to
 * 1024): a block holds a few thousand values, and a finer scale buys less
 * than the per-block slot table it costs to build.  The table stores one
 * 6-bit code per symbol, a log-scale approximation of its count: codes 1..16
 * are the counts themselves, each code above multiplies by 2^(1/4)
 * (PSEUDO[] below, up to 55109).  Code 0 means "never occurs".  Encoder and
 * decoder turn the codes into frequencies with the same integer-only
 * normalise().  Neighbouring symbols of a walk have similar counts, so the
 * codes are stored as Rice-coded differences.
 *
 * States live in [L, 2^26) with L = 2^10 = the probability scale, so the
 * final states, which the format must store, are small: each is stored as
 * 4 bits b = bits(x) - 11 and the b + 10 bits of x below its leading one.
 * A stream under NARROW_BELOW bytes (sparse columns) uses 4 states instead
 * of 16: there the stored states would cost more than the speed is worth.
 *
 * Format (appended by eng__rans_encode, read by eng__rans_decode):
 *   off  size     meaning
 *   0    1        K - 1, K = alphabet size (1..256)
 *   1    H        bit stream (LSB-first), padded to a whole byte:
 *                   1 bit   W: 1 = S = 16 states, 0 = S = 4 states
 *                   2 bits  Rice parameter r
 *                   6 bits  code[0]
 *                   K - 1 x z = zigzag(code[s] - code[s-1]): q = z >> r
 *                           one bits, a zero, the low r bits of z; or, when
 *                           q >= 12, twelve one bits and the 6-bit code
 *                   S x     4 bits b, b + 10 bits: final encoder state x_j
 *   ..   uvarint  stream length in bytes (even)
 *   ..   stream   16-bit LE words in the order the decoder reads them
 * Symbol i is coded by state i mod S; decoding symbol i refills state i mod
 * S at once, before symbol i + 1 (the SIMD decoder refills the eight lanes
 * of a vector in lane order, which reads the same words).  Version 1 of the
 * format; any change to PSEUDO[], normalise() or PROB_BITS needs a new codec
 * id.
 *
 * NOTES
 * 1. States live in [2^10, 2^26).  Encoding s with frequency f first emits
 *    16 bits if x >= f << 16, which leaves x in [f, f << 16), so the update
 *    x' = (x / f) << 10 | ... stays in [2^10, 2^26); decoding is its exact
 *    inverse and needs at most one 16-bit refill per symbol.  The decoder
 *    rejects stored states outside that range, so even a corrupt stream
 *    keeps every state below 2^26 (signed 32-bit compares are safe).
 * 2. Encoders start every state at L, so a valid stream ends with every
 *    state back at L and all words consumed: the decoder checks both and
 *    reports CN_ECORRUPT otherwise, which catches most damaged streams.
 */
#include "codec_int.h"

#define PROB_BITS    10
#define PROB_SCALE   (1u << PROB_BITS)
#define PROB_MASK    (PROB_SCALE - 1)
#define RANS_L       PROB_SCALE /* lower bound of a state */
#define STATE_BITS   26         /* states are below 2^26 */
#define NS           16         /* interleaved states */
#define NS_NARROW    4          /* states of a short stream */
#define NARROW_BELOW 512        /* stream bytes below which 4 states pay off */
#define CODE_ESC     12         /* table: unary length that means a raw code */

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
    /* Rounding up rare symbols to 1 may overshoot by at most K <= 256. */
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
    /* Codes take about 3 bits each, stored states about 22. */
    return 1 + (8 + 3 * (k - 1) + NS * 22 + 7) / 8 + 3;
}

/* Bits that code deltas with Rice parameter r take (see put_codes). */
static size_t codes_bits(const uint8_t *code, unsigned k, unsigned r)
{
    size_t bits = 2 + 6;
    for (unsigned s = 1; s < k; s++) {
        uint64_t q = cn_zigzag((int)code[s] - (int)code[s - 1]) >> r;
        bits += q < CODE_ESC ? q + 1 + r : CODE_ESC + 6;
    }
    return bits;
}

/* The table: 2 bits Rice parameter r, 6 bits code[0], then per further
 * symbol z = zigzag(code[s] - code[s - 1]) as q = z >> r one bits, a zero
 * and the low r bits of z, or, when q >= CODE_ESC, CODE_ESC one bits and
 * the 6-bit code itself. */
static void put_codes(eng_bw_t *bw, const uint8_t *code, unsigned k)
{
    unsigned r = 0;
    for (unsigned t = 1; t < 4; t++)
        if (codes_bits(code, k, t) < codes_bits(code, k, r))
            r = t;
    eng__bw_put(bw, r, 2);
    eng__bw_put(bw, code[0], 6);
    for (unsigned s = 1; s < k; s++) {
        uint64_t z = cn_zigzag((int)code[s] - (int)code[s - 1]), q = z >> r;
        if (q < CODE_ESC) {
            eng__bw_put(bw, eng__mask((unsigned)q), (unsigned)q + 1);
            eng__bw_put(bw, z & eng__mask(r), r);
        } else {
            eng__bw_put(bw, eng__mask(CODE_ESC), CODE_ESC);
            eng__bw_put(bw, code[s], 6);
        }
    }
}

static void put_states(eng_bw_t *bw, const uint32_t *x, unsigned ns)
{
    for (unsigned j = 0; j < ns; j++) {
        unsigned b = eng__bits(x[j]);
        assert(b > PROB_BITS && b <= STATE_BITS);
        eng__bw_put(bw, b - PROB_BITS - 1, 4);
        eng__bw_put(bw, x[j] & eng__mask(b - 1), b - 1);
    }
}

/* Codes syms with ns interleaved states; returns the number of words, in
 * reverse order of reading, and leaves the final states in x. */
static size_t code_stream(const uint8_t *syms, size_t n, const uint32_t *freq, const uint32_t *cum,
                          unsigned ns, uint16_t *words, uint32_t *x)
{
    size_t nw = 0;
    for (unsigned j = 0; j < ns; j++)
        x[j] = RANS_L;
    for (size_t i = n; i-- > 0;) {
        uint32_t s = syms[i], f = freq[s], xs = x[i % ns];
        assert(f > 0);
        if (xs >= f << 16) {
            words[nw++] = (uint16_t)xs;
            xs >>= 16;
        }
        x[i % ns] = ((xs / f) << PROB_BITS) + (xs % f) + cum[s];
    }
    return nw;
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
    /* Each symbol costs at most PROB_BITS < 16 bits: at most one word. */
    uint16_t *words = cn_malloc(n * sizeof *words);
    uint32_t x[NS];
    unsigned ns = NS;
    size_t nw = code_stream(syms, n, freq, cum, ns, words, x);
    if (nw * 2 < NARROW_BELOW) {
        ns = NS_NARROW;
        nw = code_stream(syms, n, freq, cum, ns, words, x);
    }
    cn_buf_put_u8(out, (uint8_t)(k - 1));
    eng_bw_t bw;
    eng__bw_init(&bw, out);
    eng__bw_put(&bw, ns == NS, 1);
    put_codes(&bw, code, k);
    put_states(&bw, x, ns);
    eng__bw_flush(&bw);
    cn_buf_put_uvarint(out, (uint64_t)nw * 2);
    uint8_t *dst = cn_buf_extend(out, nw * 2);
    for (size_t j = 0; j < nw; j++) {
        uint16_t w = words[nw - 1 - j];
        memcpy(dst + 2 * j, &w, 2);
    }
    cn_free(words);
}

static int get_codes(eng_br_t *br, unsigned k, uint8_t *code)
{
    unsigned r = (unsigned)eng__br_get(br, 2);
    code[0] = (uint8_t)eng__br_get(br, 6);
    for (unsigned s = 1; s < k; s++) {
        uint64_t ones = eng__br_get(br, CODE_ESC + 1);
        unsigned q = (unsigned)__builtin_ctzll(~ones);
        if (q >= CODE_ESC) {
            br->pos -= 1;
            code[s] = (uint8_t)eng__br_get(br, 6);
            continue;
        }
        br->pos -= CODE_ESC - q;
        int c = (int)code[s - 1] + (int)cn_unzigzag((uint64_t)q << r | eng__br_get(br, r));
        if (c < 0 || c > 63)
            return CN_CORRUPT();
        code[s] = (uint8_t)c;
    }
    return 0;
}

/* Reads the table and the NS stored states (format above), checks the
 * states' range and fills the slot table. */
static int get_head(cn_rd_t *rd, unsigned *k, uint32_t *tab, uint32_t *x, unsigned *ns)
{
    uint8_t km1;
    int rc = cn_rd_u8(rd, &km1);
    if (rc < 0)
        return rc;
    *k = km1 + 1u;
    eng_br_t br;
    eng__br_init(&br, rd->p, cn_rd_left(rd));
    *ns = eng__br_get(&br, 1) ? NS : NS_NARROW;
    uint8_t code[ENG_RANS_MAX_SYMS];
    if ((rc = get_codes(&br, *k, code)) < 0)
        return rc;
    for (unsigned j = 0; j < *ns; j++) {
        unsigned b = (unsigned)eng__br_get(&br, 4) + PROB_BITS + 1;
        if (b > STATE_BITS)
            return CN_CORRUPT();
        x[j] = (uint32_t)eng__br_get(&br, b - 1) | (uint32_t)1 << (b - 1);
    }
    if (!eng__br_ok(&br))
        return CN_ETRUNC;
    if ((rc = cn_rd_skip(rd, (br.pos + 7) / 8)) < 0)
        return rc;
    uint32_t freq[ENG_RANS_MAX_SYMS];
    if ((rc = normalise(code, *k, freq)) < 0)
        return rc;
    /* Slot entry: symbol << 24 | freq << 12 | cum, the same for all of a
     * symbol's slots.  Filled 32 bytes at a time (two vector stores); a
     * symbol's last chunk may spill into the next symbol's slots, which
     * that symbol then overwrites, and the last one into the padding. */
    uint32_t slot = 0, pat[8];
    for (unsigned s = 0; s < *k; s++) {
        uint32_t e = (uint32_t)s << 24 | freq[s] << 12 | slot;
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
        (X) = ((e_ >> 12) & 0xfff) * ((X) >> PROB_BITS) + ((X)&PROB_MASK) - (e_ & 0xfff);          \
        uint32_t r_ = (X) < RANS_L;                                                                \
        (X) = ((X) << (r_ << 4)) | (cn_ld16(p) & (0u - r_));                                       \
        p += r_ * 2;                                                                               \
    } while (0)

/* Portable bulk decoder: whole rounds of NS symbols while 2 * NS stream
 * bytes remain.  Returns the symbols decoded; *pp advances. */
static size_t dec_scalar(uint32_t *x, const uint32_t *tab, const uint8_t **pp, const uint8_t *end,
                         uint8_t *syms, size_t n)
{
    const uint8_t *p = *pp;
    size_t i = 0;
    for (; i + NS <= n && end - p >= 2 * NS; i += NS) {
        for (int j = 0; j < NS; j++)
            RANS_STEP(x[j], i + (size_t)j);
    }
    *pp = p;
    return i;
}

/* The same for the four states of a narrow stream. */
static size_t dec_narrow(uint32_t *x, const uint32_t *tab, const uint8_t **pp, const uint8_t *end,
                         uint8_t *syms, size_t n)
{
    const uint8_t *p = *pp;
    uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
    size_t i = 0;
    for (; i + NS_NARROW <= n && end - p >= 2 * NS_NARROW; i += NS_NARROW) {
        RANS_STEP(x0, i);
        RANS_STEP(x1, i + 1);
        RANS_STEP(x2, i + 2);
        RANS_STEP(x3, i + 3);
    }
    x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
    *pp = p;
    return i;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

/* For each mask of lanes that refill, lane j's index among the refilling
 * lanes (the number of set mask bits below j), 3 bits per lane. */
static const uint32_t REFILL_IDX[256] = {
    0x000000, 0x249248, 0x249240, 0x492488, 0x249200, 0x492448, 0x492440, 0x6db688, 0x249000,
    0x492248, 0x492240, 0x6db488, 0x492200, 0x6db448, 0x6db440, 0x924688, 0x248000, 0x491248,
    0x491240, 0x6da488, 0x491200, 0x6da448, 0x6da440, 0x923688, 0x491000, 0x6da248, 0x6da240,
    0x923488, 0x6da200, 0x923448, 0x923440, 0xb6c688, 0x240000, 0x489248, 0x489240, 0x6d2488,
    0x489200, 0x6d2448, 0x6d2440, 0x91b688, 0x489000, 0x6d2248, 0x6d2240, 0x91b488, 0x6d2200,
    0x91b448, 0x91b440, 0xb64688, 0x488000, 0x6d1248, 0x6d1240, 0x91a488, 0x6d1200, 0x91a448,
    0x91a440, 0xb63688, 0x6d1000, 0x91a248, 0x91a240, 0xb63488, 0x91a200, 0xb63448, 0xb63440,
    0xdac688, 0x200000, 0x449248, 0x449240, 0x692488, 0x449200, 0x692448, 0x692440, 0x8db688,
    0x449000, 0x692248, 0x692240, 0x8db488, 0x692200, 0x8db448, 0x8db440, 0xb24688, 0x448000,
    0x691248, 0x691240, 0x8da488, 0x691200, 0x8da448, 0x8da440, 0xb23688, 0x691000, 0x8da248,
    0x8da240, 0xb23488, 0x8da200, 0xb23448, 0xb23440, 0xd6c688, 0x440000, 0x689248, 0x689240,
    0x8d2488, 0x689200, 0x8d2448, 0x8d2440, 0xb1b688, 0x689000, 0x8d2248, 0x8d2240, 0xb1b488,
    0x8d2200, 0xb1b448, 0xb1b440, 0xd64688, 0x688000, 0x8d1248, 0x8d1240, 0xb1a488, 0x8d1200,
    0xb1a448, 0xb1a440, 0xd63688, 0x8d1000, 0xb1a248, 0xb1a240, 0xd63488, 0xb1a200, 0xd63448,
    0xd63440, 0xfac688, 0x000000, 0x249248, 0x249240, 0x492488, 0x249200, 0x492448, 0x492440,
    0x6db688, 0x249000, 0x492248, 0x492240, 0x6db488, 0x492200, 0x6db448, 0x6db440, 0x924688,
    0x248000, 0x491248, 0x491240, 0x6da488, 0x491200, 0x6da448, 0x6da440, 0x923688, 0x491000,
    0x6da248, 0x6da240, 0x923488, 0x6da200, 0x923448, 0x923440, 0xb6c688, 0x240000, 0x489248,
    0x489240, 0x6d2488, 0x489200, 0x6d2448, 0x6d2440, 0x91b688, 0x489000, 0x6d2248, 0x6d2240,
    0x91b488, 0x6d2200, 0x91b448, 0x91b440, 0xb64688, 0x488000, 0x6d1248, 0x6d1240, 0x91a488,
    0x6d1200, 0x91a448, 0x91a440, 0xb63688, 0x6d1000, 0x91a248, 0x91a240, 0xb63488, 0x91a200,
    0xb63448, 0xb63440, 0xdac688, 0x200000, 0x449248, 0x449240, 0x692488, 0x449200, 0x692448,
    0x692440, 0x8db688, 0x449000, 0x692248, 0x692240, 0x8db488, 0x692200, 0x8db448, 0x8db440,
    0xb24688, 0x448000, 0x691248, 0x691240, 0x8da488, 0x691200, 0x8da448, 0x8da440, 0xb23688,
    0x691000, 0x8da248, 0x8da240, 0xb23488, 0x8da200, 0xb23448, 0xb23440, 0xd6c688, 0x440000,
    0x689248, 0x689240, 0x8d2488, 0x689200, 0x8d2448, 0x8d2440, 0xb1b688, 0x689000, 0x8d2248,
    0x8d2240, 0xb1b488, 0x8d2200, 0xb1b448, 0xb1b440, 0xd64688, 0x688000, 0x8d1248, 0x8d1240,
    0xb1a488, 0x8d1200, 0xb1a448, 0xb1a440, 0xd63688, 0x8d1000, 0xb1a248, 0xb1a240, 0xd63488,
    0xb1a200, 0xd63448, 0xd63440, 0xfac688};

/* One SIMD decode step of the eight states in V, writing 8 symbols at OUT
 * and refilling from p in lane order (unchecked: 16 bytes readable). */
#define RANS_STEP8(V, OUT)                                                                         \
    do {                                                                                           \
        __m256i slot_ = _mm256_and_si256(V, mslot);                                                \
        __m256i e_ = _mm256_i32gather_epi32((const int *)tab, slot_, 4);                           \
        __m256i f_ = _mm256_and_si256(_mm256_srli_epi32(e_, 12), m12);                             \
        __m256i c_ = _mm256_and_si256(e_, m12);                                                    \
        V = _mm256_add_epi32(_mm256_mullo_epi32(f_, _mm256_srli_epi32(V, PROB_BITS)),              \
                             _mm256_sub_epi32(slot_, c_));                                         \
        __m256i need_ = _mm256_cmpgt_epi32(lo, V);                                                 \
        unsigned bits_ = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(need_));                 \
        __m256i w_ = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));                   \
        __m256i idx_ = _mm256_and_si256(                                                           \
            _mm256_srlv_epi32(_mm256_set1_epi32((int)REFILL_IDX[bits_]), ish), seven);             \
        w_ = _mm256_and_si256(_mm256_permutevar8x32_epi32(w_, idx_), need_);                       \
        V = _mm256_or_si256(_mm256_sllv_epi32(V, _mm256_and_si256(need_, sixteen)), w_);           \
        p += 2 * __builtin_popcount(bits_);                                                        \
        __m256i s_ = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(e_, symb), symp);             \
        _mm_storel_epi64((__m128i *)(OUT), _mm256_castsi256_si128(s_));                            \
    } while (0)

__attribute__((target("avx2,popcnt"))) static size_t dec_avx2(uint32_t *x, const uint32_t *tab,
                                                              const uint8_t **pp,
                                                              const uint8_t *end, uint8_t *syms,
                                                              size_t n)
{
    const __m256i mslot = _mm256_set1_epi32(PROB_MASK), m12 = _mm256_set1_epi32(0xfff);
    const __m256i lo = _mm256_set1_epi32(RANS_L), seven = _mm256_set1_epi32(7);
    const __m256i sixteen = _mm256_set1_epi32(16);
    const __m256i ish = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
    /* Byte 3 of each lane to bytes 0..3 of its 128-bit half, then the two
     * halves' first dwords together. */
    const __m256i symb =
        _mm256_setr_epi8(3, 7, 11, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 3, 7, 11, 15,
                         -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i symp = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
    const uint8_t *p = *pp;
    __m256i xa = _mm256_loadu_si256((const __m256i *)x);
    __m256i xb = _mm256_loadu_si256((const __m256i *)(x + 8));
    size_t i = 0;
    for (; i + NS <= n && end - p >= 2 * NS; i += NS) {
        RANS_STEP8(xa, syms + i);
        RANS_STEP8(xb, syms + i + 8);
    }
    _mm256_storeu_si256((__m256i *)x, xa);
    _mm256_storeu_si256((__m256i *)(x + 8), xb);
    *pp = p;
    return i;
}
#endif

bool eng__simd(void)
{
#ifdef HAVE_AVX2_PATH
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
           __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

int eng__rans_decode(cn_rd_t *rd, size_t n, uint8_t *syms, unsigned *kout, bool simd)
{
    uint32_t tab[PROB_SCALE + 8];
    unsigned k;
    uint32_t x[NS];
    unsigned ns;
    int rc = get_head(rd, &k, tab, x, &ns);
    if (rc < 0)
        return rc;
    const uint8_t *p, *end;
    size_t len;
    if ((rc = eng__rd_blob(rd, &p, &len)) < 0)
        return rc;
    end = p + len;
    size_t i;
#ifdef HAVE_AVX2_PATH
    if (simd && ns == NS)
        i = dec_avx2(x, tab, &p, end, syms, n);
    else
#endif
        i = ns == NS ? dec_scalar(x, tab, &p, end, syms, n) : dec_narrow(x, tab, &p, end, syms, n);
    (void)simd;
    for (; i < n; i++) {
        uint32_t *xs = &x[i % ns];
        uint32_t e = tab[*xs & PROB_MASK];
        syms[i] = (uint8_t)(e >> 24);
        *xs = ((e >> 12) & 0xfff) * (*xs >> PROB_BITS) + (*xs & PROB_MASK) - (e & 0xfff);
        if (*xs < RANS_L) {
            if (end - p < 2)
                return CN_ETRUNC;
            *xs = (*xs << 16) | cn_ld16(p);
            p += 2;
        }
    }
    bool ok = p == end;
    for (unsigned j = 0; j < ns; j++)
        ok = ok && x[j] == RANS_L;
    if (!ok)
        return CN_CORRUPT();
    *kout = k;
    return 0;
}
