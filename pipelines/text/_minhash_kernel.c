/*
 * Compiled MinHash kernel for pipelines/text/minhash.py (module pipelines.text._minhash_kernel).
 *
 * One call takes a batch of texts that Python already NFKC-normalised where they are not ASCII (ASCII
 * texts are passed as they are). With the GIL held it fills the case folding table for the code points
 * that occur (str.casefold, one code point at a time); then, for every text, with the GIL released, it
 *
 *   1. normalises it for shingling: code points of 128 and above are case-folded through that table,
 *      alphanumeric code points (CPython's own str.isalnum test) are kept, ASCII 'A'..'Z' lower-cased,
 *      every run of other code points (combining marks and '_' included) becomes one space between words
 *      and is dropped at both ends;
 *   2. hashes every shingle (scheme version 1, see the docstring of minhash.py): polynomial
 *      sum (c_k + 1) * B**k mod 2**64 from prefix sums, xor length * 0xC2B2AE3D27D4EB4F, fmix64, upper 32 bits;
 *   3. optionally folds the hashes into a MinHash signature: min over shingles of a_k * fmix32(h) + b_k
 *      mod 2**32 (datasketch's affine32 scheme), permutation by permutation, without a
 *      (permutations x shingles) matrix.
 *
 * The numpy implementation in minhash.py is the definition; tests keep the two bit-identical.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HASH_B 0x9E3779B97F4A7C15ULL
#define LEN_MUL 0xC2B2AE3D27D4EB4FULL
#define PERM_BLOCK 64

/* Function multi-versioning: the permutation loop gets AVX-512 and AVX2 variants chosen at load time
 * (glibc ifunc); elsewhere it is compiled once for the baseline instruction set. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#define CF_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define CF_CLONES_NAME "avx512f,avx2,default (chosen at load time)"
#else
#define CF_CLONES
#define CF_CLONES_NAME "baseline"
#endif

/* ------------------------------------------------------------------ character classes */
/* word_class[c]: 0 = not looked up yet, 1 = separator, 2 = word character (str.isalnum). Filled lazily
 * for the code points that occur; concurrent fills write the same byte. */
static uint8_t word_class[0x110000];

static inline int is_word_cp(Py_UCS4 c) {
    uint8_t v = __atomic_load_n(&word_class[c], __ATOMIC_RELAXED);
    if (v == 0) {
        v = Py_UNICODE_ISALNUM(c) ? 2 : 1;
        __atomic_store_n(&word_class[c], v, __ATOMIC_RELAXED);
    }
    return v == 2;
}

static inline uint64_t fmix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDULL;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ULL;
    return x ^ (x >> 33);
}

static inline uint32_t fmix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x85EBCA6BU;
    x ^= x >> 13;
    x *= 0xC2B2AE35U;
    return x ^ (x >> 16);
}

/* ------------------------------------------------------------------ permutations and minimum */
/* sig[k] = min(sig[k], min_j a[k] * x[j] + b[k]) for k < num_perm. Blocks of PERM_BLOCK permutations
 * keep their running minimum in registers while the shingles stream past. */
CF_CLONES static void fold_min(const uint32_t *restrict x, Py_ssize_t n, const uint32_t *restrict a,
                               const uint32_t *restrict b, uint32_t *restrict sig, Py_ssize_t num_perm) {
    Py_ssize_t k0 = 0;
    for (; k0 + PERM_BLOCK <= num_perm; k0 += PERM_BLOCK) {
        uint32_t acc[PERM_BLOCK], ab[PERM_BLOCK], bb[PERM_BLOCK];
        memcpy(acc, sig + k0, sizeof acc);
        memcpy(ab, a + k0, sizeof ab);
        memcpy(bb, b + k0, sizeof bb);
        for (Py_ssize_t j = 0; j < n; j++) {
            const uint32_t v = x[j];
            for (int k = 0; k < PERM_BLOCK; k++) {
                const uint32_t t = ab[k] * v + bb[k];
                acc[k] = t < acc[k] ? t : acc[k];
            }
        }
        memcpy(sig + k0, acc, sizeof acc);
    }
    if (k0 < num_perm) {
        const Py_ssize_t rest = num_perm - k0;
        for (Py_ssize_t j = 0; j < n; j++) {
            const uint32_t v = x[j];
            for (Py_ssize_t k = 0; k < rest; k++) {
                const uint32_t t = a[k0 + k] * v + b[k0 + k];
                sig[k0 + k] = t < sig[k0 + k] ? t : sig[k0 + k];
            }
        }
    }
}

