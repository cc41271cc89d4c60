// MpiCommunicator: kiln's collectives as MPI calls, with bf16 as a user datatype.
#include "dist/mpi_communicator.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "dist/mpi_session.h"
#include "tensor/bf16.h"

namespace kiln {
namespace {

// ---- bf16: a 2-byte datatype and its reduction ops ------------------------------------------
// MPI calls these as inout[i] = in[i] ∘ inout[i]. Each pair is widened to fp32 (exact) and the
// result narrowed once, rounding to nearest even: the same rounding the kernels use when they
// store a bf16 result.

void bf16_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const bf16*>(in);
  auto* b = static_cast<bf16*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = to_bf16(to_float(a[i]) + to_float(b[i]));
}

// NaN wins, so a max-reduction of a gradient statistic reports a NaN anywhere in the group
// instead of hiding it behind a finite value (fp32 comparisons with NaN are always false).
void bf16_max(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const bf16*>(in);
  auto* b = static_cast<bf16*>(inout);
  for (int i = 0; i < *len; ++i) {
    const float x = to_float(a[i]), y = to_float(b[i]);
    if (std::isnan(x) || x > y) b[i] = a[i];
  }
}

void bf16_min(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const bf16*>(in);
  auto* b = static_cast<bf16*>(inout);
  for (int i = 0; i < *len; ++i) {
    const float x = to_float(a[i]), y = to_float(b[i]);
    if (std::isnan(x) || x < y) b[i] = a[i];
  }
}

// Created on first use by the main thread (the only thread that calls MPI) and kept until the
// process ends: MPI cannot be re-initialised, so there is never a second set to make, and
// MPI_Finalize releases them.
struct Bf16Mpi {
  MPI_Datatype type = MPI_DATATYPE_NULL;
  MPI_Op sum = MPI_OP_NULL, max = MPI_OP_NULL, min = MPI_OP_NULL;
};

const Bf16Mpi& bf16_mpi() {
  static const Bf16Mpi handles = [] {
    static_assert(sizeof(bf16) == 2);
    Bf16Mpi h;
    check_mpi(MPI_Type_contiguous(2, MPI_BYTE, &h.type), "MPI_Type_contiguous (bf16 datatype)");
    check_mpi(MPI_Type_commit(&h.type), "MPI_Type_commit (bf16 datatype)");
    check_mpi(MPI_Op_create(&bf16_sum, /*commute=*/1, &h.sum), "MPI_Op_create (bf16 sum)");
    check_mpi(MPI_Op_create(&bf16_max, /*commute=*/1, &h.max), "MPI_Op_create (bf16 max)");
    check_mpi(MPI_Op_create(&bf16_min, /*commute=*/1, &h.min), "MPI_Op_create (bf16 min)");
    return h;
  }();
  return handles;
}

const char* dtype_name(CommDType t) {
  switch (t) {
    case CommDType::fp32: return "fp32";
    case CommDType::fp64: return "fp64";
    case CommDType::bf16: return "bf16";
    case CommDType::int32: return "int32";
    case CommDType::int64: return "int64";
    case CommDType::uint64: return "uint64";
    case CommDType::byte: return "byte";
  }
  return "?";
}

MPI_Datatype mpi_type(CommDType t) {
  switch (t) {
    case CommDType::fp32: return MPI_FLOAT;
    case CommDType::fp64: return MPI_DOUBLE;
    case CommDType::bf16: return bf16_mpi().type;
    case CommDType::int32: return MPI_INT32_T;
    case CommDType::int64: return MPI_INT64_T;
    case CommDType::uint64: return MPI_UINT64_T;
    case CommDType::byte: return MPI_BYTE;
  }
  throw DistError("MpiCommunicator: unknown CommDType " + std::to_string(static_cast<int>(t)));
}

MPI_Op mpi_op(CommDType t, ReduceOp op) {
  if (t == CommDType::byte) {
    throw DistError("MpiCommunicator: cannot reduce CommDType::byte (raw bytes have no sum, max or min); "
                    "use a numeric dtype");
  }
  if (t == CommDType::bf16) {
    const Bf16Mpi& h = bf16_mpi();
    switch (op) {
      case ReduceOp::sum: return h.sum;
      case ReduceOp::max: return h.max;
      case ReduceOp::min: return h.min;
    }
  }
  switch (op) {
    case ReduceOp::sum: return MPI_SUM;
    case ReduceOp::max: return MPI_MAX;
    case ReduceOp::min: return MPI_MIN;
  }
  throw DistError("MpiCommunicator: unknown ReduceOp " + std::to_string(static_cast<int>(op)));
}

std::byte* bytes(void* p) { return static_cast<std::byte*>(p); }
const std::byte* bytes(const void* p) { return static_cast<const std::byte*>(p); }

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::string name, size_t max_chunk)
    : name_(std::move(name)), max_chunk_(max_chunk) {
  if (max_chunk_ == 0 || max_chunk_ > static_cast<size_t>(INT_MAX)) {
    throw DistError("MpiCommunicator '" + name_ + "': max_chunk must be in 1 … INT_MAX, got " +
                    std::to_string(max_chunk));
  }
  if (comm == MPI_COMM_NULL) throw DistError("MpiCommunicator '" + name_ + "': given MPI_COMM_NULL");
  check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup for communicator '" + name_ + "'");
  check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), what("MPI_Comm_set_errhandler"));
  MPI_Comm_set_name(comm_, name_.c_str());  // shows up in MPI's own diagnostics; cosmetic
  check_mpi(MPI_Comm_rank(comm_, &rank_), what("MPI_Comm_rank"));
  check_mpi(MPI_Comm_size(comm_, &size_), what("MPI_Comm_size"));
}

