#include "runtime/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace renorm {

namespace {
// What the holder wrote: "pid 1234 (renorm-train)", or "" when the file is empty or unreadable.
std::string holder_of(int fd) {
  char buf[256];
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string s(buf, size_t(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  for (char& ch : s)
    if (static_cast<unsigned char>(ch) < 32) ch = ' ';  // the file is untrusted: no control characters in a message
  return s;
}
}  // namespace

FolderLock::FolderLock(const std::string& dir, const std::string& what, const std::string& holder) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string path = dir + "/" + kFileName;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(what + ": folder cannot be created or written (" + path + ": " + std::strerror(errno) + ")");
  int rc;
  do rc = ::flock(fd, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    const std::string who = holder_of(fd);
    ::close(fd);
    if (err == EWOULDBLOCK)
      throw FolderBusy(what + ": in use by another run (" + (who.empty() ? "a process that has not said which" : who) +
                       " holds " + path + "); wait for it to end, or choose another folder");
    throw IoError(what + ": cannot lock " + path + ": " + std::strerror(err));
  }
  const std::string me = "pid " + std::to_string(::getpid()) + " (" + holder + ")\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != ssize_t(me.size())) {
    const int err = errno;
    ::close(fd);
    throw IoError(what + ": folder cannot be written (" + path + ": " + std::strerror(err) + ")");
  }
  fd_ = fd;
}

FolderLock& FolderLock::operator=(FolderLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace renorm