/* ------------------------------------------------------------------ per-text work */
typedef struct {
    int kind;          /* PyUnicode kind: 1, 2 or 4 bytes per code point */
    int fold;          /* case-fold the code points of 128 and above */
    const void *data;  /* the str's code points (kept alive by a reference) */
    Py_ssize_t len;
    Py_ssize_t bound;  /* upper bound of the normalised length */
} text_view;

typedef struct {
    Py_ssize_t cap;       /* code points the buffers hold */
    uint64_t *pow;        /* B**k */
    uint64_t *inv;        /* B**-k */
    uint64_t *prefix;     /* prefix[k] = sum_{i<k} (c_i + 1) * B**i over the normalised text */
    Py_ssize_t *wstart;   /* first position of every word */
    Py_ssize_t *wend;     /* one past its last position */
    uint32_t *mixed;      /* fmix32 of the shingle hashes of one text */
} scratch;

static void scratch_free(scratch *s) {
    free(s->pow);
    free(s->inv);
    free(s->prefix);
    free(s->wstart);
    free(s->wend);
    free(s->mixed);
    memset(s, 0, sizeof *s);
}

static int scratch_init(scratch *s, Py_ssize_t cap) {
    memset(s, 0, sizeof *s);
    if (cap < 1) cap = 1;
    s->cap = cap;
    s->pow = malloc((size_t)(cap + 1) * sizeof(uint64_t));
    s->inv = malloc((size_t)(cap + 1) * sizeof(uint64_t));
    s->prefix = malloc((size_t)(cap + 1) * sizeof(uint64_t));
    s->wstart = malloc((size_t)(cap + 1) * sizeof(Py_ssize_t)); /* + 1: feed() writes one past the last word */
    s->wend = malloc((size_t)(cap + 1) * sizeof(Py_ssize_t));
    s->mixed = malloc((size_t)cap * sizeof(uint32_t));
    if (!s->pow || !s->inv || !s->prefix || !s->wstart || !s->wend || !s->mixed) {
        scratch_free(s);
        return -1;
    }
    /* B is odd, so it has an inverse mod 2**64 (Newton iteration: 6 steps double 1 correct bit to 64). */
    uint64_t binv = HASH_B;
    for (int i = 0; i < 6; i++) binv *= 2 - HASH_B * binv;
    s->pow[0] = 1;
    s->inv[0] = 1;
    for (Py_ssize_t k = 1; k <= cap; k++) {
        s->pow[k] = s->pow[k - 1] * HASH_B;
        s->inv[k] = s->inv[k - 1] * binv;
    }
    return 0;
}

/* ------------------------------------------------------------------ case folding */
/* str.casefold works code point by code point (full case folding, no context), so it is a table:
 * fold_state[c]: 0 = not looked up yet, 1 = folds to itself, 2 = folds to the one code point fold_one[c],
 * 3 = folds to the code points fold_multi[fold_one[c]] (at most 3; the first entry is the count).
 * Entries are filled by calling str.casefold with the GIL held (fill_folds), before the GIL is released
 * for the texts that need them, and never change afterwards. */
#define MAX_MULTI_FOLDS 4096
static uint8_t fold_state[0x110000];
static uint32_t fold_one[0x110000];
static Py_UCS4 fold_multi[MAX_MULTI_FOLDS][4];
static int n_multi_folds;

