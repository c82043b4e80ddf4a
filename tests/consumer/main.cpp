// Uses the installed library through <renorm.h> alone: trains y = 2x - 1 with a Linear layer, a
// BatchRenorm layer in front of it and SGD for a few steps on the default device, and checks the loss
// went down. Exit status 0 on success.
#include <renorm.h>

#include <cstdio>

int main() {
  using namespace renorm;
  const Device dev = default_device();
  std::printf("renorm consumer on %s\n", device_description(dev).c_str());
  Tensor x = Tensor::from_vector({-1.f, 0.f, 1.f, 2.f}, Shape{4, 1}, dev);
  Tensor t = Tensor::from_vector({-3.f, -1.f, 1.f, 3.f}, Shape{4, 1}, dev);
  const int steps = 60;
  NormConfig nc;
  nc.schedule = ClipSchedule::for_run(steps, nc.alpha);  // rmax/dmax by step, for a run of this length
  BatchRenorm norm(1, nc, dev);
  Linear fc(1, 1, true, Init::GlorotUniform, 7, dev);
  NamedTensors params = fc.named_parameters();
  norm.collect_parameters("norm.", params);
  Sgd opt(params, 0.05f, SgdOptions{0.9f, 0.f, false});
  float first = 0.f, last = 0.f;
  for (int step = 0; step < steps; ++step) {
    Tensor err = add(fc.forward(norm.forward(x)), scale(t, -1.f));
    Tensor loss = mean(mul(err, err));
    opt.zero_grad();
    loss.backward();
    opt.step();
    last = loss.item();
    if (step == 0) first = last;
  }
  std::printf("loss %.6f -> %.6f\n", first, last);
  return last < 0.5f * first ? 0 : 1;
}
