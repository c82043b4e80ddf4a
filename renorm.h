// renorm: the umbrella header, the public API floor by floor. #include <renorm.h> after
// find_package(Renorm).
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
// data and training
#include "data/loader.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/grad_reducer.h"
#include "train/optim.h"
#include "train/trainer.h"
