#include "integration/orderd_harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace oc::itest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace bj = boost::json;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::fprintf(stderr, "environment variable %s is not set (run through ctest)\n", name);
    std::abort();
  }
  return v;
}

std::string OrderdBin() { return RequireEnv("ORDERD_BIN"); }
std::string OrderctlBin() { return RequireEnv("ORDERCTL_BIN"); }

// ---------------------------------------------------------------------------------------------
// TempDir

TempDir::TempDir() {
  std::string base = std::filesystem::temp_directory_path().string() + "/oc-integ-XXXXXX";
  std::vector<char> buf(base.begin(), base.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  const char* keep = std::getenv("ORDERCENTER_KEEP_TMP");
  if (keep != nullptr && std::string(keep) == "1") {
    std::fprintf(stderr, "keeping %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

// ---------------------------------------------------------------------------------------------
// Spawning

namespace {

struct CArgv {
  explicit CArgv(const std::vector<std::string>& args) {
    for (const auto& a : args) ptrs.push_back(const_cast<char*>(a.c_str()));
    ptrs.push_back(nullptr);
  }
  std::vector<char*> ptrs;
};

std::string ReadFileTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  return s;
}

// fork + exec with stdin from /dev/null and stdout/stderr on the given fds; every other fd is
// closed in the child, and the child gets SIGKILL if the test process dies (PR_SET_PDEATHSIG), so
// a crashed or timed-out test never leaves a server behind. Returns 0 or an errno.
int Spawn(const std::vector<std::string>& args, int out_fd, int err_fd, pid_t* pid_out) {
  CArgv argv(args);
  int status_pipe[2];  // the child reports an exec failure here; CLOEXEC closes it on success
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) return errno;
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(status_pipe[0]);
    ::close(status_pipe[1]);
    return e;
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) {
      int e = errno;
      (void)!::write(status_pipe[1], &e, sizeof e);
      ::_exit(127);
    }
    int keep = status_pipe[1];
    if (keep > 3) {
      ::close_range(3, static_cast<unsigned>(keep) - 1, 0);
    }
    ::close_range(static_cast<unsigned>(keep) + 1, ~0u, 0);
    ::execve(argv.ptrs[0], argv.ptrs.data(), environ);
    int e = errno;
    (void)!::write(status_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(status_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  while ((n = ::read(status_pipe[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  ::close(status_pipe[0]);
  if (n > 0) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return child_errno != 0 ? child_errno : EINVAL;
  }
  *pid_out = pid;
  return 0;
}

std::optional<int> WaitPidFor(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

OrderdProcess::~OrderdProcess() {
  if (pid_ > 0) Kill();
  JoinReader();
}

void OrderdProcess::ReaderLoop(int fd) {
  std::string partial;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buf, static_cast<size_t>(n));
    size_t pos;
    while ((pos = partial.find('\n')) != std::string::npos) {
      std::string line = partial.substr(0, pos);
      partial.erase(0, pos + 1);
      std::lock_guard<std::mutex> lock(mu_);
      lines_.push_back(std::move(line));
      cv_.notify_all();
    }
  }
  ::close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  if (!partial.empty()) lines_.push_back(partial);
  stdout_eof_ = true;
  cv_.notify_all();
}

void OrderdProcess::JoinReader() {
  if (reader_.joinable()) reader_.join();
}

bool OrderdProcess::Start(const std::string& data_dir, const std::string& log_path,
                          std::chrono::milliseconds timeout, std::string* error,
                          const std::vector<std::string>& extra_args) {
  if (pid_ > 0) {
    *error = "orderd already running";
    return false;
  }
  JoinReader();
  {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.clear();
    stdout_eof_ = false;
    exit_status_.reset();
  }
  port_ = 0;
  log_path_ = log_path;
  std::filesystem::create_directories(data_dir);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    *error = std::string("pipe2: ") + std::strerror(errno);
    return false;
  }
  std::vector<std::string> args = {OrderdBin(), "--data-dir", data_dir, "--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *error = "open " + log_path + ": " + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  pid_t pid = -1;
  int rc = Spawn(args, fds[1], log_fd, &pid);
  ::close(log_fd);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    *error = "spawning " + args[0] + ": " + std::strerror(rc);
    return false;
  }
  pid_ = pid;
  reader_ = std::thread(&OrderdProcess::ReaderLoop, this, fds[0]);

  std::string first;
  {
    std::unique_lock<std::mutex> lock(mu_);
    bool got = cv_.wait_for(lock, timeout, [&] { return !lines_.empty() || stdout_eof_; });
    if (!got || lines_.empty()) {
      lock.unlock();
      *error = got ? "orderd closed stdout without printing the listening line"
                   : "orderd printed no listening line within " + std::to_string(timeout.count()) +
                         " ms";
      Kill();
      *error += "; wait status " + (exit_status_ ? std::to_string(*exit_status_) : "?") +
                "; stderr:\n" + LogTail();
      return false;
    }
    first = lines_.front();
  }
  // Exactly "listening on http://127.0.0.1:PORT" (no std::regex: GCC 12 + sanitizers warn in it).
  const std::string prefix = "listening on http://127.0.0.1:";
  std::string digits = first.rfind(prefix, 0) == 0 ? first.substr(prefix.size()) : "";
  bool numeric = !digits.empty() && digits.size() <= 5 &&
                 digits.find_first_not_of("0123456789") == std::string::npos;
  int port = numeric ? std::stoi(digits) : 0;
  if (port <= 0 || port > 65535) {
    *error = "unexpected first stdout line from orderd: '" + first + "'";
    Kill();
    return false;
  }
  port_ = static_cast<uint16_t>(port);
  return true;
}

std::vector<std::string> OrderdProcess::StdoutLines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

void OrderdProcess::SendSigterm() {
  if (pid_ > 0) ::kill(pid_, SIGTERM);
}

std::optional<int> OrderdProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_status_;
  auto st = WaitPidFor(pid_, timeout);
  if (st) {
    exit_status_ = st;
    pid_ = -1;
    JoinReader();
  }
  return st;
}

std::optional<int> OrderdProcess::Terminate(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_status_;
  SendSigterm();
  auto st = WaitExit(timeout);
  if (!st) {
    Kill();
    return std::nullopt;
  }
  return st;
}

int OrderdProcess::Kill() {
  if (pid_ <= 0) return exit_status_.value_or(-1);
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_status_ = status;
  pid_ = -1;
  JoinReader();
  return status;
}

bool OrderdProcess::HasExited() {
  if (pid_ <= 0) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_status_ = status;
    pid_ = -1;
    JoinReader();
    return true;
  }
  return false;
}

std::string OrderdProcess::LogTail(size_t max_bytes) const {
  return ReadFileTail(log_path_, max_bytes);
}

ProcessResult RunProcess(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  ProcessResult res;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return res;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return res;
  }
  pid_t pid = -1;
  int rc = Spawn(args, out[1], err[1], &pid);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    res.err = "spawning " + args[0] + ": " + std::strerror(rc);
    return res;
  }
  auto deadline = Clock::now() + timeout;
  bool out_open = true, err_open = true;
  char buf[4096];
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      res.timed_out = true;
      break;
    }
    pollfd pfds[2];
    int n = 0;
    if (out_open) pfds[n++] = {out[0], POLLIN, 0};
    if (err_open) pfds[n++] = {err[0], POLLIN, 0};
    int pr = ::poll(pfds, static_cast<nfds_t>(n), static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    for (int i = 0; i < n; ++i) {
      if (pfds[i].revents == 0) continue;
      ssize_t r = ::read(pfds[i].fd, buf, sizeof buf);
      bool is_out = pfds[i].fd == out[0];
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        (is_out ? out_open : err_open) = false;
      } else {
        (is_out ? res.out : res.err).append(buf, static_cast<size_t>(r));
      }
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  std::optional<int> st;
  if (!res.timed_out) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    st = WaitPidFor(pid, std::max(left, std::chrono::milliseconds(100)));
  }
  if (!st) {
    res.timed_out = true;
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return res;
  }
  res.exit_code = WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
  return res;
}

