// The MPI communicator (Open MPI): compiled to nothing without RENORM_HAS_MPI.
#include "runtime/comm.h"

#if RENORM_HAS_MPI
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <vector>
#endif

namespace renorm {

#if RENORM_HAS_MPI
namespace {
void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw CommError(std::string(call) + " failed: " + std::string(text, size_t(len)));
}

// MPI counts are int: a long buffer goes in pieces of at most INT_MAX elements.
template <class F>
void in_pieces(int64_t n, F&& f) {
  for (int64_t at = 0; at < n; at += INT_MAX) f(at, int(std::min<int64_t>(INT_MAX, n - at)));
}

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator() {
    int ready = 0;
    check(MPI_Initialized(&ready), "MPI_Initialized");
    if (!ready) {
      int provided = 0;  // OpenMP threads never call MPI: the main thread alone does
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owns_mpi_ = true;
    }
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local_), "MPI_Comm_split_type");
    check(MPI_Comm_rank(local_, &local_rank_), "MPI_Comm_rank (node)");
    check(MPI_Comm_size(local_, &local_size_), "MPI_Comm_size (node)");
  }
  ~MpiCommunicator() override {
    int done = 0;
    MPI_Finalized(&done);
    if (done) return;
    MPI_Comm_free(&local_);
    MPI_Comm_free(&comm_);
    if (owns_mpi_) MPI_Finalize();
  }

  std::string backend() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }

  void allreduce_sum(float* data, int64_t n) override {
    in_pieces(n, [&](int64_t at, int count) {
      check(MPI_Allreduce(MPI_IN_PLACE, data + at, count, MPI_FLOAT, MPI_SUM, comm_), "MPI_Allreduce");
    });
  }
  void start_allreduce_sum(float* data, int64_t n) override {
    in_pieces(n, [&](int64_t at, int count) {
      pending_.emplace_back();
      check(MPI_Iallreduce(MPI_IN_PLACE, data + at, count, MPI_FLOAT, MPI_SUM, comm_, &pending_.back()), "MPI_Iallreduce");
    });
  }
  void finish() override {
    if (pending_.empty()) return;
    const int rc = MPI_Waitall(int(pending_.size()), pending_.data(), MPI_STATUSES_IGNORE);
    pending_.clear();
    check(rc, "MPI_Waitall");
  }
  void broadcast(void* data, int64_t bytes, int root) override {
    if (root < 0 || root >= size_) throw CommError("broadcast: root " + std::to_string(root) + " of " + std::to_string(size_) + " ranks");
    in_pieces(bytes, [&](int64_t at, int count) {
      check(MPI_Bcast(static_cast<char*>(data) + at, count, MPI_BYTE, root, comm_), "MPI_Bcast");
    });
  }
  void barrier() override { check(MPI_Barrier(comm_), "MPI_Barrier"); }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL, local_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool owns_mpi_ = false;
  std::vector<MPI_Request> pending_;
};
}  // namespace

bool mpi_compiled() { return true; }
std::shared_ptr<Communicator> mpi_world_communicator() { return std::make_shared<MpiCommunicator>(); }
void abort_world(int status) {
  int ready = 0, done = 0;
  MPI_Initialized(&ready);
  MPI_Finalized(&done);
  int size = 1;
  if (ready && !done) MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) MPI_Abort(MPI_COMM_WORLD, status);
}
#else
bool mpi_compiled() { return false; }
std::shared_ptr<Communicator> mpi_world_communicator() { return nullptr; }
void abort_world(int) {}
#endif

}  // namespace renorm
