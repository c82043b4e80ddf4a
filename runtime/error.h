// Typed errors. Library code never calls exit() or abort(): every failure is one of these.
#pragma once
#include <stdexcept>
#include <string>

namespace renorm {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A tensor of the wrong shape or device reached an op; the message names the op and the shapes.
struct ShapeError : Error {
  using Error::Error;
};
// A tensor of a dtype an op does not take (runtime/dtype.h); the message names the op and the dtypes.
struct DTypeError : Error {
  using Error::Error;
};
// A bad configuration value (a flag, a layer option); the message names the setting.
struct ConfigError : Error {
  using Error::Error;
};
// A file could not be read or written, or holds bad data; the message names the file.
struct IoError : Error {
  using Error::Error;
};
// CUDA was asked for but is not usable here (not built, no device, forced off).
struct DeviceError : Error {
  using Error::Error;
};
// A failing CUDA runtime, cuBLAS or cuDNN call: the message names the call and source location, with
// CUDA's own error name and string. Under the CUDA emulator, detail() holds what the emulator knows
// beyond that (the kernel, block and thread of a trap; why a call was refused); it is not part of
// what(), so a test that matches what() means the same on a GPU.
struct CudaError : Error {
  using Error::Error;
  CudaError(const std::string& what, std::string detail) : Error(what), detail_(std::move(detail)) {}
  const std::string& detail() const { return detail_; }

 private:
  std::string detail_;
};
struct CublasError : CudaError {
  using CudaError::CudaError;
};
struct CudnnError : CudaError {
  using CudaError::CudaError;
};
// A kernel launch whose configuration exceeds the device's limits or the kernel's own (registers,
// launch bounds, shared memory); the message names the kernel, the configuration and the limit.
struct LaunchError : CudaError {
  using CudaError::CudaError;
};

}  // namespace renorm