ApiKey CreateKey(const std::string& data_dir, const std::string& role, const std::string& name,
                 const std::string& channel) {
  std::vector<std::string> args = {OrderctlBin(), "--data-dir", data_dir, "keys",
                                   "create",      "--role",     role};
  if (!name.empty()) {
    args.push_back("--name");
    args.push_back(name);
  }
  if (!channel.empty()) {
    args.push_back("--channel");
    args.push_back(channel);
  }
  ApiKey key;
  ProcessResult r = RunProcess(args, std::chrono::seconds(30));
  std::string cmd;
  for (const auto& a : args) cmd += a + " ";
  if (r.exit_code != 0) {
    ADD_FAILURE() << cmd << "-> exit " << r.exit_code << (r.timed_out ? " (timed out)" : "")
                  << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return key;
  }
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out.find('\n') != std::string::npos) {
    ADD_FAILURE() << cmd << "printed more than one line:\n" << r.out;
  }
  boost::system::error_code ec;
  bj::value v = bj::parse(out, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << cmd << "did not print a JSON object: " << r.out;
    return key;
  }
  const auto& o = v.get_object();
  auto str = [&](const char* k) -> std::string {
    const bj::value* f = o.if_contains(k);
    return f && f->is_string() ? std::string(f->get_string()) : "";
  };
  key.id = str("id");
  key.key = str("key");
  key.role = str("role");
  key.channel = channel;
  key.totp_secret = str("totp_secret");
  key.raw_json = out;
  EXPECT_FALSE(key.id.empty()) << cmd << ": no \"id\" in " << out;
  EXPECT_FALSE(key.key.empty()) << cmd << ": no \"key\" in " << out;
  EXPECT_EQ(key.role, role) << cmd << ": " << out;
  if (role == "admin") {
    EXPECT_FALSE(key.totp_secret.empty()) << cmd << ": admin key without totp_secret: " << out;
  }
  return key;
}

