/*
 * The GradientCoin nonce search (issue 11, "Performance"): sha256d of a 112-byte block header,
 * read as a little-endian 256-bit integer, compared with a target, for nonces start, start + 1, ...
 *
 * SHA-256 is written here from FIPS 180-4 (sections 4.1.2, 4.2.2, 5.1.1, 5.3.3, 6.2.2). The header
 * is 112 bytes, so the first SHA-256 takes two 64-byte blocks:
 *
 *   block 1: header bytes 0..63                       (the same for every nonce: hashed once into
 *                                                      the "midstate")
 *   block 2: header bytes 64..107, the nonce (4 bytes, little-endian), 0x80, seven zero bytes and
 *            the message length 896 bits as a big-endian 64-bit integer
 *
 * and the second SHA-256, over the 32-byte digest, one block: the digest, 0x80, zeros and the
 * length 256 bits. In block 2 the message words W[0..10] do not depend on the nonce (it is W[11]),
 * so both routes run the first rounds of block 2 once per search as well.
 *
 * Two routes compute the same function:
 *
 *  - portable: the compression function of FIPS 180-4 6.2.2 in C99;
 *  - sha-ni:   the x86 SHA extensions (SHA256RNDS2, SHA256MSG1, SHA256MSG2; Intel SDM vol. 2),
 *              compiled for that instruction set alone with __attribute__((target("sha,sse4.1")))
 *              so that the file builds without -march=native, and chosen at run time by CPUID
 *              (leaf 7, subleaf 0, EBX bit 29, plus SSSE3 and SSE4.1 from leaf 1, ECX bits 9 and
 *              19). Only compiled on x86-64 with GCC or Clang; elsewhere only the portable route
 *              exists.
 */
#include "pyprivml_kernels.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(PPML_POW_NO_SHANI)
#define PPML_POW_HAVE_SHANI 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define PPML_POW_HAVE_SHANI 0
#endif

/* FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64
 * primes. */
static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 5.3.3: the initial hash value H(0). */
static const uint32_t IV256[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#define BLOCK2_FIXED_WORDS 11               /* W[0..10] of block 2 come from the prefix */
#define LEN_112_BITS 0x00000380u            /* 112 bytes = 896 bits */
#define LEN_32_BITS 0x00000100u             /* 32 bytes = 256 bits */
#define PAD_WORD 0x80000000u                /* the 1 bit after the message */

static inline uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t bswap32(uint32_t v)
{
    return (v >> 24) | ((v >> 8) & 0x0000ff00u) | ((v << 8) & 0x00ff0000u) | (v << 24);
}

/* -- the comparison ------------------------------------------------------------------------------
 * The digest is H0..H7, each word written big-endian, and the hash is that byte string read as a
 * little-endian integer: its 32-bit limb i (least significant first) is bswap32(H[i]), so H[7]
 * holds the most significant limb. The target comes as 32 little-endian bytes, limb i at 4 i. */

static inline int meets_target(const uint32_t H[8], const uint32_t target[8])
{
    int i;
    for (i = 7; i >= 0; i--) {
        uint32_t limb = bswap32(H[i]);
        if (limb != target[i])
            return limb < target[i];
    }
    return 1; /* equal: hash <= target */
}

static void digest_bytes(const uint32_t H[8], uint8_t out[32])
{
    int i;
    for (i = 0; i < 8; i++)
        store_be32(out + 4 * i, H[i]);
}

/* -- the portable route: FIPS 180-4 6.2.2 ------------------------------------------------------ */

/* Full unrolling of the round loops (about 10 % on the portable route with GCC 12). */
#if defined(__clang__)
#define PPML_UNROLL _Pragma("unroll")
#elif defined(__GNUC__) && __GNUC__ >= 8
#define PPML_UNROLL _Pragma("GCC unroll 64")
#else
#define PPML_UNROLL
#endif

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))

/* W[16..63] from W[0..15] (6.2.2 step 1). */
static inline void expand(uint32_t W[64])
{
    int t;
    for (t = 16; t < 64; t++)
        W[t] = SSIG1(W[t - 2]) + W[t - 7] + SSIG0(W[t - 15]) + W[t - 16];
}

