// Checksums of checkpoint arrays: CRC-32 (ISO-HDLC, the zlib / gzip / PNG polynomial 0x04C11DB7,
// reflected), computed by zlib. Well defined, so any tool (python's zlib.crc32, `crc32` of
// libarchive) can verify a rank file's array without kiln; and fast enough (several GB/s) that
// verifying costs less than reading the bytes from disk.
//
// CRC-32 detects every burst error of up to 32 bits and all but 2^-32 of the rest: it guards
// against torn writes, truncation and bit rot, not against deliberate tampering.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace kiln::ckpt {

// Incremental: crc32_update(crc32_update(0, a), b) == CRC-32 of a followed by b. Start from 0.
uint32_t crc32_update(uint32_t crc, std::span<const std::byte> data);

// The CRC-32 of bytes [offset, offset + length) of an open file (read with pread, in chunks).
// Throws CheckpointError naming `path` when the file ends early or a read fails.
uint32_t crc32_of_file_range(int fd, const std::filesystem::path& path, uint64_t offset, uint64_t length);

}  // namespace kiln::ckpt
