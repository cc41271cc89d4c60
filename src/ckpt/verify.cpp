#include "ckpt/verify.h"

#include <cstdio>
#include <system_error>

#include "ckpt/checksum.h"
#include "ckpt/fs.h"

namespace kiln::ckpt {
namespace {

std::string hex32(uint32_t x) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", x);
  return buf;
}

}  // namespace

void verify_rank_file(const std::filesystem::path& checkpoint, const RankFileEntry& file,
                      std::span<const ArrayKind> arrays) {
  const std::filesystem::path path = checkpoint / file.file;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw CheckpointError(path.string() + ": missing file (listed in the manifest)");
  File f = open_for_reading(path);
  const uint64_t size = file_size(f);
  if (size != file.bytes)
    throw CheckpointError(path.string() + ": size mismatch: the manifest says " + std::to_string(file.bytes) +
                          " bytes, the file has " + std::to_string(size));
  for (ArrayKind k : arrays) {
    const ArrayEntry& a = file.arrays[static_cast<int>(k)];
    const uint32_t crc = crc32_of_file_range(f.fd(), path, a.offset, a.bytes);
    if (crc != a.crc32)
      throw CheckpointError(path.string() + ": checksum mismatch in array " + std::string(array_name(k)) +
                            " (bytes " + std::to_string(a.offset) + "–" + std::to_string(a.offset + a.bytes) +
                            "): crc32 " + hex32(crc) + ", the manifest says " + hex32(a.crc32));
  }
}

void verify_all_files(const std::filesystem::path& checkpoint, const Manifest& manifest) {
  static constexpr ArrayKind kAll[] = {ArrayKind::params, ArrayKind::masters, ArrayKind::m, ArrayKind::v};
  for (const RankFileEntry& f : manifest.files) verify_rank_file(checkpoint, f, kAll);
}

}  // namespace kiln::ckpt
