// c10d needs these defined before its headers declare the backends (Debian's LibTorch is built with Gloo).
#if defined(REVIEWKD_HAVE_GLOO) && !defined(USE_C10D_GLOO)
#define USE_C10D_GLOO
#endif
#if defined(REVIEWKD_HAVE_NCCL) && !defined(USE_C10D_NCCL)
#define USE_C10D_NCCL
#endif
#include "core/distributed/process_group.h"

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#ifdef REVIEWKD_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef REVIEWKD_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "core/common/errors.h"
#include "core/common/logging.h"

namespace rkd::dist {
namespace {

std::mutex g_currentMutex;
std::shared_ptr<ProcessGroup> g_current;

std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string seconds(std::chrono::milliseconds t) { return std::to_string(t.count() / 1000) + " s"; }

bool loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

class PendingWork : public PendingCollective {
 public:
  explicit PendingWork(c10::intrusive_ptr<c10d::Work> work) : m_work(std::move(work)) {}
  void wait() override {
    try {
      m_work->wait();
    } catch (const std::exception& e) {
      throw CollectiveError(firstLine(e.what()));
    }
  }

 private:
  c10::intrusive_ptr<c10d::Work> m_work;
};

// The collectives of one c10d backend (ProcessGroupGloo or ProcessGroupNCCL: the same calls in LibTorch 1.13
// and 2.x, where one derives from ProcessGroup and the other from Backend).
struct Collectives {
  virtual ~Collectives() = default;
  virtual c10::intrusive_ptr<c10d::Work> allreduce(std::vector<torch::Tensor>& t) = 0;
  virtual c10::intrusive_ptr<c10d::Work> broadcast(std::vector<torch::Tensor>& t, const c10d::BroadcastOptions& o) = 0;
};

template <class Backend>
struct CollectivesOf : Collectives {
  explicit CollectivesOf(c10::intrusive_ptr<Backend> pg) : pg(std::move(pg)) {}
  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<torch::Tensor>& t) override { return pg->allreduce(t); }
  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<torch::Tensor>& t, const c10d::BroadcastOptions& o) override {
    return pg->broadcast(t, o);
  }
  c10::intrusive_ptr<Backend> pg;
};

// Rank 0 serves the store; the others connect to it. Then every rank checks in once, and all wait for WORLD_SIZE.
c10::intrusive_ptr<c10d::Store> rendezvous(const Environment& env) {
  const std::string where = env.masterAddr + ":" + std::to_string(env.masterPort);
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(env.masterPort);
  o.isServer = env.primary();
  o.numWorkers = c10::nullopt;
  o.waitWorkers = false;
  o.timeout = env.timeout;
  c10::intrusive_ptr<c10d::TCPStore> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(env.masterAddr, o);
  } catch (const std::exception& e) {
    const std::string why = firstLine(e.what());
    if (env.primary())
      throw InputError("rank 0 cannot serve the rendezvous store at " + where + ": " + why,
                       why.find("in use") != std::string::npos || why.find("EADDRINUSE") != std::string::npos
                           ? "MASTER_PORT " + std::to_string(env.masterPort) +
                                 " is in use on this host: set MASTER_PORT (reviewkd launch --master-port) to a free port"
                           : "set MASTER_ADDR to an address of this host and MASTER_PORT to a free port");
    throw InputError("rank " + std::to_string(env.rank) + " could not reach rank 0's store at " + where + " within " +
                         seconds(env.timeout) + ": " + why,
                     "start rank 0 with the same MASTER_ADDR and MASTER_PORT, and check that this host can reach it");
  }
  const std::string me = "rkd/join/rank" + std::to_string(env.rank);
  if (store->add(me, 1) > 1)
    throw InputError("two workers of this job have RANK=" + std::to_string(env.rank),
                     "give every worker its own RANK from 0 to WORLD_SIZE-1 (torchrun and reviewkd launch do)");
  store->add("rkd/joined", 1);
  const auto deadline = std::chrono::steady_clock::now() + env.timeout;
  int64_t joined = 0;
  while ((joined = store->add("rkd/joined", 0)) < env.worldSize) {
    if (std::chrono::steady_clock::now() > deadline)
      throw InputError("WORLD_SIZE is " + std::to_string(env.worldSize) + " but only " + std::to_string(joined) +
                           " worker" + (joined == 1 ? "" : "s") + " joined within " + seconds(env.timeout),
                       "start WORLD_SIZE workers (nproc-per-node x nnodes), or set WORLD_SIZE to the number you start");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (joined > env.worldSize)
    throw InputError("WORLD_SIZE is " + std::to_string(env.worldSize) + " but " + std::to_string(joined) +
                         " workers joined", "set WORLD_SIZE to the number of workers you start");
  return store;
}

}  // namespace

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  std::unique_ptr<Collectives> collectives;
  int generation = 0;  // backends created so far (each gets its own store prefix)
};

