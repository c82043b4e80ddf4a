// One owner per output folder: an exclusive flock(2) on <folder>/.renorm.lock, held for as long as the
// FolderLock lives. The kernel drops it when the holder exits or dies, however it dies, so a stale lock
// never blocks; the file itself stays (deleting it would let two processes lock two different files).
// The holder writes its pid and program into the file, for the refusal message of the next one.
#pragma once
#include <string>

#include "runtime/error.h"

namespace renorm {

// Another live process holds the folder: the message names the folder and the holder's pid.
struct FolderBusy : ConfigError {
  using ConfigError::ConfigError;
};

class FolderLock {
 public:
  FolderLock() = default;
  // Creates `dir` if needed and locks it; throws FolderBusy when another process (or another FolderLock
  // of this one) holds it, IoError when the folder cannot be created or written (`what` names it in
  // messages: "--out runs/x").
  FolderLock(const std::string& dir, const std::string& what, const std::string& holder);
  FolderLock(FolderLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FolderLock& operator=(FolderLock&& o) noexcept;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock();
  bool held() const { return fd_ >= 0; }

  static constexpr const char* kFileName = ".renorm.lock";

 private:
  int fd_ = -1;
};

}  // namespace renorm
