// Communicator over an MPI communicator, for host buffers (the CPU backend, and the MPI side of
// NCCL's bootstrap).
//
// - The constructor duplicates the given MPI_Comm (MPI_Comm_dup) and sets MPI_ERRORS_RETURN on
//   the duplicate, so kiln's collectives never mix with anyone else's messages and a transport
//   failure becomes a DistError (with MPI_Error_string's text) instead of MPI's default abort.
//   The duplicate is freed in the destructor (unless MPI is already finalised).
// - fp32, fp64, int32, int64, uint64 use MPI's own types and ops. bf16 has no MPI type: it is a
//   2-byte user datatype with user ops. Sum widens each pair to fp32, adds, and rounds to nearest
//   even (to_bf16, tensor/bf16.h), so a reduction over n ranks rounds n − 1 times, in the
//   deterministic order MPI's algorithm combines them; max and min compare the fp32 values.
//   byte supports broadcast and all_gather only; reducing it throws DistError.
// - Counts beyond what one MPI call takes (INT_MAX elements; `max_chunk` when smaller, which lets
//   the tests exercise the splitting) are split into chunks. Elementwise reductions give the same
//   result chunked; reduce_scatter packs each chunk's slices of the blocks into a staging buffer.
// - Collectives and the constructor are collective calls: every rank of `comm` makes them.
#pragma once

#include <mpi.h>

#include <climits>
#include <cstddef>
#include <string>
#include <vector>

#include "dist/communicator.h"

namespace kiln {

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, std::string name, size_t max_chunk = INT_MAX);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& name() const override { return name_; }

  void all_reduce(void* buf, size_t count, CommDType dtype, ReduceOp op) override;
  void reduce_scatter(const void* send, void* recv, size_t recv_count, CommDType dtype, ReduceOp op) override;
  void all_gather(const void* send, void* recv, size_t send_count, CommDType dtype) override;
  void broadcast(void* buf, size_t count, CommDType dtype, int root) override;
  void barrier() override;

  // The duplicated communicator (for bootstrapping other transports, e.g. NCCL's unique id).
  MPI_Comm comm() const { return comm_; }

 private:
  std::string what(const char* call) const;

  MPI_Comm comm_ = MPI_COMM_NULL;
  std::string name_;
  int rank_ = 0, size_ = 1;
  size_t max_chunk_;
  std::vector<std::byte> staging_;  // reduce_scatter's packed chunk, kept between calls
};

}  // namespace kiln
