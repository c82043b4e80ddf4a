#include "runtime/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "runtime/error.h"

namespace renorm {

namespace {
std::string os_error() { return std::strerror(errno); }

// Closes the descriptor on every path out of a scope.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void write_all(int fd, const std::string& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw IoError(path + ": write failed: " + os_error());
    done += size_t(n);
  }
}

void fsync_folder(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir.push_back('.');  // not dir = ".": GCC 12 -Wrestrict false positive (GCC PR 105329)
  Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0 || ::fsync(d.fd) != 0) throw IoError(path + ": cannot sync its folder " + dir + ": " + os_error());
}
}  // namespace

std::string read_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0 && errno == ENOENT) throw IoError(path + ": no such file (expected " + what + ")");
  if (f.fd < 0) throw IoError(path + ": cannot open " + what + ": " + os_error());
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw IoError(path + ": cannot stat " + what + ": " + os_error());
  if (!S_ISREG(st.st_mode)) throw IoError(path + ": not a regular file (expected " + what + ")");
  if (uint64_t(st.st_size) > max_bytes)
    throw IoError(path + ": " + std::to_string(st.st_size) + " bytes is larger than any " + what + " (limit " +
                  std::to_string(max_bytes) + ")");
  std::string bytes(size_t(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(f.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw IoError(path + ": read failed: " + os_error());
    if (n == 0) break;  // the file shrank while we read it
    done += size_t(n);
  }
  bytes.resize(done);
  return bytes;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  try {
    {
      Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
      if (f.fd < 0) throw IoError(path + ": cannot write (" + tmp + " could not be created: " + os_error() + ")");
      write_all(f.fd, bytes, path);
      if (::fsync(f.fd) != 0) throw IoError(path + ": fsync failed: " + os_error());
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw IoError(path + ": cannot rename " + tmp + " into place: " + os_error());
  } catch (const IoError&) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_folder(path);
}

}  // namespace renorm
