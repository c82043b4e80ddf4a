// CPU-internal: the two CPU convolution engines behind cpu::conv2d_* (kernels/conv.h chooses between
// them at run time, and widens bfloat16 for the engines that take float32 alone).
#pragma once
#include <string>

#include "kernels/conv.h"

namespace renorm::kernels::cpu {

// im2col over L2-sized tiles of output pixels + single-threaded OpenBLAS sgemm per tile (conv_im2col.cpp):
// float32 alone.
namespace im2col {
RENORM_DECLARE_CONV_T(, float)
}
// oneDNN's JIT convolutions (conv_onednn.cpp), float32 and bfloat16; available() is false when renorm
// was built without it, bf16_jit() whether oneDNN has a JIT (not reference) bf16 kernel for this CPU.
namespace onednn {
bool available();
bool bf16_jit();
std::string version();  // "3.0.0" (the library's own dnnl_version()); "" without oneDNN
RENORM_DECLARE_CONV
}

}  // namespace renorm::kernels::cpu
