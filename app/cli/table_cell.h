#pragma once
// One cell of a terminal table: text made safe for one line (control characters shown escaped) and fitted to a
// width in terminal columns, counting UTF-8 characters (East Asian wide ones as two), never cutting inside one.
#include <string>

namespace rkd::cli {

/// `text` on one line, cut with "…" when wider than `width` columns, padded with spaces to exactly `width`.
std::string tableCell(const std::string& text, int width);
/// Terminal columns `text` takes (after tableCell's escaping).
int displayWidth(const std::string& text);
/// Text from a file, the store or the command line, safe to print: control characters (ESC and the rest of C0,
/// DEL, the C1 range that some terminals read as CSI), invalid UTF-8 bytes and the bidirectional overrides are
/// shown escaped (\x1b, \u009b, ...), so nothing a crafted file or run name holds can move the cursor, rewrite
/// the screen or reorder what follows. Newlines are escaped too unless `keepNewlines` (multi-line messages).
/// Every command prints such text through this (tableCell uses the same escaping).
std::string terminalText(const std::string& text, bool keepNewlines = false);

}  // namespace rkd::cli
