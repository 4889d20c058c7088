#include "core/data/readers.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>

#include <zlib.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
// Zeroed allocations: stb_image 2.27 leaves its JPEG decoder's state uninitialised, and a damaged file that
// never defines a quantisation or Huffman table its scan uses decoded to whatever the heap held before, a
// different image each time (found by tests/fuzz/fuzz_image). Zeroed, it decodes the same every time.
#define STBI_MALLOC(size) std::calloc(1, size)
#define STBI_REALLOC(pointer, size) std::realloc(pointer, size)
#define STBI_FREE(pointer) std::free(pointer)
#include <stb/stb_image.h>

#include "core/common/errors.h"
#include "core/common/files.h"
#include "core/common/logging.h"

namespace rkd {
namespace fs = std::filesystem;

namespace {

std::string humanBytes(uint64_t n) { return std::to_string(n) + " bytes"; }

uint32_t bigEndian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string joinNames(const std::vector<std::string>& names, const std::string& sep = ", ") {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? sep : "") + names[i];
  return s;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

void requireExists(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw InputError(what + " " + path + " does not exist", "check the dataset path");
}

/// The first of `dirs` x `names` that exists, or an error naming every expected file name.
std::string findFile(const std::vector<std::string>& dirs, const std::vector<std::string>& names,
                     const std::string& datasetLabel) {
  std::error_code ec;
  for (const auto& d : dirs)
    for (const auto& n : names) {
      fs::path p = fs::path(d) / n;
      if (fs::is_regular_file(p, ec)) return p.string();
    }
  throw InputError(datasetLabel + ": no file " + joinNames(names, " or ") + " in " + joinNames(dirs, " or "),
                   "point the dataset path at the folder that holds these files");
}

/// Text lines of a small meta file, blank lines dropped.
std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> numberNames(int64_t n) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < n; ++i) names.push_back(std::to_string(i));
  return names;
}

/// The folders a CIFAR file may be in: `path` itself or its binary-version sub-folder `sub` (a missing-file
/// error names both).
std::vector<std::string> cifarDirs(const std::string& path, const std::string& sub) {
  requireExists(path, "CIFAR dataset folder");
  return {path, (fs::path(path) / sub).string()};
}

/// Reads fixed-size CIFAR records from `file`: label at byte `labelOffset`, pixels after `headerBytes`.
void readCifarRecords(const std::string& file, int64_t headerBytes, int64_t labelOffset, int64_t numClasses,
                      std::vector<uint8_t>& pixels, std::vector<int64_t>& labels) {
  const int64_t pixelBytes = 3 * 32 * 32;
  const int64_t record = headerBytes + pixelBytes;
  std::vector<uint8_t> bytes = readMaybeGzip(file);
  const int64_t size = int64_t(bytes.size());
  if (size == 0 || size % record != 0) {
    int64_t whole = size / record;
    throw InputError(file + " is truncated or not a CIFAR binary file: expected a multiple of " +
                         std::to_string(record) + "-byte records (10000 records = " + humanBytes(10000 * record) +
                         "), found " + humanBytes(size) + (whole > 0 ? " (" + std::to_string(whole) +
                         " whole records and " + std::to_string(size - whole * record) + " bytes over)" : ""),
                     "download the CIFAR \"binary version\" again");
  }
  const int64_t n = size / record;
  pixels.reserve(pixels.size() + size_t(n * pixelBytes));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = bytes.data() + i * record;
    int64_t label = r[labelOffset];
    if (label >= numClasses)
      throw InputError(file + ": label of record " + std::to_string(i) + " is " + std::to_string(label) +
                           ", expected 0.." + std::to_string(numClasses - 1),
                       "the file is corrupt or of another CIFAR variant");
    labels.push_back(label);
    pixels.insert(pixels.end(), r + headerBytes, r + record);
  }
}

TensorDataset cifarDataset(std::vector<uint8_t>& pixels, std::vector<int64_t>& labels, int64_t numClasses,
                           std::vector<std::string> names, std::string name, std::string source) {
  const int64_t n = int64_t(labels.size());
  TensorDataset d;
  d.images = torch::from_blob(pixels.data(), {n, 3, 32, 32}, torch::kUInt8).clone();
  d.labels = torch::from_blob(labels.data(), {n}, torch::kInt64).clone();
  d.numClasses = numClasses;
  d.classNames = std::move(names);
  d.name = std::move(name);
  d.source = std::move(source);
  return d;
}

