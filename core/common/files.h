#pragma once
#include <cstddef>
#include <string>

namespace rkd {

/// What a path names, seen through symbolic links (stat, not lstat).
enum class FileKind { Missing, Regular, Directory, Fifo, CharDevice, BlockDevice, Socket, SymlinkLoop, Unreachable, Other };

/// The kind of `path`; `error` (when given) receives the system's words for Unreachable.
FileKind fileKind(const std::string& path, std::string* error = nullptr);
/// "a directory", "a FIFO (named pipe)", "a character device", ... for messages.
std::string describeFileKind(FileKind kind);

/// Refuses (rkd::InputError naming `what` and `path`) anything but an existing regular file, before anything opens
/// it: a FIFO would block the open for ever, a device would be read without end. `what` is e.g. "checkpoint file".
void requireRegularFile(const std::string& path, const std::string& what);

/// How a write treats a regular file that already exists at the destination.
enum class ExistingFile {
  Replace,        ///< the engine's own files (checkpoints, snapshots): replaced silently
  Refuse,         ///< a user's export without --force: refused, naming the file and the option
  ReplaceAndSay,  ///< a user's export with --force (or confirmed in a dialog): replaced; the caller says so
};

/// Checks the destination of a write before any work is done: refuses (rkd::InputError) a destination that exists
/// and is not a regular file (a directory, a FIFO, a device: never replaced or written into), a regular file under
/// ExistingFile::Refuse, and a path whose folder does not exist. A symbolic link is followed: the file it points at
/// is the destination. Returns the path that will really be written (the link's target, or `path`).
std::string checkWriteDestination(const std::string& path, ExistingFile existing, const std::string& forceHint = "--force");

/// Writes `size` bytes to `path` so that a reader never sees a half-written file: a fresh temporary file beside the
/// destination first (created exclusively, so no FIFO or link there is followed), then a rename over it. The
/// destination is checked first (checkWriteDestination). Throws rkd::InputError naming the file when the folder is
/// missing or not writable, or when the disk is full.
void writeFileAtomically(const std::string& path, const char* data, size_t size,
                         ExistingFile existing = ExistingFile::Replace);

/// Whether a regular file exists at `path` (following links).
bool regularFileExists(const std::string& path);

}  // namespace rkd
