// Integration-test harness: runs the REAL orderd / orderctl binaries and talks HTTP to them.
//
// - TempDir: a fresh mkdtemp directory, removed on destruction (kept when ORDERCENTER_KEEP_TMP=1).
// - OrderdProcess: spawns `orderd --data-dir DIR --listen 127.0.0.1:0` with its stdout on a pipe,
//   waits (bounded) for the one `listening on http://127.0.0.1:PORT` line, and stops it by pid
//   (SIGTERM with a bounded wait, or SIGKILL). stderr goes to a log file shown on failure.
// - CreateKey: runs `orderctl --data-dir DIR keys create ...` and parses its JSON line.
// - HttpClient: a synchronous-looking HTTP/1.1 keep-alive client over Boost.Beast with a hard
//   per-request deadline (async ops driven by io_context::run_for), one connection per client.
// - SqliteReader: read-only look at DIR/ordercenter.db, for invariants checked after a stop.
// Nothing here sleeps and hopes: every wait is a bounded poll on a condition.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

struct sqlite3;

namespace oc::itest {

std::string RequireEnv(const char* name);  // aborts the test binary with a message if unset
std::string OrderdBin();
std::string OrderctlBin();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------------
// orderd

class OrderdProcess {
 public:
  OrderdProcess() = default;
  ~OrderdProcess();  // SIGKILLs a still-running child
  OrderdProcess(const OrderdProcess&) = delete;
  OrderdProcess& operator=(const OrderdProcess&) = delete;

  // Spawns orderd on `data_dir` (created if missing) and waits up to `timeout` for the listening
  // line. On failure returns false and fills *error (with the child's stderr tail).
  bool Start(const std::string& data_dir, const std::string& log_path,
             std::chrono::milliseconds timeout, std::string* error,
             const std::vector<std::string>& extra_args = {});

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // All stdout lines the child printed so far (the listening line included).
  std::vector<std::string> StdoutLines() const;

  // SIGTERM, then waits up to `timeout` for exit. Returns the wait status (see WIFEXITED), or
  // nullopt if it did not exit in time (it is then SIGKILLed and reaped).
  std::optional<int> Terminate(std::chrono::milliseconds timeout);
  void SendSigterm();
  // Waits for an exit already asked for; nullopt on timeout (child left running).
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  // SIGKILL and reap. Returns the wait status.
  int Kill();
  // Non-blocking: whether the child has exited (and reaps it).
  bool HasExited();
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  void ReaderLoop(int fd);
  void JoinReader();

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string log_path_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool stdout_eof_ = false;
  std::optional<int> exit_status_;
};

struct ApiKey {
  std::string id;
  std::string key;
  std::string role;
  std::string channel;
  std::string totp_secret;
  std::string raw_json;
};

// Sets environment variables for a scope (the processes started in it inherit them), and unsets
// them at its end or at Unset().
class ScopedEnv {
 public:
  explicit ScopedEnv(std::vector<std::pair<std::string, std::string>> vars);
  ~ScopedEnv() { Unset(); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  void Unset();

 private:
  std::vector<std::pair<std::string, std::string>> vars_;
};

struct ProcessResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs a program with arguments (no shell), capturing stdout and stderr, with a deadline.
ProcessResult RunProcess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// `orderctl --data-dir DIR keys create --role ROLE [--name NAME] [--channel CH]`. Records a
// gtest failure (and returns an empty key) if the command fails or prints something unexpected.
ApiKey CreateKey(const std::string& data_dir, const std::string& role, const std::string& name = "",
                 const std::string& channel = "");

// ---------------------------------------------------------------------------------------------
// HTTP

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;

  std::string Header(const std::string& lower_name) const;
  std::string ContentType() const;  // without parameters, lower-cased
  // Parses the body; a parse failure yields a null value.
  boost::json::value Json() const;
  bool IsProblem() const;        // content type application/problem+json
  std::string Code() const;      // problem "code", or "" if absent
  std::string Describe() const;  // "<status> <body (truncated)>", for assertion messages
};

enum class TransportError {
  kNone,
  kConnect,     // could not connect (refused, ...)
  kNoResponse,  // connection closed/reset before any response byte
  kPartial,     // connection broke in the middle of a response
  kTimeout,     // the deadline passed
  kOther,
};

struct HttpResult {
  std::optional<HttpResponse> response;
  TransportError error = TransportError::kNone;
  std::string error_message;
  bool ok() const { return response.has_value(); }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  explicit HttpClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void set_port(uint16_t port) {
    port_ = port;
    Close();
  }
  // Bearer key sent with every request unless a request sets Authorization itself; "" for none.
  void set_bearer(std::string key) { bearer_ = std::move(key); }
  // When true (default), a request that fails on a reused keep-alive connection before any
  // response byte is retried once on a fresh connection (the server may close idle connections).
  void set_retry_stale(bool retry) { retry_stale_ = retry; }