// ---------------------------------------------------------------------------------------------
// HTTP

std::string HttpResponse::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::string HttpResponse::ContentType() const {
  std::string ct = Header("content-type");
  auto semi = ct.find(';');
  if (semi != std::string::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  for (auto& c : ct) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ct;
}

bj::value HttpResponse::Json() const {
  boost::system::error_code ec;
  bj::value v = bj::parse(body, ec);
  if (ec) return nullptr;
  return v;
}

bool HttpResponse::IsProblem() const { return ContentType() == "application/problem+json"; }

std::string HttpResponse::Code() const {
  bj::value v = Json();
  if (!v.is_object()) return "";
  const bj::value* c = v.get_object().if_contains("code");
  return c && c->is_string() ? std::string(c->get_string()) : "";
}

std::string HttpResponse::Describe() const {
  std::string b = body.size() > 600 ? body.substr(0, 600) + "..." : body;
  return std::to_string(status) + " [" + Header("content-type") + "] " + b;
}

struct HttpClient::Impl {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  void Close() {
    if (stream) {
      boost::system::error_code ec;
      stream->socket().shutdown(tcp::socket::shutdown_both, ec);
      stream->socket().close(ec);
      stream.reset();
    }
    buffer.clear();
  }
};

namespace {

TransportError Classify(const boost::system::error_code& ec, bool got_some) {
  if (ec == beast::error::timeout) return TransportError::kTimeout;
  if (got_some) return TransportError::kPartial;
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      ec == asio::error::connection_aborted) {
    return TransportError::kNoResponse;
  }
  if (ec == http::error::partial_message) return TransportError::kPartial;
  return TransportError::kOther;
}

// Runs one exchange on `stream`: `start_write` queues the request write, and the response is
// read at the same time (so an early answer such as 413 is read even while the body is still
// being sent). Returns once the response is read or failed; any unfinished write is cancelled.
template <typename StartWrite>
HttpResult Exchange(asio::io_context& ioc, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                    std::chrono::milliseconds timeout, StartWrite start_write, bool* must_close) {
  HttpResult result;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256u * 1024 * 1024);
  parser.header_limit(1024 * 1024);
  bool write_done = false, read_done = false;
  boost::system::error_code wec, rec;
  stream.expires_after(timeout);
  start_write([&](boost::system::error_code ec, size_t) {
    write_done = true;
    wec = ec;
  });
  http::async_read(stream, buffer, parser, [&](boost::system::error_code ec, size_t) {
    read_done = true;
    rec = ec;
    if (!write_done) {
      // The server answered before taking the whole request: this connection is finished.
      *must_close = true;
      stream.cancel();
    }
  });
  ioc.restart();
  ioc.run();
  if (rec) {
    *must_close = true;
    result.error = Classify(rec, parser.got_some());
    result.error_message = "read: " + rec.message() + (wec ? "; write: " + wec.message() : "");
    return result;
  }
  HttpResponse r;
  const auto& msg = parser.get();
  r.status = static_cast<int>(msg.result_int());
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value(f.value());
    auto it = r.headers.find(name);
    if (it == r.headers.end()) {
      r.headers.emplace(name, value);
    } else {
      it->second += ", " + value;
    }
  }
  r.body = msg.body();
  if (!msg.keep_alive()) *must_close = true;
  result.response = std::move(r);
  return result;
}

