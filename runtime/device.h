// Devices and the run-time CUDA check. CUDA is optional at build time (cuda_compiled()) and checked
// at run time (cuda_available()): a machine with the toolkit but no GPU or driver runs on CPU.
// RENORM_DEVICE=cpu in the environment forces the CPU even where a GPU is present.
#pragma once
#include <string>

namespace renorm {

enum class Device { CPU, CUDA };

const char* device_name(Device d);
bool cuda_compiled();
// True when the CUDA backend is the CUDA emulator (emu/: the kernels' own source run on the host, for
// tests), not a GPU. cuBLAS and cuDNN are not emulated.
bool cuda_emulated();
bool cuda_available();
// Why cuda_available() is false ("" when it is true): for test skips and logs.
std::string cuda_unavailable_reason();
// CUDA when available, else CPU.
Device default_device();
// Parses "auto", "cpu" or "cuda"; throws ConfigError naming `what` on anything else, and DeviceError
// for "cuda" when CUDA is not available.
Device parse_device(const std::string& s, const std::string& what = "--device");
// A human-readable name of the device actually used ("CPU (2 threads)", "NVIDIA H100 80GB HBM3").
std::string device_description(Device d);
// Waits for all queued device work (a no-op on CPU). For reporting and timing only.
void synchronize(Device d);

}  // namespace renorm
