// The communicator under a real launcher: `mpirun -np K comm_test` (CTest runs K = 2 and 3, and once
// without mpirun: one process). Every rank checks the collectives' results against what they must be
// and prints one line; the exit status is the number of failed checks. `comm_test fault` makes the last
// rank fail while the others wait in an all-reduce: abort_world must end every rank (CTest bounds the time).
// `comm_test nccl` runs the same checks through NCCL on device buffers, bootstrapped over this process's
// communicator (one GPU per rank; scripts/gpu-check.sh runs it where a GPU is lent).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "runtime/comm.h"
#include "runtime/device.h"
#include "tensor/tensor.h"

using namespace renorm;

namespace {
int failures = 0;
void check(bool ok, const char* what, int rank) {
  if (!ok) {
    std::printf("rank %d: FAILED: %s\n", rank, what);
    ++failures;
  }
}

// Floats where the communicator reads them: host memory (single, MPI) or device memory (NCCL).
struct Buffer {
  Tensor t;
  Buffer(const std::vector<float>& v, Device d) : t(Tensor::from_vector(v, Shape{int64_t(v.size())}, d)) {}
  float* data() const { return t.data(); }
  int64_t size() const { return t.numel(); }
  std::vector<float> get() const { return t.to_vector(); }  // waits for the device
};

void run_checks(Communicator& comm, Device d) {
  const int r = comm.rank(), k = comm.size();
  check(r >= 0 && r < k, "rank in [0, size)", r);
  check(comm.local_rank() >= 0 && comm.local_rank() < comm.local_size(), "local rank in [0, local size)", r);
  // Sum of the ranks: k(k-1)/2 on every rank.
  Buffer ranks({float(r)}, d);
  comm.allreduce_sum(ranks.data(), 1);
  check(ranks.get()[0] == float(k * (k - 1) / 2), "sum of ranks", r);
  // A long buffer: element i of rank q is q + i % 7 (exact in float).
  std::vector<float> host(1 << 20);
  for (size_t i = 0; i < host.size(); ++i) host[i] = float(r + int(i % 7));
  Buffer big(host, d);
  comm.allreduce_sum(big.data(), big.size());
  host = big.get();
  bool exact = true;
  for (size_t i = 0; i < host.size(); ++i) exact &= host[i] == float(k * (k - 1) / 2 + k * int(i % 7));
  check(exact, "all-reduce of 2^20 floats", r);
  // Two non-blocking all-reduces in flight, then finish().
  Buffer a(std::vector<float>(1000, 1.f), d), b(std::vector<float>(333, float(r)), d);
  comm.start_allreduce_sum(a.data(), a.size());
  comm.start_allreduce_sum(b.data(), b.size());
  comm.finish();
  check(a.get()[999] == float(k) && b.get()[0] == float(k * (k - 1) / 2), "two non-blocking all-reduces", r);
  // Broadcast from the last rank.
  Buffer from(std::vector<float>(5, float(r == k - 1 ? 100 + r : -1)), d);
  comm.broadcast(from.data(), from.size() * int64_t(sizeof(float)), k - 1);
  check(from.get()[4] == float(100 + k - 1), "broadcast from the last rank", r);
  comm.barrier();
  std::printf("rank %d of %d (%s, node rank %d of %d): %s\n", r, k, comm.backend().c_str(), comm.local_rank(),
              comm.local_size(), failures ? "FAILED" : "ok");
}

int fault(Communicator& comm) {
  const int r = comm.rank(), k = comm.size();
  if (r == k - 1) {
    std::printf("rank %d: failing on purpose\n", r);
    std::fflush(stdout);
    abort_world(7);
    return 7;
  }
  std::vector<float> x(16, 1.f);
  comm.allreduce_sum(x.data(), int64_t(x.size()));  // never completes: the last rank does not join
  std::printf("rank %d: FAILED: the all-reduce completed without the failed rank\n", r);
  return 1;
}
}  // namespace

int run(int argc, char** argv) {
  const std::shared_ptr<Communicator> world = world_communicator();
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "fault") return fault(*world);
  if (mode == "nccl") {
    if (!nccl_compiled() || !cuda_available()) {
      std::printf("nccl: not run (%s)\n", nccl_compiled() ? cuda_unavailable_reason().c_str() : "built without NCCL");
      return 0;
    }
    const std::unique_ptr<Communicator> nccl = make_nccl_communicator(*world);
    run_checks(*nccl, Device::CUDA);
    return failures;
  }
  run_checks(*world, Device::CPU);
  return failures;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::printf("FAILED: %s\n", e.what());
    return 1;
  }
}
