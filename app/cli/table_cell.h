#pragma once
// One cell of a terminal table: text made safe for one line (control characters shown escaped) and fitted to a
// width in terminal columns, counting UTF-8 characters (East Asian wide ones as two), never cutting inside one.
#include <string>

namespace rkd::cli {

/// `text` on one line, cut with "…" when wider than `width` columns, padded with spaces to exactly `width`.
std::string tableCell(const std::string& text, int width);
/// Terminal columns `text` takes (after tableCell's escaping).
int displayWidth(const std::string& text);

}  // namespace rkd::cli