/* Rounds first..63 of 6.2.2 step 3 on the working variables s = (a, ..., h). */
static inline void rounds(uint32_t s[8], const uint32_t W[64], int first)
{
    uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    int t;
    PPML_UNROLL
    for (t = first; t < 64; t++) {
        uint32_t t1 = h + BSIG1(e) + CH(e, f, g) + K256[t] + W[t];
        uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s[0] = a; s[1] = b; s[2] = c; s[3] = d; s[4] = e; s[5] = f; s[6] = g; s[7] = h;
}

/* Rounds 0..count-1 only (count <= 16: they need W[0..count-1] alone). */
static void first_rounds(uint32_t s[8], const uint32_t W[16], int count)
{
    uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    int t;
    for (t = 0; t < count; t++) {
        uint32_t t1 = h + BSIG1(e) + CH(e, f, g) + K256[t] + W[t];
        uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s[0] = a; s[1] = b; s[2] = c; s[3] = d; s[4] = e; s[5] = f; s[6] = g; s[7] = h;
}

/* H := H + compress(H, block) for one block of 16 big-endian words. */
static void compress_portable(uint32_t H[8], const uint32_t block[16])
{
    uint32_t W[64], s[8];
    int i;
    memcpy(W, block, 16 * sizeof(uint32_t));
    expand(W);
    memcpy(s, H, sizeof s);
    rounds(s, W, 0);
    for (i = 0; i < 8; i++)
        H[i] += s[i];
}

/* What one search needs, computed once: the midstate after block 1, block 2's fixed words, and
 * the working variables after block 2's first 11 rounds (they read W[0..10] only). */
typedef struct {
    uint32_t mid[8];
    uint32_t block2[16];
    uint32_t after11[8];
    uint32_t target[8];
} pow_setup;

static void setup_search(pow_setup *ps, const uint8_t *prefix, const uint8_t *target)
{
    uint32_t block1[16];
    int i;
    for (i = 0; i < 16; i++)
        block1[i] = load_be32(prefix + 4 * i);
    memcpy(ps->mid, IV256, sizeof ps->mid);
    compress_portable(ps->mid, block1);
    for (i = 0; i < BLOCK2_FIXED_WORDS; i++)
        ps->block2[i] = load_be32(prefix + 64 + 4 * i);
    ps->block2[11] = 0; /* the nonce, per try */
    ps->block2[12] = PAD_WORD;
    ps->block2[13] = 0;
    ps->block2[14] = 0;
    ps->block2[15] = LEN_112_BITS;
    memcpy(ps->after11, ps->mid, sizeof ps->after11);
    first_rounds(ps->after11, ps->block2, BLOCK2_FIXED_WORDS);
    for (i = 0; i < 8; i++)
        ps->target[i] = load_le32(target + 4 * i);
}

/* sha256d of the header with this nonce: H receives the second digest's words. */
static inline void hash_portable(const pow_setup *ps, uint32_t nonce, uint32_t H[8])
{
    uint32_t W[64], s[8];
    int i;
    /* block 2 of the first SHA-256, from round 11 on */
    memcpy(W, ps->block2, 16 * sizeof(uint32_t));
    W[11] = bswap32(nonce); /* the nonce's little-endian bytes read as a big-endian word */
    expand(W);
    memcpy(s, ps->after11, sizeof s);
    rounds(s, W, BLOCK2_FIXED_WORDS);
    for (i = 0; i < 8; i++)
        W[i] = ps->mid[i] + s[i]; /* the first digest is the second message */
    /* the second SHA-256: one block, the 32-byte digest padded */
    W[8] = PAD_WORD;
    for (i = 9; i < 15; i++)
        W[i] = 0;
    W[15] = LEN_32_BITS;
    expand(W);
    memcpy(s, IV256, sizeof s);
    rounds(s, W, 0);
    for (i = 0; i < 8; i++)
        H[i] = IV256[i] + s[i];
}

static int search_portable(const pow_setup *ps, uint32_t start, uint64_t count, uint32_t *nonce_out,
                           uint64_t *tried_out, uint8_t *hash_out)
{
    uint64_t i;
    uint32_t H[8];
    for (i = 0; i < count; i++) {
        uint32_t nonce = start + (uint32_t)i;
        hash_portable(ps, nonce, H);
        /* most hashes fail on the top limb alone */
        if (bswap32(H[7]) > ps->target[7])
            continue;
        if (meets_target(H, ps->target)) {
            *nonce_out = nonce;
            *tried_out = i + 1;
            if (hash_out)
                digest_bytes(H, hash_out);
            return 1;
        }
    }
    *tried_out = count;
    return 0;
}

/* -- the SHA-NI route ---------------------------------------------------------------------------
 * SHA256RNDS2 keeps the eight working variables in two registers, ABEF = (A, B, E, F) and
 * CDGH = (C, D, G, H), listed from the most significant 32-bit lane down (lane 0 holds F, H).
 * One call runs two rounds with W[t] + K[t] from lane 0 and W[t+1] + K[t+1] from lane 1 of its
 * third operand, taking CDGH and ABEF and returning the new ABEF; the new CDGH is the old ABEF.
 * Message words W[4g..4g+3] sit in lanes 0..3 of one register, group g. For g >= 4,
 * W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] becomes
 *   MSG1(group g-4, group g-3)                  = W[t-16] + s0(W[t-15])     (lanes t = 4g..4g+3)
 *   + ALIGNR(group g-1, group g-2, 4 bytes)     = W[t-7]
 *   then MSG2(that, group g-1)                  adds s1(W[t-2]), chaining lanes 2, 3 on 0, 1.
 * Each SHA256RNDS2 depends on the one before, so the search hashes two nonces side by side (lanes
 * X and Y below) to keep the SHA unit busy while one of them waits. */
#if PPML_POW_HAVE_SHANI

#define SHANI __attribute__((target("sha,sse4.1")))

/* Rounds 4g..4g+3 of lane L (registers abef_L, cdgh_L) with message group m. */
#define SHANI_ROUNDS4(L, m, g)                                                                 \
    do {                                                                                       \
        __m128i wk_ = _mm_add_epi32((m), _mm_loadu_si128((const __m128i *)&K256[4 * (g)]));   \
        cdgh_##L = _mm_sha256rnds2_epu32(cdgh_##L, abef_##L, wk_); /* now holds ABEF */        \
        wk_ = _mm_shuffle_epi32(wk_, 0x0E);                        /* lanes 2, 3 to 0, 1 */    \
        abef_##L = _mm_sha256rnds2_epu32(abef_##L, cdgh_##L, wk_);                             \
    } while (0)

/* m0 := the group after m3, from the four groups m0 (oldest) .. m3 (newest). */
#define SHANI_NEXT(m0, m1, m2, m3)                                                             \
    (m0) = _mm_sha256msg2_epu32(                                                               \
        _mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)), _mm_alignr_epi8((m3), (m2), 4)), (m3))

