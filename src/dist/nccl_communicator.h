// Communicator over NCCL, for device buffers (CUDA builds with NCCL only: KILN_WITH_NCCL).
//
// - Bootstrap: the constructor is collective over a host `bootstrap` group (the MpiCommunicator
//   of the same ranks, e.g. grid.tp): its rank 0 creates the ncclUniqueId and broadcasts the
//   128 bytes through `bootstrap`, then every rank joins with ncclCommInitRank(size, id, rank).
//   So the NCCL communicator has the same ranks, in the same order, as `bootstrap`. Select the
//   CUDA device (cudaSetDevice) before constructing: NCCL binds the communicator to it.
// - Buffers are device pointers. Every collective is enqueued on `stream` (the constructor's) and
//   returns before it completes, as NCCL does; order the producer and consumer kernels on the
//   same stream, or call synchronize(). barrier() synchronizes the stream itself.
// - Counts are size_t all the way down (NCCL takes them), so no chunking is needed. bf16 maps to
//   ncclBfloat16; NCCL reduces it with its own arithmetic, which accumulates per pair like the
//   MPI path but is not promised to be bit-identical to it. byte cannot be reduced (DistError).
// - Errors (from NCCL or the CUDA runtime) throw DistError with ncclGetErrorString's text and
//   NCCL's last error message. Failures of work already enqueued surface at the next call that
//   waits: barrier() and synchronize() also check ncclCommGetAsyncError.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "dist/communicator.h"

struct ncclComm;  // nccl.h's ncclComm_t is ncclComm*; kept out of this header

namespace kiln {

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `bootstrap`. `name` defaults to the bootstrap group's.
  NcclCommunicator(Communicator& bootstrap, cudaStream_t stream, std::string name = {});
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& name() const override { return name_; }

  void all_reduce(void* buf, size_t count, CommDType dtype, ReduceOp op) override;
  void reduce_scatter(const void* send, void* recv, size_t recv_count, CommDType dtype, ReduceOp op) override;
  void all_gather(const void* send, void* recv, size_t send_count, CommDType dtype) override;
  void broadcast(void* buf, size_t count, CommDType dtype, int root) override;
  // An all-reduce of one int, then cudaStreamSynchronize: when it returns, every rank has
  // reached the barrier and all work enqueued before it on this stream has finished.
  void barrier() override;

  // Waits for the work enqueued on the stream; throws DistError if it or NCCL failed.
  void synchronize();
  cudaStream_t stream() const { return stream_; }

 private:
  void check(int nccl_result, const char* call) const;
  void check_cuda(cudaError_t err, const char* call) const;

  ncclComm* comm_ = nullptr;
  cudaStream_t stream_;
  std::string name_;
  int rank_ = 0, size_ = 1;
  int* barrier_word_ = nullptr;  // one device int for barrier()
};

}  // namespace kiln
