// Explicit instantiations shared by elementwise_cpu.cc and elementwise.cu.
// Define LOOM_EW_SUFFIX (cpu or cuda) before including.
#pragma once
#define LOOM_EW_CAT2(a, b) a##_##b
#define LOOM_EW_CAT(a, b) LOOM_EW_CAT2(a, b)
#define LOOM_EW_NAME(op) LOOM_EW_CAT(op, LOOM_EW_SUFFIX)

#define LOOM_EW_FLOATING(T)                                                                  \
  template void LOOM_EW_NAME(unary)<T>(UnaryOp, opmath_t<T>, index_t, const OffsetCalc<1>&, const T*, T*); \
  template void LOOM_EW_NAME(binary)<T>(BinaryOp, index_t, const OffsetCalc<2>&, const T*,      \
                                        const T*, T*);
#define LOOM_EW_INTEGER(T)                                                                   \
  template void LOOM_EW_NAME(binary)<T>(BinaryOp, index_t, const OffsetCalc<2>&, const T*,      \
                                        const T*, T*);
#define LOOM_EW_ANY(T)                                                                        \
  template void LOOM_EW_NAME(compare)<T>(CompareOp, index_t, const OffsetCalc<2>&, const T*,   \
                                         const T*, bool*);                                     \
  template void LOOM_EW_NAME(where)<T>(index_t, const OffsetCalc<3>&, const bool*, const T*,   \
                                       const T*, T*);                                          \
  template void LOOM_EW_NAME(fill)<T>(index_t, T, T*);                                         \
  template void LOOM_EW_NAME(arange)<T>(index_t, double, double, T*);
#define LOOM_EW_COPY(From, To) \
  template void LOOM_EW_NAME(copy)<From, To>(index_t, const OffsetCalc<2>&, const From*, To*);
#define LOOM_EW_COPY_FROM(From) \
  LOOM_EW_COPY(From, float) LOOM_EW_COPY(From, double) LOOM_EW_COPY(From, int64_t) LOOM_EW_COPY(From, bool) \
  LOOM_EW_COPY(From, ::loom::bfloat16) LOOM_EW_COPY(From, ::loom::float16) \
  LOOM_EW_COPY(From, int32_t) LOOM_EW_COPY(From, uint8_t)

#define LOOM_EW_INSTANTIATE_ALL()                                                       \
  LOOM_EW_FLOATING(float) LOOM_EW_FLOATING(double)                                      \
  LOOM_EW_FLOATING(::loom::bfloat16) LOOM_EW_FLOATING(::loom::float16)                  \
  LOOM_EW_INTEGER(int64_t) LOOM_EW_INTEGER(int32_t) LOOM_EW_INTEGER(uint8_t)            \
  LOOM_EW_ANY(float) LOOM_EW_ANY(double) LOOM_EW_ANY(int64_t) LOOM_EW_ANY(bool)         \
  LOOM_EW_ANY(::loom::bfloat16) LOOM_EW_ANY(::loom::float16)                            \
  LOOM_EW_ANY(int32_t) LOOM_EW_ANY(uint8_t)                                             \
  LOOM_EW_COPY_FROM(float) LOOM_EW_COPY_FROM(double) LOOM_EW_COPY_FROM(int64_t)         \
  LOOM_EW_COPY_FROM(bool) LOOM_EW_COPY_FROM(::loom::bfloat16)                           \
  LOOM_EW_COPY_FROM(::loom::float16) LOOM_EW_COPY_FROM(int32_t)                         \
  LOOM_EW_COPY_FROM(uint8_t)