/* Looks c up with the GIL held; returns the length of its case folding, or -1 with an exception set. */
static int fold_lookup(Py_UCS4 c) {
    if (fold_state[c]) {
        return fold_state[c] == 3 ? (int)fold_multi[fold_one[c]][0] : 1;
    }
    PyObject *ch = PyUnicode_FromOrdinal((int)c);
    if (!ch) return -1;
    PyObject *folded = PyObject_CallMethod(ch, "casefold", NULL);
    Py_DECREF(ch);
    if (!folded) return -1;
    const Py_ssize_t len = PyUnicode_GET_LENGTH(folded);
    int out = (int)len;
    if (len == 1) {
        const Py_UCS4 f = PyUnicode_READ_CHAR(folded, 0);
        fold_one[c] = f;
        fold_state[c] = f == c ? 1 : 2;
    } else if (len >= 1 && len <= 3 && n_multi_folds < MAX_MULTI_FOLDS) {
        fold_multi[n_multi_folds][0] = (Py_UCS4)len;
        for (Py_ssize_t k = 0; k < len; k++) fold_multi[n_multi_folds][k + 1] = PyUnicode_READ_CHAR(folded, k);
        fold_one[c] = (uint32_t)n_multi_folds++;
        fold_state[c] = 3;
    } else {
        PyErr_Format(PyExc_RuntimeError, "case folding of U+%04X has %zd code points; the kernel's table holds 1 to 3",
                     (unsigned)c, len);
        out = -1;
    }
    Py_DECREF(folded);
    return out;
}

/* Fills the fold table for the code points of t; returns an upper bound of its normalised length, or -1
 * with an exception set. */
#define FILL_LOOP(TYPE)                                                                 \
    do {                                                                                \
        const TYPE *src = (const TYPE *)t->data;                                        \
        for (Py_ssize_t i = 0; i < t->len; i++) {                                       \
            const Py_UCS4 c = src[i];                                                   \
            if (c < 128 || fold_state[c] == 1 || fold_state[c] == 2) {                  \
                bound += 1;                                                             \
            } else {                                                                    \
                const int k = fold_lookup(c);                                           \
                if (k < 0) return -1;                                                   \
                bound += k;                                                             \
            }                                                                           \
        }                                                                               \
    } while (0)

static Py_ssize_t fill_folds(const text_view *t) {
    Py_ssize_t bound = 0;
    switch (t->kind) {
    case PyUnicode_1BYTE_KIND:
        FILL_LOOP(Py_UCS1);
        break;
    case PyUnicode_2BYTE_KIND:
        FILL_LOOP(Py_UCS2);
        break;
    default:
        FILL_LOOP(Py_UCS4);
        break;
    }
    return bound;
}

/* ------------------------------------------------------------------ normalisation */
typedef struct {
    const uint64_t *pw;
    uint64_t *prefix;
    Py_ssize_t *wstart, *wend;
    uint64_t m, n_start, n_end, p, in_word;
} norm_state;

/* One code point c of the case-folded text (word: 1 for a word character, else 0); c is already lower
 * case. A word character extends the current word, anything else ends it; words are joined by one space.
 * Branch-free: the word boundaries are written at every step and kept only when a word starts or ends
 * (the arrays have one spare entry), so that no branch depends on the text. */
static inline void feed(norm_state *st, uint64_t c, uint64_t word) {
    const uint64_t start = word & (st->in_word ^ 1);
    const uint64_t space = start & (uint64_t)(st->m != 0);
    st->p += (0 - space) & (33 * st->pw[st->m]);
    st->m += space;
    st->prefix[st->m] = st->p;
    st->wstart[st->n_start] = (Py_ssize_t)st->m;
    st->n_start += start;
    st->wend[st->n_end] = (Py_ssize_t)st->m;
    st->n_end += (word ^ 1) & st->in_word;
    st->p += (0 - word) & ((c + 1) * st->pw[st->m]);
    st->m += word;
    st->prefix[st->m] = st->p;
    st->in_word = word;
}

