#ifndef DLG_CPREFETCH_SHIM_H
#define DLG_CPREFETCH_SHIM_H

// Cache-line prefetch hints for the kernels: Swift has no prefetch intrinsic.
// A prefetch never faults, whatever the address; it only starts bringing the
// line into the cache ahead of its use (for_write: in the exclusive state, for
// a line that is about to be stored to).

static inline __attribute__((always_inline)) void dlg_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

static inline __attribute__((always_inline)) void dlg_prefetch_for_write(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

#endif
