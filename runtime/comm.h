// Collectives across the ranks of a data-parallel run (docs/distributed.md). One interface, three
// implementations: one process (rank 0 of 1: every collective leaves its data as it is); MPI (host
// buffers; Open MPI launches, places and bootstraps the ranks: mpirun, srun); NCCL (device buffers, on
// renorm's CUDA stream, its communicator bootstrapped by broadcasting the ncclUniqueId over MPI). A
// failing call is a CommError naming it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/error.h"

namespace renorm {

struct CommError : Error {
  using Error::Error;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string backend() const = 0;  // "single", "mpi", "nccl"
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // rank among the ranks of this machine: picks the GPU
  virtual int local_size() const = 0;

  // Sums n floats at `data` over all ranks, in place; every rank gets the sum. Host memory for MPI,
  // device memory for NCCL (queued on renorm's stream: no host sync).
  virtual void allreduce_sum(float* data, int64_t n) = 0;
  // The same, started without waiting: finish() completes every collective started so far (MPI: waits
  // for the requests; NCCL: the all-reduces run on a side stream after an event on renorm's stream, and
  // finish() makes renorm's stream wait for them with another event: the host never waits).
  virtual void start_allreduce_sum(float* data, int64_t n) = 0;
  virtual void finish() = 0;
  // `bytes` at `data` from rank `root` to every rank.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
};

// The communicator of this process: MPI when renorm was built with MPI and an MPI launcher started the
// process (mpirun, srun, ...), else one process. MPI is initialized on first call and finalized at exit.
std::shared_ptr<Communicator> world_communicator();
// Rank 0 of 1, whatever launched the process.
std::shared_ptr<Communicator> single_communicator();
// True when the environment says an MPI launcher started this process (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
// PMIX_RANK), whether or not renorm can use it.
bool launched_by_mpi();
// Built with MPI / with NCCL.
bool mpi_compiled();
bool nccl_compiled();
// NCCL over the ranks of `bootstrap` (an MPI communicator), one GPU per rank: device local_rank().
// DeviceError when NCCL or CUDA is not available.
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap);

// Ends every rank of the run with `status` (MPI_Abort) — the fault path of a program whose rank failed,
// so that the others do not wait for it in a collective. With one process: returns, doing nothing.
void abort_world(int status);

}  // namespace renorm
