// The OpenMP wait policy kiln runs with by default: PASSIVE, unless OMP_WAIT_POLICY is set.
//
// GNU OpenMP's default lets idle worker threads spin. On a dedicated machine that is 4-14%
// faster; on a small shared one (CI, a laptop, a GPU node whose cores the data loader needs) the
// spinning threads fight whatever else runs, and the CPU trainer collapsed: tiny-synthetic, 2
// threads on 2 cores beside one busy process, 6.3k tokens/s spinning against 13.9k passive (and
// 34.1k against 32.7k on the idle machine; docs/performance.md). libgomp reads its environment
// when it is loaded, before main, so the policy is set by re-executing kiln once with it.
#pragma once

namespace kiln::cli {

// Call first in main. Returns only when OMP_WAIT_POLICY was already set or the re-exec failed
// (then kiln runs with the runtime's default: the same results, only the speed differs).
void ensure_openmp_wait_policy(char** argv);

}  // namespace kiln::cli
