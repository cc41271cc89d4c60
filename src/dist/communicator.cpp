// Element sizes of the communicator dtypes, and the one-rank SelfCommunicator.
#include "dist/communicator.h"

#include <cstring>

namespace kiln {

size_t comm_dtype_size(CommDType t) {
  switch (t) {
    case CommDType::fp32: return 4;
    case CommDType::fp64: return 8;
    case CommDType::bf16: return 2;
    case CommDType::int32: return 4;
    case CommDType::int64: return 8;
    case CommDType::uint64: return 8;
    case CommDType::byte: return 1;
  }
  throw DistError("comm_dtype_size: unknown CommDType " + std::to_string(static_cast<int>(t)));
}

// With one rank the reduction of a single contribution is the contribution itself, so both
// collectives are a copy. The contract forbids overlap for reduce_scatter, and the only overlap
// all_gather allows (send == recv + 0 · count) is the identity, which needs no copy.
void SelfCommunicator::reduce_scatter(const void* send, void* recv, size_t recv_count, CommDType dtype, ReduceOp) {
  if (recv_count > 0) std::memcpy(recv, send, recv_count * comm_dtype_size(dtype));
}

void SelfCommunicator::all_gather(const void* send, void* recv, size_t send_count, CommDType dtype) {
  if (send != recv && send_count > 0) std::memcpy(recv, send, send_count * comm_dtype_size(dtype));
}

}  // namespace kiln