  // Sends one request; never throws. A body is sent with Content-Type application/json unless
  // `headers` sets Content-Type.
  HttpResult Send(const std::string& method, const std::string& target,
                  const std::string& body = "", const Headers& headers = {});
  // Like Send, but records a gtest failure on a transport error and returns status 0.
  HttpResponse Request(const std::string& method, const std::string& target,
                       const std::string& body = "", const Headers& headers = {});
  // Raw bytes on a fresh connection, e.g. for a hand-built malformed request.
  HttpResult SendRaw(const std::string& bytes);

  HttpResponse Get(const std::string& target, const Headers& h = {}) {
    return Request("GET", target, "", h);
  }
  HttpResponse Post(const std::string& target, const std::string& body, const Headers& h = {}) {
    return Request("POST", target, body, h);
  }
  HttpResponse Post(const std::string& target, const boost::json::value& body,
                    const Headers& h = {}) {
    return Request("POST", target, boost::json::serialize(body), h);
  }
  HttpResponse Put(const std::string& target, const std::string& body, const Headers& h = {}) {
    return Request("PUT", target, body, h);
  }

  void Close();
  int connections_opened() const { return connections_opened_; }

 private:
  struct Impl;
  HttpResult SendOnce(const std::string& method, const std::string& target, const std::string& body,
                      const Headers& headers, bool* reused);

  uint16_t port_;
  std::chrono::milliseconds timeout_;
  std::string bearer_;
  bool retry_stale_ = true;
  int connections_opened_ = 0;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// Server fixture helper: a temp dir, its data dir, orderd, and the usual keys.

class TestServer {
 public:
  TestServer();
  ~TestServer();  // kills orderd (if running) and removes the temp dir

  // Starts (or restarts) orderd on the same data dir. Records a fatal-ish gtest failure and
  // returns false on failure.
  bool Start(const std::vector<std::string>& extra_args = {});
  std::optional<int> Stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  int Kill();

  const std::string& data_dir() const { return data_dir_; }
  std::string db_path() const { return data_dir_ + "/ordercenter.db"; }
  uint16_t port() const { return proc_.port(); }
  OrderdProcess& process() { return proc_; }

  // A client pre-set with `key` as bearer.
  std::unique_ptr<HttpClient> Client(const std::string& key = "") const;

  // Waits (bounded) until GET /healthz answers 200.
  bool WaitHealthy(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // SKUs the first Start() stocks with 10^9 units each.
  static constexpr const char* kSeededSkus[] = {"AIR-PURIFIER-X1", "A", "B"};

 private:
  bool SeedStock();
  TempDir tmp_;
  std::string data_dir_;
  std::string log_path_;
  int starts_ = 0;
  OrderdProcess proc_;
};

// ---------------------------------------------------------------------------------------------
// Orders

// A valid create-order body.
boost::json::object MakeOrder(const std::string& channel, const std::string& channel_order_id,
                              int64_t qty = 1, int64_t unit_price = 129900);

// Walks GET /v1/orders (with `query`, e.g. "channel=douyin") page by page with `limit`; records a
// failure on any non-200. Returns every item in order. Detects cursor loops (bounded pages).
std::vector<boost::json::object> ListAll(HttpClient& client, const std::string& query = "",
                                         int limit = 500, int* pages = nullptr);

// Checks a problem+json response: status, content type, code, and the RFC 9457 members.
// Returns an empty string when it matches, else a description of what differs.
std::string CheckProblem(const HttpResponse& r, int status, const std::string& code);

// Bounded polling: calls `cond` until it returns true or `timeout` passes.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
             std::chrono::milliseconds step = std::chrono::milliseconds(20));

// ---------------------------------------------------------------------------------------------
// SQLite, read-only

class SqliteReader {
 public:
  explicit SqliteReader(const std::string& db_path);  // records a failure if it cannot open
  ~SqliteReader();
  SqliteReader(const SqliteReader&) = delete;
  SqliteReader& operator=(const SqliteReader&) = delete;
  bool ok() const { return db_ != nullptr; }

  int64_t Scalar(const std::string& sql);  // first column of the first row; -1 on error
  // Every row as strings (NULL -> "").
  std::vector<std::vector<std::string>> Rows(const std::string& sql);

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace oc::itest