bool isImageFile(const fs::path& p) {
  std::string ext = lower(p.extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

bool isHidden(const fs::path& p) { return !p.filename().empty() && p.filename().string()[0] == '.'; }

constexpr int64_t kMaxImagePixels = int64_t(8192) * 8192;

/// stb_image 2.27 (Debian 12's libstb) writes past the 257 code lengths of a Huffman table when a JPEG's DHT
/// segment declares more than 256 codes (fixed in stb 2.28; found by tests/fuzz/fuzz_image). This walks the
/// segments as stb does, markers between scans included, and reads every DHT table stb would: the first one
/// too large, as a message, or empty. Anything stb would refuse anyway (a bad length, unknown markers) is walked
/// past rather than stopped at, so a table stb reads is never missed.
std::string oversizedJpegHuffmanTable(const std::vector<uint8_t>& b) {
  const size_t n = b.size();
  auto at = [&](size_t i) -> size_t { return i < n ? b[i] : 0; };  // stb reads 0 past the end
  // SOI: FF, any number of fill bytes FF, then D8 (stb accepts the fill bytes here too).
  if (n < 2 || b[0] != 0xFF) return {};
  size_t p = 1;
  while (p < n && b[p] == 0xFF) ++p;
  if (p >= n || b[p] != 0xD8) return {};
  ++p;
  while (p < n) {
    if (b[p++] != 0xFF) continue;  // scan data, or bytes stb skips looking for a marker
    while (p < n && b[p] == 0xFF) ++p;  // fill bytes
    if (p >= n) break;
    const uint8_t marker = b[p++];
    if (marker == 0xD9) break;  // EOI: stb reads no further
    // Without a length: stuffed FF 00 and restarts in scan data, TEM, SOI.
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;
    const size_t length = at(p) << 8 | at(p + 1);
    if (marker == 0xC4) {
      size_t q = p + 2;
      for (int64_t left = int64_t(length) - 2; left > 0 && q < n;) {
        if ((at(q) >> 4) > 1 || (at(q) & 15) > 3) break;  // stb refuses the table class or slot
        size_t codes = 0;
        for (size_t i = 1; i <= 16; ++i) codes += at(q + i);
        if (codes > 256)
          return "a Huffman table (DHT segment at byte " + std::to_string(p - 2) + ") declares " +
                 std::to_string(codes) + " codes, more than the 256 a table holds";
        q += 17 + codes;
        left -= int64_t(17 + codes);
      }
    }
    p += std::max<size_t>(length, 2);
  }
  return {};
}

bool isPng(const std::vector<uint8_t>& b) {
  static const uint8_t signature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return b.size() >= 8 && std::equal(std::begin(signature), std::end(signature), b.begin());
}

/// stb_image 2.27 grows its buffer to a PNG chunk's declared length before it reads the chunk: a 98-byte file
/// declaring a 1.5 GB IDAT allocated 1.5 GB (found by tests/fuzz/fuzz_image). Walks the chunks as stb does and
/// returns the first that runs past the end of the file, as a message, or empty.
std::string pngChunkPastTheEnd(const std::vector<uint8_t>& b) {
  if (!isPng(b)) return {};
  for (size_t p = 8; p + 8 <= b.size();) {
    const uint64_t length = bigEndian32(&b[p]);
    const std::string type(reinterpret_cast<const char*>(&b[p + 4]), 4);
    if (length > b.size() - p - 8)
      return "its " + type + " chunk (at byte " + std::to_string(p) + ") declares " + std::to_string(length) +
             " bytes, more than the " + std::to_string(b.size() - p - 8) + " left in the file";
    if (type == "IEND") break;
    p += 12 + length;
  }
  return {};
}

/// stb_image 2.27 does not check a palette PNG's pixels against its palette: an index past the PLTE entries read
/// uninitialised stack memory, and one file decoded differently each time (found by tests/fuzz/fuzz_image).
/// Every PLTE chunk is padded here to the 256 entries an index can name, with opaque black. Call after
/// pngChunkPastTheEnd found every chunk inside the file.
void padPngPalettes(std::vector<uint8_t>& b) {
  if (!isPng(b)) return;
  for (size_t p = 8; p + 8 <= b.size();) {
    uint32_t length = bigEndian32(&b[p]);
    const std::string type(reinterpret_cast<const char*>(&b[p + 4]), 4);
    if (type == "IEND") break;
    if (type == "PLTE" && length > 0 && length < 768 && length % 3 == 0) {  // other lengths stb refuses
      b.insert(b.begin() + std::ptrdiff_t(p + 8 + length), 768 - length, 0);
      length = 768;
      for (int k = 0; k < 4; ++k) b[p + size_t(k)] = uint8_t(length >> (24 - 8 * k));
    }
    p += 12 + size_t(length);
  }
}

/// An image file's bytes, refused when stb_image cannot be trusted with them (see oversizedJpegHuffmanTable and
/// pngChunkPastTheEnd), PNG palettes padded (padPngPalettes).
std::vector<uint8_t> readImageBytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError("cannot open image " + file, "check the file's permissions");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string bad = oversizedJpegHuffmanTable(bytes);
  if (bad.empty()) bad = pngChunkPastTheEnd(bytes);
  if (!bad.empty())
    throw InputError("unreadable image " + file + ": expected a PNG or JPEG image, " + bad +
                         " (a truncated or damaged file)",
                     "replace or remove the file");
  padPngPalettes(bytes);
  if (bytes.size() > size_t(std::numeric_limits<int>::max()))
    throw InputError("image " + file + " is " + humanBytes(bytes.size()) + ", too large for the image decoder",
                     "use images under 2 GB");
  return bytes;
}

}  // namespace

