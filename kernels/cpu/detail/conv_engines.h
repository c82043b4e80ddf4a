// CPU-internal: the two CPU convolution engines behind cpu::conv2d_* (kernels/conv.h chooses between
// them at run time), declared by the same macro as the public kernels.
#pragma once
#include "kernels/conv.h"

namespace renorm::kernels::cpu {

// im2col over L2-sized tiles of output pixels + single-threaded OpenBLAS sgemm per tile (conv_im2col.cpp).
namespace im2col {
RENORM_DECLARE_CONV
}
// oneDNN's JIT convolutions (conv_onednn.cpp); available() is false when renorm was built without it.
namespace onednn {
bool available();
RENORM_DECLARE_CONV
}

}  // namespace renorm::kernels::cpu
