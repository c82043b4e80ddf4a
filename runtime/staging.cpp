// Small host-to-device uploads through a ring of page-locked staging slots (runtime/allocator.h,
// upload_small_async): the per-step scalars and dropout's step word, once per step, without a copy from
// pageable memory — which CUDA's API synchronization notes allow to wait for the stream, stopping the host
// from queueing the next step while the device runs this one.
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/allocator.h"
#include "runtime/device.h"
#include "runtime/error.h"

#if RENORM_HAS_CUDA
#include "runtime/detail/cuda_context.h"
#endif

namespace renorm {

#if RENORM_HAS_CUDA
namespace {
constexpr int kSlots = 8;             // the host may be this many uploads ahead of the device
constexpr size_t kSlotBytes = 4096;   // 1,024 words: 2 per norm layer, 1 per dropout, 3 for the optimizer

struct Slot {
  void* host = nullptr;  // cudaHostAlloc'd
  size_t bytes = 0;
  cudaEvent_t copied = nullptr;  // recorded after the slot's last copy
  bool queued = false;
};
struct Ring {
  std::mutex mutex;
  Slot slots[kSlots];
  int next = 0;
};

Ring& ring_of(int device) {
  static std::mutex mutex;
  static auto* rings = new std::vector<std::unique_ptr<Ring>>();  // never destroyed, as the CUDA context
  std::lock_guard<std::mutex> lock(mutex);
  if (int(rings->size()) <= device) rings->resize(device + 1);
  auto& r = (*rings)[device];
  if (!r) r = std::make_unique<Ring>();
  return *r;
}

// The slot ready for `bytes`: its last copy complete (waited for only when the host is a whole ring ahead),
// its memory large enough.
Slot& take(Ring& r, size_t bytes) {
  Slot& slot = r.slots[r.next];
  r.next = (r.next + 1) % kSlots;
  if (slot.queued) {
    const cudaError_t done = cudaEventQuery(slot.copied);
    if (done == cudaErrorNotReady) {
      cudaGetLastError();  // "not ready" is an answer, not an error: cleared, as PyTorch does, before the next launch check
      RENORM_CUDA_CHECK(cudaEventSynchronize(slot.copied));
    } else {
      RENORM_CUDA_CHECK(done);
    }
    slot.queued = false;
  }
  if (slot.bytes < bytes) {
    if (slot.host) RENORM_CUDA_CHECK(cudaFreeHost(slot.host));
    slot.host = nullptr;
    slot.bytes = 0;
    const size_t size = std::max(bytes, kSlotBytes);
    RENORM_CUDA_CHECK(cudaHostAlloc(&slot.host, size, cudaHostAllocDefault));
    slot.bytes = size;
  }
  if (!slot.copied) RENORM_CUDA_CHECK(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming));
  return slot;
}
}  // namespace
#endif

void upload_small_async(void* dst, Device dst_dev, const void* src, size_t bytes) {
  if (dst_dev == Device::CPU) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if RENORM_HAS_CUDA
  if (bytes == 0) return;
  const cudaStream_t s = cuda::stream();
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  RENORM_CUDA_CHECK(cudaStreamIsCapturing(s, &status));
  if (status != cudaStreamCaptureStatusNone)
    throw DeviceError("an upload of " + std::to_string(bytes) + " bytes of per-step values while the renorm stream "
                      "captures a graph: the graph would replay this moment's bytes at every step; write the step's "
                      "values and upload them before the replay (tensor/step_scalars.h)");
  int device = 0;
  RENORM_CUDA_CHECK(cudaGetDevice(&device));
  Ring& r = ring_of(device);
  std::lock_guard<std::mutex> lock(r.mutex);
  Slot& slot = take(r, bytes);
  std::memcpy(slot.host, src, bytes);
  RENORM_CUDA_CHECK(cudaMemcpyAsync(dst, slot.host, bytes, cudaMemcpyHostToDevice, s));
  RENORM_CUDA_CHECK(cudaEventRecord(slot.copied, s));
  slot.queued = true;
#else
  throw DeviceError("upload to CUDA memory but " + cuda_unavailable_reason());
#endif
}

}  // namespace renorm