static inline void feed_folded(norm_state *st, Py_UCS4 c) {
    switch (fold_state[c]) {
    case 2:
        c = fold_one[c];
        /* fall through */
    case 1:
        feed(st, c, (uint64_t)is_word_cp(c));
        break;
    default: {
        const Py_UCS4 *f = fold_multi[fold_one[c]];
        for (Py_UCS4 k = 1; k <= f[0]; k++) feed(st, f[k], (uint64_t)is_word_cp(f[k]));
    }
    }
}

/* latin1_lower[c] for c < 256: c lower-cased ('A'..'Z' only) when str.isalnum(chr(c)), else 0
 * (U+0000 is not alphanumeric, so 0 marks a separator). Filled at import. */
static uint8_t latin1_lower[256];

#define NORMALIZE_LOOP(TYPE)                                                          \
    do {                                                                              \
        const TYPE *src = (const TYPE *)t->data;                                      \
        for (Py_ssize_t i = 0; i < t->len; i++) {                                     \
            const Py_UCS4 c = src[i];                                                 \
            if (c < 128 || (!fold && c < 256)) {                                      \
                const uint64_t l = latin1_lower[c];                                   \
                feed(&st, l, l != 0);                                                 \
            } else if (fold) {                                                        \
                feed_folded(&st, c);                                                  \
            } else {                                                                  \
                feed(&st, c, (uint64_t)(c < 0x110000 && is_word_cp(c)));             \
            }                                                                         \
        }                                                                             \
    } while (0)

/* The same for a text of code points below 256 that needs no case folding (ASCII texts, mostly): word by
 * word, so that the loop over a word's characters has no other branch. */
static Py_ssize_t normalize_latin1(const Py_UCS1 *src, Py_ssize_t len, scratch *s, Py_ssize_t *n_words) {
    const uint64_t *pw = s->pow;
    uint64_t *prefix = s->prefix;
    Py_ssize_t i = 0, m = 0, nw = 0;
    uint64_t p = 0, l;
    prefix[0] = 0;
    for (;;) {
        while (i < len && !latin1_lower[src[i]]) i++;
        if (i >= len) break;
        if (m) {
            p += 33 * pw[m];
            prefix[++m] = p;
        }
        s->wstart[nw] = m;
        while (i < len && (l = latin1_lower[src[i]]) != 0) {
            p += (l + 1) * pw[m];
            prefix[++m] = p;
            i++;
        }
        s->wend[nw++] = m;
    }
    *n_words = nw;
    return m;
}

/* Normalise one text into prefix sums and word boundaries; returns the normalised length. With fold,
 * every code point of 128 and above is case-folded first (its fold_state entry is filled). */
static Py_ssize_t normalize_text(const text_view *t, scratch *s, int fold, Py_ssize_t *n_words) {
    if (t->kind == PyUnicode_1BYTE_KIND && !fold)
        return normalize_latin1((const Py_UCS1 *)t->data, t->len, s, n_words);
    norm_state st = {s->pow, s->prefix, s->wstart, s->wend, 0, 0, 0, 0, 0};
    s->prefix[0] = 0;
    switch (t->kind) {
    case PyUnicode_1BYTE_KIND:
        NORMALIZE_LOOP(Py_UCS1);
        break;
    case PyUnicode_2BYTE_KIND:
        NORMALIZE_LOOP(Py_UCS2);
        break;
    default:
        NORMALIZE_LOOP(Py_UCS4);
        break;
    }
    if (st.in_word) st.wend[st.n_end++] = (Py_ssize_t)st.m;
    *n_words = (Py_ssize_t)st.n_end;
    return (Py_ssize_t)st.m;
}

static inline uint32_t span_hash(const scratch *s, Py_ssize_t start, Py_ssize_t end) {
    const uint64_t poly = (s->prefix[end] - s->prefix[start]) * s->inv[start];
    return (uint32_t)(fmix64(poly ^ ((uint64_t)(end - start) * LEN_MUL)) >> 32);
}

