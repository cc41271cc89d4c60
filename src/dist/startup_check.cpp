// check_same_everywhere and the executable's fingerprint.
#include "dist/startup_check.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint64_t fnv1a(uint64_t h, const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= kFnvPrime;
  }
  return h;
}

}  // namespace

uint64_t fingerprint(std::string_view text) { return fnv1a(kFnvOffset, text.data(), text.size()); }

void check_same_everywhere(Communicator& world, const std::string& what, const std::string& text) {
  const uint64_t mine = fingerprint(text);
  std::vector<uint64_t> all(static_cast<size_t>(world.size()));
  world.all_gather(&mine, all.data(), 1, CommDType::uint64);
  std::vector<int> differ;
  for (size_t r = 1; r < all.size(); ++r) {
    if (all[r] != all[0]) differ.push_back(static_cast<int>(r));
  }
  if (differ.empty()) return;
  // Every rank holds the same gathered array, so every rank builds this same message and throws.
  std::string prints = fmt::format("rank 0 {:016x}", all[0]);
  constexpr size_t kShown = 8;
  for (size_t i = 0; i < differ.size() && i < kShown; ++i) {
    prints += fmt::format(", rank {} {:016x}", differ[i], all[static_cast<size_t>(differ[i])]);
  }
  if (differ.size() > kShown) prints += ", …";
  throw DistError(fmt::format("{} differs across ranks: rank{} {} (of {}) differ{} from rank 0 (fingerprints: {}); "
                              "start every rank with the same binary, config and command line",
                              what, differ.size() > 1 ? "s" : "", fmt::join(differ, ", "), world.size(),
                              differ.size() > 1 ? "" : "s", prints));
}

std::string executable_fingerprint() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  if (!in) throw DistError(std::string("cannot open /proc/self/exe to fingerprint this binary: ") + std::strerror(errno));
  uint64_t h = kFnvOffset;
  uint64_t size = 0;
  std::vector<char> chunk(1 << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto n = static_cast<size_t>(in.gcount());
    h = fnv1a(h, chunk.data(), n);
    size += n;
  }
  if (in.bad()) throw DistError("reading /proc/self/exe to fingerprint this binary failed");
  return fmt::format("executable {} bytes, fingerprint {:016x}", size, h);
}

}  // namespace kiln
