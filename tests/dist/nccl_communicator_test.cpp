// NcclCommunicator against MpiCommunicator on the same values (CUDA builds with NCCL only).
// NCCL needs one GPU per rank: when this node has fewer GPUs than local ranks (CI has none) every
// test skips, on every rank alike, so the executable still proves that the NCCL code links.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <memory>
#include <vector>

#include "dist/fail_fast.h"
#include "dist/nccl_communicator.h"
#include "mpi_test_env.h"
#include "tensor/bf16.h"

namespace kiln {
namespace {

using test::world;

// Device memory holding a copy of a host vector; copied back with to_host().
template <typename T>
struct DeviceVector {
  T* ptr = nullptr;
  size_t n = 0;
  explicit DeviceVector(const std::vector<T>& host) : n(host.size()) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&ptr), n * sizeof(T)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceVector() { cudaFree(ptr); }
  std::vector<T> to_host() const {
    std::vector<T> host(n);
    EXPECT_EQ(cudaMemcpy(host.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return host;
  }
};

class Nccl : public ::testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm node = MPI_COMM_NULL;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world().rank(), MPI_INFO_NULL, &node);
    int local_rank = 0, local_size = 1, devices = 0;
    MPI_Comm_rank(node, &local_rank);
    MPI_Comm_size(node, &local_size);
    MPI_Comm_free(&node);
    if (cudaGetDeviceCount(&devices) != cudaSuccess) devices = 0;
    if (any_rank(world(), devices < local_size)) {
      GTEST_SKIP() << "needs one GPU per rank on this node (" << devices << " GPUs, " << local_size << " ranks)";
    }
    ASSERT_EQ(cudaSetDevice(local_rank), cudaSuccess);
    ASSERT_EQ(cudaStreamCreate(&stream_), cudaSuccess);
    nccl_ = std::make_unique<NcclCommunicator>(world(), stream_);
  }
  void TearDown() override {
    nccl_.reset();
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  cudaStream_t stream_ = nullptr;
  std::unique_ptr<NcclCommunicator> nccl_;
};

TEST_F(Nccl, HasTheBootstrapGroupsRanks) {
  EXPECT_EQ(nccl_->rank(), world().rank());
  EXPECT_EQ(nccl_->size(), world().size());
  EXPECT_EQ(nccl_->name(), "world");
  nccl_->barrier();
}

TEST_F(Nccl, AllReduceMatchesMpi) {
  const int r = world().rank();
  std::vector<float> host(1000);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((r + 1) * static_cast<int>(i % 17));
  DeviceVector<float> dev(host);
  nccl_->all_reduce(dev.ptr, dev.n, CommDType::fp32, ReduceOp::sum);
  nccl_->synchronize();
  world().all_reduce(host.data(), host.size(), CommDType::fp32, ReduceOp::sum);
  EXPECT_EQ(dev.to_host(), host);

  std::vector<bf16> h16(64);
  for (size_t i = 0; i < h16.size(); ++i) h16[i] = to_bf16(static_cast<float>(r) - static_cast<float>(i % 5));
  DeviceVector<bf16> d16(h16);
  nccl_->all_reduce(d16.ptr, d16.n, CommDType::bf16, ReduceOp::max);
  nccl_->synchronize();
  world().all_reduce(h16.data(), h16.size(), CommDType::bf16, ReduceOp::max);
  const std::vector<bf16> got = d16.to_host();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].bits, h16[i].bits) << "element " << i;
}

TEST_F(Nccl, ReduceScatterAllGatherBroadcast) {
  const int r = world().rank(), n = world().size();
  const size_t count = 8;
  std::vector<float> send(count * static_cast<size_t>(n));
  for (size_t i = 0; i < send.size(); ++i) send[i] = static_cast<float>(r * 100 + static_cast<int>(i));
  DeviceVector<float> dsend(send), drecv(std::vector<float>(count, -1.f));
  nccl_->reduce_scatter(dsend.ptr, drecv.ptr, count, CommDType::fp32, ReduceOp::sum);
  std::vector<float> recv(count);
  world().reduce_scatter(send.data(), recv.data(), count, CommDType::fp32, ReduceOp::sum);
  nccl_->synchronize();
  EXPECT_EQ(drecv.to_host(), recv);

  std::vector<int64_t> blocks(count * static_cast<size_t>(n), -1);
  for (size_t j = 0; j < count; ++j) blocks[static_cast<size_t>(r) * count + j] = 1000 * r + static_cast<int64_t>(j);
  DeviceVector<int64_t> dblocks(blocks);
  nccl_->all_gather(dblocks.ptr + static_cast<size_t>(r) * count, dblocks.ptr, count, CommDType::int64);  // in place
  world().all_gather(blocks.data() + static_cast<size_t>(r) * count, blocks.data(), count, CommDType::int64);
  nccl_->synchronize();
  EXPECT_EQ(dblocks.to_host(), blocks);

  for (int root = 0; root < n; ++root) {
    DeviceVector<double> d(std::vector<double>(5, r == root ? 0.5 * root : -1.0));
    nccl_->broadcast(d.ptr, d.n, CommDType::fp64, root);
    nccl_->synchronize();
    EXPECT_EQ(d.to_host(), std::vector<double>(5, 0.5 * root)) << "root " << root;
  }
}

}  // namespace
}  // namespace kiln