/* Shingle hashes of one text: raw hashes appended to out (may be NULL), fmix32 of them into s->mixed. */
static Py_ssize_t text_shingles(const text_view *t, scratch *s, int char_kind, Py_ssize_t ngram, uint32_t *out) {
    Py_ssize_t nw;
    const Py_ssize_t m = normalize_text(t, s, t->fold, &nw);
    Py_ssize_t n_sh = 0;
    if (char_kind) {
        for (Py_ssize_t i = 0; i + ngram <= m; i++) {
            const uint32_t h = span_hash(s, i, i + ngram);
            if (out) out[n_sh] = h;
            s->mixed[n_sh++] = fmix32(h);
        }
    } else {
        for (Py_ssize_t i = 0; i + ngram <= nw; i++) {
            const uint32_t h = span_hash(s, s->wstart[i], s->wend[i + ngram - 1]);
            if (out) out[n_sh] = h;
            s->mixed[n_sh++] = fmix32(h);
        }
    }
    return n_sh;
}

/* ------------------------------------------------------------------ Python entry point */
typedef struct {
    Py_buffer view;
    int held;
} buf_arg;

static int get_buffer(PyObject *obj, buf_arg *b, int writable, Py_ssize_t itemsize, Py_ssize_t items,
                      const char *what) {
    if (PyObject_GetBuffer(obj, &b->view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    b->held = 1;
    if (b->view.itemsize != itemsize || b->view.len != itemsize * items) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items of %zd bytes, got %zd bytes of items of %zd", what,
                     items, itemsize, b->view.len, b->view.itemsize);
        return -1;
    }
    return 0;
}

static void release(buf_arg *b) {
    if (b->held) PyBuffer_Release(&b->view);
    b->held = 0;
}

PyDoc_STRVAR(run_doc,
"run(texts, char_kind, ngram, fold, a, b, sig, counts) -> bytearray\n\n"
"Shingle hashes and (when a, b and sig are given) MinHash signatures of a batch of texts.\n\n"
"texts: list of str, NFKC-normalised where not ASCII; char_kind: False for word shingles, True for\n"
"code point shingles; ngram: shingle size (>= 1); fold: case-fold (str.casefold) the non-ASCII texts,\n"
"False when they are case-folded already; a, b: uint32 buffers of num_perm\n"
"permutation parameters, or None; sig: writable uint32 buffer of len(texts) * num_perm (overwritten),\n"
"or None; counts: writable int64 buffer of len(texts), the shingles of every text.\n"
"Returns the uint32 shingle hashes of all texts, concatenated, as native-endian bytes.");

