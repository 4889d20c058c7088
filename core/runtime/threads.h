#pragma once
#include <cstdint>
#include <functional>

namespace rkd {

/// Sets LibTorch's intra-op thread count: every core when `requested` is 0 (Debian's LibTorch starts with
/// one), else `requested`. Throws rkd::InputError for a negative count or one above this machine's cores.
/// Returns the count now in use.
int useThreads(int requested);

/// Runs fn(begin, end, worker) over [0, n) cut into at most at::get_num_threads() contiguous chunks (never
/// more than n): chunk 0 on the calling thread, the others on their own std::threads; returns when all are
/// done and rethrows the first exception of any chunk. `worker` is the chunk's number, for per-worker buffers.
/// For the engine's own CPU kernels: the project is built without OpenMP, and at::parallel_for compiled in
/// such a translation unit runs serially.
void parallelChunks(int64_t n, const std::function<void(int64_t begin, int64_t end, int worker)>& fn);

/// How many chunks parallelChunks(n, ...) uses.
int parallelChunkCount(int64_t n);

/// Keeps memory that the process frees for its next allocations instead of handing it back to the kernel
/// (glibc: no mmap'd chunks, trim only above 2 GiB, one arena for all threads). A training step allocates the
/// same large tensors every step (a 128 x 64 x 32 x 32 float map is exactly 32 MiB, at glibc's largest mmap
/// threshold, so it is mapped and unmapped each time); without this, every step pays the page faults of
/// touching them afresh. One arena: a thread's own arena gives its freed heaps back regardless, so the studio's
/// training thread kept paying them (measured: 0.88 of the headless speed instead of 0.97). The arena count
/// only binds threads that allocate for the first time afterwards: call this first thing in main(), before any
/// thread starts. TrainingStep calls it too (for library users). The process keeps its peak footprint.
/// Idempotent; a no-op off glibc.
void retainFreedMemory();

}  // namespace rkd
