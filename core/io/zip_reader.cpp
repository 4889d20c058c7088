#include "core/io/zip_reader.h"

#include <algorithm>

#include <zlib.h>

namespace rkd {
namespace {

uint64_t le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int k = 0; k < n; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
  return v;
}

constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kZip64End = 0x06064b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;
// Names of real checkpoints are short; entries are a few per tensor. Bounds against a hostile directory.
constexpr uint64_t kMaxEntries = 10'000'000;

}  // namespace

std::vector<unsigned char> ZipReader::readAt(uint64_t offset, uint64_t n) {
  if (offset > m_fileSize || n > m_fileSize - offset)
    throw ZipError("the archive refers to bytes " + std::to_string(offset) + ".." + std::to_string(offset + n) +
                   " of a " + std::to_string(m_fileSize) + "-byte file");
  std::vector<unsigned char> buf(static_cast<size_t>(n));
  m_in.clear();
  m_in.seekg(static_cast<std::streamoff>(offset));
  m_in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(n));
  if (static_cast<uint64_t>(m_in.gcount()) != n) throw ZipError("reading the file failed");
  return buf;
}

ZipReader::ZipReader(const std::string& path) : m_in(path, std::ios::binary) {
  if (!m_in) throw ZipError("cannot open the file");
  m_in.seekg(0, std::ios::end);
  m_fileSize = static_cast<uint64_t>(m_in.tellg());
  if (m_fileSize < 22) throw ZipError("the file is too short for a zip archive");

  // The end-of-directory record is the last 22 bytes, unless a comment (up to 64 KiB) follows it.
  const uint64_t tailSize = std::min<uint64_t>(m_fileSize, 22 + 65535);
  const std::vector<unsigned char> tail = readAt(m_fileSize - tailSize, tailSize);
  int64_t eocd = -1;
  for (int64_t k = static_cast<int64_t>(tailSize) - 22; k >= 0; --k)
    if (le(&tail[static_cast<size_t>(k)], 4) == kEndOfDirectory &&
        static_cast<uint64_t>(k) + 22 + le(&tail[static_cast<size_t>(k) + 20], 2) == tailSize) {
      eocd = k;
      break;
    }
  if (eocd < 0) throw ZipError("no end-of-directory record (the file is truncated or not a zip archive)");
  const unsigned char* e = &tail[static_cast<size_t>(eocd)];
  uint64_t count = le(e + 10, 2);
  uint64_t dirSize = le(e + 12, 4);
  uint64_t dirOffset = le(e + 16, 4);
  const uint64_t eocdOffset = m_fileSize - tailSize + static_cast<uint64_t>(eocd);
  if (count == 0xFFFF || dirSize == 0xFFFFFFFF || dirOffset == 0xFFFFFFFF) {
    if (eocdOffset < 20) throw ZipError("a zip64 archive without its locator");
    const std::vector<unsigned char> loc = readAt(eocdOffset - 20, 20);
    if (le(loc.data(), 4) != kZip64Locator) throw ZipError("a zip64 archive without its locator");
    const std::vector<unsigned char> z = readAt(le(loc.data() + 8, 8), 56);
    if (le(z.data(), 4) != kZip64End) throw ZipError("the zip64 end-of-directory record is damaged");
    count = le(z.data() + 32, 8);
    dirSize = le(z.data() + 40, 8);
    dirOffset = le(z.data() + 48, 8);
  }
  if (count > kMaxEntries) throw ZipError("the directory claims " + std::to_string(count) + " entries");
  const std::vector<unsigned char> dir = readAt(dirOffset, dirSize);
  size_t pos = 0;
  std::string top;
  for (uint64_t k = 0; k < count; ++k) {
    if (dir.size() - pos < 46 || le(&dir[pos], 4) != kDirectoryEntry)
      throw ZipError("directory entry " + std::to_string(k) + " is damaged");
    const unsigned char* d = &dir[pos];
    Entry entry;
    entry.method = static_cast<uint16_t>(le(d + 10, 2));
    entry.crc = static_cast<uint32_t>(le(d + 16, 4));
    entry.compressedSize = le(d + 20, 4);
    entry.size = le(d + 24, 4);
    const size_t nameLen = le(d + 28, 2), extraLen = le(d + 30, 2), commentLen = le(d + 32, 2);
    entry.localHeader = le(d + 42, 4);
    if (dir.size() - pos - 46 < nameLen + extraLen + commentLen)
      throw ZipError("directory entry " + std::to_string(k) + " runs past the directory");
    std::string name(reinterpret_cast<const char*>(d + 46), nameLen);
    // Zip64 extra field: the 64-bit values of whichever 32-bit fields are saturated, in this order.
    const unsigned char* x = d + 46 + nameLen;
    for (size_t at = 0; at + 4 <= extraLen;) {
      const uint64_t id = le(x + at, 2), len = le(x + at + 2, 2);
      if (at + 4 + len > extraLen) break;
      if (id == 0x0001) {
        size_t f = at + 4;
        auto wide = [&](uint64_t& field) {
          if (field != 0xFFFFFFFF) return;
          if (f + 8 > at + 4 + len) throw ZipError("the zip64 field of '" + name + "' is damaged");
          field = le(x + f, 8);
          f += 8;
        };
        wide(entry.size);
        wide(entry.compressedSize);
        wide(entry.localHeader);
      }
      at += 4 + static_cast<size_t>(len);
    }
    pos += 46 + nameLen + extraLen + commentLen;
    // torch.save puts everything under one top folder named after the file; names are relative to it.
    const auto slash = name.find('/');
    const std::string folder = slash == std::string::npos ? "" : name.substr(0, slash);
    if (k == 0) top = folder;
    const std::string relative = (slash != std::string::npos && folder == top) ? name.substr(slash + 1) : name;
    if (!m_entries.emplace(relative, entry).second) throw ZipError("the archive holds '" + name + "' twice");
    m_names.push_back(relative);
  }
}