/* Group g (4 <= g < 16) for both lanes: x_k, y_k are lane X's and Y's groups, newest k3. */
#define SHANI_STEP2(x0, x1, x2, x3, y0, y1, y2, y3, g)                                         \
    do {                                                                                       \
        SHANI_NEXT(x0, x1, x2, x3);                                                            \
        SHANI_NEXT(y0, y1, y2, y3);                                                            \
        SHANI_ROUNDS4(X, x0, g);                                                               \
        SHANI_ROUNDS4(Y, y0, g);                                                               \
    } while (0)

/* Rounds 16..63 of both lanes from their groups of rounds 0..15. */
#define SHANI_ROUNDS_16_TO_63_X2()                                                             \
    do {                                                                                       \
        SHANI_STEP2(x0, x1, x2, x3, y0, y1, y2, y3, 4);                                        \
        SHANI_STEP2(x1, x2, x3, x0, y1, y2, y3, y0, 5);                                        \
        SHANI_STEP2(x2, x3, x0, x1, y2, y3, y0, y1, 6);                                        \
        SHANI_STEP2(x3, x0, x1, x2, y3, y0, y1, y2, 7);                                        \
        SHANI_STEP2(x0, x1, x2, x3, y0, y1, y2, y3, 8);                                        \
        SHANI_STEP2(x1, x2, x3, x0, y1, y2, y3, y0, 9);                                        \
        SHANI_STEP2(x2, x3, x0, x1, y2, y3, y0, y1, 10);                                       \
        SHANI_STEP2(x3, x0, x1, x2, y3, y0, y1, y2, 11);                                       \
        SHANI_STEP2(x0, x1, x2, x3, y0, y1, y2, y3, 12);                                       \
        SHANI_STEP2(x1, x2, x3, x0, y1, y2, y3, y0, 13);                                       \
        SHANI_STEP2(x2, x3, x0, x1, y2, y3, y0, y1, 14);                                       \
        SHANI_STEP2(x3, x0, x1, x2, y3, y0, y1, y2, 15);                                       \
    } while (0)

static int cpu_has_shani(void)
{
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return 0;
    if (!(ecx & (1u << 9)) || !(ecx & (1u << 19))) /* SSSE3 (PALIGNR), SSE4.1 (PINSRD) */
        return 0;
    if (__get_cpuid_max(0, 0) < 7)
        return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    return (ebx >> 29) & 1u; /* SHA */
}

/* The ABEF and CDGH registers of the state words H[0..7] = (a, ..., h). */
static inline SHANI __m128i shani_abef(const uint32_t H[8])
{
    return _mm_set_epi32((int)H[0], (int)H[1], (int)H[4], (int)H[5]);
}

