// An LD_PRELOAD library for the power-loss test (power_loss_test.cc): it logs every change a
// process makes to files under POWERCUT_DIR (opens and creations, writes, truncations, renames,
// unlinks) and every fsync/fdatasync that returned success, in order, to POWERCUT_LOG. From that
// log the test rebuilds what a power cut at the moment the process died would have left on a
// disk that keeps only what was synced: a file's data as of its last sync, and a directory's
// names as of its last sync (kill -9 alone keeps the page cache, so it cannot show this).
//
// Calls on tracked descriptors are serialised under one lock, with their log record written
// before the lock is released, so the log's order is the order the calls took effect in this
// process. A sync is the exception: it logs a begin record, runs outside the lock (writes go on
// meanwhile, as they do on a real system), and logs its end; the model makes durable only what
// was written before the begin. `-shm` files (SQLite's shared-memory index, rebuilt from the log on
// open, and written through mmap) and the data directory's lock file are not tracked.
//
// The records are powercut_log.h's.
#undef _FORTIFY_SOURCE  // this file defines open() and friends itself
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "integration/powercut_log.h"

namespace {

using namespace oc::itest::powercut;  // NOLINT: the record names

constexpr int kFdsTracked = 65536;

struct FdState {
  bool tracked = false;
  bool append = false;  // O_APPEND: a write lands at the end, wherever that is then
  uint64_t pos = 0;
};

struct Shim {
  std::string prefix;  // POWERCUT_DIR with a trailing '/'
  int log_fd = -1;
  std::mutex mu;
  uint64_t next_sync_token = 0;  // under mu
  FdState fds[kFdsTracked];
};

Shim& TheShim() {
  static Shim* shim = new Shim();  // never destroyed: calls may come during exit
  return *shim;
}

template <typename F>
F Real(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    const char msg[] = "powercut_shim: a libc function is missing\n";
    (void)!::syscall(SYS_write, 2, msg, sizeof msg - 1);
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

__attribute__((constructor)) void Init() {
  const char* dir = std::getenv("POWERCUT_DIR");
  const char* log = std::getenv("POWERCUT_LOG");
  if (dir == nullptr || log == nullptr || dir[0] != '/') return;
  Shim& s = TheShim();
  s.prefix = dir;
  if (s.prefix.back() != '/') s.prefix += '/';
  s.log_fd = static_cast<int>(
      ::syscall(SYS_openat, AT_FDCWD, log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
}

bool Active() { return TheShim().log_fd >= 0; }

std::string Absolute(const char* path) {
  if (path == nullptr) return "";
  if (path[0] == '/') return path;
  char cwd[4096];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return "";
  return std::string(cwd) + "/" + path;
}

bool EndsWith(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

bool TrackedPath(const std::string& abs) {
  const Shim& s = TheShim();
  std::string dir_itself = s.prefix.substr(0, s.prefix.size() - 1);
  if (abs != dir_itself && abs.compare(0, s.prefix.size(), s.prefix) != 0) return false;
  return !EndsWith(abs, "-shm") && !EndsWith(abs, "/orderd.lock");
}

// A first look, without the lock. Callers that act on it look again under the lock
// (StillTracked): the descriptor may have been closed, and its number reused, in between.
bool TrackedFd(int fd) {
  return Active() && fd >= 0 && fd < kFdsTracked && TheShim().fds[fd].tracked;
}
bool StillTracked(int fd) { return TheShim().fds[fd].tracked; }

// Under the lock.
void Log(RecordType type, int fd, const std::string& path, uint64_t a, const void* data,
         uint64_t data_len) {
  Shim& s = TheShim();
  RecordHeader h{
      type, static_cast<uint32_t>(::getpid()), fd, static_cast<uint32_t>(path.size()), a, data_len};
  iovec iov[3] = {{&h, sizeof h},
                  {const_cast<char*>(path.data()), path.size()},
                  {const_cast<void*>(data), static_cast<size_t>(data_len)}};
  // One writev on an O_APPEND descriptor: records of several processes do not interleave.
  ssize_t want = static_cast<ssize_t>(sizeof h + path.size() + data_len);
  if (::syscall(SYS_writev, s.log_fd, iov, 3) != want) {
    const char msg[] = "powercut_shim: cannot write the log\n";
    (void)!::syscall(SYS_write, 2, msg, sizeof msg - 1);
    std::abort();
  }
}

int OpenTracked(int real_fd_or_error, const std::string& abs, int flags, bool existed) {
  if (real_fd_or_error < 0) return real_fd_or_error;
  if (real_fd_or_error >= kFdsTracked) {
    const char msg[] = "powercut_shim: a tracked file got a descriptor beyond the table\n";
    (void)!::syscall(SYS_write, 2, msg, sizeof msg - 1);
    std::abort();
  }
  FdState& st = TheShim().fds[real_fd_or_error];
  st.tracked = true;
  st.append = (flags & O_APPEND) != 0;
  st.pos = 0;
  uint64_t a = static_cast<uint32_t>(flags) | (existed ? 0 : kCreatedBit);
  Log(kOpen, real_fd_or_error, abs, a, nullptr, 0);
  return real_fd_or_error;
}

bool Exists(const std::string& abs) {
  struct stat sb {};
  return ::stat(abs.c_str(), &sb) == 0;
}

template <typename OpenFn>
int DoOpen(const char* path, int flags, mode_t mode, OpenFn real) {
  if (!Active()) return real(path, flags, mode);
  std::string abs = Absolute(path);
  if (!TrackedPath(abs)) {
    int fd = real(path, flags, mode);
    // The number may be a tracked descriptor's, closed where the shim could not see it.
    if (fd >= 0 && fd < kFdsTracked) TheShim().fds[fd].tracked = false;
    return fd;
  }
  std::lock_guard lock(TheShim().mu);
  bool existed = Exists(abs);
  return OpenTracked(real(path, flags, mode), abs, flags, existed);
}

mode_t ModeArg(int flags, va_list ap) {
  return (flags & (O_CREAT | O_TMPFILE)) != 0 ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

// A write at the descriptor's position (write, writev): logged at the offset it landed at.
template <typename Call>
ssize_t PositionedWrite(int fd, Call call, std::string (*bytes)(const void*, ssize_t),
                        const void* arg) {
  std::unique_lock lock(TheShim().mu);
  if (!StillTracked(fd)) {
    lock.unlock();
    return call();
  }
  FdState& st = TheShim().fds[fd];
  ssize_t r = call();
  if (r > 0) {
    uint64_t offset = st.pos;
    if (st.append) {  // at the end, wherever another process left it: ask where this one ended
      auto end = static_cast<int64_t>(::syscall(SYS_lseek, fd, 0, SEEK_CUR));
      offset = end >= r ? static_cast<uint64_t>(end - r) : 0;
    }
    std::string data = bytes(arg, r);
    Log(kWrite, fd, "", offset, data.data(), data.size());
    st.pos = offset + static_cast<uint64_t>(r);
  }
  return r;
}

template <typename Call>
ssize_t OffsetWrite(int fd, const void* buf, uint64_t off, Call call) {
  std::unique_lock lock(TheShim().mu);
  if (!StillTracked(fd)) {
    lock.unlock();
    return call();
  }
  ssize_t r = call();
  if (r > 0) Log(kWrite, fd, "", off, buf, static_cast<uint64_t>(r));
  return r;
}

template <typename Call>
auto Seek(int fd, Call call) {
  std::unique_lock lock(TheShim().mu);
  auto r = call();
  if (r >= 0 && StillTracked(fd)) TheShim().fds[fd].pos = static_cast<uint64_t>(r);
  return r;
}

template <typename Call>
int Truncate(int fd, uint64_t len, Call call) {
  std::unique_lock lock(TheShim().mu);
  if (!StillTracked(fd)) {
    lock.unlock();
    return call();
  }
  int r = call();
  if (r == 0) Log(kTrunc, fd, "", len, nullptr, 0);
  return r;
}

// The begin record marks what the sync covers: what was written before it. The real call runs
// outside the lock, so writes that land while the disk works are logged after the begin and
// count as unsynced, as they may be.
template <typename Call>
int Sync(int fd, Call call) {
  uint64_t token = 0;
  {
    std::lock_guard lock(TheShim().mu);
    if (!StillTracked(fd)) return call();
    token = ++TheShim().next_sync_token;
    Log(kSyncBegin, fd, "", token, nullptr, 0);
  }
  int r = call();
  std::lock_guard lock(TheShim().mu);
  if (r == 0) Log(kSync, fd, "", token, nullptr, 0);
  return r;
}

}  // namespace

extern "C" {

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  static auto real = Real<int (*)(const char*, int, ...)>("open");
  return DoOpen(path, flags, mode, [](const char* p, int f, mode_t m) { return real(p, f, m); });
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  static auto real = Real<int (*)(const char*, int, ...)>("open64");
  return DoOpen(path, flags, mode, [](const char* p, int f, mode_t m) { return real(p, f, m); });
}

int __open_2(const char* path, int flags) { return open(path, flags); }
int __open64_2(const char* path, int flags) { return open64(path, flags); }

int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  static auto real = Real<int (*)(int, const char*, int, ...)>("openat");
  if (dirfd != AT_FDCWD && path[0] != '/') return real(dirfd, path, flags, mode);
  return DoOpen(path, flags, mode,
                [dirfd](const char* p, int f, mode_t m) { return real(dirfd, p, f, m); });
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return openat(dirfd, path, flags, mode);
}

int close(int fd) {
  static auto real = Real<int (*)(int)>("close");
  if (!TrackedFd(fd)) return real(fd);
  std::unique_lock lock(TheShim().mu);
  if (!StillTracked(fd)) {
    lock.unlock();
    return real(fd);
  }
  // Untracked before the number is free again: another thread may get it at once.
  TheShim().fds[fd].tracked = false;
  Log(kClose, fd, "", 0, nullptr, 0);
  return real(fd);
}

ssize_t write(int fd, const void* buf, size_t n) {
  static auto real = Real<ssize_t (*)(int, const void*, size_t)>("write");
  if (!TrackedFd(fd)) return real(fd, buf, n);
  return PositionedWrite(
      fd, [&] { return real(fd, buf, n); },
      [](const void* b, ssize_t r) { return std::string(static_cast<const char*>(b), r); }, buf);
}

ssize_t writev(int fd, const iovec* iov, int count) {
  static auto real = Real<ssize_t (*)(int, const iovec*, int)>("writev");
  if (!TrackedFd(fd)) return real(fd, iov, count);
  struct Vec {
    const iovec* iov;
    int count;
  } vec{iov, count};
  return PositionedWrite(
      fd, [&] { return real(fd, iov, count); },
      [](const void* v, ssize_t r) {
        const Vec& in = *static_cast<const Vec*>(v);
        std::string joined;
        for (int i = 0; i < in.count && joined.size() < static_cast<size_t>(r); ++i) {
          joined.append(static_cast<const char*>(in.iov[i].iov_base), in.iov[i].iov_len);
        }
        joined.resize(static_cast<size_t>(r));
        return joined;
      },
      &vec);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  static auto real = Real<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  if (!TrackedFd(fd)) return real(fd, buf, n, off);
  return OffsetWrite(fd, buf, static_cast<uint64_t>(off), [&] { return real(fd, buf, n, off); });
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
  static auto real = Real<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  if (!TrackedFd(fd)) return real(fd, buf, n, off);
  return OffsetWrite(fd, buf, static_cast<uint64_t>(off), [&] { return real(fd, buf, n, off); });
}

off_t lseek(int fd, off_t off, int whence) {
  static auto real = Real<off_t (*)(int, off_t, int)>("lseek");
  if (!TrackedFd(fd)) return real(fd, off, whence);
  return Seek(fd, [&] { return real(fd, off, whence); });
}

off64_t lseek64(int fd, off64_t off, int whence) {
  static auto real = Real<off64_t (*)(int, off64_t, int)>("lseek64");
  if (!TrackedFd(fd)) return real(fd, off, whence);
  return Seek(fd, [&] { return real(fd, off, whence); });
}

int ftruncate(int fd, off_t len) {
  static auto real = Real<int (*)(int, off_t)>("ftruncate");
  if (!TrackedFd(fd)) return real(fd, len);
  return Truncate(fd, static_cast<uint64_t>(len), [&] { return real(fd, len); });
}

int ftruncate64(int fd, off64_t len) {
  static auto real = Real<int (*)(int, off64_t)>("ftruncate64");
  if (!TrackedFd(fd)) return real(fd, len);
  return Truncate(fd, static_cast<uint64_t>(len), [&] { return real(fd, len); });
}

int fsync(int fd) {
  static auto real = Real<int (*)(int)>("fsync");
  if (!TrackedFd(fd)) return real(fd);
  return Sync(fd, [&] { return real(fd); });
}

int fdatasync(int fd) {
  static auto real = Real<int (*)(int)>("fdatasync");
  if (!TrackedFd(fd)) return real(fd);
  return Sync(fd, [&] { return real(fd); });
}

int unlink(const char* path) {
  static auto real = Real<int (*)(const char*)>("unlink");
  if (!Active()) return real(path);
  std::string abs = Absolute(path);
  if (!TrackedPath(abs)) return real(path);
  std::lock_guard lock(TheShim().mu);
  int r = real(path);
  if (r == 0) Log(kUnlink, -1, abs, 0, nullptr, 0);
  return r;
}

int unlinkat(int dirfd, const char* path, int flags) {
  static auto real = Real<int (*)(int, const char*, int)>("unlinkat");
  if (!Active() || (dirfd != AT_FDCWD && path[0] != '/')) return real(dirfd, path, flags);
  std::string abs = Absolute(path);
  if (!TrackedPath(abs)) return real(dirfd, path, flags);
  std::lock_guard lock(TheShim().mu);
  int r = real(dirfd, path, flags);
  if (r == 0) Log(kUnlink, -1, abs, 0, nullptr, 0);
  return r;
}

int rename(const char* from, const char* to) {
  static auto real = Real<int (*)(const char*, const char*)>("rename");
  if (!Active()) return real(from, to);
  std::string a = Absolute(from), b = Absolute(to);
  if (!TrackedPath(a) && !TrackedPath(b)) return real(from, to);
  std::lock_guard lock(TheShim().mu);
  int r = real(from, to);
  if (r == 0) Log(kRename, -1, a, 0, b.data(), b.size());
  return r;
}

}  // extern "C"
