// The communicator under a real launcher: `mpirun -np K comm_test` (CTest runs K = 2 and 3, and once
// without mpirun: one process). Every rank checks the collectives' results against what they must be
// and prints one line; the exit status is the number of failed checks. `comm_test fault` makes the last
// rank fail while the others wait in an all-reduce: abort_world must end every rank (CTest bounds the time).
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/comm.h"

using namespace renorm;

namespace {
int failures = 0;
void check(bool ok, const char* what, int rank) {
  if (!ok) {
    std::printf("rank %d: FAILED: %s\n", rank, what);
    ++failures;
  }
}
}  // namespace

int main(int argc, char** argv) {
  const std::shared_ptr<Communicator> comm = world_communicator();
  const int r = comm->rank(), k = comm->size();
  if (argc > 1 && std::string(argv[1]) == "fault") {
    if (r == k - 1) {
      std::printf("rank %d: failing on purpose\n", r);
      std::fflush(stdout);
      abort_world(7);
      return 7;
    }
    std::vector<float> x(16, 1.f);
    comm->allreduce_sum(x.data(), int64_t(x.size()));  // never completes: the last rank does not join
    std::printf("rank %d: FAILED: the all-reduce completed without the failed rank\n", r);
    return 1;
  }
  check(r >= 0 && r < k, "rank in [0, size)", r);
  check(comm->local_rank() >= 0 && comm->local_rank() < comm->local_size(), "local rank in [0, local size)", r);
  // Sum of the ranks: k(k-1)/2 on every rank.
  float ranks = float(r);
  comm->allreduce_sum(&ranks, 1);
  check(ranks == float(k * (k - 1) / 2), "sum of ranks", r);
  // A long buffer: element i of rank q is q + i % 7 (exact in float).
  std::vector<float> big(1 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = float(r + int(i % 7));
  comm->allreduce_sum(big.data(), int64_t(big.size()));
  bool exact = true;
  for (size_t i = 0; i < big.size(); ++i) exact &= big[i] == float(k * (k - 1) / 2 + k * int(i % 7));
  check(exact, "all-reduce of 2^20 floats", r);
  // Two non-blocking all-reduces in flight, then finish().
  std::vector<float> a(1000, 1.f), b(333, float(r));
  comm->start_allreduce_sum(a.data(), int64_t(a.size()));
  comm->start_allreduce_sum(b.data(), int64_t(b.size()));
  comm->finish();
  check(a[999] == float(k) && b[0] == float(k * (k - 1) / 2), "two non-blocking all-reduces", r);
  // Broadcast from the last rank.
  char text[32] = {};
  if (r == k - 1) std::snprintf(text, sizeof text, "from rank %d", r);
  comm->broadcast(text, sizeof text, k - 1);
  check(std::string(text) == "from rank " + std::to_string(k - 1), "broadcast from the last rank", r);
  comm->barrier();
  std::printf("rank %d of %d (%s, node rank %d of %d): %s\n", r, k, comm->backend().c_str(), comm->local_rank(),
              comm->local_size(), failures ? "FAILED" : "ok");
  return failures;
}
