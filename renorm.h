// renorm: the umbrella header, the public API floor by floor. #include <renorm.h> after
// find_package(Renorm).
//
// A BatchRenorm layer (layers/batch_renorm.h) takes a NormConfig whose clipping schedule must be set for
// the run's length: NormConfig::schedule = ClipSchedule::for_run(total_steps, alpha) is what renorm-train
// uses (README.md, "Using the library", has the whole snippet with Sgd). A default ClipSchedule has no
// steps and the layer refuses it, rather than keep rmax = 1, dmax = 0 for the paper's 5000 steps.
#pragma once
// runtime: devices, errors, memory
#include "runtime/allocator.h"
#include "runtime/comm.h"
#include "runtime/device.h"
#include "runtime/error.h"
// tensor, autograd and every differentiable op
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"
// modules and the CIFAR CNN
#include "layers/batch_renorm.h"
#include "layers/layers.h"
#include "models/cifar_cnn.h"
#include "models/factory.h"
#include "models/resnet.h"
// data and training
#include "data/loader.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/grad_reducer.h"
#include "train/optim.h"
#include "train/trainer.h"
