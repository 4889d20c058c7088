#include "core/common/files.h"

#include <filesystem>
#include <fstream>

#include "core/common/errors.h"

namespace rkd {

void writeFileAtomically(const std::string& path, const char* data, size_t size) {
  const std::string partial = path + ".tmp";
  {
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    if (!file) throw InputError("cannot write '" + path + "'", "check that its folder exists and is writable");
    file.write(data, static_cast<std::streamsize>(size));
    file.flush();
    if (!file) {
      file.close();
      std::error_code ignored;
      std::filesystem::remove(partial, ignored);
      throw InputError("writing '" + path + "' failed (disk full?)", "free some space and try again");
    }
  }
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec) {
    std::filesystem::remove(partial, ec);
    throw InputError("cannot replace '" + path + "': " + ec.message(), "check that the folder is writable");
  }
}

}  // namespace rkd
