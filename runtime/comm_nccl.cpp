// The NCCL communicator: compiled to a DeviceError without RENORM_HAS_NCCL (CUDA builds that found NCCL).
#include "runtime/comm.h"

#if RENORM_HAS_NCCL
#include <nccl.h>

#include "runtime/detail/cuda_context.h"
#endif

namespace renorm {

#if RENORM_HAS_NCCL
namespace {
void check(ncclResult_t r, const char* call) {
  if (r != ncclSuccess) throw CommError(std::string(call) + " failed: " + ncclGetErrorString(r));
}

class NcclCommunicator : public Communicator {
 public:
  explicit NcclCommunicator(Communicator& boot)
      : rank_(boot.rank()), size_(boot.size()), local_rank_(boot.local_rank()), local_size_(boot.local_size()) {
    int devices = 0;
    RENORM_CUDA_CHECK(cudaGetDeviceCount(&devices));
    if (local_rank_ >= devices)
      throw DeviceError("NCCL: rank " + std::to_string(rank_) + " is local rank " + std::to_string(local_rank_) +
                        " but this machine has " + std::to_string(devices) + " GPUs (one GPU per rank)");
    RENORM_CUDA_CHECK(cudaSetDevice(local_rank_));  // before renorm's stream is created on this device
    ncclUniqueId id{};
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    boot.broadcast(&id, sizeof id, 0);
    check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
    RENORM_CUDA_CHECK(cudaMalloc(&scratch_, sizeof(float)));
    RENORM_CUDA_CHECK(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking));
    RENORM_CUDA_CHECK(cudaEventCreateWithFlags(&queued_, cudaEventDisableTiming));
    RENORM_CUDA_CHECK(cudaEventCreateWithFlags(&reduced_, cudaEventDisableTiming));
  }
  ~NcclCommunicator() override {
    cudaEventDestroy(reduced_);
    cudaEventDestroy(queued_);
    cudaStreamDestroy(side_);
    cudaFree(scratch_);
    ncclCommDestroy(comm_);
  }

  std::string backend() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }

  void allreduce_sum(float* data, int64_t n) override {
    check(ncclAllReduce(data, data, size_t(n), ncclFloat, ncclSum, comm_, cuda::stream()), "ncclAllReduce");
  }
  // On a side stream, after what renorm's stream has queued so far (an event, no host sync), so that
  // the all-reduce overlaps the kernels queued after it (the rest of backward).
  void start_allreduce_sum(float* data, int64_t n) override {
    RENORM_CUDA_CHECK(cudaEventRecord(queued_, cuda::stream()));
    RENORM_CUDA_CHECK(cudaStreamWaitEvent(side_, queued_, 0));
    check(ncclAllReduce(data, data, size_t(n), ncclFloat, ncclSum, comm_, side_), "ncclAllReduce");
    pending_ = true;
  }
  // renorm's stream waits for the side stream's all-reduces (an event: the host does not wait).
  void finish() override {
    if (!pending_) return;
    RENORM_CUDA_CHECK(cudaEventRecord(reduced_, side_));
    RENORM_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), reduced_, 0));
    pending_ = false;
  }
  void broadcast(void* data, int64_t bytes, int root) override {
    check(ncclBroadcast(data, data, size_t(bytes), ncclUint8, root, comm_, cuda::stream()), "ncclBroadcast");
  }
  void barrier() override {  // NCCL has none: a one-float all-reduce, waited for
    allreduce_sum(scratch_, 1);
    RENORM_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
  }

 private:
  ncclComm_t comm_ = nullptr;
  float* scratch_ = nullptr;
  cudaStream_t side_ = nullptr;
  cudaEvent_t queued_ = nullptr, reduced_ = nullptr;
  bool pending_ = false;
  int rank_, size_, local_rank_, local_size_;
};
}  // namespace

bool nccl_compiled() { return true; }
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap) {
  return std::make_unique<NcclCommunicator>(bootstrap);
}
#else
bool nccl_compiled() { return false; }
std::unique_ptr<Communicator> make_nccl_communicator(Communicator&) {
  throw DeviceError("NCCL: renorm was built without it (a CUDA build that finds NCCL has it)");
}
#endif

}  // namespace renorm
