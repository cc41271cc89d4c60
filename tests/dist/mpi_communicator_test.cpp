// MpiCommunicator on MPI_COMM_WORLD: every collective and dtype against values computed locally.
// Runs at every world size the CTest entries use (1, 2, 4, 8 ranks).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "dist/mpi_communicator.h"
#include "dist/mpi_session.h"
#include "mpi_test_env.h"
#include "tensor/bf16.h"

namespace kiln {
namespace {

using test::world;

// Bits of a bf16 vector, for exact comparisons (bf16 has no operator==).
std::vector<uint16_t> bits(const std::vector<bf16>& v) {
  std::vector<uint16_t> out;
  for (bf16 x : v) out.push_back(x.bits);
  return out;
}

TEST(MpiCommunicator, DescribesTheWorld) {
  int rank = -1, size = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(world().rank(), rank);
  EXPECT_EQ(world().size(), size);
  EXPECT_EQ(world().name(), "world");
}

TEST(MpiCommunicator, AllReduceSumFp32IsExactOnIntegers) {
  const int r = world().rank(), n = world().size();
  std::vector<float> buf(1000);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<float>((r + 1) * static_cast<int>(i + 1));
  world().all_reduce(buf.data(), buf.size(), CommDType::fp32, ReduceOp::sum);
  for (size_t i = 0; i < buf.size(); ++i) {
    ASSERT_EQ(buf[i], static_cast<float>(static_cast<int>(i + 1) * n * (n + 1) / 2)) << "element " << i;
  }
}

TEST(MpiCommunicator, AllReduceMaxAndMinFp32) {
  const int r = world().rank(), n = world().size();
  std::vector<float> mx{static_cast<float>(r), -static_cast<float>(r), r == n - 1 ? 1e30f : 0.f};
  std::vector<float> mn = mx;
  world().all_reduce(mx.data(), mx.size(), CommDType::fp32, ReduceOp::max);
  world().all_reduce(mn.data(), mn.size(), CommDType::fp32, ReduceOp::min);
  EXPECT_EQ(mx, (std::vector<float>{static_cast<float>(n - 1), 0.f, 1e30f}));
  EXPECT_EQ(mn, (std::vector<float>{0.f, -static_cast<float>(n - 1), n == 1 ? 1e30f : 0.f}));
}

TEST(MpiCommunicator, AllReduceFp64) {
  const int r = world().rank(), n = world().size();
  std::vector<double> sum{0.5 * (r + 1), std::ldexp(1.0, 40) + r};
  std::vector<double> mx{-0.25 * r};
  world().all_reduce(sum.data(), sum.size(), CommDType::fp64, ReduceOp::sum);
  world().all_reduce(mx.data(), mx.size(), CommDType::fp64, ReduceOp::max);
  EXPECT_EQ(sum[0], 0.25 * n * (n + 1));
  EXPECT_EQ(sum[1], n * std::ldexp(1.0, 40) + n * (n - 1) / 2.0);
  EXPECT_EQ(mx[0], 0.0);
}

TEST(MpiCommunicator, AllReduceInt64BeyondThirtyTwoBits) {
  const int64_t r = world().rank(), n = world().size();
  const int64_t big = int64_t{1} << 40;
  std::vector<int64_t> sum{big + r, -big * (r + 1)};
  std::vector<int64_t> mx{big * r - 3}, mn{big * r - 3};
  world().all_reduce(sum.data(), sum.size(), CommDType::int64, ReduceOp::sum);
  world().all_reduce(mx.data(), 1, CommDType::int64, ReduceOp::max);
  world().all_reduce(mn.data(), 1, CommDType::int64, ReduceOp::min);
  EXPECT_EQ(sum[0], n * big + n * (n - 1) / 2);
  EXPECT_EQ(sum[1], -big * n * (n + 1) / 2);
  EXPECT_EQ(mx[0], big * (n - 1) - 3);
  EXPECT_EQ(mn[0], -3);
}

TEST(MpiCommunicator, AllReduceInt32AndUint64) {
  const int r = world().rank(), n = world().size();
  int32_t i = r + 1;
  uint64_t u = (uint64_t{1} << 63) >> r;  // distinct bits: the sum is their OR
  world().all_reduce(&i, 1, CommDType::int32, ReduceOp::sum);
  world().all_reduce(&u, 1, CommDType::uint64, ReduceOp::sum);
  EXPECT_EQ(i, n * (n + 1) / 2);
  uint64_t expect = 0;
  for (int k = 0; k < n; ++k) expect |= (uint64_t{1} << 63) >> k;
  EXPECT_EQ(u, expect);
}

// Small integers: every partial sum is exact in bf16 (≤ 256), so the result must equal the fp32
// reduction rounded, whatever order MPI combines the ranks in.
TEST(MpiCommunicator, AllReduceSumBf16MatchesFp32RoundedOnExactValues) {
  const int r = world().rank(), n = world().size();
  std::vector<bf16> buf(257);
  std::vector<float> ref(buf.size(), 0.f);
  for (size_t i = 0; i < buf.size(); ++i) {
    buf[i] = to_bf16(static_cast<float>((r + static_cast<int>(i)) % 7 - 3));
    for (int k = 0; k < n; ++k) ref[i] += static_cast<float>((k + static_cast<int>(i)) % 7 - 3);
  }
  world().all_reduce(buf.data(), buf.size(), CommDType::bf16, ReduceOp::sum);
  for (size_t i = 0; i < buf.size(); ++i) ASSERT_EQ(buf[i].bits, to_bf16(ref[i]).bits) << "element " << i;
}

// Rank 0 and rank 1 contribute a pair whose fp32 sum lies exactly halfway between two bf16
// values (or just above); the other ranks add zeros, which are exact. The result is the fp32
// sum rounded to nearest even: 1 + 2^-8 → 1, (1 + 2^-7) + 2^-8 → 1 + 2^-6, 1 + 3·2^-9 → 1 + 2^-7.
TEST(MpiCommunicator, AllReduceSumBf16RoundsToNearestEven) {
  if (world().size() < 2) GTEST_SKIP() << "needs two ranks";
  const int r = world().rank();
  const std::vector<float> a{1.f, 1.f + std::ldexp(1.f, -7), 1.f};
  const std::vector<float> b{std::ldexp(1.f, -8), std::ldexp(1.f, -8), 3 * std::ldexp(1.f, -9)};
  std::vector<bf16> buf(3, bf16{0});
  for (size_t i = 0; i < 3; ++i) {
    if (r == 0) buf[i] = to_bf16(a[i]);
    if (r == 1) buf[i] = to_bf16(b[i]);
    ASSERT_EQ(to_float(to_bf16(a[i])), a[i]);  // inputs are exact bf16 values
    ASSERT_EQ(to_float(to_bf16(b[i])), b[i]);
  }
  world().all_reduce(buf.data(), buf.size(), CommDType::bf16, ReduceOp::sum);
  EXPECT_EQ(to_float(buf[0]), 1.f);
  EXPECT_EQ(to_float(buf[1]), 1.f + std::ldexp(1.f, -6));
  EXPECT_EQ(to_float(buf[2]), 1.f + std::ldexp(1.f, -7));
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(buf[i].bits, to_bf16(a[i] + b[i]).bits) << "element " << i;
}

// Random values: n − 1 pairwise roundings, each off by at most half a bf16 ulp (2^-8 relative) of
// a partial sum bounded by Σ|x|; the result is also identical on every rank and on a repeat.
TEST(MpiCommunicator, AllReduceSumBf16RandomIsCloseAndDeterministic) {
  const int r = world().rank(), n = world().size();
  const size_t count = 4096;
  std::vector<std::vector<bf16>> inputs(static_cast<size_t>(n), std::vector<bf16>(count));
  for (int k = 0; k < n; ++k) {
    std::mt19937 gen(1234 + k);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    for (auto& x : inputs[static_cast<size_t>(k)]) x = to_bf16(dist(gen));
  }
  std::vector<bf16> first = inputs[static_cast<size_t>(r)], second = inputs[static_cast<size_t>(r)];
  world().all_reduce(first.data(), count, CommDType::bf16, ReduceOp::sum);
  world().all_reduce(second.data(), count, CommDType::bf16, ReduceOp::sum);
  EXPECT_EQ(bits(first), bits(second)) << "the same reduction twice gave different bits";
  for (size_t i = 0; i < count; ++i) {
    float sum = 0.f, abs_sum = 0.f;
    for (int k = 0; k < n; ++k) {
      sum += to_float(inputs[static_cast<size_t>(k)][i]);
      abs_sum += std::fabs(to_float(inputs[static_cast<size_t>(k)][i]));
    }
    const float bound = static_cast<float>(n) * std::ldexp(abs_sum, -8);
    ASSERT_LE(std::fabs(to_float(first[i]) - to_float(to_bf16(sum))), bound) << "element " << i;
  }
  std::vector<bf16> everyone(count * static_cast<size_t>(n));
  world().all_gather(first.data(), everyone.data(), count, CommDType::bf16);
  for (int k = 0; k < n; ++k) {
    EXPECT_EQ(std::memcmp(everyone.data() + static_cast<size_t>(k) * count, first.data(), count * sizeof(bf16)), 0)
        << "rank " << k << " holds a different reduction result";
  }
}

TEST(MpiCommunicator, AllReduceMaxMinBf16) {
  const int r = world().rank(), n = world().size();
  std::vector<bf16> mx{to_bf16(static_cast<float>(r) - 0.5f), to_bf16(-static_cast<float>(r))};
  std::vector<bf16> mn = mx;
  world().all_reduce(mx.data(), 2, CommDType::bf16, ReduceOp::max);
  world().all_reduce(mn.data(), 2, CommDType::bf16, ReduceOp::min);
  EXPECT_EQ(to_float(mx[0]), static_cast<float>(n - 1) - 0.5f);
  EXPECT_EQ(to_float(mx[1]), 0.f);
  EXPECT_EQ(to_float(mn[0]), -0.5f);
  EXPECT_EQ(to_float(mn[1]), -static_cast<float>(n - 1));
}

TEST(MpiCommunicator, AllReduceMaxBf16PropagatesNaN) {
  const int r = world().rank(), n = world().size();
  bf16 x = r == n - 1 ? to_bf16(std::numeric_limits<float>::quiet_NaN()) : to_bf16(static_cast<float>(r));
  world().all_reduce(&x, 1, CommDType::bf16, ReduceOp::max);
  EXPECT_TRUE(std::isnan(to_float(x)));
}

// send block b on rank r holds f(r, b, j); rank r receives Σ_k f(k, r, j).
TEST(MpiCommunicator, ReduceScatterSumFp32AndInt64) {
  const int r = world().rank(), n = world().size();
  const size_t count = 33;
  const auto f = [](int k, int b, size_t j) { return 1000 * k + 10 * b + static_cast<int>(j); };
  std::vector<float> send(count * static_cast<size_t>(n)), recv(count, -1.f);
  std::vector<int64_t> isend(send.size()), irecv(count, -1);
  for (int b = 0; b < n; ++b) {
    for (size_t j = 0; j < count; ++j) {
      send[static_cast<size_t>(b) * count + j] = static_cast<float>(f(r, b, j));
      isend[static_cast<size_t>(b) * count + j] = (int64_t{1} << 35) * f(r, b, j);
    }
  }
  world().reduce_scatter(send.data(), recv.data(), count, CommDType::fp32, ReduceOp::sum);
  world().reduce_scatter(isend.data(), irecv.data(), count, CommDType::int64, ReduceOp::sum);
  for (size_t j = 0; j < count; ++j) {
    int expect = 0;
    for (int k = 0; k < n; ++k) expect += f(k, r, j);
    EXPECT_EQ(recv[j], static_cast<float>(expect)) << "element " << j;
    EXPECT_EQ(irecv[j], (int64_t{1} << 35) * expect) << "element " << j;
  }
}

TEST(MpiCommunicator, ReduceScatterBf16SumAndMax) {
  const int r = world().rank(), n = world().size();
  const size_t count = 16;
  std::vector<bf16> send(count * static_cast<size_t>(n)), sum(count), mx(count);
  for (int b = 0; b < n; ++b) {
    for (size_t j = 0; j < count; ++j) send[static_cast<size_t>(b) * count + j] = to_bf16(static_cast<float>(r + b) - 4.f);
  }
  world().reduce_scatter(send.data(), sum.data(), count, CommDType::bf16, ReduceOp::sum);
  world().reduce_scatter(send.data(), mx.data(), count, CommDType::bf16, ReduceOp::max);
  float expect = 0.f;
  for (int k = 0; k < n; ++k) expect += static_cast<float>(k + r) - 4.f;
  for (size_t j = 0; j < count; ++j) {
    EXPECT_EQ(to_float(sum[j]), expect);
    EXPECT_EQ(to_float(mx[j]), static_cast<float>(n - 1 + r) - 4.f);
  }
}

TEST(MpiCommunicator, AllGatherPlacesBlockRAtRankR) {
  const int r = world().rank(), n = world().size();
  const size_t count = 5;
  std::vector<double> send(count), recv(count * static_cast<size_t>(n), -1.0);
  for (size_t j = 0; j < count; ++j) send[j] = 100.0 * r + static_cast<double>(j);
  world().all_gather(send.data(), recv.data(), count, CommDType::fp64);
  for (int k = 0; k < n; ++k) {
    for (size_t j = 0; j < count; ++j) EXPECT_EQ(recv[static_cast<size_t>(k) * count + j], 100.0 * k + static_cast<double>(j));
  }
}

TEST(MpiCommunicator, AllGatherInPlace) {
  const int r = world().rank(), n = world().size();
  const size_t count = 3;
  std::vector<int32_t> buf(count * static_cast<size_t>(n), -7);
  int32_t* mine = buf.data() + static_cast<size_t>(r) * count;
  for (size_t j = 0; j < count; ++j) mine[j] = 10 * r + static_cast<int32_t>(j);
  world().all_gather(mine, buf.data(), count, CommDType::int32);
  for (int k = 0; k < n; ++k) {
    for (size_t j = 0; j < count; ++j) EXPECT_EQ(buf[static_cast<size_t>(k) * count + j], 10 * k + static_cast<int32_t>(j));
  }
}

TEST(MpiCommunicator, AllGatherBytes) {
  const int r = world().rank(), n = world().size();
  const char mine[2] = {static_cast<char>('a' + r), '!'};
  std::vector<char> all(2 * static_cast<size_t>(n));
  world().all_gather(mine, all.data(), 2, CommDType::byte);
  for (int k = 0; k < n; ++k) {
    EXPECT_EQ(all[2 * static_cast<size_t>(k)], 'a' + k);
    EXPECT_EQ(all[2 * static_cast<size_t>(k) + 1], '!');
  }
}

TEST(MpiCommunicator, BroadcastFromEveryRoot) {
  const int r = world().rank(), n = world().size();
  for (int root = 0; root < n; ++root) {
    std::vector<float> buf(7, -1.f);
    std::vector<bf16> hbuf(4, bf16{0});
    if (r == root) {
      for (size_t j = 0; j < buf.size(); ++j) buf[j] = static_cast<float>(root * 10 + static_cast<int>(j));
      for (size_t j = 0; j < hbuf.size(); ++j) hbuf[j] = to_bf16(static_cast<float>(root) + 0.5f);
    }
    world().broadcast(buf.data(), buf.size(), CommDType::fp32, root);
    world().broadcast(hbuf.data(), hbuf.size(), CommDType::bf16, root);
    for (size_t j = 0; j < buf.size(); ++j) EXPECT_EQ(buf[j], static_cast<float>(root * 10 + static_cast<int>(j))) << "root " << root;
    for (size_t j = 0; j < hbuf.size(); ++j) EXPECT_EQ(to_float(hbuf[j]), static_cast<float>(root) + 0.5f) << "root " << root;
  }
  world().barrier();
}

// max_chunk = 3 forces the splitting that counts above INT_MAX take, on small buffers: the
// results must match the unsplit calls.
TEST(MpiCommunicator, ChunkedCallsMatchUnchunked) {
  const int r = world().rank(), n = world().size();
  MpiCommunicator chunked(MPI_COMM_WORLD, "world-chunked", 3);
  const auto un = static_cast<size_t>(n);

  std::vector<float> a(10), b;
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(r * 7 + static_cast<int>(i));
  b = a;
  world().all_reduce(a.data(), a.size(), CommDType::fp32, ReduceOp::sum);
  chunked.all_reduce(b.data(), b.size(), CommDType::fp32, ReduceOp::sum);
  EXPECT_EQ(a, b);

  const size_t rc = 7;
  std::vector<bf16> send(rc * un), recv1(rc), recv2(rc);
  for (size_t i = 0; i < send.size(); ++i) send[i] = to_bf16(static_cast<float>((r + static_cast<int>(i)) % 5));
  world().reduce_scatter(send.data(), recv1.data(), rc, CommDType::bf16, ReduceOp::sum);
  chunked.reduce_scatter(send.data(), recv2.data(), rc, CommDType::bf16, ReduceOp::sum);
  EXPECT_EQ(bits(recv1), bits(recv2));

  const size_t gc = 8;
  std::vector<int64_t> mine(gc), g1(gc * un), g2(gc * un, -1);
  for (size_t j = 0; j < gc; ++j) mine[j] = 100 * r + static_cast<int64_t>(j);
  world().all_gather(mine.data(), g1.data(), gc, CommDType::int64);
  chunked.all_gather(mine.data(), g2.data(), gc, CommDType::int64);
  EXPECT_EQ(g1, g2);
  std::vector<int64_t> g3(gc * un, -1);
  std::copy(mine.begin(), mine.end(), g3.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(r) * gc));
  chunked.all_gather(g3.data() + static_cast<size_t>(r) * gc, g3.data(), gc, CommDType::int64);
  EXPECT_EQ(g1, g3);

