// The norm family's exported overloads (kernels/renorm.h's RENORM_DECLARE_RENORM_T, one set per storage
// type T), each forwarding to the backend's template of the same job: moments_t, forward_train_t,
// forward_from_moments_t, backward_t, backward_sums_t, backward_from_sums_t, inference_t. Expanded once
// per T inside cpu:: (kernels/cpu/renorm.cpp) and inside cuda:: (kernels/cuda/renorm.cu).
#pragma once

#define RENORM_DEFINE_RENORM_T(T)                                                                                \
  void moments(const T* x, NormShape s, float* mean, float* var) { moments_t(x, s, mean, var); }                 \
  void renorm_forward_train(const T* x, NormShape s, const float* gamma, const float* beta, float* run_mean,       \
                            float* run_std, RenormParams p, T* y, float* save_mean, float* save_invstd,          \
                            float* save_r, float* save_d, float* clip_counts) {                                  \
    forward_train_t(x, s, gamma, beta, run_mean, run_std, p, y, save_mean, save_invstd, save_r, save_d, clip_counts); \
  }                                                                                                              \
  void renorm_forward_from_moments(const T* x, NormShape s, const float* mean, const float* var, const float* gamma, \
                                   const float* beta, float* run_mean, float* run_std, RenormParams p, T* y,     \
                                   float* save_invstd, float* save_r, float* save_d, float* clip_counts) {       \
    forward_from_moments_t(x, s, mean, var, gamma, beta, run_mean, run_std, p, y, save_invstd, save_r, save_d,    \
                           clip_counts);                                                                         \
  }                                                                                                              \
  void renorm_backward(const T* x, const T* dy, NormShape s, const float* gamma, const float* save_mean,           \
                       const float* save_invstd, const float* save_r, const float* save_d, T* dx, float* dgamma,  \
                       float* dbeta) {                                                                           \
    backward_t(x, dy, s, gamma, save_mean, save_invstd, save_r, save_d, dx, dgamma, dbeta);                      \
  }                                                                                                              \
  void renorm_backward_sums(const T* x, const T* dy, NormShape s, const float* save_mean, const float* save_invstd, \
                            float* sums) {                                                                       \
    backward_sums_t(x, dy, s, save_mean, save_invstd, sums);                                                     \
  }                                                                                                              \
  void renorm_backward_from_sums(const T* x, const T* dy, NormShape s, const float* sums, float rows,             \
                                 const float* gamma, const float* save_mean, const float* save_invstd,           \
                                 const float* save_r, const float* save_d, T* dx, float* dgamma, float* dbeta) { \
    backward_from_sums_t(x, dy, s, sums, rows, gamma, save_mean, save_invstd, save_r, save_d, dx, dgamma, dbeta); \
  }                                                                                                              \
  void renorm_inference(const T* x, int64_t rows, int64_t c, const float* gamma, const float* beta,              \
                        const float* run_mean, const float* run_std, T* y) {                                     \
    inference_t(x, rows, c, gamma, beta, run_mean, run_std, y);                                                  \
  }