const std::vector<std::string>& fashionMnistClassNames() {
  static const std::vector<std::string> names{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

const std::vector<std::string>& cifar10ClassNames() {
  static const std::vector<std::string> names{"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

std::vector<uint8_t> readMaybeGzip(const std::string& path) {
  requireRegularFile(path, "data file");  // a FIFO or a device would block or never end
  unsigned char magic[2] = {0, 0};
  {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw InputError("cannot open " + path + ": " + std::strerror(errno), "check the file's permissions");
    size_t got = std::fread(magic, 1, 2, f);
    std::fclose(f);
    if (got < 2) magic[0] = magic[1] = 0;
  }
  const bool gzip = magic[0] == 0x1f && magic[1] == 0x8b;
  if (!gzip) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError("cannot open " + path, "check the file's permissions");
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) throw InputError("cannot open " + path + " as gzip", "check the file's permissions");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(gz, gzclose);
  gzbuffer(gz, 1 << 17);
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  for (;;) {
    int got = gzread(gz, chunk.data(), unsigned(chunk.size()));
    int err = Z_OK;
    const char* msg = gzerror(gz, &err);
    if (got < 0 || (err != Z_OK && err != Z_STREAM_END)) {
      std::string reason = msg && *msg ? msg : "decompression failed";
      if (reason.rfind(path + ": ", 0) == 0) reason = reason.substr(path.size() + 2);  // zlib prefixes the path
      throw InputError(path + " is a corrupt gzip file: " + reason +
                           " after " + humanBytes(out.size() + size_t(std::max(got, 0))) + " of decompressed data",
                       "download the file again");
    }
    if (got == 0) break;
    out.insert(out.end(), chunk.begin(), chunk.begin() + got);
  }
  return out;
}

TensorDataset readIdx(const std::string& imagesFile, const std::string& labelsFile, int64_t numClasses) {
  std::vector<uint8_t> img = readMaybeGzip(imagesFile);
  std::vector<uint8_t> lab = readMaybeGzip(labelsFile);

  if (img.size() < 16)
    throw InputError(imagesFile + " is truncated: expected at least 16 bytes (the IDX image header), found " +
                         humanBytes(img.size()),
                     "download the file again");
  const uint32_t imgMagic = bigEndian32(img.data());
  if (imgMagic != 2051)
    throw InputError(imagesFile + " is not an IDX image file: expected magic number 2051, found " +
                         std::to_string(imgMagic),
                     "point the dataset at the *-images-idx3-ubyte file");
  const int64_t n = bigEndian32(img.data() + 4), rows = bigEndian32(img.data() + 8),
                cols = bigEndian32(img.data() + 12);
  if (rows <= 0 || cols <= 0 || rows > 4096 || cols > 4096)
    throw InputError(imagesFile + ": expected image dimensions between 1 and 4096, found " + std::to_string(rows) +
                         " x " + std::to_string(cols),
                     "the file is corrupt");
  const uint64_t expectImg = 16 + uint64_t(n) * uint64_t(rows) * uint64_t(cols);
  if (img.size() != expectImg)
    throw InputError(imagesFile + (img.size() < expectImg ? " is truncated" : " has trailing data") +
                         ": expected " + humanBytes(expectImg) + " (16-byte header + " + std::to_string(n) + " x " +
                         std::to_string(rows) + " x " + std::to_string(cols) + "), found " + humanBytes(img.size()),
                     "download the file again");

  if (lab.size() < 8)
    throw InputError(labelsFile + " is truncated: expected at least 8 bytes (the IDX label header), found " +
                         humanBytes(lab.size()),
                     "download the file again");
  const uint32_t labMagic = bigEndian32(lab.data());
  if (labMagic != 2049)
    throw InputError(labelsFile + " is not an IDX label file: expected magic number 2049, found " +
                         std::to_string(labMagic),
                     "point the dataset at the *-labels-idx1-ubyte file");
  const int64_t nLabels = bigEndian32(lab.data() + 4);
  const uint64_t expectLab = 8 + uint64_t(nLabels);
  if (lab.size() != expectLab)
    throw InputError(labelsFile + (lab.size() < expectLab ? " is truncated" : " has trailing data") + ": expected " +
                         humanBytes(expectLab) + " (8-byte header + " + std::to_string(nLabels) + " labels), found " +
                         humanBytes(lab.size()),
                     "download the file again");
  if (nLabels != n)
    throw InputError("image and label counts differ: " + imagesFile + " holds " + std::to_string(n) + " images, " +
                         labelsFile + " holds " + std::to_string(nLabels) + " labels; expected equal counts",
                     "use the images and labels files of the same split");

  auto labels = torch::empty({n}, torch::kInt64);
  auto* lp = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t v = lab[size_t(8 + i)];
    if (v >= numClasses)
      throw InputError(labelsFile + ": label " + std::to_string(i) + " is " + std::to_string(v) + ", expected 0.." +
                           std::to_string(numClasses - 1),
                       "the file is corrupt or not a " + std::to_string(numClasses) + "-class label file");
    lp[i] = v;
  }
  TensorDataset d;
  d.images = torch::from_blob(img.data() + 16, {n, 1, rows, cols}, torch::kUInt8).clone();
  d.labels = labels;
  d.numClasses = numClasses;
  d.classNames = numberNames(numClasses);
  d.source = imagesFile + ", " + labelsFile;
  return d;
}

TensorDataset readMnistFolder(const std::string& dir, bool train, DatasetKind kind) {
  requireExists(dir, toString(kind) + " dataset folder");
  std::vector<std::string> dirs{dir};
  for (const char* sub : {"raw", "FashionMNIST/raw", "MNIST/raw"})
    if (fs::is_directory(fs::path(dir) / sub)) dirs.push_back((fs::path(dir) / sub).string());
  const std::string prefix = train ? "train" : "t10k";
  auto names = [&](const std::string& part, const std::string& idx) {
    std::vector<std::string> v;
    for (const char* sep : {"-", "."})
      for (const char* ext : {".gz", ""}) v.push_back(prefix + "-" + part + sep + idx + "-ubyte" + ext);
    return v;
  };
  const std::string label = toString(kind) + (train ? " training set" : " test set");
  std::string images = findFile(dirs, names("images", "idx3"), label);
  std::string labels = findFile(dirs, names("labels", "idx1"), label);
  TensorDataset d = readIdx(images, labels, 10);
  d.classNames = kind == DatasetKind::FashionMnist ? fashionMnistClassNames() : numberNames(10);
  d.name = toString(kind) + (train ? "/train" : "/test");
  return d;
}

TensorDataset readCifar10(const std::string& path, bool train) {
  auto dirs = cifarDirs(path, "cifar-10-batches-bin");
  std::vector<std::string> files;
  if (train) {
    for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else {
    files.push_back("test_batch.bin");
  }
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  std::string source, metaDir;
  for (const auto& f : files) {
    std::string file = findFile(dirs, {f}, train ? "CIFAR-10 training set" : "CIFAR-10 test set");
    readCifarRecords(file, 1, 0, 10, pixels, labels);
    source += (source.empty() ? "" : ", ") + file;
    metaDir = fs::path(file).parent_path().string();
  }
  auto names = cifar10ClassNames();
  fs::path meta = fs::path(metaDir) / "batches.meta.txt";
  if (fs::is_regular_file(meta)) {
    auto lines = readLines(meta.string());
    if (lines.size() == 10) names = lines;
  }
  return cifarDataset(pixels, labels, 10, names, train ? "cifar10/train" : "cifar10/test", source);
}

TensorDataset readCifar100(const std::string& path, bool train) {
  auto dirs = cifarDirs(path, "cifar-100-binary");
  std::string file = findFile(dirs, {train ? "train.bin" : "test.bin"},
                              train ? "CIFAR-100 training set" : "CIFAR-100 test set");
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  readCifarRecords(file, 2, 1, 100, pixels, labels);
  auto names = numberNames(100);
  fs::path meta = fs::path(file).parent_path() / "fine_label_names.txt";
  if (fs::is_regular_file(meta)) {
    auto lines = readLines(meta.string());
    if (lines.size() == 100)
      names = lines;
    else
      logger("core.data")->warn("{}: expected 100 class names, found {}; using numbers", meta.string(), lines.size());
  }
  return cifarDataset(pixels, labels, 100, names, train ? "cifar100/train" : "cifar100/test", file);
}

namespace {

// What a folder entry is, through its links; an entry the reader cannot follow (a loop of links, a link to
// nothing, one it may not reach) is refused, naming the entry and the folder.
FileKind entryKind(const fs::directory_entry& entry, const std::string& folder) {
  std::string error;
  const FileKind kind = fileKind(entry.path().string(), &error);
  const std::string where = "image folder " + folder + ": '" + entry.path().string() + "'";
  if (kind == FileKind::SymlinkLoop)
    throw InputError(where + " is a loop of symbolic links", "remove the link, or point it at a folder or an image");
  if (kind == FileKind::Missing)
    throw InputError(where + " is a symbolic link to nothing", "remove the link, or point it at a folder or an image");
  if (kind == FileKind::Unreachable) throw InputError(where + " cannot be reached: " + error, "check its permissions");
  return kind;
}

// The entries of a folder; a folder that cannot be listed is refused with the system's reason.
std::vector<fs::directory_entry> listFolder(const fs::path& folder, const std::string& root) {
  std::error_code ec;
  std::vector<fs::directory_entry> out;
  fs::directory_iterator it(folder, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) out.push_back(*it);
  if (ec)
    throw InputError("image folder " + root + ": cannot list '" + folder.string() + "': " + ec.message(),
                     "check the folder's permissions");
  return out;
}

}  // namespace

TensorDataset readImageFolder(const std::string& root, const ImageFolderOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw InputError("image folder " + root + " does not exist or is not a folder",
                     "point the dataset path at a folder with one sub-folder of images per class");
  if (options.channels != 0 && options.channels != 1 && options.channels != 3)
    throw InputError("image folder channels must be 0 (auto), 1 or 3, found " + std::to_string(options.channels));
  if (options.imageSize < 0 || options.imageSize > 4096)
    throw InputError("image folder size must be 0 (keep) or 1..4096, found " + std::to_string(options.imageSize));

  std::vector<std::string> found;
  for (const auto& entry : listFolder(root, root))
    if (!isHidden(entry.path()) && entryKind(entry, root) == FileKind::Directory)
      found.push_back(entry.path().filename().string());
  std::sort(found.begin(), found.end());
  if (found.empty())
    throw InputError("image folder " + root + ": expected one sub-folder per class, found none",
                     "put the images of each class in root/<class name>/");
  std::vector<std::string> classNames = options.classNames.empty() ? found : options.classNames;
  if (classNames.size() < 2)
    throw InputError("image folder " + root + " has one class folder (\"" + classNames.front() +
                         "\"): a classifier needs at least two classes",
                     "put the images of each class in its own sub-folder, root/<class name>/, two or more of them");

  struct Item {
    std::string file;
    int64_t label;
    int w, h, comp;
  };
  std::vector<Item> items;
  for (const auto& cls : found) {
    auto it = std::find(classNames.begin(), classNames.end(), cls);
    if (it == classNames.end())
      throw InputError("image folder " + root + ": class folder \"" + cls + "\" is not one of the expected classes (" +
                           joinNames(classNames) + ")",
                       "use the same class folders in train/ and test/");
    const int64_t label = it - classNames.begin();
    std::vector<std::string> files;
    for (const auto& entry : listFolder(fs::path(root) / cls, root)) {
      if (!isImageFile(entry.path()) || isHidden(entry.path())) continue;
      // An image's name on a FIFO, a device or a folder is refused: opening a FIFO would block for ever.
      const FileKind kind = entryKind(entry, root);
      if (kind != FileKind::Regular)
        throw InputError("image folder " + root + ": '" + entry.path().string() + "' is " + describeFileKind(kind) +
                             ", not an image file",
                         "remove it, or replace it with the image");
      files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty())
      throw InputError("class folder " + (fs::path(root) / cls).string() +
                           " is empty: expected at least one .png, .jpg or .jpeg image, found none",
                       "add images or remove the folder");
    for (auto& f : files) {
      int w = 0, h = 0, comp = 0;
      const std::vector<uint8_t> bytes = readImageBytes(f);
      if (!stbi_info_from_memory(bytes.data(), int(bytes.size()), &w, &h, &comp))
        throw InputError("unreadable image " + f + ": expected a PNG or JPEG image, " +
                             std::string(stbi_failure_reason() ? stbi_failure_reason() : "decoding failed"),
                         "replace or remove the file");
      // The decoder allocates what the header declares before it reads the pixels, and a few header bytes can
      // declare 16384 x 16384. Far above any size a network here trains on.
      if (int64_t(w) * h > kMaxImagePixels)
        throw InputError("image " + f + " is " + std::to_string(w) + "x" + std::to_string(h) + ", more than the " +
                             std::to_string(kMaxImagePixels) + " pixels (8192 x 8192) this reader decodes",
                         "shrink the image first, or remove it if that size is wrong (a damaged file)");
      items.push_back({f, label, w, h, comp});
    }
  }

  int channels = int(options.channels);
  if (channels == 0) {
    channels = 1;
    for (const auto& it : items)
      if (it.comp >= 3) channels = 3;
  }
  // Images whose channel count is converted: say how many and which, rather than mixing silently.
  {
    int64_t converted = 0;
    std::string first;
    for (const auto& it : items)
      if ((it.comp >= 3) != (channels == 3)) {
        if (converted++ == 0) first = it.file;
        }
    if (converted > 0)
      logger("core.data")->warn("image folder {}: {} of {} images are {} and were converted to {} (the first: {})", root,
                                converted, items.size(), channels == 3 ? "grey" : "colour",
                                channels == 3 ? "RGB by repeating the grey channel" : "grey", first);
  }
  int outW = int(options.imageSize), outH = int(options.imageSize);
  if (options.imageSize == 0) {
    outW = items.front().w;
    outH = items.front().h;
    for (const auto& it : items)
      if (it.w != outW || it.h != outH)
        throw InputError("image " + it.file + " is " + std::to_string(it.w) + "x" + std::to_string(it.h) +
                             ", expected " + std::to_string(outW) + "x" + std::to_string(outH) + " like " +
                             items.front().file,
                         "give an image size to resize every image to, or use images of one size");
  }

  const int64_t n = int64_t(items.size());
  auto images = torch::empty({n, channels, outH, outW}, torch::kUInt8);
  auto labels = torch::empty({n}, torch::kInt64);
  uint8_t* out = images.data_ptr<uint8_t>();
  const int64_t plane = int64_t(outH) * outW;
  for (int64_t i = 0; i < n; ++i) {
    const Item& it = items[size_t(i)];
    int w = 0, h = 0, comp = 0;
    const std::vector<uint8_t> bytes = readImageBytes(it.file);
    std::unique_ptr<stbi_uc, void (*)(void*)> pix(
        stbi_load_from_memory(bytes.data(), int(bytes.size()), &w, &h, &comp, channels), stbi_image_free);
    if (!pix)
      throw InputError("unreadable image " + it.file + ": expected a PNG or JPEG image, " +
                           std::string(stbi_failure_reason() ? stbi_failure_reason() : "decoding failed"),
                       "replace or remove the file");
    uint8_t* dst = out + i * channels * plane;
    for (int y = 0; y < outH; ++y) {
      const int sy = int(int64_t(y) * h / outH);  // nearest: floor(y * in / out), as torch's "nearest"
      for (int x = 0; x < outW; ++x) {
        const int sx = int(int64_t(x) * w / outW);
        const stbi_uc* src = pix.get() + (int64_t(sy) * w + sx) * channels;
        for (int c = 0; c < channels; ++c) dst[c * plane + int64_t(y) * outW + x] = src[c];
      }
    }
    labels.data_ptr<int64_t>()[i] = it.label;
  }
  TensorDataset d;
  d.images = images;
  d.labels = labels;
  d.numClasses = int64_t(classNames.size());
  d.classNames = classNames;
  d.name = "folder";
  d.source = root;
  return d;
}

}  // namespace rkd
