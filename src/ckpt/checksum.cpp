#include "ckpt/checksum.h"

#include <zlib.h>

#include <algorithm>
#include <vector>

#include "ckpt/fs.h"

namespace kiln::ckpt {

uint32_t crc32_update(uint32_t crc, std::span<const std::byte> data) {
  // crc32_z takes a size_t length, so no 4 GiB chunking is needed here.
  return static_cast<uint32_t>(
      ::crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<z_size_t>(data.size())));
}

uint32_t crc32_of_file_range(int fd, const std::filesystem::path& path, uint64_t offset, uint64_t length) {
  constexpr uint64_t kChunk = uint64_t{8} << 20;  // large enough to stream at disk speed, small enough to not matter
  std::vector<std::byte> buf(static_cast<size_t>(std::min(kChunk, std::max<uint64_t>(length, 1))));
  uint32_t crc = 0;
  while (length > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(length, buf.size()));
    read_exact_at(fd, path, {buf.data(), n}, offset);
    crc = crc32_update(crc, {buf.data(), n});
    offset += n;
    length -= n;
  }
  return crc;
}

}  // namespace kiln::ckpt