static PyObject *kernel_run(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *texts, *a_obj, *b_obj, *sig_obj, *counts_obj;
    int char_kind, fold;
    Py_ssize_t ngram;
    if (!PyArg_ParseTuple(args, "O!pnpOOOO:run", &PyList_Type, &texts, &char_kind, &ngram, &fold, &a_obj, &b_obj,
                          &sig_obj, &counts_obj))
        return NULL;
    if (ngram < 1) {
        PyErr_SetString(PyExc_ValueError, "ngram must be >= 1");
        return NULL;
    }
    const Py_ssize_t n = PyList_GET_SIZE(texts);
    const int with_sig = sig_obj != Py_None;
    if (with_sig && (a_obj == Py_None || b_obj == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "sig needs the permutation parameters a and b");
        return NULL;
    }
    buf_arg a = {0}, b = {0}, sig = {0}, counts = {0};
    PyObject *result = NULL, *items = NULL;
    text_view *views = NULL;
    uint32_t *hashes = NULL;
    Py_ssize_t num_perm = 0, total = 0, max_len = 0;
    scratch s = {0};
    int failed = 0;

    if (with_sig) {
        if (PyObject_GetBuffer(a_obj, &a.view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
        a.held = 1;
        if (a.view.itemsize != 4) {
            PyErr_SetString(PyExc_ValueError, "a: expected uint32 items");
            goto done;
        }
        num_perm = a.view.len / 4;
        if (num_perm < 1) {
            PyErr_SetString(PyExc_ValueError, "num_perm must be positive");
            goto done;
        }
        if (get_buffer(b_obj, &b, 0, 4, num_perm, "b") < 0) goto done;
        if (get_buffer(sig_obj, &sig, 1, 4, n * num_perm, "sig") < 0) goto done;
    }
    if (get_buffer(counts_obj, &counts, 1, 8, n, "counts") < 0) goto done;

    /* A tuple of the texts keeps them alive: the list may change (while the GIL is released, or while
     * str.casefold fills the fold table), the strs may not. */
    items = PyList_AsTuple(texts);
    if (!items) goto done;
    if (PyTuple_GET_SIZE(items) != n) {
        PyErr_SetString(PyExc_RuntimeError, "texts changed size");
        goto done;
    }
    views = PyMem_Calloc((size_t)(n ? n : 1), sizeof(text_view));
    if (!views) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PyTuple_GET_ITEM(items, i);
        if (!PyUnicode_Check(t)) {
            PyErr_Format(PyExc_TypeError, "texts[%zd] is %.100s, not str", i, Py_TYPE(t)->tp_name);
            goto done;
        }
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(t) < 0) goto done;
#endif
        views[i].kind = PyUnicode_KIND(t);
        views[i].data = PyUnicode_DATA(t);
        views[i].len = PyUnicode_GET_LENGTH(t);
        views[i].fold = fold && !PyUnicode_IS_ASCII(t);
        views[i].bound = views[i].fold ? fill_folds(&views[i]) : views[i].len;
        if (views[i].bound < 0) goto done;
        total += views[i].bound;
        if (views[i].bound > max_len) max_len = views[i].bound;
    }

    Py_ssize_t n_hashes = 0;
    Py_BEGIN_ALLOW_THREADS
    /* Every text has at most as many shingles (of either kind) as normalised code points. */
    hashes = malloc((size_t)(total ? total : 1) * sizeof(uint32_t));
    if (!hashes || scratch_init(&s, max_len) < 0) {
        failed = 1;
    } else {
        int64_t *cnt = (int64_t *)counts.view.buf;
        uint32_t *sg = with_sig ? (uint32_t *)sig.view.buf : NULL;
        const uint32_t *pa = with_sig ? (const uint32_t *)a.view.buf : NULL;
        const uint32_t *pb = with_sig ? (const uint32_t *)b.view.buf : NULL;
        for (Py_ssize_t i = 0; i < n; i++) {
            const Py_ssize_t k = text_shingles(&views[i], &s, char_kind, ngram, hashes + n_hashes);
            cnt[i] = k;
            n_hashes += k;
            if (sg) {
                uint32_t *row = sg + i * num_perm;
                for (Py_ssize_t j = 0; j < num_perm; j++) row[j] = 0xFFFFFFFFU;
                if (k) fold_min(s.mixed, k, pa, pb, row, num_perm);
            }
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyByteArray_FromStringAndSize((const char *)hashes, n_hashes * (Py_ssize_t)sizeof(uint32_t));

done:
    free(hashes);
    scratch_free(&s);
    Py_XDECREF(items);
    PyMem_Free(views);
    release(&a);
    release(&b);
    release(&sig);
    release(&counts);
    return result;
}

PyDoc_STRVAR(fold_doc,
"fold(hashes, bounds, a, b, sig) -> None\n\n"
"MinHash signatures from shingle hashes: text i owns hashes[bounds[i]:bounds[i+1]].\n\n"
"hashes: uint32 buffer; bounds: int64 buffer of len(texts) + 1, non-decreasing, from 0 to len(hashes);\n"
"a, b: uint32 buffers of num_perm permutation parameters; sig: writable uint32 buffer of\n"
"len(texts) * num_perm (overwritten).");

static PyObject *kernel_fold(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *h_obj, *bounds_obj, *a_obj, *b_obj, *sig_obj;
    if (!PyArg_ParseTuple(args, "OOOOO:fold", &h_obj, &bounds_obj, &a_obj, &b_obj, &sig_obj)) return NULL;
    buf_arg h = {0}, bd = {0}, a = {0}, b = {0}, sig = {0};
    PyObject *result = NULL;
    uint32_t *mixed = NULL;
    int failed = 0;
    if (PyObject_GetBuffer(h_obj, &h.view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    h.held = 1;
    if (PyObject_GetBuffer(bounds_obj, &bd.view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    bd.held = 1;
    if (PyObject_GetBuffer(a_obj, &a.view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    a.held = 1;
    if (h.view.itemsize != 4 || bd.view.itemsize != 8 || a.view.itemsize != 4 || bd.view.len < 8 || a.view.len < 4) {
        PyErr_SetString(PyExc_ValueError, "fold: expects uint32 hashes, int64 bounds and uint32 a");
        goto done;
    }
    const Py_ssize_t n_hashes = h.view.len / 4, n = bd.view.len / 8 - 1, num_perm = a.view.len / 4;
    if (get_buffer(b_obj, &b, 0, 4, num_perm, "b") < 0) goto done;
    if (get_buffer(sig_obj, &sig, 1, 4, n * num_perm, "sig") < 0) goto done;
    const int64_t *bounds = (const int64_t *)bd.view.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (bounds[i] < 0 || bounds[i] > bounds[i + 1] || bounds[i + 1] > n_hashes) {
            PyErr_SetString(PyExc_ValueError, "fold: bounds must be non-decreasing within the hashes");
            goto done;
        }
    }
    const uint32_t *hs = (const uint32_t *)h.view.buf, *pa = (const uint32_t *)a.view.buf;
    const uint32_t *pb = (const uint32_t *)b.view.buf;
    uint32_t *sg = (uint32_t *)sig.view.buf;
    Py_BEGIN_ALLOW_THREADS
    mixed = malloc((size_t)(n_hashes ? n_hashes : 1) * sizeof(uint32_t));
    if (!mixed) {
        failed = 1;
    } else {
        for (Py_ssize_t j = 0; j < n_hashes; j++) mixed[j] = fmix32(hs[j]);
        for (Py_ssize_t i = 0; i < n; i++) {
            uint32_t *row = sg + i * num_perm;
            for (Py_ssize_t k = 0; k < num_perm; k++) row[k] = 0xFFFFFFFFU;
            if (bounds[i + 1] > bounds[i])
                fold_min(mixed + bounds[i], (Py_ssize_t)(bounds[i + 1] - bounds[i]), pa, pb, row, num_perm);
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    free(mixed);
    release(&h);
    release(&bd);
    release(&a);
    release(&b);
    release(&sig);
    return result;
}

static PyMethodDef kernel_methods[] = {
    {"run", kernel_run, METH_VARARGS, run_doc},
    {"fold", kernel_fold, METH_VARARGS, fold_doc},
    {NULL, NULL, 0, NULL},
};

static int kernel_exec(PyObject *module) {
    for (Py_UCS4 c = 0; c < 256; c++)
        latin1_lower[c] = Py_UNICODE_ISALNUM(c) ? (uint8_t)(c - 'A' < 26u ? c + 32 : c) : 0;
    if (PyModule_AddIntConstant(module, "SHINGLE_HASH_VERSION", 1) < 0) return -1;
    if (PyModule_AddStringConstant(module, "PERMUTATION_LOOP", CF_CLONES_NAME) < 0) return -1;
    return 0;
}

static PyModuleDef_Slot kernel_slots[] = {
    {Py_mod_exec, kernel_exec},
    {0, NULL},
};

static struct PyModuleDef kernel_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pipelines.text._minhash_kernel",
    .m_doc = "Compiled MinHash kernel (normalisation, shingle hashes, signatures); see pipelines/text/minhash.py.",
    .m_size = 0,
    .m_methods = kernel_methods,
    .m_slots = kernel_slots,
};

PyMODINIT_FUNC PyInit__minhash_kernel(void) { return PyModuleDef_Init(&kernel_module); }
