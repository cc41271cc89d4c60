// NcclCommunicator: kiln's collectives as NCCL calls on one CUDA stream.
#include "dist/nccl_communicator.h"

#include <nccl.h>

#include <cstring>

namespace kiln {
namespace {

ncclDataType_t nccl_type(CommDType t) {
  switch (t) {
    case CommDType::fp32: return ncclFloat32;
    case CommDType::fp64: return ncclFloat64;
    case CommDType::bf16: return ncclBfloat16;
    case CommDType::int32: return ncclInt32;
    case CommDType::int64: return ncclInt64;
    case CommDType::uint64: return ncclUint64;
    case CommDType::byte: return ncclUint8;
  }
  throw DistError("NcclCommunicator: unknown CommDType " + std::to_string(static_cast<int>(t)));
}

ncclRedOp_t nccl_op(CommDType t, ReduceOp op) {
  if (t == CommDType::byte) {
    throw DistError("NcclCommunicator: cannot reduce CommDType::byte (raw bytes have no sum, max or min); "
                    "use a numeric dtype");
  }
  switch (op) {
    case ReduceOp::sum: return ncclSum;
    case ReduceOp::max: return ncclMax;
    case ReduceOp::min: return ncclMin;
  }
  throw DistError("NcclCommunicator: unknown ReduceOp " + std::to_string(static_cast<int>(op)));
}

}  // namespace

NcclCommunicator::NcclCommunicator(Communicator& bootstrap, cudaStream_t stream, std::string name)
    : stream_(stream), name_(name.empty() ? bootstrap.name() : std::move(name)), rank_(bootstrap.rank()),
      size_(bootstrap.size()) {
  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  // If rank 0 fails here, the others wait in the broadcast below; the exception reaches
  // run_fail_fast on rank 0, whose MPI_Abort ends them.
  if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  bootstrap.broadcast(&id, sizeof id, CommDType::byte, 0);
  check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
  check_cuda(cudaMalloc(reinterpret_cast<void**>(&barrier_word_), sizeof(int)), "cudaMalloc (barrier word)");
  check_cuda(cudaMemset(barrier_word_, 0, sizeof(int)), "cudaMemset (barrier word)");
}

NcclCommunicator::~NcclCommunicator() {
  if (barrier_word_ != nullptr) cudaFree(barrier_word_);
  // ncclCommDestroy waits for enqueued work; a communicator that failed cannot finish it, so
  // abort that one instead of hanging in the destructor.
  if (comm_ != nullptr) {
    ncclResult_t async = ncclSuccess;
    if (ncclCommGetAsyncError(comm_, &async) == ncclSuccess && async == ncclSuccess) {
      ncclCommDestroy(comm_);
    } else {
      ncclCommAbort(comm_);
    }
  }
}

void NcclCommunicator::check(int nccl_result, const char* call) const {
  const auto r = static_cast<ncclResult_t>(nccl_result);
  if (r == ncclSuccess) return;
  std::string message = std::string(call) + " on communicator '" + name_ + "' (rank " + std::to_string(rank_) +
                        " of " + std::to_string(size_) + ") failed: " + ncclGetErrorString(r);
  const char* detail = comm_ != nullptr ? ncclGetLastError(comm_) : nullptr;
  if (detail != nullptr && detail[0] != '\0') message += std::string(" (") + detail + ")";
  throw DistError(message);
}

void NcclCommunicator::check_cuda(cudaError_t err, const char* call) const {
  if (err == cudaSuccess) return;
  throw DistError(std::string(call) + " for NCCL communicator '" + name_ + "' (rank " + std::to_string(rank_) +
                  ") failed: " + cudaGetErrorString(err));
}

void NcclCommunicator::all_reduce(void* buf, size_t count, CommDType dtype, ReduceOp op) {
  check(ncclAllReduce(buf, buf, count, nccl_type(dtype), nccl_op(dtype, op), comm_, stream_), "ncclAllReduce");
}

void NcclCommunicator::reduce_scatter(const void* send, void* recv, size_t recv_count, CommDType dtype, ReduceOp op) {
  check(ncclReduceScatter(send, recv, recv_count, nccl_type(dtype), nccl_op(dtype, op), comm_, stream_),
        "ncclReduceScatter");
}

// NCCL treats send == recv + rank · send_count as in place, which is the contract's in-place form.
void NcclCommunicator::all_gather(const void* send, void* recv, size_t send_count, CommDType dtype) {
  check(ncclAllGather(send, recv, send_count, nccl_type(dtype), comm_, stream_), "ncclAllGather");
}

void NcclCommunicator::broadcast(void* buf, size_t count, CommDType dtype, int root) {
  if (root < 0 || root >= size_) {
    throw DistError("broadcast on NCCL communicator '" + name_ + "': root " + std::to_string(root) +
                    " is not a rank of this group (size " + std::to_string(size_) + ")");
  }
  check(ncclBroadcast(buf, buf, count, nccl_type(dtype), root, comm_, stream_), "ncclBroadcast");
}

void NcclCommunicator::barrier() {
  check(ncclAllReduce(barrier_word_, barrier_word_, 1, ncclInt32, ncclSum, comm_, stream_), "ncclAllReduce (barrier)");
  synchronize();
}

void NcclCommunicator::synchronize() {
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  ncclResult_t async = ncclSuccess;
  check(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
  check(async, "NCCL work on the stream");
}

}  // namespace kiln
