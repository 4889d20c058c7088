#pragma once
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace rkd {

/// Reads the stored (uncompressed) entries of a zip archive, the container of torch.save files since PyTorch
/// 1.6, with zip64 support. Small and strict on purpose: every offset and size in the archive is checked
/// against the file's real size before anything is read or allocated, and every entry's CRC-32 is verified
/// when it is read, so a damaged file is an error and not silently different numbers.
class ZipReader {
 public:
  /// Opens `path` and reads its central directory. Throws ZipError for a file that is not a valid archive.
  explicit ZipReader(const std::string& path);

  /// Entry names with the archive's top folder removed ("data.pkl", "data/0", "version"), in archive order.
  const std::vector<std::string>& names() const { return m_names; }
  bool has(const std::string& name) const { return m_entries.count(name) > 0; }
  /// Size in bytes of an entry (0 when absent).
  uint64_t size(const std::string& name) const;
  /// The bytes of an entry, CRC-checked. Throws ZipError when it is absent, compressed, or damaged.
  std::vector<char> read(const std::string& name);

  struct ZipError : std::runtime_error {
    using std::runtime_error::runtime_error;
  };

 private:
  struct Entry {
    uint64_t localHeader = 0;
    uint64_t size = 0;
    uint64_t compressedSize = 0;
    uint32_t crc = 0;
    uint16_t method = 0;
  };
  std::vector<unsigned char> readAt(uint64_t offset, uint64_t n);

  std::ifstream m_in;
  uint64_t m_fileSize = 0;
  std::vector<std::string> m_names;
  std::map<std::string, Entry> m_entries;
};

}  // namespace rkd
