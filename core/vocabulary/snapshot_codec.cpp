#include "core/vocabulary/snapshot_codec.h"

#include <cstring>

#include "core/common/errors.h"

namespace rkd {
namespace {

constexpr char kMagic[] = "RKDSNAP1";
constexpr size_t kMagicSize = 8;
constexpr uint64_t kMaxCount = uint64_t(1) << 28;  // far above any map of the zoo at 512x512

void putU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putF64(std::string& out, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  putU64(out, bits);
}
void putString(std::string& out, const std::string& s) {
  putU64(out, s.size());
  out += s;
}
void putMap(std::string& out, const FeatureMap& m) {
  putU64(out, m.shape.size());
  for (int64_t d : m.shape) putU64(out, static_cast<uint64_t>(d));
  putU64(out, m.values.size());
  const size_t at = out.size();
  out.resize(at + 4 * m.values.size());
  // An empty map (a level without attention) has no data(): memcpy from a null pointer is undefined even for 0
  // bytes (UBSan, scripts/test --sanitize).
  if (!m.values.empty())
    std::memcpy(out.data() + at, m.values.data(), 4 * m.values.size());  // little-endian hosts only (x86, ARM)
}

struct Reader {
  const std::string& bytes;
  const std::string& what;
  size_t at = 0;

  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(what + " is not a feature snapshot: " + why + " (at byte " + std::to_string(at) + ")",
                     "it is rewritten at the run's next snapshot; delete it if it stays broken");
  }
  uint64_t u64() {
    if (bytes.size() - at < 8) fail("cut short");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
    at += 8;
    return v;
  }
  uint64_t count(uint64_t limit = kMaxCount) {
    const uint64_t n = u64();
    if (n > limit) fail("a count of " + std::to_string(n) + " is out of range");
    return n;
  }
  double f64() {
    const uint64_t bits = u64();
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  std::string string() {
    const uint64_t n = count(1 << 16);
    if (bytes.size() - at < n) fail("cut short");
    std::string s = bytes.substr(at, n);
    at += n;
    return s;
  }
  FeatureMap map() {
    FeatureMap m;
    const uint64_t dims = count(8);
    uint64_t product = dims ? 1 : 0;
    for (uint64_t i = 0; i < dims; ++i) {
      const uint64_t d = count();
      m.shape.push_back(static_cast<int64_t>(d));
      product = d == 0 || product > kMaxCount / d ? (d == 0 ? 0 : kMaxCount + 1) : product * d;
    }
    const uint64_t n = count();
    if (n != (dims ? product : 0)) fail("a map of shape with " + std::to_string(product) + " values holds " + std::to_string(n));
    if ((bytes.size() - at) / 4 < n) fail("cut short");
    m.values.resize(n);
    if (n > 0) std::memcpy(m.values.data(), bytes.data() + at, 4 * n);  // none: values.data() is null
    at += 4 * n;
    return m;
  }
};

}  // namespace

std::string encodeSnapshot(const FeatureSnapshot& s) {
  std::string out(kMagic, kMagicSize);
  putU64(out, static_cast<uint64_t>(s.runId));
  putU64(out, static_cast<uint64_t>(s.epoch));
  putU64(out, static_cast<uint64_t>(s.step));
  putU64(out, static_cast<uint64_t>(s.probeIndex));
  putU64(out, static_cast<uint64_t>(s.probeLabel));
  putMap(out, s.probeImage);
  putU64(out, s.levels.size());
  for (const LevelSnapshot& l : s.levels) {
    putString(out, l.label);
    putMap(out, l.teacher);
    putMap(out, l.reviewOutput);
    putMap(out, l.attentionCurrent);
    putMap(out, l.attentionResidual);
    putF64(out, l.loss);
  }
  return out;
}

FeatureSnapshot decodeSnapshot(const std::string& bytes, const std::string& what) {
  Reader r{bytes, what};
  if (bytes.size() < kMagicSize || bytes.compare(0, kMagicSize, kMagic) != 0) r.fail("wrong magic");
  r.at = kMagicSize;
  FeatureSnapshot s;
  s.runId = static_cast<int64_t>(r.u64());
  s.epoch = static_cast<int>(r.count(1 << 30));
  s.step = static_cast<int64_t>(r.u64());
  s.probeIndex = static_cast<int64_t>(r.u64());
  s.probeLabel = static_cast<int>(r.count(1 << 30));
  s.probeImage = r.map();
  const uint64_t levels = r.count(64);
  for (uint64_t i = 0; i < levels; ++i) {
    LevelSnapshot l;
    l.label = r.string();
    l.teacher = r.map();
    l.reviewOutput = r.map();
    l.attentionCurrent = r.map();
    l.attentionResidual = r.map();
    l.loss = r.f64();
    s.levels.push_back(std::move(l));
  }
  if (r.at != bytes.size()) r.fail(std::to_string(bytes.size() - r.at) + " bytes after the end");
  return s;
}

}  // namespace rkd
