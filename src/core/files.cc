#include "core/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace oc {

Status SyncParentDir(const std::string& file) {
  std::string path = file;
  while (path.size() > 1 && path.back() == '/') path.pop_back();  // "dir/" names dir
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("open directory " + dir + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) return Status::IOError("fsync directory " + dir + ": " + std::strerror(saved));
  return Status::Ok();
}

}  // namespace oc