bool Connect(asio::io_context& ioc, beast::tcp_stream& stream, uint16_t port,
             std::chrono::milliseconds timeout, boost::system::error_code* out_ec) {
  stream.expires_after(timeout);
  boost::system::error_code cec;
  bool done = false;
  stream.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port),
                       [&](boost::system::error_code ec) {
                         cec = ec;
                         done = true;
                       });
  ioc.restart();
  ioc.run();
  *out_ec = cec;
  if (!done || cec) return false;
  stream.socket().set_option(tcp::no_delay(true), cec);
  return true;
}

}  // namespace

HttpClient::HttpClient(uint16_t port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout), impl_(std::make_unique<Impl>()) {}

HttpClient::~HttpClient() { Close(); }

void HttpClient::Close() { impl_->Close(); }

HttpResult HttpClient::SendOnce(const std::string& method, const std::string& target,
                                const std::string& body, const Headers& headers, bool* reused) {
  *reused = impl_->stream.has_value();
  if (!impl_->stream) {
    impl_->stream.emplace(impl_->ioc);
    impl_->buffer.clear();
    boost::system::error_code ec;
    if (!Connect(impl_->ioc, *impl_->stream, port_, timeout_, &ec)) {
      impl_->Close();
      HttpResult r;
      r.error = TransportError::kConnect;
      r.error_message = "connect 127.0.0.1:" + std::to_string(port_) + ": " + ec.message();
      return r;
    }
    ++connections_opened_;
  }

  http::request<http::string_body> req;
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(target);
  req.version(11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
  req.keep_alive(true);
  bool has_auth = false, has_ct = false;
  for (const auto& [k, v] : headers) {
    std::string lk = k;
    for (auto& c : lk) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lk == "authorization") has_auth = true;
    if (lk == "content-type") {
      has_ct = true;
      if (v.empty()) continue;  // "" means: send no Content-Type at all
    }
    if (lk == "authorization" && v.empty()) continue;  // "" means: no Authorization
    req.insert(k, v);
  }
  if (!has_auth && !bearer_.empty()) req.set(http::field::authorization, "Bearer " + bearer_);
  bool has_body = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  if (has_body) {
    if (!has_ct) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
  }

  bool must_close = false;
  auto& stream = *impl_->stream;
  HttpResult r = Exchange(
      impl_->ioc, stream, impl_->buffer, timeout_,
      [&](auto handler) { http::async_write(stream, req, std::move(handler)); }, &must_close);
  if (must_close) impl_->Close();
  return r;
}

HttpResult HttpClient::Send(const std::string& method, const std::string& target,
                            const std::string& body, const Headers& headers) {
  bool reused = false;
  HttpResult r = SendOnce(method, target, body, headers, &reused);
  if (!r.ok() && reused && retry_stale_ && r.error == TransportError::kNoResponse) {
    r = SendOnce(method, target, body, headers, &reused);
  }
  return r;
}

HttpResponse HttpClient::Request(const std::string& method, const std::string& target,
                                 const std::string& body, const Headers& headers) {
  HttpResult r = Send(method, target, body, headers);
  if (!r.ok()) {
    ADD_FAILURE() << method << " " << target << ": transport error: " << r.error_message;
    return HttpResponse{};
  }
  return *r.response;
}

