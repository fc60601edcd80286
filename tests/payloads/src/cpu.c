/*
 * cpu.c -- CPU-bound benchmark kernels for pywamr.
 *
 * Plain freestanding C: no headers, no libc, so the same file also builds
 * natively (e.g. `gcc -O2 -c cpu.c`).  Wasm-only bits sit behind __wasm__.
 * Build for wasm with clang -fno-builtin so loops are not turned into
 * memset/memcpy imports; the module must have no imports at all.
 */

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

typedef unsigned int u32;
typedef unsigned long long u64;

/* Naive doubly recursive Fibonacci: fib(0)=0, fib(1)=1. */
EXPORT("fib") int fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

#define SIEVE_MAX (1 << 20)
static unsigned char sieve_buf[SIEVE_MAX];

/* Number of primes p with p < n (Eratosthenes); -1 if n > 1<<20. */
EXPORT("sieve") int sieve(int n)
{
    int i, j, count = 0;

    if (n > SIEVE_MAX)
        return -1;
    for (i = 0; i < n; i++)
        sieve_buf[i] = 1;
    for (i = 2; (long long)i * i < n; i++) {
        if (!sieve_buf[i])
            continue;
        for (j = i * i; j < n; j += i)
            sieve_buf[j] = 0;
    }
    for (i = 2; i < n; i++)
        count += sieve_buf[i];
    return count;
}

#define MAT_MAX 128
static double mat_a[MAT_MAX * MAT_MAX];
static double mat_b[MAT_MAX * MAT_MAX];
static double mat_c[MAT_MAX * MAT_MAX];

/*
 * C = A * B for n x n matrices with A[i][j] = (i + 2j) % 7 + 1 and
 * B[i][j] = (3i + j) % 5 - 2; returns the sum of all elements of C.
 * Every value is a small integer, so the result is exact.
 * Returns -1.0 if n is outside 0..128.
 */
EXPORT("matmul") double matmul(int n)
{
    int i, j, k;
    double sum = 0.0;

    if (n < 0 || n > MAT_MAX)
        return -1.0;
    for (i = 0; i < n; i++) {
        for (j = 0; j < n; j++) {
            mat_a[i * n + j] = (double)((i + 2 * j) % 7 + 1);
            mat_b[i * n + j] = (double)((3 * i + j) % 5 - 2);
        }
    }
    for (i = 0; i < n; i++) {
        for (j = 0; j < n; j++) {
            double acc = 0.0;
            for (k = 0; k < n; k++)
                acc += mat_a[i * n + k] * mat_b[k * n + j];
            mat_c[i * n + j] = acc;
        }
    }
    for (i = 0; i < n * n; i++)
        sum += mat_c[i];
    return sum;
}

/* ---- SHA-256 (FIPS 180-4), self-contained ---- */

static const u32 sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* The fixed 64-byte (one block) message that sha256_loop hashes. */
static const unsigned char sha_msg[64] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(u32 h[8], const unsigned char *p)
{
    u32 w[64];
    u32 a, b, c, d, e, f, g, hh, t1, t2;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = ((u32)p[4 * i] << 24) | ((u32)p[4 * i + 1] << 16)
               | ((u32)p[4 * i + 2] << 8) | (u32)p[4 * i + 3];
    for (i = 16; i < 64; i++) {
        u32 s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        u32 s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3];
    e = h[4]; f = h[5]; g = h[6]; hh = h[7];
    for (i = 0; i < 64; i++) {
        t1 = hh + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g))
             + sha_k[i] + w[i];
        t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

/*
 * SHA-256 of the 64-byte sha_msg repeated `iterations` times (a message of
 * 64 * iterations bytes; iterations <= 0 hashes the empty message).
 * Returns the first 32 bits of the digest, i.e. big-endian digest[0..4], so
 * Python can check it with
 *   int.from_bytes(hashlib.sha256(MSG * iterations).digest()[:4], "big").
 */
EXPORT("sha256_loop") unsigned sha256_loop(int iterations)
{
    u32 h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    unsigned char pad[64];
    u64 bits;
    int i;

    if (iterations < 0)
        iterations = 0;
    for (i = 0; i < iterations; i++)
        sha256_block(h, sha_msg);

    /* Message length is a multiple of 64, so padding is one full block. */
    bits = (u64)iterations * 512u;
    pad[0] = 0x80;
    for (i = 1; i < 56; i++)
        pad[i] = 0;
    for (i = 0; i < 8; i++)
        pad[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_block(h, pad);
    return h[0];
}