MpiCommunicator::~MpiCommunicator() {
  if (comm_ != MPI_COMM_NULL && MpiSession::active()) MPI_Comm_free(&comm_);
}

std::string MpiCommunicator::what(const char* call) const {
  return std::string(call) + " on communicator '" + name_ + "' (rank " + std::to_string(rank_) + " of " +
         std::to_string(size_) + ")";
}

void MpiCommunicator::all_reduce(void* buf, size_t count, CommDType dtype, ReduceOp op) {
  const MPI_Datatype type = mpi_type(dtype);
  const MPI_Op mop = mpi_op(dtype, op);
  const size_t es = comm_dtype_size(dtype);
  for (size_t off = 0; off < count; off += max_chunk_) {
    const int n = static_cast<int>(std::min(max_chunk_, count - off));
    const int rc = MPI_Allreduce(MPI_IN_PLACE, bytes(buf) + off * es, n, type, mop, comm_);
    if (rc != MPI_SUCCESS) check_mpi(rc, what("MPI_Allreduce") + " of " + std::to_string(count) + " " + dtype_name(dtype));
  }
}

void MpiCommunicator::reduce_scatter(const void* send, void* recv, size_t recv_count, CommDType dtype, ReduceOp op) {
  const MPI_Datatype type = mpi_type(dtype);
  const MPI_Op mop = mpi_op(dtype, op);
  const size_t es = comm_dtype_size(dtype);
  if (recv_count <= max_chunk_) {
    const int rc = MPI_Reduce_scatter_block(send, recv, static_cast<int>(recv_count), type, mop, comm_);
    if (rc != MPI_SUCCESS) check_mpi(rc, what("MPI_Reduce_scatter_block") + " of " + std::to_string(recv_count) + " " + dtype_name(dtype) + " per rank");
    return;
  }
  // Chunk c of every block r sits at send + r · recv_count + c: not contiguous across blocks, and
  // MPI's predefined ops take no derived datatypes, so pack the slices side by side first.
  const size_t size = static_cast<size_t>(size_);
  staging_.resize(size * max_chunk_ * es);
  for (size_t off = 0; off < recv_count; off += max_chunk_) {
    const size_t n = std::min(max_chunk_, recv_count - off);
    for (size_t r = 0; r < size; ++r) {
      std::memcpy(staging_.data() + r * n * es, bytes(send) + (r * recv_count + off) * es, n * es);
    }
    const int rc = MPI_Reduce_scatter_block(staging_.data(), bytes(recv) + off * es, static_cast<int>(n), type, mop, comm_);
    if (rc != MPI_SUCCESS) check_mpi(rc, what("MPI_Reduce_scatter_block") + " of " + std::to_string(recv_count) + " " + dtype_name(dtype) + " per rank");
  }
}

