// The residual network's ops (kernels/residual.h; models/resnet.h). Images are NHWC.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace renorm {

// x [B,H,W,C] -> [B,C]: the mean over each example's H·W positions.
Tensor global_avg_pool(const Tensor& x);
// He et al.'s option-A shortcut: x [B,H,W,Cin] -> [B,ceil(H/s),ceil(W/s),Cout], x subsampled with stride
// s and its channels zero-padded to Cout (Cout >= Cin): (Cout−Cin)/2 zero channels before x's, the rest
// after — the CIFAR ResNets' `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))` for Cout = 2·Cin.
Tensor shortcut_a(const Tensor& x, int64_t stride, int64_t out_channels);
// relu(a + b), one pass each way: the residual add with the block's last ReLU.
Tensor add_relu(const Tensor& a, const Tensor& b);

}  // namespace renorm
