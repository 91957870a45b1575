#ifndef DLG_CVECTORMATH_SHIM_H
#define DLG_CVECTORMATH_SHIM_H

// Vector operations that Swift's SIMD types do not compile to one instruction.
// SIMD16<Float>.squareRoot() is a loop of scalar square roots, each with a
// branch to libm's sqrtf for errno; the elementwise builtin is one vector
// square root per register (vsqrtps under AVX-512, four sqrtps under SSE),
// correctly rounded like the scalar one, so the bits are the same. The
// types are clang's extended vectors, which Swift imports as SIMD16.

typedef float dlg_float16 __attribute__((ext_vector_type(16)));
typedef double dlg_double16 __attribute__((ext_vector_type(16)));

static inline __attribute__((always_inline)) dlg_float16 dlg_sqrt_float16(dlg_float16 x) {
    return __builtin_elementwise_sqrt(x);
}

static inline __attribute__((always_inline)) dlg_double16 dlg_sqrt_double16(dlg_double16 x) {
    return __builtin_elementwise_sqrt(x);
}

#endif
