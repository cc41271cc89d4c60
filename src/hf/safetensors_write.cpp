// Writing .safetensors files (one, or shards with an index), each atomically.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "hf/safetensors.h"
#include "util/atomic_file.h"

namespace kiln::hf {
namespace {

[[noreturn]] void io_fail(const std::filesystem::path& path, const std::string& what) {
  throw SafetensorsError(path.string() + ": " + what + ": " + std::strerror(errno));
}

void write_all(int fd, const std::filesystem::path& path, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      io_fail(path, "write failed");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void fsync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // durability of the rename is best effort where the directory cannot be opened
  ::fsync(fd);         // EINVAL on filesystems without directory fsync: nothing better to do
  ::close(fd);
}

}  // namespace

void write_safetensors(const std::filesystem::path& path, const std::vector<SafetensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const SafetensorToWrite& t : tensors) {
    if (!seen.insert(t.name).second) throw SafetensorsError(path.string() + ": tensor '" + t.name + "' given twice");
    if (t.dtype != "F32" && t.dtype != "BF16")
      throw SafetensorsError(path.string() + ": tensor '" + t.name + "': kiln writes F32 or BF16, not " + t.dtype);
    uint64_t numel = 1;
    for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
    if (t.bytes.size() != numel * safetensors_dtype_size(t.dtype))
      throw SafetensorsError(path.string() + ": tensor '" + t.name + "' has " + std::to_string(t.bytes.size()) +
                             " bytes, its dtype and shape need " + std::to_string(numel * safetensors_dtype_size(t.dtype)));
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff);

  const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_fail(tmp, "cannot create");
  try {
    write_all(fd, tmp, len, 8);
    write_all(fd, tmp, text.data(), text.size());
    for (const SafetensorToWrite& t : tensors) write_all(fd, tmp, t.bytes.data(), t.bytes.size());
    if (::fsync(fd) != 0) io_fail(tmp, "fsync failed");
    if (::close(fd) != 0) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      io_fail(tmp, "close failed");
    }
  } catch (...) {
    ::close(fd);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    errno = e;
    io_fail(path, "cannot rename " + tmp.filename().string() + " into place");
  }
  fsync_dir(path.parent_path());
}

std::vector<std::filesystem::path> write_safetensors_dir(const std::filesystem::path& dir,
                                                         const std::vector<SafetensorToWrite>& tensors,
                                                         uint64_t max_shard_bytes,
                                                         const std::map<std::string, std::string>& metadata) {
  uint64_t total = 0;
  for (const SafetensorToWrite& t : tensors) total += t.bytes.size();
  if (max_shard_bytes == 0 || total <= max_shard_bytes) {
    const auto path = dir / "model.safetensors";
    write_safetensors(path, tensors, metadata);
    return {path};
  }
  // Greedy in order, as transformers' save_pretrained shards: a shard closes when the next tensor
  // would push it past the limit.
  std::vector<std::vector<SafetensorToWrite>> shards(1);
  uint64_t in_shard = 0;
  for (const SafetensorToWrite& t : tensors) {
    if (!shards.back().empty() && in_shard + t.bytes.size() > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(t);
    in_shard += t.bytes.size();
  }
  std::vector<std::filesystem::path> written;
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  auto five = [](size_t i) {
    std::string s = std::to_string(i);
    return std::string(s.size() < 5 ? 5 - s.size() : 0, '0') + s;
  };
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name = "model-" + five(i + 1) + "-of-" + five(shards.size()) + ".safetensors";
    write_safetensors(dir / name, shards[i], metadata);
    written.push_back(dir / name);
    for (const SafetensorToWrite& t : shards[i]) weight_map[t.name] = name;
  }
  nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  const auto index_path = dir / "model.safetensors.index.json";
  try {
    write_file_atomic(index_path, index.dump(2) + "\n");
  } catch (const std::runtime_error& e) {
    throw SafetensorsError(e.what());
  }
  written.push_back(index_path);
  return written;
}

}  // namespace kiln::hf