uint64_t ZipReader::size(const std::string& name) const {
  auto it = m_entries.find(name);
  return it == m_entries.end() ? 0 : it->second.size;
}

std::vector<char> ZipReader::read(const std::string& name) {
  auto it = m_entries.find(name);
  if (it == m_entries.end()) throw ZipError("the archive has no entry '" + name + "'");
  const Entry& entry = it->second;
  if (entry.method != 0)
    throw ZipError("entry '" + name + "' is compressed (method " + std::to_string(entry.method) +
                   "); torch.save stores entries uncompressed");
  if (entry.compressedSize != entry.size) throw ZipError("entry '" + name + "' has inconsistent sizes");
  const std::vector<unsigned char> local = readAt(entry.localHeader, 30);
  if (le(local.data(), 4) != kLocalHeader) throw ZipError("the local header of '" + name + "' is damaged");
  const uint64_t start = entry.localHeader + 30 + le(local.data() + 26, 2) + le(local.data() + 28, 2);
  if (start > m_fileSize || entry.size > m_fileSize - start)
    throw ZipError("entry '" + name + "' of " + std::to_string(entry.size) + " bytes runs past the end of the file");
  std::vector<char> bytes(static_cast<size_t>(entry.size));
  m_in.clear();
  m_in.seekg(static_cast<std::streamoff>(start));
  m_in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<uint64_t>(m_in.gcount()) != entry.size) throw ZipError("reading '" + name + "' failed");
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t done = 0; done < bytes.size();) {
    const uInt chunk = static_cast<uInt>(std::min<uint64_t>(bytes.size() - done, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()) + done, chunk);
    done += chunk;
  }
  if (static_cast<uint32_t>(crc) != entry.crc) throw ZipError("entry '" + name + "' fails its CRC-32 check (damaged)");
  return bytes;
}

}  // namespace rkd
