#include "app/cli/table_cell.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace rkd::cli {
namespace {

// One character of the cell: its bytes and its width in columns.
struct Glyph {
  std::string bytes;
  int width = 1;
};

int widthOf(uint32_t c) {
  if ((c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F)) return 0;  // combining marks, zero-width
  const bool wide = (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3) ||
                    (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
                    (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1FAFF) || (c >= 0x20000 && c <= 0x3FFFD);
  return wide ? 2 : 1;
}

std::string escaped(unsigned char c) {
  if (c == '\n') return "\\n";
  if (c == '\t') return "\\t";
  if (c == '\r') return "\\r";
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", c);
  return buf;
}

// Splits UTF-8 into glyphs; control characters and invalid bytes become visible escapes.
std::vector<Glyph> glyphs(const std::string& text) {
  std::vector<Glyph> out;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      out.push_back({escaped(c), 2});
      out.back().width = static_cast<int>(out.back().bytes.size());
      ++i;
      continue;
    }
    if (c < 0x80) {
      out.push_back({std::string(1, text[i]), 1});
      ++i;
      continue;
    }
    const int length = c >= 0xF0 && c < 0xF8 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    bool valid = length > 0 && i + static_cast<size_t>(length) <= text.size();
    uint32_t code = length == 4 ? c & 0x07 : length == 3 ? c & 0x0F : c & 0x1F;
    for (int k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + static_cast<size_t>(k)]);
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    if (!valid) {
      out.push_back({escaped(c), 4});
      ++i;
      continue;
    }
    if ((code >= 0x80 && code <= 0x9F) || (code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069)) {
      char buf[12];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(code));
      out.push_back({buf, 6});
      i += static_cast<size_t>(length);
      continue;
    }
    out.push_back({text.substr(i, static_cast<size_t>(length)), widthOf(code)});
    i += static_cast<size_t>(length);
  }
  return out;
}

}  // namespace

std::string terminalText(const std::string& text, bool keepNewlines) {
  std::string out;
  out.reserve(text.size());
  for (const auto& g : glyphs(text)) out += keepNewlines && g.bytes == "\\n" ? std::string("\n") : g.bytes;
  return out;
}

int displayWidth(const std::string& text) {
  int w = 0;
  for (const auto& g : glyphs(text)) w += g.width;
  return w;
}

std::string tableCell(const std::string& text, int width) {
  const std::vector<Glyph> all = glyphs(text);
  int total = 0;
  for (const auto& g : all) total += g.width;
  std::string out;
  int used = 0;
  if (total <= width) {
    for (const auto& g : all) out += g.bytes;
    used = total;
  } else {
    for (const auto& g : all) {
      if (used + g.width > width - 1) break;  // room for the ellipsis
      out += g.bytes;
      used += g.width;
    }
    out += "\u2026";
    ++used;
  }
  out.append(static_cast<size_t>(std::max(0, width - used)), ' ');
  return out;
}

}  // namespace rkd::cli
