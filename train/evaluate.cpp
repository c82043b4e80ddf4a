#include "train/detail/evaluate.h"

#include "tensor/autograd.h"
#include "tensor/ops.h"

namespace renorm {

Eval evaluate(Model& model, DataLoader& val, Communicator& world) {
  model.eval();
  NoGradGuard no_grad;
  val.seek(0);
  double loss = 0, correct = 0, n = 0;
  for (int64_t k = 0; k < val.batches_per_epoch(); ++k) {
    const Batch b = val.next();
    Tensor hits;
    const float l = softmax_cross_entropy(model.forward(b.images), b.labels, &hits).item();
    loss += double(l) * b.labels.numel();
    correct += sum(hits).item();
    n += b.labels.numel();
  }
  model.train();
  if (world.size() > 1) {
    float sums[3] = {float(loss), float(correct), float(n)};
    world.allreduce_sum(sums, 3);
    return {.loss = double(sums[0]) / sums[2], .acc = double(sums[1]) / sums[2]};
  }
  return {.loss = loss / n, .acc = correct / n};
}

void evaluate_train_mode(Model& model, DataLoader& groups, int64_t batches, Communicator& world, Eval* ev) {
  if (model.norms().empty() || batches <= 0) return;
  groups.seek(0);
  std::vector<float> gaps;
  float sums[2] = {0.f, 0.f};  // correct, n
  {
    NoGradGuard no_grad;
    model.eval();
    model.set_eval_batch_stats(true);
    for (int64_t k = 0; k < batches; ++k) {
      const Batch b = groups.next();
      Tensor hits;
      softmax_cross_entropy(model.forward(b.images), b.labels, &hits);
      sums[0] += sum(hits).item();
      sums[1] += float(b.labels.numel());
      if (k == 0) {
        model.set_eval_batch_stats(false);
        for (double g : model.train_inference_gaps(b.images)) gaps.push_back(float(g));
        model.eval();
        model.set_eval_batch_stats(true);
      }
    }
    model.set_eval_batch_stats(false);
    model.train();
  }
  if (world.size() > 1) {
    world.allreduce_sum(sums, 2);
    world.allreduce_sum(gaps.data(), int64_t(gaps.size()));
    for (float& g : gaps) g /= float(world.size());
  }
  ev->acc_train_mode = double(sums[0]) / sums[1];
  ev->gaps.assign(gaps.begin(), gaps.end());
}

}  // namespace renorm
