#include "core/models/generator_scope.h"

#include <ATen/CPUGeneratorImpl.h>

namespace rkd {
namespace {

std::recursive_mutex& generatorMutex() {
  static std::recursive_mutex m;
  return m;
}

at::Generator globalGenerator() { return at::detail::getDefaultCPUGenerator(); }

}  // namespace

GeneratorScope::GeneratorScope(uint64_t seed) : m_lock(generatorMutex()) {
  at::Generator g = globalGenerator();
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_current_seed(seed);
}

GeneratorScope::GeneratorScope() : m_lock(generatorMutex()), m_restore(true) {
  at::Generator g = globalGenerator();
  std::lock_guard<std::mutex> lock(g.mutex());
  m_state = g.get_state();
}

GeneratorScope::~GeneratorScope() {
  if (!m_restore) return;
  at::Generator g = globalGenerator();
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(m_state);
}

}  // namespace rkd
