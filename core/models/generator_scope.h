#pragma once
#include <cstdint>
#include <mutex>

#include <ATen/core/Generator.h>

namespace rkd {

/// LibTorch's modules draw their initial weights from the one process-wide CPU generator. Whatever builds a
/// network holds a GeneratorScope, so two threads never interleave on that generator: a run started in the
/// studio while its worker pool builds preview networks (level tables, checkpoint inspection) starts from the
/// same weights as the same config run from the CLI.
class GeneratorScope {
 public:
  /// Seeded: the generator is set to `seed`; what is built in the scope is a function of the seed alone.
  explicit GeneratorScope(uint64_t seed);
  /// Borrowed: the generator's state is put back when the scope ends, as if nothing had been drawn.
  GeneratorScope();
  ~GeneratorScope();
  GeneratorScope(const GeneratorScope&) = delete;
  GeneratorScope& operator=(const GeneratorScope&) = delete;

 private:
  std::unique_lock<std::recursive_mutex> m_lock;
  bool m_restore = false;
  at::Tensor m_state;
};

}  // namespace rkd