ProcessGroup::ProcessGroup(Environment env) : m_env(std::move(env)), m_impl(std::make_unique<Impl>()) {}
ProcessGroup::~ProcessGroup() = default;

std::shared_ptr<ProcessGroup> ProcessGroup::join(const Environment& env) {
  std::shared_ptr<ProcessGroup> group(new ProcessGroup(env));
  group->m_impl->store = rendezvous(env);
  return group;
}

void ProcessGroup::useDevice(const torch::Device& device) {
  const bool nccl = device.is_cuda() && ncclAvailable();
  const std::string wanted = nccl ? "nccl" : "gloo";
  if (m_impl->collectives && wanted == m_backend && (!nccl || device == m_device)) return;
  auto prefixed =
      c10::make_intrusive<c10d::PrefixStore>("rkd/pg" + std::to_string(m_impl->generation++), m_impl->store);
#ifdef REVIEWKD_HAVE_NCCL
  if (nccl) {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = m_env.timeout;
    auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, m_env.rank, m_env.worldSize, options);
    m_impl->collectives = std::make_unique<CollectivesOf<c10d::ProcessGroupNCCL>>(pg);
    m_backend = "nccl";
    m_device = device;
    return;
  }
#endif
#ifdef REVIEWKD_HAVE_GLOO
  auto options = c10d::ProcessGroupGloo::Options::create(m_env.timeout);
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (loopback(m_env.masterAddr))
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  options->threads = 2;
  try {
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, m_env.rank, m_env.worldSize, options);
    m_impl->collectives = std::make_unique<CollectivesOf<c10d::ProcessGroupGloo>>(pg);
  } catch (const std::exception& e) {
    throw InputError("rank " + std::to_string(m_env.rank) + ": Gloo could not connect the ranks: " + firstLine(e.what()),
                     "check that every host can reach the others (GLOO_SOCKET_IFNAME names the interface to use)");
  }
  m_backend = "gloo";
  m_device = torch::kCPU;
#else
  throw InputError("this build has no Gloo backend (its LibTorch shipped no Gloo headers), so it cannot run CPU "
                   "workers", "run the workers on CUDA (NCCL), or build on Debian with libgloo-dev");
#endif
}

std::unique_ptr<PendingCollective> ProcessGroup::allReduceSumAsync(torch::Tensor& tensor) {
  if (!m_impl->collectives) useDevice(tensor.device());
  std::vector<torch::Tensor> list{tensor};
  try {
    return std::make_unique<PendingWork>(m_impl->collectives->allreduce(list));
  } catch (const std::exception& e) {
    throw CollectiveError(firstLine(e.what()));
  }
}

