/* SPDX-License-Identifier: MIT */
/*
 * decode_check.h - assertions the decoder tests share (test_decode_*.c):
 * find a field or tag of a decoded point, check a field's type and exact
 * value (floats bit for bit), check the one recorded error's text, and a
 * seeded PRNG for generated inputs.  Include after cmocka.h and decode.h.
 */
#ifndef TESTS_DECODE_CHECK_H
#define TESTS_DECODE_CHECK_H

static inline const eng_field_t *field(const eng_point_t *p, const char *name)
{
    for (uint32_t i = 0; i < p->nfields; i++)
        if (strcmp(p->fields[i].name, name) == 0)
            return &p->fields[i];
    fail_msg("no field %s", name);
    return NULL;
}

static inline const char *tag(const eng_point_t *p, const char *key)
{
    for (uint32_t i = 0; i < p->ntags; i++)
        if (strcmp(p->tags[i].key, key) == 0)
            return p->tags[i].val;
    return NULL;
}

static inline void expect_f(const eng_point_t *p, const char *name, double v)
{
    const eng_field_t *fl = field(p, name);
    assert_int_equal(fl->type, ENG_T_FLOAT);
    assert_memory_equal(&fl->v.f, &v, sizeof v); /* bit for bit */
}

static inline void expect_i(const eng_point_t *p, const char *name, int64_t v)
{
    const eng_field_t *fl = field(p, name);
    assert_int_equal(fl->type, ENG_T_INT);
    assert_true(fl->v.i == v);
}

static inline void expect_b(const eng_point_t *p, const char *name, int v)
{
    const eng_field_t *fl = field(p, name);
    assert_int_equal(fl->type, ENG_T_BOOL);
    assert_int_equal(fl->v.b, v);
}

static inline void expect_s(const eng_point_t *p, const char *name, const char *v, size_t n)
{
    const eng_field_t *fl = field(p, name);
    assert_int_equal(fl->type, ENG_T_STRING);
    assert_int_equal(fl->v.s.len, n);
    assert_memory_equal(fl->v.s.p, v, n);
}

/* The batch must hold exactly one error, reading exactly `want`. */
static inline void expect_one_err(mq_dec_batch_t *b, const char *want)
{
    size_t n;
    const mq_dec_err_t *e = mq_dec_batch_errors(b, &n);
    char buf[128] = "";
    if (n)
        mq_dec_err_format(e, buf, sizeof buf);
    if (n != 1 || strcmp(buf, want) != 0)
        fail_msg("got %zu errors, first \"%s\", want \"%s\"", n, buf, want);
}

/* splitmix64 */
static inline uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif /* TESTS_DECODE_CHECK_H */
