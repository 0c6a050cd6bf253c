// orderd: the OrderCenter server. Wiring only; everything else is a library the tests link.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "api/http_server.h"
#include "api/order_center_api.h"
#include "cli/data_dir.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/sharded_counter.h"
#include "orders/order_writer.h"
#include "outbox/relay.h"
#include "privacy/pii_upkeep.h"
#include "store/store.h"
#include "web/assets.h"

namespace {

constexpr std::chrono::seconds kDrainDeadline{20};

bool SplitListen(const std::string& listen, std::string* host, uint16_t* port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  *host = listen.substr(0, colon);
  char* end = nullptr;
  long p = std::strtol(listen.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p < 0 || p > 65535 || colon + 1 == listen.size()) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

int Fail(const oc::Status& s) {
  spdlog::critical("{}", s.ToString());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"orderd: the OrderCenter server"};
  std::string data_dir;
  std::string listen = "127.0.0.1:8080";
  std::string config;
  bool allow_private_webhooks =
      std::getenv("ORDERCENTER_ALLOW_PRIVATE_WEBHOOKS") != nullptr &&
      std::string(std::getenv("ORDERCENTER_ALLOW_PRIVATE_WEBHOOKS")) == "1";
  app.add_option("--data-dir", data_dir, "directory for the database and keyring")->required();
  std::string keyring;
  app.add_option("--keyring", keyring,
                 "the keyring file, if not DATA_DIR/keyring.json (on its own volume, say, so "
                 "that backups of the data directory hold ciphertext only)")
      ->envname("ORDERCENTER_KEYRING");
  bool new_keyring = false;
  app.add_flag("--new-keyring", new_keyring,
               "create a keyring although the database has data (after losing the old one: "
               "personal data stored before cannot be read again)");
  app.add_option("--listen", listen, "host:port to listen on (port 0 picks a free one)");
  app.add_option("--config", config, "configuration file (scale-out backends)");
  app.add_flag("--allow-private-webhooks", allow_private_webhooks,
               "let subscriptions target loopback/private addresses");
  int64_t webhook_retry_base_ms = 500;
  app.add_option("--webhook-retry-base-ms", webhook_retry_base_ms,
                 "first webhook retry after about this many ms, doubling (with jitter)")
      ->check(CLI::Range(int64_t{1}, int64_t{60'000}));
  int64_t webhook_timeout_ms = 10'000;
  app.add_option("--webhook-timeout-ms", webhook_timeout_ms,
                 "deadline for one webhook request: connect, TLS, send and answer")
      ->check(CLI::Range(int64_t{50}, int64_t{120'000}));
  std::string webhook_ca_file;
  app.add_option("--webhook-ca-file", webhook_ca_file,
                 "PEM CA certificates trusted for https webhooks besides the system's")
      ->check(CLI::ExistingFile);
  int64_t hold_retention_hours =
      std::chrono::duration_cast<std::chrono::hours>(oc::orders::kHoldRetentionDefault).count();
  app.add_option("--hold-retention-hours", hold_retention_hours,
                 "delete checkout holds this long after they ended (0: keep them all)")
      ->check(CLI::Range(int64_t{0}, int64_t{24 * 3650}));
  int64_t idempotency_retention_hours =
      std::chrono::duration_cast<std::chrono::hours>(oc::orders::kIdempotencyRetentionDefault)
          .count();
  app.add_option("--idempotency-retention-hours", idempotency_retention_hours,
                 "delete stored Idempotency-Key answers this long after the first request; a "
                 "repeat after that is a new request (0: keep them all)")
      ->check(CLI::Range(int64_t{0}, int64_t{24 * 3650}));
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("orderd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);

  if (!config.empty()) {
    return Fail(oc::Status::InvalidArgument(
        "--config: scale-out backends are not available in this build; omit --config for the "
        "embedded default (SQLite)"));
  }
  std::string host;
  uint16_t port = 0;
  if (!SplitListen(listen, &host, &port)) {
    return Fail(oc::Status::InvalidArgument("--listen must be host:port, got '" + listen + "'"));
  }

  // Block the stop signals in every thread; main waits for them with sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // Every connection is a file descriptor; Debian's default soft limit (1024) is far below
  // what a flash sale opens. Take what the hard limit allows.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  auto dir = oc::cli::PrepareDataDir(data_dir, keyring);
  if (!dir.ok()) return Fail(dir.status());
  auto lock = oc::cli::DataDirLock::Acquire(*dir);
  if (!lock.ok()) return Fail(lock.status());
  auto opened = oc::cli::OpenDataDirStore(*dir, /*read_connections=*/4, new_keyring);
  if (!opened.ok()) return Fail(opened.status());
  oc::store::Store& store = *opened->store;

  oc::IdGenerator ids(oc::Clock::System(), oc::Random::Secure());
  auto relay =
      oc::outbox::Relay::Start(store, oc::Clock::System(), ids, oc::Random::Secure(),
                               {.allow_private_targets = allow_private_webhooks,
                                .retry_base = std::chrono::milliseconds(webhook_retry_base_ms),
                                .request_timeout = std::chrono::milliseconds(webhook_timeout_ms),
                                .extra_ca_file = webhook_ca_file});
  if (!relay.ok()) return Fail(relay.status());
  // Read by the writer's group commit, written by the HTTP server; outlives both.
  static oc::ShardedCounter requests_in_flight;
  oc::orders::WriterOptions writer_options;
  writer_options.requests_in_flight = &requests_in_flight;
  writer_options.on_durable = [r = relay->get()] { r->Notify(); };
  writer_options.hold_retention = std::chrono::hours(hold_retention_hours);
  writer_options.idempotency_retention = std::chrono::hours(idempotency_retention_hours);
  auto writer = oc::orders::OrderWriter::Start(store, oc::Clock::System(), ids, writer_options);
  if (!writer.ok()) return Fail(writer.status());

  oc::privacy::PiiUpkeep pii_upkeep(store, *opened->keys, *opened->codec);
  oc::privacy::AuditCheckpoint audit_checkpoint(dir->AuditCheckpointPath());
  oc::privacy::AuditLog audit(store, ids, oc::Clock::System(), audit_checkpoint);
  oc::api::OrderCenterApi api({.store = store,
                               .writer = **writer,
                               .relay = **relay,
                               .pii_codec = *opened->codec,
                               .audit = audit,
                               .audit_checkpoint = audit_checkpoint,
                               .ids = ids,
                               .random = oc::Random::Secure(),
                               .clock = oc::Clock::System(),
                               .dashboard_html = oc::web::DashboardHtml(),
                               .openapi_yaml = oc::web::OpenApiYaml()});
  auto server = oc::api::HttpServer::Start(
      {.host = host, .port = port, .requests_in_flight = &requests_in_flight}, api);
  if (!server.ok()) return Fail(server.status());

  std::string url = "http://" + host + ":" + std::to_string((*server)->port());
  spdlog::info("serving {} from {} (embedded: SQLite WAL, in-process writer)", url, data_dir);
  std::printf("listening on %s\n", url.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {} received: draining", sig);
  (*server)->Drain(kDrainDeadline);
  audit.Stop();  // answers still waiting on their audit entry go out while the server runs
  (*writer)->Stop();
  (*relay)->Stop();
  (*server)->Stop();
  spdlog::info("stopped cleanly");
  return 0;
}