void MpiCommunicator::all_gather(const void* send, void* recv, size_t send_count, CommDType dtype) {
  const MPI_Datatype type = mpi_type(dtype);
  const size_t es = comm_dtype_size(dtype);
  const bool in_place = send == bytes(recv) + static_cast<size_t>(rank_) * send_count * es;
  const auto fail = [&](int rc, const char* call) {
    check_mpi(rc, what(call) + " of " + std::to_string(send_count) + " " + dtype_name(dtype) + " per rank");
  };
  if (send_count <= max_chunk_) {
    const int n = static_cast<int>(send_count);
    const int rc = MPI_Allgather(in_place ? MPI_IN_PLACE : send, n, type, recv, n, type, comm_);
    if (rc != MPI_SUCCESS) fail(rc, "MPI_Allgather");
    return;
  }
  // Chunk c of each rank's block lands at recv + r · send_count + c: a receive datatype of n
  // elements whose extent is a whole block places the size() pieces without staging (gathers,
  // unlike reductions, accept derived datatypes).
  for (size_t off = 0; off < send_count; off += max_chunk_) {
    const size_t n = std::min(max_chunk_, send_count - off);
    MPI_Datatype piece = MPI_DATATYPE_NULL, block = MPI_DATATYPE_NULL;
    int rc = MPI_Type_contiguous(static_cast<int>(n), type, &piece);
    if (rc == MPI_SUCCESS) rc = MPI_Type_create_resized(piece, 0, static_cast<MPI_Aint>(send_count * es), &block);
    if (rc == MPI_SUCCESS) rc = MPI_Type_commit(&block);
    if (rc == MPI_SUCCESS) {
      rc = MPI_Allgather(in_place ? MPI_IN_PLACE : bytes(send) + off * es, static_cast<int>(n), type,
                         bytes(recv) + off * es, 1, block, comm_);
    }
    if (piece != MPI_DATATYPE_NULL) MPI_Type_free(&piece);
    if (block != MPI_DATATYPE_NULL) MPI_Type_free(&block);
    if (rc != MPI_SUCCESS) fail(rc, "MPI_Allgather (chunked)");
  }
}

void MpiCommunicator::broadcast(void* buf, size_t count, CommDType dtype, int root) {
  if (root < 0 || root >= size_) {
    throw DistError("broadcast on communicator '" + name_ + "': root " + std::to_string(root) +
                    " is not a rank of this group (size " + std::to_string(size_) + ")");
  }
  const MPI_Datatype type = mpi_type(dtype);
  const size_t es = comm_dtype_size(dtype);
  for (size_t off = 0; off < count; off += max_chunk_) {
    const int n = static_cast<int>(std::min(max_chunk_, count - off));
    const int rc = MPI_Bcast(bytes(buf) + off * es, n, type, root, comm_);
    if (rc != MPI_SUCCESS) check_mpi(rc, what("MPI_Bcast") + " of " + std::to_string(count) + " " + dtype_name(dtype) + " from rank " + std::to_string(root));
  }
}

void MpiCommunicator::barrier() {
  const int rc = MPI_Barrier(comm_);
  if (rc != MPI_SUCCESS) check_mpi(rc, what("MPI_Barrier"));
}

}  // namespace kiln