static inline SHANI __m128i shani_cdgh(const uint32_t H[8])
{
    return _mm_set_epi32((int)H[2], (int)H[3], (int)H[6], (int)H[7]);
}

/* Lanes 0..3 = (a, b, c, d) and (e, f, g, h) from ABEF and CDGH: the high halves hold
 * (B, A | D, C) in lanes 0..3 after UNPCKHQDQ, the low halves (F, E | H, G), and swapping each
 * pair (PSHUFD 0xB1) puts them in order. These are also the message groups 0 and 1 of a SHA-256
 * over the 32-byte digest. */
static inline SHANI __m128i shani_abcd(__m128i abef, __m128i cdgh)
{
    return _mm_shuffle_epi32(_mm_unpackhi_epi64(abef, cdgh), 0xB1);
}

static inline SHANI __m128i shani_efgh(__m128i abef, __m128i cdgh)
{
    return _mm_shuffle_epi32(_mm_unpacklo_epi64(abef, cdgh), 0xB1);
}

/* Whether the digest in (abef, cdgh) meets the target; H7 is cdgh's lane 0, the top limb, on
 * which most hashes fail. */
static inline SHANI int shani_meets(__m128i abef, __m128i cdgh, const uint32_t target[8],
                                    uint32_t H[8])
{
    if (bswap32((uint32_t)_mm_cvtsi128_si32(cdgh)) > target[7])
        return 0;
    _mm_storeu_si128((__m128i *)&H[0], shani_abcd(abef, cdgh));
    _mm_storeu_si128((__m128i *)&H[4], shani_efgh(abef, cdgh));
    return meets_target(H, target);
}

static SHANI int search_shani(const pow_setup *ps, uint32_t start, uint64_t count,
                              uint32_t *nonce_out, uint64_t *tried_out, uint8_t *hash_out)
{
    /* block 2: groups 0 and 1 (W[0..7]) are fixed, so rounds 0..7 run once here */
    const __m128i g0 = _mm_loadu_si128((const __m128i *)&ps->block2[0]);
    const __m128i g1 = _mm_loadu_si128((const __m128i *)&ps->block2[4]);
    const __m128i g2_fixed = _mm_loadu_si128((const __m128i *)&ps->block2[8]); /* lane 3: nonce */
    const __m128i g3 = _mm_loadu_si128((const __m128i *)&ps->block2[12]);
    const __m128i mid_abef = shani_abef(ps->mid), mid_cdgh = shani_cdgh(ps->mid);
    const __m128i iv_abef = shani_abef(IV256), iv_cdgh = shani_cdgh(IV256);
    /* the second SHA-256's groups 2 and 3: the padding and the length 256 */
    const __m128i pad2 = _mm_set_epi32(0, 0, 0, (int)PAD_WORD);
    const __m128i pad3 = _mm_set_epi32((int)LEN_32_BITS, 0, 0, 0);
    __m128i abef_X = mid_abef, cdgh_X = mid_cdgh, abef8, cdgh8;
    __m128i abef_Y, cdgh_Y;
    uint32_t H[8];
    uint64_t i;

    SHANI_ROUNDS4(X, g0, 0);
    SHANI_ROUNDS4(X, g1, 1);
    abef8 = abef_X;
    cdgh8 = cdgh_X;

    /* nonces in pairs (X, Y) = (n, n + 1); for an odd count the last Y (which may wrap past
     * 2**32 - 1) is hashed and ignored */
    for (i = 0; i < count; i += 2) {
        const uint32_t nonce = start + (uint32_t)i;
        __m128i x0 = g0, x1 = g1, x2 = _mm_insert_epi32(g2_fixed, (int)bswap32(nonce), 3), x3 = g3;
        __m128i y0 = g0, y1 = g1, y2 = _mm_insert_epi32(g2_fixed, (int)bswap32(nonce + 1u), 3);
        __m128i y3 = g3;

        /* the first SHA-256, block 2 from round 8 on */
        abef_X = abef_Y = abef8;
        cdgh_X = cdgh_Y = cdgh8;
        SHANI_ROUNDS4(X, x2, 2);
        SHANI_ROUNDS4(Y, y2, 2);
        SHANI_ROUNDS4(X, x3, 3);
        SHANI_ROUNDS4(Y, y3, 3);
        SHANI_ROUNDS_16_TO_63_X2();
        abef_X = _mm_add_epi32(abef_X, mid_abef);
        cdgh_X = _mm_add_epi32(cdgh_X, mid_cdgh);
        abef_Y = _mm_add_epi32(abef_Y, mid_abef);
        cdgh_Y = _mm_add_epi32(cdgh_Y, mid_cdgh);

        /* the second SHA-256 over each digest (a, ..., h): groups (a, b, c, d), (e, f, g, h) */
        x0 = shani_abcd(abef_X, cdgh_X);
        x1 = shani_efgh(abef_X, cdgh_X);
        y0 = shani_abcd(abef_Y, cdgh_Y);
        y1 = shani_efgh(abef_Y, cdgh_Y);
        x2 = y2 = pad2;
        x3 = y3 = pad3;
        abef_X = abef_Y = iv_abef;
        cdgh_X = cdgh_Y = iv_cdgh;
        SHANI_ROUNDS4(X, x0, 0);
        SHANI_ROUNDS4(Y, y0, 0);
        SHANI_ROUNDS4(X, x1, 1);
        SHANI_ROUNDS4(Y, y1, 1);
        SHANI_ROUNDS4(X, x2, 2);
        SHANI_ROUNDS4(Y, y2, 2);
        SHANI_ROUNDS4(X, x3, 3);
        SHANI_ROUNDS4(Y, y3, 3);
        SHANI_ROUNDS_16_TO_63_X2();
        abef_X = _mm_add_epi32(abef_X, iv_abef);
        cdgh_X = _mm_add_epi32(cdgh_X, iv_cdgh);
        abef_Y = _mm_add_epi32(abef_Y, iv_abef);
        cdgh_Y = _mm_add_epi32(cdgh_Y, iv_cdgh);

        /* X before Y: the first nonce that succeeds wins */
        if (shani_meets(abef_X, cdgh_X, ps->target, H)) {
            *nonce_out = nonce;
            *tried_out = i + 1;
            if (hash_out)
                digest_bytes(H, hash_out);
            return 1;
        }
        if (i + 1 < count && shani_meets(abef_Y, cdgh_Y, ps->target, H)) {
            *nonce_out = nonce + 1u;
            *tried_out = i + 2;
            if (hash_out)
                digest_bytes(H, hash_out);
            return 1;
        }
    }
    *tried_out = count;
    return 0;
}

