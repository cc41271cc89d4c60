// Collectives over one group of ranks, on flat buffers: the only way kiln's ranks talk.
//
// Implementations: MpiCommunicator (mpi_communicator.h) for host buffers, NcclCommunicator
// (nccl_communicator.h, CUDA builds) for device buffers. Only src/dist includes MPI or NCCL
// headers; everything above sees this interface (DESIGN.md).
//
// Contract, for every implementation:
// - Every rank of the group calls the same collectives in the same order with the same counts,
//   dtypes and ops (as MPI requires); a mismatch is a bug in the caller, not checked here.
// - Reductions are deterministic for a given group size: the same inputs give bit-identical
//   outputs run after run (MPI's reductions on a fixed communicator are; NCCL's with a fixed
//   algorithm are).
// - reduce_scatter: `send` holds size() · recv_count elements; rank r receives the reduction of
//   block r. all_gather: rank r's send_count elements land in block r of `recv`
//   (size() · send_count). In-place use (send == recv + rank · count for all_gather, or send ==
//   recv for all_reduce) is allowed where documented below.
// - Failures (a peer died, the transport broke) throw DistError; the process then cannot go on
//   and the caller brings the job down (mpi_session.h: abort_job).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace kiln {

struct DistError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class CommDType { fp32, fp64, bf16, int32, int64, uint64, byte };
enum class ReduceOp { sum, max, min };

size_t comm_dtype_size(CommDType t);

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "tp", "dp", "world": for messages.
  virtual const std::string& name() const = 0;

  // In place: buf holds count elements on every rank and the reduction afterwards.
  virtual void all_reduce(void* buf, size_t count, CommDType dtype, ReduceOp op) = 0;
  // send: size() · recv_count elements; recv: recv_count. send and recv must not overlap.
  virtual void reduce_scatter(const void* send, void* recv, size_t recv_count, CommDType dtype, ReduceOp op) = 0;
  // send: send_count elements; recv: size() · send_count. send may be recv + rank() · send_count
  // (in place).
  virtual void all_gather(const void* send, void* recv, size_t send_count, CommDType dtype) = 0;
  virtual void broadcast(void* buf, size_t count, CommDType dtype, int root) = 0;
  virtual void barrier() = 0;
};

// The trivial group of one rank (tp = 1 or dp = 1): every collective is a copy or nothing.
// Lets single-rank code take the same path as multi-rank code without MPI.
class SelfCommunicator final : public Communicator {
 public:
  explicit SelfCommunicator(std::string name) : name_(std::move(name)) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const std::string& name() const override { return name_; }
  void all_reduce(void*, size_t, CommDType, ReduceOp) override {}
  void reduce_scatter(const void* send, void* recv, size_t recv_count, CommDType dtype, ReduceOp) override;
  void all_gather(const void* send, void* recv, size_t send_count, CommDType dtype) override;
  void broadcast(void*, size_t, CommDType, int) override {}
  void barrier() override {}

 private:
  std::string name_;
};

}  // namespace kiln
