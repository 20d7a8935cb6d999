/*
 * sort_in_place.h - a sort that holds nothing beside the array it sorts.
 *
 * glibc's qsort is a merge sort that first mallocs a second array as large
 * as the one it sorts: where the array is a share of --memory (the sweep's
 * keys and pairs), that copy would be held in no share. This is an
 * introsort: quicksort on the median of three, the smaller side first;
 * insertion sort for short ranges; heapsort where the splits go bad
 * (O(n log n) at worst). It is not stable: for the same output as qsort,
 * the order must be total, or equal elements the same bytes.
 *
 * DEFINE_SORT_IN_PLACE(name, type, before) defines
 *     static void name(type *v, size_t n);
 * sorting v[0..n) so that no element is before(a, b) of one ahead of it,
 * where before is a function or macro (const type *a, const type *b) ->
 * bool, "a strictly before b".
 */
#ifndef DD_SORT_IN_PLACE_H
#define DD_SORT_IN_PLACE_H

#include <stdbool.h>
#include <stddef.h>

/* Ranges this short or shorter are sorted by insertion. */
#define DD_SORT_SHORT_RANGE 16

#define DEFINE_SORT_IN_PLACE(name, type, before)                                                   \
    static void name##_swap(type *a, type *b)                                                      \
    {                                                                                              \
        type t = *a;                                                                               \
        *a = *b;                                                                                   \
        *b = t;                                                                                    \
    }                                                                                              \
    static void name##_sift_down(type *v, size_t n, size_t i)                                      \
    {                                                                                              \
        for (size_t c; (c = 2 * i + 1) < n; i = c) {                                               \
            if (c + 1 < n && before(&v[c], &v[c + 1]))                                             \
                c++;                                                                               \
            if (!before(&v[i], &v[c]))                                                             \
                return;                                                                            \
            name##_swap(&v[i], &v[c]);                                                             \
        }                                                                                          \
    }                                                                                              \
    static void name##_heapsort(type *v, size_t n)                                                 \
    {                                                                                              \
        for (size_t i = n / 2; i-- > 0;)                                                           \
            name##_sift_down(v, n, i);                                                             \
        for (size_t k = n; k-- > 1;) {                                                             \
            name##_swap(&v[0], &v[k]);                                                             \
            name##_sift_down(v, k, 0);                                                             \
        }                                                                                          \
    }                                                                                              \
    static void name##_insertion(type *v, size_t n)                                                \
    {                                                                                              \
        for (size_t i = 1; i < n; i++) {                                                           \
            type x = v[i];                                                                         \
            size_t j = i;                                                                          \
            for (; j > 0 && before(&x, &v[j - 1]); j--)                                            \
                v[j] = v[j - 1];                                                                   \
            v[j] = x;                                                                              \
        }                                                                                          \
    }                                                                                              \
    static void name##_intro(type *v, size_t n, unsigned depth)                                    \
    {                                                                                              \
        while (n > DD_SORT_SHORT_RANGE) {                                                          \
            if (depth-- == 0) {                                                                    \
                name##_heapsort(v, n);                                                             \
                return;                                                                            \
            }                                                                                      \
            /* the median of the first, middle and last at the middle,                             \
             * the least first and the greatest last (Hoare's bounds) */                           \
            size_t m = n / 2;                                                                      \
            if (before(&v[m], &v[0]))                                                              \
                name##_swap(&v[m], &v[0]);                                                         \
            if (before(&v[n - 1], &v[m])) {                                                        \
                name##_swap(&v[n - 1], &v[m]);                                                     \
                if (before(&v[m], &v[0]))                                                          \
                    name##_swap(&v[m], &v[0]);                                                     \
            }                                                                                      \
            type pivot = v[m];                                                                     \
            size_t i = 0, j = n - 1;                                                               \
            for (;;) {                                                                             \
                while (before(&v[i], &pivot))                                                      \
                    i++;                                                                           \
                while (before(&pivot, &v[j]))                                                      \
                    j--;                                                                           \
                if (i >= j)                                                                        \
                    break;                                                                         \
                name##_swap(&v[i++], &v[j--]);                                                     \
            }                                                                                      \
            /* v[0..j] before or equal to the pivot, v[j + 1..n) after or                          \
             * equal; both sides are shorter than n */                                             \
            size_t left = j + 1;                                                                   \
            if (left < n - left) {                                                                 \
                name##_intro(v, left, depth);                                                      \
                v += left;                                                                         \
                n -= left;                                                                         \
            } else {                                                                               \
                name##_intro(v + left, n - left, depth);                                           \
                n = left;                                                                          \
            }                                                                                      \
        }                                                                                          \
        name##_insertion(v, n);                                                                    \
    }                                                                                              \
    static void name(type *v, size_t n)                                                            \
    {                                                                                              \
        unsigned depth = 0;                                                                        \
        for (size_t k = n; k > 1; k /= 2)                                                          \
            depth += 2;                                                                            \
        name##_intro(v, n, depth);                                                                 \
    }

#endif
