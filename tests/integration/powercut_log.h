// The record format powercut_shim.cc writes and PowerCutModel (power_cut.h) reads: a header,
// then `path_len` bytes of path, then `data_len` bytes of data. Records are appended with one
// writev each, so those of several processes do not interleave.
#pragma once

#include <cstdint>

namespace oc::itest::powercut {

enum RecordType : uint32_t {
  kOpen = 1,  // path; a: the open flags, with kCreatedBit when the call created the file
  kClose = 2,
  kWrite = 3,   // a: offset; data: the bytes written
  kTrunc = 4,   // a: the new length
  kSyncBegin = 8,  // a: a token; fsync or fdatasync was called, on a file or the directory
  kSync = 5,       // a: the begin's token; that call returned 0
  kUnlink = 6,  // path
  kRename = 7,  // path: from; data: to
};
inline constexpr uint64_t kCreatedBit = uint64_t{1} << 40;

struct RecordHeader {
  uint32_t type;
  uint32_t pid;
  int32_t fd;
  uint32_t path_len;
  uint64_t a;
  uint64_t data_len;
};

}  // namespace oc::itest::powercut