HttpResult HttpClient::SendRaw(const std::string& bytes) {
  Impl raw;
  raw.stream.emplace(raw.ioc);
  boost::system::error_code ec;
  if (!Connect(raw.ioc, *raw.stream, port_, timeout_, &ec)) {
    HttpResult r;
    r.error = TransportError::kConnect;
    r.error_message = ec.message();
    return r;
  }
  bool must_close = false;
  auto& stream = *raw.stream;
  HttpResult r = Exchange(
      raw.ioc, stream, raw.buffer, timeout_,
      [&](auto handler) { asio::async_write(stream, asio::buffer(bytes), std::move(handler)); },
      &must_close);
  raw.Close();
  return r;
}

// ---------------------------------------------------------------------------------------------
// TestServer

ScopedEnv::ScopedEnv(std::vector<std::pair<std::string, std::string>> vars)
    : vars_(std::move(vars)) {
  for (const auto& [name, value] : vars_) setenv(name.c_str(), value.c_str(), 1);
}

void ScopedEnv::Unset() {
  for (const auto& [name, value] : vars_) unsetenv(name.c_str());
}

TestServer::TestServer() {
  data_dir_ = tmp_.path() + "/data";
  log_path_ = tmp_.path() + "/orderd.log";
  std::filesystem::create_directories(data_dir_);
}

TestServer::~TestServer() {
  if (proc_.running()) proc_.Kill();
}

bool TestServer::Start(const std::vector<std::string>& extra_args) {
  std::string error;
  ++starts_;
  if (!proc_.Start(data_dir_, log_path_, std::chrono::seconds(20), &error, extra_args)) {
    ADD_FAILURE() << "starting orderd (start #" << starts_ << ") failed: " << error;
    return false;
  }
  return starts_ > 1 || SeedStock();
}

// Orders reserve stock, so a fresh server gets plenty of every SKU the tests order; tests about
// stock itself set their own SKUs.
bool TestServer::SeedStock() {
  ApiKey admin = CreateKey(data_dir_, "admin", "stock-seeder");
  if (admin.key.empty()) return false;
  auto c = Client(admin.key);
  for (const char* sku : kSeededSkus) {
    HttpResponse r = c->Put(std::string("/v1/inventory/") + sku,
                            R"({"on_hand": 1000000000, "safety_buffer": 0})");
    if (r.status != 200) {
      ADD_FAILURE() << "seeding stock for " << sku << ": " << r.Describe();
      return false;
    }
  }
  return true;
}

std::optional<int> TestServer::Stop(std::chrono::milliseconds timeout) {
  return proc_.Terminate(timeout);
}

int TestServer::Kill() { return proc_.Kill(); }

std::unique_ptr<HttpClient> TestServer::Client(const std::string& key) const {
  auto c = std::make_unique<HttpClient>(proc_.port());
  c->set_bearer(key);
  return c;
}

bool TestServer::WaitHealthy(std::chrono::milliseconds timeout) {
  HttpClient c(proc_.port(), std::chrono::seconds(5));
  return WaitFor(
      [&] {
        HttpResult r = c.Send("GET", "/healthz");
        return r.ok() && r.response->status == 200;
      },
      timeout, std::chrono::milliseconds(50));
}

// ---------------------------------------------------------------------------------------------
// Orders and checks

bj::object MakeOrder(const std::string& channel, const std::string& channel_order_id, int64_t qty,
                     int64_t unit_price) {
  bj::object o;
  o["channel"] = channel;
  o["channel_order_id"] = channel_order_id;
  o["currency"] = "CNY";
  o["customer"] = bj::object{{"nickname", "小李"},
                             {"name", "李四"},
                             {"phone", "13812345678"},
                             {"id_number", "110101199003071234"}};
  o["shipping_address"] = bj::object{{"province", "浙江省"},
                                     {"city", "杭州市"},
                                     {"district", "西湖区"},
                                     {"detail", "文三路 1 号"}};
  o["lines"] = bj::array{bj::object{{"sku", "AIR-PURIFIER-X1"},
                                    {"name", "空气净化器"},
                                    {"qty", qty},
                                    {"unit_price", unit_price}}};
  o["payment_method"] = "wechat_pay";
  o["reservation_id"] = nullptr;
  o["placed_at"] = "2026-11-11T00:00:01Z";
  return o;
}

namespace {
std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}
}  // namespace

