// Start-up checks that every rank runs the same thing: the same resolved config, the same binary.
//
// Ranks that disagree (one node with a stale binary, a --set given to one rank only, a config
// file edited between launches on a shared file system) would otherwise train silently wrong or
// hang in mismatched collectives. Each check is one 8-byte all_gather per rank.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dist/communicator.h"

namespace kiln {

// 64-bit FNV-1a of `text`: a fingerprint, not a cryptographic hash. Fixed by this definition, not
// by the standard library's std::hash, so two different builds agree on equal text.
uint64_t fingerprint(std::string_view text);

// Every rank fingerprints `text` and the fingerprints are all-gathered over `world`. When any
// rank's fingerprint differs from rank 0's, every rank throws DistError naming `what` and the
// ranks that differ, e.g. "resolved config differs across ranks: ranks 2, 5 (of 8) differ from
// rank 0". Collective over `world`: every rank calls it, with the same `what`.
void check_same_everywhere(Communicator& world, const std::string& what, const std::string& text);

// What identifies this executable for check_same_everywhere: the size and fingerprint of the
// file /proc/self/exe names (so a rebuilt binary with the same version string still differs).
// Callers add the version, git describe and compiler (sysinfo's build_info) for readability.
// Throws DistError when /proc/self/exe cannot be read.
std::string executable_fingerprint();

}  // namespace kiln
