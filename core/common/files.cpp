#include "core/common/files.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common/errors.h"

namespace rkd {

namespace fs = std::filesystem;

namespace {

FileKind kindOfMode(mode_t mode) {
  if (S_ISREG(mode)) return FileKind::Regular;
  if (S_ISDIR(mode)) return FileKind::Directory;
  if (S_ISFIFO(mode)) return FileKind::Fifo;
  if (S_ISCHR(mode)) return FileKind::CharDevice;
  if (S_ISBLK(mode)) return FileKind::BlockDevice;
  if (S_ISSOCK(mode)) return FileKind::Socket;
  return FileKind::Other;
}

// Follows symbolic links from `path` to the path they finally name (which may not exist yet). Linux gives up after
// 40 links; so does this.
std::string resolveLinks(const std::string& path) {
  fs::path p = path;
  for (int hop = 0; hop < 40; ++hop) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p.string();
    std::error_code ec;
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) return p.string();
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  throw InputError("'" + path + "' is a loop of symbolic links", "point the link at a file, or give another path");
}

// A name beside `dest` that no one else uses: the destination's name, the pid and a random number.
std::string temporaryName(const std::string& dest) {
  static std::atomic<uint64_t> counter{0};
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return dest + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
         std::to_string(random() % 1000000);
}

}  // namespace

FileKind fileKind(const std::string& path, std::string* error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return kindOfMode(st.st_mode);
  const int err = errno;
  if (err == ENOENT) {
    // A dangling link, or nothing at all.
    return FileKind::Missing;
  }
  if (err == ELOOP) return FileKind::SymlinkLoop;
  if (error) *error = std::strerror(err);
  return err == ENOTDIR ? FileKind::Missing : FileKind::Unreachable;
}

std::string describeFileKind(FileKind kind) {
  switch (kind) {
    case FileKind::Missing: return "missing";
    case FileKind::Regular: return "a regular file";
    case FileKind::Directory: return "a directory";
    case FileKind::Fifo: return "a FIFO (named pipe)";
    case FileKind::CharDevice: return "a character device";
    case FileKind::BlockDevice: return "a block device";
    case FileKind::Socket: return "a socket";
    case FileKind::SymlinkLoop: return "a loop of symbolic links";
    case FileKind::Unreachable: return "not reachable";
    case FileKind::Other: return "not a regular file";
  }
  return "not a regular file";
}

void requireRegularFile(const std::string& path, const std::string& what) {
  std::string error;
  const FileKind kind = fileKind(path, &error);
  if (kind == FileKind::Regular) return;
  if (kind == FileKind::Missing) throw InputError(what + " '" + path + "' does not exist", "check the path");
  if (kind == FileKind::Unreachable)
    throw InputError("cannot reach " + what + " '" + path + "': " + error, "check the path and its folders' permissions");
  throw InputError(what + " '" + path + "' is " + describeFileKind(kind) + ", not a regular file",
                   "give the path of a regular file");
}

bool regularFileExists(const std::string& path) { return fileKind(path) == FileKind::Regular; }

std::string checkWriteDestination(const std::string& path, ExistingFile existing, const std::string& forceHint) {
  if (path.empty()) throw InputError("the file to write has an empty name", "give a file name");
  const std::string dest = resolveLinks(path);
  const std::string shown = dest == path ? "'" + path + "'" : "'" + path + "' (a link to '" + dest + "')";
  std::string error;
  const FileKind kind = fileKind(dest, &error);
  switch (kind) {
    case FileKind::Missing: {
      const fs::path folder = fs::path(dest).parent_path();
      const std::string dir = folder.empty() ? "." : folder.string();
      const FileKind parent = fileKind(dir);
      if (parent != FileKind::Directory)
        throw InputError("cannot write " + shown + ": its folder '" + dir + "' " +
                             (parent == FileKind::Missing ? std::string("does not exist") : "is " + describeFileKind(parent)),
                         "create the folder first, or give a path in an existing folder");
      return dest;
    }
    case FileKind::Regular:
      if (existing == ExistingFile::Refuse)
        throw InputError(shown + " already exists", "give another file name, or add " + forceHint + " to replace it");
      return dest;
    case FileKind::Unreachable:
      throw InputError("cannot write " + shown + ": " + error, "check the path and its folders' permissions");
    default:
      throw InputError("will not write " + shown + ": it exists and is " + describeFileKind(kind) +
                           ", not a regular file (it is never replaced or written into)",
                       "give the path of a new file, or of a regular file to replace");
  }
}

void writeFileAtomically(const std::string& path, const char* data, size_t size, ExistingFile existing) {
  const std::string dest = checkWriteDestination(path, existing);
  std::string partial;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    partial = temporaryName(dest);
    fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0 && errno != EEXIST)
      throw InputError("cannot write '" + path + "': " + std::strerror(errno),
                       "check that its folder exists and is writable");
  }
  if (fd < 0) throw InputError("cannot write '" + path + "': no free temporary name beside it", "clean up its folder");
  size_t done = 0;
  int writeError = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      writeError = errno;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 && writeError == 0) writeError = errno;
  if (writeError != 0) {
    ::unlink(partial.c_str());
    throw InputError("writing '" + path + "' failed: " + std::strerror(writeError),
                     writeError == ENOSPC ? "free some space and try again" : "check the disk and try again");
  }
  if (::rename(partial.c_str(), dest.c_str()) != 0) {
    const int err = errno;
    ::unlink(partial.c_str());
    throw InputError("cannot replace '" + path + "': " + std::strerror(err), "check that the folder is writable");
  }
}

}  // namespace rkd
