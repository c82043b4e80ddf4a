#include "tensor/ops/nn.h"

#include "kernels/detail/dispatch.h"
#include "kernels/elementwise.h"
#include "kernels/nn.h"
#include "kernels/reduce.h"
#include "runtime/allocator.h"
#include "runtime/error.h"
#include "tensor/autograd.h"
#include "tensor/ops/detail/bias.h"

namespace renorm {

namespace detail {

void check_bias(const char* op, const Tensor& x, const Tensor& bias, int64_t k) {
  if (!bias.defined()) return;
  check_same_device(op, x, bias);
  check_shape(op, "bias", bias, Shape{k});
}

EpilogueGrads epilogue_grads(const Tensor& y, const Tensor& g, int64_t k, bool relu, bool bias) {
  EpilogueGrads out;
  out.dz = relu ? Tensor::empty(g.shape(), g.device(), g.dtype()) : g;
  if (bias) out.db = Tensor::empty(Shape{k}, g.device());  // float32 whatever the activations' storage
  if ((relu || bias) && k > 0)  // k = 0: no channels, nothing to compute
    RENORM_DISPATCH_STORAGE(g.dtype(), g.device(), epilogue_backward, relu ? y.data_as<T>() : static_cast<T*>(nullptr),
                            g.data_as<T>(), relu ? out.dz.data_as<T>() : static_cast<T*>(nullptr),
                            bias ? out.db.data() : nullptr, g.numel() / k, k);
  return out;
}

}  // namespace detail

namespace {
// y = relu?(x + bias) over the last dimension, one op of the autograd graph.
Tensor epilogue_op(const char* op, const Tensor& x, const Tensor& bias, bool relu) {
  if (x.rank() < 1) throw ShapeError(std::string(op) + ": input " + x.shape().str() + " has no channel dimension");
  const int64_t c = x.dim(x.rank() - 1);
  check_same_device(op, x, bias);
  check_shape(op, "bias", bias, Shape{c});
  Tensor y = x.detach().clone();  // x's storage; the bias float32
  if (y.numel() > 0)
    RENORM_DISPATCH_STORAGE(y.dtype(), x.device(), epilogue_forward, y.data_as<T>(), y.numel() / c, c,
                            kernels::Epilogue{bias.data(), relu});
  return record(op, y, {x, bias}, [y = relu ? y.detach() : Tensor(), c, relu](const Tensor& g) {
    detail::EpilogueGrads d = detail::epilogue_grads(y, g, c, relu, true);
    return std::vector<Tensor>{d.dz, d.db};
  });
}
}  // namespace

Tensor bias_add(const Tensor& x, const Tensor& bias) { return epilogue_op("bias_add", x, bias, false); }
Tensor bias_relu(const Tensor& x, const Tensor& bias) { return epilogue_op("bias_relu", x, bias, true); }

Tensor max_pool2d(const Tensor& x, int64_t k, int64_t stride) {
  static constexpr const char* op = "max_pool2d";
  if (x.rank() != 4) throw ShapeError(std::string(op) + ": input must be [B,H,W,C], got " + x.shape().str());
  if (k < 1 || stride < 1 || x.dim(1) < k || x.dim(2) < k)
    throw ShapeError(std::string(op) + ": window " + std::to_string(k) + " stride " + std::to_string(stride) +
                     " does not fit input " + x.shape().str());
  const kernels::PoolShape ps{x.dim(0), x.dim(1), x.dim(2), x.dim(3), k, stride};
  Tensor y = Tensor::empty(Shape{ps.b, ps.oh(), ps.ow(), ps.c}, x.device(), x.dtype());
  Tensor argmax = Tensor::empty(y.shape(), x.device());
  RENORM_DISPATCH_STORAGE(x.dtype(), x.device(), maxpool_forward, x.data_as<T>(), ps, y.data_as<T>(), argmax.data());
  return record(op, y, {x}, [argmax, ps, xs = x.shape(), dt = x.dtype()](const Tensor& g) {
    Tensor dx = Tensor::empty(xs, g.device(), dt);
    RENORM_DISPATCH_STORAGE(dt, g.device(), maxpool_backward, g.data_as<T>(), argmax.data(), ps, dx.data_as<T>());
    return std::vector<Tensor>{dx};
  });
}

Tensor dropout(const Tensor& x, float p, uint64_t seed, uint32_t layer, uint32_t step, int64_t first_example) {
  // The step's bits in a one-element tensor of this call's own (its backward keeps it), queued without a
  // wait through a pinned staging slot (runtime/allocator.h upload_small_async).
  const Tensor word = Tensor::empty(Shape{1}, x.device());
  upload_small_async(word.data(), x.device(), &step, sizeof step);
  return dropout(x, p, seed, layer, word, first_example);
}

Tensor dropout(const Tensor& x, float p, uint64_t seed, uint32_t layer, const Tensor& step_word, int64_t first_example) {
  if (!(p >= 0.f && p < 1.f)) throw ConfigError("dropout: p must be in [0, 1), got " + std::to_string(p));
  if (first_example < 0) throw ConfigError("dropout: first_example must be >= 0");
  check_same_device("dropout", x, step_word);
  check_shape("dropout", "step_word", step_word, Shape{1});
  Tensor y = Tensor::empty(x.shape(), x.device(), x.dtype());
  const int64_t first = x.rank() == 0 || x.numel() == 0 ? 0 : first_example * (x.numel() / x.dim(0));
  const auto* step = reinterpret_cast<const uint32_t*>(step_word.data());
  RENORM_DISPATCH_STORAGE(x.dtype(), x.device(), dropout_apply, x.data_as<T>(), y.data_as<T>(), x.numel(), first, p, seed,
                          layer, step);
  return record("dropout", y, {x}, [p, seed, layer, word = step_word.detach(), first, dt = x.dtype()](const Tensor& g) {
    Tensor dx = Tensor::empty(g.shape(), g.device(), dt);
    const auto* step = reinterpret_cast<const uint32_t*>(word.data());
    RENORM_DISPATCH_STORAGE(dt, g.device(), dropout_apply, g.data_as<T>(), dx.data_as<T>(), g.numel(), first, p, seed,
                            layer, step);
    return std::vector<Tensor>{dx};
  });
}

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor* correct) {
  static constexpr const char* op = "softmax_cross_entropy";
  check_same_device(op, logits, labels);
  if (logits.rank() != 2 || logits.dim(0) == 0) throw ShapeError(std::string(op) + ": logits must be [B,K], got " + logits.shape().str());
  const int64_t b = logits.dim(0), k = logits.dim(1);
  check_shape(op, "labels", labels, Shape{b});
  Tensor losses = Tensor::empty(Shape{b}, logits.device()), probs = Tensor::empty(logits.shape(), logits.device());
  Tensor hits = Tensor::empty(Shape{b}, logits.device());
  RENORM_DISPATCH(logits.device(), softmax_xent_forward, logits.data(), labels.data(), b, k, losses.data(), probs.data(),
                  hits.data());
  if (correct) *correct = hits;
  Tensor loss = Tensor::empty(Shape{}, logits.device());
  RENORM_DISPATCH(logits.device(), sum, losses.data(), b, loss.data());
  RENORM_DISPATCH(logits.device(), scale, loss.data(), 1.f / float(b), loss.data(), 1);
  return record(op, loss, {logits}, [probs, labels = labels.detach(), b, k](const Tensor& g) {
    Tensor dl = Tensor::empty(probs.shape(), g.device());
    RENORM_DISPATCH(g.device(), softmax_xent_backward, probs.data(), labels.data(), g.data(), b, k, dl.data());
    return std::vector<Tensor>{dl};
  });
}

}  // namespace renorm