std::vector<bj::object> ListAll(HttpClient& client, const std::string& query, int limit,
                                int* pages) {
  std::vector<bj::object> items;
  std::optional<std::string> cursor;
  int n = 0;
  for (; n < 100000; ++n) {
    std::string target = "/v1/orders?limit=" + std::to_string(limit);
    if (!query.empty()) target += "&" + query;
    if (cursor) target += "&cursor=" + UrlEncode(*cursor);
    HttpResponse r = client.Get(target);
    if (r.status != 200) {
      ADD_FAILURE() << "GET " << target << " -> " << r.Describe();
      break;
    }
    bj::value v = r.Json();
    if (!v.is_object() || !v.get_object().contains("items") ||
        !v.get_object().at("items").is_array() || !v.get_object().contains("next_cursor")) {
      ADD_FAILURE() << "GET " << target << ": not a {items, next_cursor} page: " << r.Describe();
      break;
    }
    const auto& arr = v.get_object().at("items").get_array();
    if (static_cast<int>(arr.size()) > limit) {
      ADD_FAILURE() << "GET " << target << " returned " << arr.size() << " items > limit";
    }
    for (const auto& it : arr) {
      if (!it.is_object()) {
        ADD_FAILURE() << "list item is not an object";
        continue;
      }
      items.push_back(it.get_object());
    }
    const bj::value& nc = v.get_object().at("next_cursor");
    if (nc.is_null()) {
      ++n;
      break;
    }
    if (!nc.is_string() || nc.get_string().empty()) {
      ADD_FAILURE() << "next_cursor is neither null nor a non-empty string: " << r.Describe();
      break;
    }
    std::string next(nc.get_string());
    if (cursor && *cursor == next) {
      ADD_FAILURE() << "cursor did not advance: " << next;
      break;
    }
    if (arr.empty()) {
      ADD_FAILURE() << "empty page with a non-null next_cursor: " << r.Describe();
      break;
    }
    cursor = next;
  }
  if (pages) *pages = n;
  return items;
}

std::string CheckProblem(const HttpResponse& r, int status, const std::string& code) {
  std::string why;
  if (r.status != status)
    why += "status " + std::to_string(r.status) + " != " + std::to_string(status) + "; ";
  if (!r.IsProblem())
    why += "content-type '" + r.Header("content-type") + "' is not application/problem+json; ";
  bj::value v = r.Json();
  if (!v.is_object()) {
    why += "body is not a JSON object; ";
  } else {
    const auto& o = v.get_object();
    for (const char* k : {"type", "title", "detail", "code"}) {
      const bj::value* f = o.if_contains(k);
      if (!f || !f->is_string()) why += std::string("member '") + k + "' missing or not a string; ";
    }
    const bj::value* s = o.if_contains("status");
    if (!s || !s->is_int64() || s->as_int64() != status) {
      why += "member 'status' is not " + std::to_string(status) + "; ";
    }
    if (r.Code() != code) why += "code '" + r.Code() + "' != '" + code + "'; ";
  }
  if (why.empty()) return "";
  return why + "response: " + r.Describe();
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
             std::chrono::milliseconds step) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (cond()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

// ---------------------------------------------------------------------------------------------
// SqliteReader

SqliteReader::SqliteReader(const std::string& db_path) {
  int rc = sqlite3_open_v2(db_path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db_path
                  << " read-only: " << (db_ ? sqlite3_errmsg(db_) : "out of memory");
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
    return;
  }
  sqlite3_busy_timeout(db_, 5000);
}

SqliteReader::~SqliteReader() {
  if (db_) sqlite3_close(db_);
}

std::vector<std::vector<std::string>> SqliteReader::Rows(const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  if (!db_) return rows;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "sqlite prepare '" << sql << "': " << sqlite3_errmsg(db_);
    return rows;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::vector<std::string> row;
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; ++i) {
      const unsigned char* t = sqlite3_column_text(st, i);
      row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
    }
    rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) ADD_FAILURE() << "sqlite step '" << sql << "': " << sqlite3_errmsg(db_);
  sqlite3_finalize(st);
  return rows;
}

int64_t SqliteReader::Scalar(const std::string& sql) {
  auto rows = Rows(sql);
  if (rows.empty() || rows[0].empty() || rows[0][0].empty()) return -1;
  return std::stoll(rows[0][0]);
}

}  // namespace oc::itest
