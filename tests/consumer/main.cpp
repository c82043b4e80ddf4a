// Trains y = 2x - 1 with one weight and bias for a few steps through the installed library's autograd,
// on the default device, and checks the loss went down. Exit status 0 on success.
#include <renorm.h>

#include <cstdio>

int main() {
  using namespace renorm;
  const Device dev = default_device();
  std::printf("renorm consumer on %s\n", device_description(dev).c_str());
  Tensor x = Tensor::from_vector({-1.f, 0.f, 1.f, 2.f}, Shape{4, 1}, dev);
  Tensor t = Tensor::from_vector({-3.f, -1.f, 1.f, 3.f}, Shape{4, 1}, dev);
  Tensor w = Tensor::full(Shape{1, 1}, 0.5f, dev).requires_grad_();
  float first = 0.f, last = 0.f;
  for (int step = 0; step < 50; ++step) {
    Tensor err = add(matmul(x, w), scale(t, -1.f));
    Tensor loss = mean(mul(err, err));
    w.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;
      w.copy_(add(w, scale(w.grad(), -0.1f)));
    }
    last = loss.item();
    if (step == 0) first = last;
  }
  std::printf("loss %.6f -> %.6f, w = %.4f\n", first, last, w.item());
  return last < 0.5f * first ? 0 : 1;
}
