// `reviewkd launch`: starts the local workers of a distributed job with torchrun's environment (RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, plus GROUP_RANK, ROLE_RANK, ROLE_WORLD_SIZE), each
// running `reviewkd <the arguments after -->`; forwards Ctrl-C and SIGTERM to them and exits non-zero when any
// worker fails. POSIX only (fork, exec, waitpid).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/cli/commands.h"
#include "app/cli/launch.h"
#include "core/common/errors.h"

namespace rkd::cli {
namespace {

std::atomic<int> g_signals{0};
extern "C" void onLaunchSignal(int) { g_signals.fetch_add(1); }

// A port that is free on this host now (the kernel picks it), for a one-node job without --master-port.
int freePort() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return 29500;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = 29500;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

struct Worker {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  int code = 0;
  std::string how;  // "exited with code 1", "was killed by signal 9"
};

}  // namespace

int launchWorkers(const LaunchArgs& a) {
  if (a.command.empty())
    throw InputError("launch: no command after --", "e.g. reviewkd launch --nproc-per-node 2 -- train --preset quick");
  if (a.nnodes > 1 && a.masterAddr.empty())
    throw InputError("launch: --nnodes " + std::to_string(a.nnodes) + " needs --master-addr",
                     "give the address of node 0 (where rank 0 runs), the same on every node");
  if (a.nodeRank >= a.nnodes)
    throw InputError("launch: --node-rank " + std::to_string(a.nodeRank) + " is not below --nnodes " +
                     std::to_string(a.nnodes), "number the nodes 0 .. nnodes-1");
  const std::string addr = a.masterAddr.empty() ? "127.0.0.1" : a.masterAddr;
  const int port = a.masterPort > 0 ? a.masterPort : (a.nnodes == 1 ? freePort() : 29500);
  const int world = a.nprocPerNode * a.nnodes;
  std::vector<Worker> workers(static_cast<size_t>(a.nprocPerNode));
  std::signal(SIGINT, onLaunchSignal);
  std::signal(SIGTERM, onLaunchSignal);
  std::signal(SIGHUP, onLaunchSignal);
  const pid_t launcher = ::getpid();
  for (int local = 0; local < a.nprocPerNode; ++local) {
    Worker& w = workers[static_cast<size_t>(local)];
    w.rank = a.nodeRank * a.nprocPerNode + local;
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw UserError(std::string("launch: fork failed: ") + std::strerror(errno));
    if (pid == 0) {
      // The worker: its own process group, so that a terminal's Ctrl-C reaches it once (through the launcher);
      // it ends when the launcher dies.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) ::_exit(1);
      std::signal(SIGINT, SIG_DFL);
      std::signal(SIGTERM, SIG_DFL);
      std::signal(SIGHUP, SIG_DFL);
      const auto set = [](const char* k, const std::string& v) { ::setenv(k, v.c_str(), 1); };
      set("RANK", std::to_string(w.rank));
      set("WORLD_SIZE", std::to_string(world));
      set("LOCAL_RANK", std::to_string(local));
      set("LOCAL_WORLD_SIZE", std::to_string(a.nprocPerNode));
      set("GROUP_RANK", std::to_string(a.nodeRank));
      set("ROLE_RANK", std::to_string(w.rank));
      set("ROLE_WORLD_SIZE", std::to_string(world));
      set("MASTER_ADDR", addr);
      set("MASTER_PORT", std::to_string(port));
      if (a.timeout > 0) set("REVIEWKD_DIST_TIMEOUT", std::to_string(a.timeout));
      std::vector<std::string> args{"reviewkd"};
      args.insert(args.end(), a.command.begin(), a.command.end());
      std::vector<char*> argv;
      for (auto& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "launch: cannot start the worker: %s\n", std::strerror(errno));
      ::_exit(127);
    }
    w.pid = pid;
    w.running = true;
  }
  std::fprintf(stderr, "launch: %d worker%s (ranks %d..%d of %d), rendezvous at %s:%d\n", a.nprocPerNode,
               a.nprocPerNode == 1 ? "" : "s", workers.front().rank, workers.back().rank, world, addr.c_str(), port);

  using Clock = std::chrono::steady_clock;
  int forwarded = 0;
  bool failed = false;
  Clock::time_point failedAt;
  int alive = a.nprocPerNode;
  // After the first failure the others get this long to end on their own (rank 0 records the run as
  // interrupted), then SIGTERM, then SIGKILL.
  const auto grace = std::chrono::seconds(20);
  bool termed = false;
  while (alive > 0) {
    for (; forwarded < g_signals.load(); ++forwarded)
      for (auto& w : workers)
        if (w.running) ::kill(w.pid, SIGINT);
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (auto& w : workers) {
        if (w.pid != pid || !w.running) continue;
        w.running = false;
        --alive;
        if (WIFEXITED(status)) {
          w.code = WEXITSTATUS(status);
          w.how = "exited with code " + std::to_string(w.code);
        } else if (WIFSIGNALED(status)) {
          w.code = 128 + WTERMSIG(status);
          w.how = std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                  strsignal(WTERMSIG(status)) + ")";
        }
        if (w.code != 0) {
          std::fprintf(stderr, "launch: worker rank %d (pid %d) %s\n", w.rank, static_cast<int>(w.pid), w.how.c_str());
          if (!failed) {
            failed = true;
            failedAt = Clock::now();
          }
        }
      }
      continue;
    }
    if (failed && Clock::now() - failedAt > grace) {
      for (auto& w : workers)
        if (w.running) ::kill(w.pid, termed ? SIGKILL : SIGTERM);
      if (!termed) {
        std::fprintf(stderr, "launch: workers still running %lld s after the first failure: stopping them\n",
                     static_cast<long long>(grace.count()));
        termed = true;
        failedAt = Clock::now() - grace + std::chrono::seconds(5);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGHUP, SIG_DFL);
  int code = kSuccess;
  for (const auto& w : workers)
    if (w.code == kBadInput) return kBadInput;  // bad input on any rank: say so, as one process would
  for (const auto& w : workers)
    if (w.code != 0) {
      code = w.code > 0 && w.code < 128 ? w.code : kRunFailed;
      break;
    }
  return code;
}

namespace {

// The value of a global option at args[i] ("--db F" or "--db=F"), advancing i past it; nullopt when args[i] is not
// that option.
std::optional<std::string> globalOptionAt(const std::vector<std::string>& args, size_t& i, const std::string& name) {
  if (args[i] == name) {
    if (i + 1 >= args.size())
      throw InputError("launch: '" + name + "' after -- has no value", "e.g. -- " + name + " VALUE train ...");
    i += 2;
    return args[i - 1];
  }
  if (args[i].rfind(name + "=", 0) == 0) return args[i++].substr(name.size() + 1);
  return std::nullopt;
}

}  // namespace

std::vector<std::string> workerCommand(const GlobalOptions& global, const std::vector<std::string>& command) {
  // The global options the command after -- gives itself, and its subcommand.
  std::optional<std::string> db, logLevel;
  size_t i = 0;
  while (i < command.size()) {
    if (auto v = globalOptionAt(command, i, "--db")) db = v;
    else if (auto l = globalOptionAt(command, i, "--log-level")) logLevel = l;
    else break;
  }
  if (i < command.size() && command[i] == "launch")
    throw InputError("launch: the command after -- is another launch, which would start every worker's job again "
                     "(each job trained twice or more)",
                     "give the training command itself: reviewkd launch --nproc-per-node N -- train ...");
  // Options given before `launch` reach every worker; the same option after -- with another value is a contradiction.
  std::vector<std::string> prefix;
  const auto forward = [&](const char* name, const std::optional<std::string>& outer, const std::optional<std::string>& inner) {
    if (!outer) return;
    if (inner && *inner != *outer)
      throw InputError(std::string("launch: ") + name + " is given twice, '" + *outer + "' before launch and '" + *inner +
                           "' after --",
                       std::string("give it once: reviewkd ") + name + " VALUE launch ... -- train ...");
    if (!inner) prefix.insert(prefix.end(), {name, *outer});
  };
  forward("--db", global.dbGiven ? std::optional<std::string>(global.db) : std::nullopt, db);
  forward("--log-level", global.logLevelGiven ? std::optional<std::string>(global.logLevel) : std::nullopt, logLevel);
  std::vector<std::string> out = prefix;
  out.insert(out.end(), command.begin(), command.end());
  return out;
}

void addLaunchCommand(CLI::App& app, Command& command, const GlobalOptions& global) {
  auto a = std::make_shared<LaunchArgs>();
  auto* sub = app.add_subcommand(
      "launch", "start the local workers of a distributed run, as torchrun does: reviewkd launch "
                "--nproc-per-node N -- train ...");
  sub->add_option("--nproc-per-node", a->nprocPerNode, "workers on this node (one per GPU on CUDA)")
      ->required()
      ->check(CLI::Range(1, 1024));
  sub->add_option("--nnodes", a->nnodes, "nodes of the job (default 1)")->check(CLI::Range(1, 65536));
  sub->add_option("--node-rank", a->nodeRank, "this node's number, 0 .. nnodes-1 (default 0)")->check(CLI::NonNegativeNumber);
  sub->add_option("--master-addr", a->masterAddr, "address of node 0 (default 127.0.0.1)");
  sub->add_option("--master-port", a->masterPort,
                  "rendezvous port on node 0 (default: a free port for one node, 29500 for several)")
      ->check(CLI::Range(1, 65535));
  sub->add_option("--timeout", a->timeout,
                  "seconds a worker waits for the others before the job ends (REVIEWKD_DIST_TIMEOUT, default 300)")
      ->check(CLI::Range(1, 7 * 24 * 3600));
  sub->add_option("command", a->command, "the reviewkd command every worker runs, after --")->required();
  sub->callback([&command, &global, a] {
    command.action = [&global, a] {
      LaunchArgs args = *a;
      args.command = workerCommand(global, a->command);
      return launchWorkers(args);
    };
  });
}

}  // namespace rkd::cli
