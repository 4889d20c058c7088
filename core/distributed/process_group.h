#pragma once
// One worker's membership of a distributed job on PyTorch's own c10d: a TCPStore rendezvous at MASTER_ADDR:
// MASTER_PORT (rank 0 serves it), then ProcessGroupGloo on the CPU or ProcessGroupNCCL on CUDA (when the LibTorch
// build has it). Collectives, the job's key-value store for small messages, and failure reports that name the
// ranks that stopped answering.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/distributed/environment.h"

namespace rkd::dist {

/// A collective that is still in flight.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  /// Blocks until it is done; throws CollectiveError when it failed (a rank died, the timeout passed).
  virtual void wait() = 0;
};

/// A collective failed: another rank is gone or did not answer within the timeout.
class CollectiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ProcessGroup {
 public:
  /// Joins the job described by `env`: the rendezvous only (rank 0 serves the store, the others connect, every
  /// rank checks in). Throws InputError (exit 2) when MASTER_PORT is in use, rank 0 cannot be reached, a RANK
  /// arrives twice or fewer than WORLD_SIZE workers join within the timeout; each message says what to set.
  static std::shared_ptr<ProcessGroup> join(const Environment& env);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return m_env.rank; }
  int size() const { return m_env.worldSize; }
  bool primary() const { return m_env.rank == 0; }
  const Environment& environment() const { return m_env; }

  /// Creates the collective backend for tensors on `device` (every rank calls it at the same point): Gloo for
  /// the CPU, NCCL for CUDA when it is built in (else Gloo through host memory). Called again with the same
  /// kind of device it keeps the backend.
  void useDevice(const torch::Device& device);
  /// "gloo" or "nccl"; empty before useDevice.
  const std::string& backend() const { return m_backend; }
  /// Where collective tensors live: the CPU for Gloo, this rank's GPU for NCCL.
  const torch::Device& device() const { return m_device; }

  /// Sums `tensor` over every rank, in place (blocking); any device (staged through device() when needed).
  void allReduceSum(torch::Tensor& tensor);
  /// Starts a sum all-reduce of `tensor` (on device()) in place; wait() before reading it.
  std::unique_ptr<PendingCollective> allReduceSumAsync(torch::Tensor& tensor);
  /// Copies root's tensors into every rank's (same shapes), in place (blocking).
  void broadcast(std::vector<torch::Tensor>& tensors, int root = 0);

  /// Small messages through the rendezvous store: set on one rank, read (waiting up to the timeout) on others.
  void publish(const std::string& key, const std::string& value);
  std::string receive(const std::string& key);
  /// The next number of a series of messages this job's ranks exchange in the same order (0, 1, 2, ...): every
  /// rank that takes one per exchange agrees on the keys without sending the number.
  int64_t takeMessageNumber() { return m_messageNumber++; }

  /// After a collective failed with `error`: reports this rank's failure to the others and, on rank 0, waits a
  /// few seconds for their reports. Returns one sentence naming the ranks that did not report (their process
  /// ended or hangs). Never throws.
  std::string failureReport(const std::string& error);

 private:
  struct Impl;
  explicit ProcessGroup(Environment env);
  Environment m_env;
  std::string m_backend;
  torch::Device m_device = torch::kCPU;
  std::unique_ptr<Impl> m_impl;
  std::atomic<int64_t> m_messageNumber{0};
};

/// This process's group when it is a worker of a distributed job; null otherwise.
std::shared_ptr<ProcessGroup> current();
/// Sets (or clears, with null) the process's group.
void setCurrent(std::shared_ptr<ProcessGroup> group);

/// True when NCCL was compiled in (a LibTorch build with it, on the GPU machine).
bool ncclAvailable();

}  // namespace rkd::dist
