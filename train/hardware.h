// The machine a run computed on, as config.json, runs.csv and summary.md name it. A CPU run is
// deterministic on one machine, but its last digits depend on the CPU: the instruction set renorm's loops
// use and the convolution kernels oneDNN picks for it (docs/reproduction.md, issue 39).
#pragma once
#include <string>

namespace renorm {

// "CPU <model> (<extensions>); renorm ISA <isa>; convolutions oneDNN <version>" (or "convolutions im2col").
std::string hardware_description();

}  // namespace renorm
