#include "runtime/comm.h"

#include <cstdlib>

namespace renorm {

namespace {
class SingleCommunicator : public Communicator {
 public:
  std::string backend() const override { return "single"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  void allreduce_sum(float*, int64_t) override {}
  void start_allreduce_sum(float*, int64_t) override {}
  void finish() override {}
  void broadcast(void*, int64_t, int root) override {
    if (root != 0) throw CommError("broadcast: root " + std::to_string(root) + " of a 1-process run");
  }
  void barrier() override {}
};
}  // namespace

// Defined in comm_mpi.cpp: the MPI world, or null when renorm was built without MPI.
std::shared_ptr<Communicator> mpi_world_communicator();

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

std::shared_ptr<Communicator> single_communicator() { return std::make_shared<SingleCommunicator>(); }

std::shared_ptr<Communicator> world_communicator() {
  static const std::shared_ptr<Communicator> world = [] {
    std::shared_ptr<Communicator> mpi = launched_by_mpi() ? mpi_world_communicator() : nullptr;
    return mpi ? mpi : std::shared_ptr<Communicator>(std::make_shared<SingleCommunicator>());
  }();
  return world;
}

}  // namespace renorm