  std::vector<double> c(11, 0.0);
  if (r == n - 1) {
    for (size_t i = 0; i < c.size(); ++i) c[i] = 0.5 * static_cast<double>(i);
  }
  chunked.broadcast(c.data(), c.size(), CommDType::fp64, n - 1);
  for (size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i], 0.5 * static_cast<double>(i));
}

TEST(MpiCommunicator, RefusesWhatItCannotDo) {
  std::vector<std::byte> buf(4);
  EXPECT_THROW(world().all_reduce(buf.data(), 4, CommDType::byte, ReduceOp::sum), DistError);
  EXPECT_THROW(world().broadcast(buf.data(), 4, CommDType::byte, world().size()), DistError);
  EXPECT_THROW(MpiCommunicator(MPI_COMM_WORLD, "bad", 0), DistError);
}

TEST(MpiErrors, CheckMpiUsesMpiErrorText) {
  EXPECT_NO_THROW(check_mpi(MPI_SUCCESS, "MPI_Barrier"));
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(MPI_ERR_COUNT, text, &length);
  try {
    check_mpi(MPI_ERR_COUNT, "MPI_Allreduce on communicator 'tp'");
    ADD_FAILURE() << "no DistError";
  } catch (const DistError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("MPI_Allreduce on communicator 'tp' failed: "), std::string::npos) << what;
    EXPECT_NE(what.find(std::string(text, static_cast<size_t>(length))), std::string::npos) << what;
  }
}

TEST(MpiSession, IsActiveAndRefusesASecondSession) {
  EXPECT_TRUE(MpiSession::active());
  EXPECT_THROW(MpiSession(), DistError);
}

}  // namespace
}  // namespace kiln