void ProcessGroup::broadcast(std::vector<torch::Tensor>& tensors, int root) {
  if (tensors.empty()) return;
  if (!m_impl->collectives) useDevice(tensors.front().device());
  // One flat buffer per dtype keeps it to a few collectives whatever the number of tensors.
  std::map<c10::ScalarType, std::vector<size_t>> byType;
  for (size_t i = 0; i < tensors.size(); ++i) byType[tensors[i].scalar_type()].push_back(i);
  for (auto& [type, indices] : byType) {
    std::vector<torch::Tensor> parts;
    for (size_t i : indices) parts.push_back(tensors[i].detach().reshape({-1}).to(m_device));
    std::vector<torch::Tensor> flat{torch::cat(parts)};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    try {
      m_impl->collectives->broadcast(flat, options)->wait();
    } catch (const std::exception& e) {
      throw CollectiveError(firstLine(e.what()));
    }
    int64_t offset = 0;
    torch::NoGradGuard noGrad;
    for (size_t i : indices) {
      auto& t = tensors[i];
      const int64_t n = t.numel();
      t.copy_(flat[0].narrow(0, offset, n).view(t.sizes()));
      offset += n;
    }
  }
}

void ProcessGroup::publish(const std::string& key, const std::string& value) {
  try {
    m_impl->store->set(key, bytes(value));
  } catch (const std::exception& e) {
    throw CollectiveError("the job's store (rank 0) cannot be reached: " + firstLine(e.what()));
  }
}

std::string ProcessGroup::receive(const std::string& key) {
  try {
    const std::vector<uint8_t> v = m_impl->store->get(key);
    return std::string(v.begin(), v.end());
  } catch (const std::exception& e) {
    throw CollectiveError("no message from rank 0 within " + seconds(m_env.timeout) + " (" + firstLine(e.what()) + ")");
  }
}

void ProcessGroup::allReduceSum(torch::Tensor& tensor) {
  if (tensor.device() == m_device) {
    allReduceSumAsync(tensor)->wait();
    return;
  }
  torch::Tensor staged = tensor.to(m_device);
  allReduceSumAsync(staged)->wait();
  tensor.copy_(staged);
}

std::string ProcessGroup::failureReport(const std::string& error) {
  const std::string prefix = "rkd/failed/rank";
  const auto tryPublish = [&](const std::string& key, const std::string& value) {
    try {
      m_impl->store->set(key, bytes(value));
    } catch (const std::exception&) {
    }
  };
  const auto tryCheck = [&](const std::string& key) {
    try {
      return m_impl->store->check({key});
    } catch (const std::exception&) {
      return false;
    }
  };
  tryPublish(prefix + std::to_string(rank()), error);
  if (!primary()) {
    // The store lives in rank 0: when it cannot be reached, rank 0 is the one that is gone.
    if (!tryCheck(prefix + std::to_string(rank()))) return "rank 0 is gone (its process ended: the job's store is unreachable)";
    return "another rank stopped answering (rank 0 names it)";
  }
  std::vector<int> silent;
  const auto deadline = std::chrono::steady_clock::now() + std::min<std::chrono::milliseconds>(m_env.timeout, std::chrono::milliseconds(5000));
  for (;;) {
    silent.clear();
    for (int r = 1; r < size(); ++r)
      if (!tryCheck(prefix + std::to_string(r))) silent.push_back(r);
    if (silent.empty() || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (silent.empty()) return "every rank reported the failure: " + error;
  std::string names;
  for (int r : silent) names += (names.empty() ? "" : ", ") + std::to_string(r);
  return std::string(silent.size() == 1 ? "rank " : "ranks ") + names + (silent.size() == 1 ? " stopped" : " stopped") +
         " answering (its process ended or hangs)";
}

std::shared_ptr<ProcessGroup> current() {
  std::lock_guard lock(g_currentMutex);
  return g_current;
}

void setCurrent(std::shared_ptr<ProcessGroup> group) {
  std::lock_guard lock(g_currentMutex);
  g_current = std::move(group);
}

bool ncclAvailable() {
#ifdef REVIEWKD_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

}  // namespace rkd::dist