#endif /* PPML_POW_HAVE_SHANI */

/* -- dispatch ---------------------------------------------------------------------------------- */

#if PPML_POW_HAVE_SHANI
static int shani_state = -1; /* -1: not asked yet; 0 or 1 (every thread writes the same value) */
#endif

unsigned int ppml_pow_routes(void)
{
    unsigned int routes = 1u << PPML_POW_ROUTE_PORTABLE;
#if PPML_POW_HAVE_SHANI
    if (shani_state < 0)
        shani_state = cpu_has_shani();
    if (shani_state)
        routes |= 1u << PPML_POW_ROUTE_SHANI;
#endif
    return routes;
}

int ppml_pow_resolve_route(int route)
{
    unsigned int routes = ppml_pow_routes();
    if (route == PPML_POW_ROUTE_AUTO)
        return (routes & (1u << PPML_POW_ROUTE_SHANI)) ? PPML_POW_ROUTE_SHANI : PPML_POW_ROUTE_PORTABLE;
    if ((route == PPML_POW_ROUTE_PORTABLE || route == PPML_POW_ROUTE_SHANI) && (routes & (1u << route)))
        return route;
    return PPML_POW_ERR_ROUTE;
}

int ppml_pow_search(const uint8_t prefix[108], const uint8_t target[32], uint32_t start_nonce,
                    uint64_t count, int route, uint32_t *nonce_out, uint64_t *tried_out,
                    uint8_t hash_out[32])
{
    pow_setup ps;
    const uint64_t left = (uint64_t)UINT32_MAX - start_nonce + 1; /* nonces start..2**32-1 */
    int chosen = ppml_pow_resolve_route(route);
    if (chosen < 0) {
        *tried_out = 0;
        return chosen;
    }
    if (count > left)
        count = left;
    setup_search(&ps, prefix, target);
#if PPML_POW_HAVE_SHANI
    if (chosen == PPML_POW_ROUTE_SHANI)
        return search_shani(&ps, start_nonce, count, nonce_out, tried_out, hash_out);
#endif
    return search_portable(&ps, start_nonce, count, nonce_out, tried_out, hash_out);
}

int ppml_pow_hash(const uint8_t prefix[108], uint32_t nonce, int route, uint8_t hash_out[32])
{
    static const uint8_t any[32] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    };
    uint32_t found;
    uint64_t tried;
    int status = ppml_pow_search(prefix, any, nonce, 1, route, &found, &tried, hash_out);
    return status < 0 ? status : 0;
}
