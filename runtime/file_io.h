// Reading and writing whole files, the two rules every reader and writer shares.
// Reading: the path must be a regular file (a folder, a FIFO or a device is refused before it is opened,
// so nothing hangs), of at most `max_bytes`; errors are IoErrors naming the path and `what` it should be.
// Writing: atomically and durably — a temporary file beside the target, written, fsync'ed, renamed over
// the target, then the folder fsync'ed; a crash or a power loss leaves the old file or the new one,
// never a half-written one, and no temporary file is left behind on failure.
#pragma once
#include <cstdint>
#include <string>

namespace renorm {

constexpr uint64_t kMaxReadBytes = uint64_t(1) << 34;  // 16 GiB: larger than any file renorm reads

std::string read_file(const std::string& path, const std::string& what, uint64_t max_bytes = kMaxReadBytes);
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace renorm
