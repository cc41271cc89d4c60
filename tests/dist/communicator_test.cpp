// comm_dtype_size and SelfCommunicator: no MPI involved.
#include <gtest/gtest.h>

#include <vector>

#include "dist/communicator.h"
#include "tensor/bf16.h"

namespace kiln {
namespace {

TEST(CommDType, SizesMatchTheElementTypes) {
  EXPECT_EQ(comm_dtype_size(CommDType::fp32), sizeof(float));
  EXPECT_EQ(comm_dtype_size(CommDType::fp64), sizeof(double));
  EXPECT_EQ(comm_dtype_size(CommDType::bf16), sizeof(bf16));
  EXPECT_EQ(comm_dtype_size(CommDType::int32), sizeof(int32_t));
  EXPECT_EQ(comm_dtype_size(CommDType::int64), sizeof(int64_t));
  EXPECT_EQ(comm_dtype_size(CommDType::uint64), sizeof(uint64_t));
  EXPECT_EQ(comm_dtype_size(CommDType::byte), 1u);
}

TEST(SelfCommunicator, IsAGroupOfOne) {
  SelfCommunicator self("tp");
  EXPECT_EQ(self.rank(), 0);
  EXPECT_EQ(self.size(), 1);
  EXPECT_EQ(self.name(), "tp");
  std::vector<float> buf{1.5f, -2.f};
  self.all_reduce(buf.data(), buf.size(), CommDType::fp32, ReduceOp::sum);
  self.broadcast(buf.data(), buf.size(), CommDType::fp32, 0);
  self.barrier();
  EXPECT_EQ(buf, (std::vector<float>{1.5f, -2.f}));
}

TEST(SelfCommunicator, ReduceScatterAndAllGatherCopy) {
  SelfCommunicator self("dp");
  const std::vector<int64_t> send{7, -8, 9};
  std::vector<int64_t> recv(3, 0);
  self.reduce_scatter(send.data(), recv.data(), 3, CommDType::int64, ReduceOp::sum);
  EXPECT_EQ(recv, send);
  std::vector<int64_t> gathered(3, 0);
  self.all_gather(send.data(), gathered.data(), 3, CommDType::int64);
  EXPECT_EQ(gathered, send);
  self.all_gather(gathered.data(), gathered.data(), 3, CommDType::int64);  // in place
  EXPECT_EQ(gathered, send);
}

}  // namespace
}  // namespace kiln
