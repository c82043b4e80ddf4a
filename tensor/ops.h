// Every differentiable op, one header per op family; each family shares its name with its kernels
// (kernels/<family>.h, kernels/cpu/<family>.cpp, kernels/cuda/<family>.cu).
#pragma once
#include "tensor/ops/conv.h"
#include "tensor/ops/convert.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/gemm.h"
#include "tensor/ops/nn.h"
#include "tensor/ops/reduce.h"
#include "tensor/ops/renorm.h"
#include "tensor/ops/residual.h"
