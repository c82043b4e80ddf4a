// renorm: the umbrella header. #include <renorm.h> after find_package(Renorm).
#pragma once
#include "core/autograd.h"
#include "core/device.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/tensor.h"
