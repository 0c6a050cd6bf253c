// Crash and shutdown behaviour of the real orderd under load.
//
// SIGKILL: 8 client threads create orders and move each to "paid", continuously; after a few
// hundred acknowledged (2xx) creates the server is killed mid-flight and restarted on the same
// data dir. Every acknowledged create and move must be there (same id and channel_order_id, its
// outbox events), and any order or move present that was not acknowledged must be one whose
// request was in flight at the kill. Two rounds on the same dir, so recovery of recovered state
// is exercised too.
// SIGTERM: same load; the server must exit 0, every request it took on must be answered (no
// half responses), and after a restart the orders present are exactly the acknowledged ones.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/itest_util.h"
#include "integration/orderd_harness.h"
#include "integration/power_cut.h"

namespace oc::itest {
namespace {

namespace bj = boost::json;
using SteadyClock = std::chrono::steady_clock;

constexpr int kLoadThreads = 8;

struct LoadResult {
  std::map<std::string, std::string> acked;  // channel_order_id -> order id (201)
  std::set<std::string> in_flight;           // create sent, no answer: may or may not exist
  std::set<std::string> never_sent;          // connect refused: must not exist
  std::set<std::string> refused;             // a 503 while draining: must not exist
  std::set<std::string> paid_acked;          // "paid" transition answered 200
  std::set<std::string> paid_in_flight;      // "paid" transition sent, no answer
  std::vector<std::string> errors;           // anything that breaks the contract
  int answered_after_signal = 0;             // sent after the signal, and answered
  int completed_across_signal = 0;           // sent before the signal, answered after it
};

// Runs kLoadThreads clients, each creating an order and then moving it to "paid", over and
// over, until each sees its connection fail; calls `signal` once `trigger_after` creates were
// acknowledged. `graceful`: a half-written response is a contract violation (SIGTERM), not an
// accident of the moment the process died (SIGKILL).
LoadResult RunLoadUntilSignal(TestServer& server, const std::string& key, const std::string& tag,
                              int trigger_after, bool graceful,
                              const std::function<void()>& signal) {
  std::atomic<int> acked{0};
  std::atomic<bool> signalled{false};
  std::atomic<bool> give_up{false};
  std::atomic<int> finished{0};
  std::atomic<int64_t> signal_ns{0};
  std::vector<LoadResult> per(kLoadThreads);
  uint16_t port = server.port();

  auto worker = [&](int t) {
    LoadResult& out = per[static_cast<size_t>(t)];
    HttpClient c(port, std::chrono::seconds(30));
    c.set_bearer(key);
    c.set_retry_stale(false);  // a retry would hide what happened to the first attempt
    // Sends one request; returns the response, or nullopt when this thread must stop.
    auto send = [&](const std::string& target, const std::string& body, const std::string& coid,
                    std::set<std::string>& in_flight) -> std::optional<HttpResponse> {
      bool before = !signalled.load();
      HttpResult r = c.Send("POST", target, body);
      if (!r.ok()) {
        if (r.error == TransportError::kConnect) {
          if (&in_flight == &out.in_flight) out.never_sent.insert(coid);
        } else {
          in_flight.insert(coid);
          if ((graceful && r.error == TransportError::kPartial) ||
              r.error == TransportError::kTimeout) {
            out.errors.push_back(
                coid + ": " + r.error_message +
                (r.error == TransportError::kPartial ? " (half a response)" : " (timed out)"));
          }
        }
        if (!signalled.load()) {
          out.errors.push_back(coid + ": transport error before the signal: " + r.error_message);
        }
        return std::nullopt;  // the server is going away; this thread is done
      }
      if (signalled.load()) {
        ++(before ? out.completed_across_signal : out.answered_after_signal);
        auto since =
            SteadyClock::now().time_since_epoch() - SteadyClock::duration(signal_ns.load());
        if (since > std::chrono::seconds(5)) {
          out.errors.push_back("the server still answered new requests 5 s after the signal");
          return std::nullopt;
        }
      }
      return *r.response;
    };
    for (int i = 0; !give_up.load(); ++i) {
      std::string coid = tag + "-" + std::to_string(t) + "-" + std::to_string(i);
      auto resp = send("/v1/orders", bj::serialize(MakeOrder("douyin", coid)), coid, out.in_flight);
      if (!resp) break;
      if (resp->status == 503 && signalled.load()) {
        out.refused.insert(coid);  // draining: refused, must leave no trace
        if (resp->Header("connection") == "close") break;
        continue;
      }
      if (resp->status != 201) {
        out.errors.push_back(coid + ": create: unexpected " + resp->Describe());
        break;
      }
      std::string id = Str(Obj(*resp), "id");
      if (id.empty()) out.errors.push_back(coid + ": 201 without an id: " + resp->Describe());
      out.acked[coid] = id;
      if (acked.fetch_add(1) + 1 == trigger_after) {
        signal_ns.store(SteadyClock::now().time_since_epoch().count());
        signalled.store(true);
        signal();
      }
      auto moved = send("/v1/orders/" + id + "/transitions", TransitionBody("paid", 1), coid,
                        out.paid_in_flight);
      if (!moved) break;
      if (moved->status == 503 && signalled.load()) {
        if (moved->Header("connection") == "close") break;
        continue;
      }
      if (moved->status != 200) {
        out.errors.push_back(coid + ": move to paid: unexpected " + moved->Describe());
        break;
      }
      out.paid_acked.insert(coid);
    }
    finished.fetch_add(1);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kLoadThreads; ++t) threads.emplace_back(worker, t);
  // Bounded: if the trigger never comes (server too slow or broken), stop the load; after the
  // signal every thread stops at its first transport error, bounded too.
  bool triggered = WaitFor([&] { return signalled.load(); }, std::chrono::seconds(60));
  if (!triggered) give_up.store(true);
  bool all_done =
      WaitFor([&] { return finished.load() == kLoadThreads; }, std::chrono::seconds(60));
  give_up.store(true);
  for (auto& th : threads) th.join();
  LoadResult all;
  if (!triggered) {
    all.errors.push_back("fewer than " + std::to_string(trigger_after) +
                         " creates were acknowledged within 60 s");
  }
  if (!all_done) all.errors.push_back("the clients still got answers 60 s after the signal");
  for (auto& p : per) {
    all.acked.insert(p.acked.begin(), p.acked.end());
    all.in_flight.insert(p.in_flight.begin(), p.in_flight.end());
    all.never_sent.insert(p.never_sent.begin(), p.never_sent.end());
    all.refused.insert(p.refused.begin(), p.refused.end());
    all.paid_acked.insert(p.paid_acked.begin(), p.paid_acked.end());
    all.paid_in_flight.insert(p.paid_in_flight.begin(), p.paid_in_flight.end());
    all.errors.insert(all.errors.end(), p.errors.begin(), p.errors.end());
    all.answered_after_signal += p.answered_after_signal;
    all.completed_across_signal += p.completed_across_signal;
  }
  return all;
}

struct Present {
  std::string id;
  std::string status;
  int64_t version = 0;
};

// channel_order_id -> what the server lists for it.
std::map<std::string, Present> PresentOrders(HttpClient& admin) {
  std::map<std::string, Present> present;
  for (const auto& o : ListAll(admin, "", 500)) {
    std::string coid = Str(o, "channel_order_id");
    Present p{Str(o, "id"), Str(o, "status"), Int(o, "version")};
    EXPECT_TRUE(present.emplace(coid, p).second) << "listed twice: " << coid;
  }
  return present;
}

void ReportErrors(const LoadResult& r) {
  int n = 0;
  for (const auto& e : r.errors) {
    if (++n <= 20) ADD_FAILURE() << e;
  }
  EXPECT_TRUE(r.errors.empty()) << r.errors.size() << " contract violations under load";
}

// Per order in the stopped server's database: outbox events with order_version 1..version in
// seq order, exactly one order.created. Returns the number of orders.
int64_t ExpectOutboxMatchesOrders(const std::string& db_path) {
  SqliteReader db(db_path);
  EXPECT_TRUE(db.ok());
  if (!db.ok()) return 0;
  std::map<std::string, std::vector<std::pair<int64_t, std::string>>> events;
  for (const auto& row : db.Rows("SELECT order_id, order_version, type FROM outbox ORDER BY seq")) {
    events[row[0]].emplace_back(std::stoll(row[1]), row[2]);
  }
  int64_t orders = 0, bad = 0;
  for (const auto& row : db.Rows("SELECT id, version FROM orders")) {
    ++orders;
    int64_t v = std::stoll(row[1]);
    const auto& evs = events[row[0]];
    bool ok = static_cast<int64_t>(evs.size()) == v;
    for (size_t i = 0; ok && i < evs.size(); ++i) {
      ok = evs[i].first == static_cast<int64_t>(i) + 1 &&
           evs[i].second == (i == 0 ? "order.created" : "order.status_changed");
    }
    if (!ok && ++bad <= 10) {
      ADD_FAILURE() << "order " << row[0] << " has version " << v << " but " << evs.size()
                    << " outbox events (want versions 1.." << v << ", order.created first)";
    }
  }
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(db.Scalar("SELECT COUNT(*) FROM outbox o LEFT JOIN orders r ON r.id = o.order_id "
                      "WHERE r.id IS NULL"),
            0)
      << "events for orders that do not exist";
  auto ic = db.Rows("PRAGMA integrity_check");
  EXPECT_TRUE(!ic.empty() && ic[0][0] == "ok");
  return orders;
}

TEST(DurabilityTest, AcknowledgedWritesSurviveSigkillMidFlight) {
  TestServer server;
  ASSERT_TRUE(server.Start());
  ApiKey admin = CreateKey(server.data_dir(), "admin", "root");
  ASSERT_FALSE(HasFailure());

  std::map<std::string, std::string> acked_all;  // every acknowledged create, both rounds
  std::set<std::string> maybe_all;               // every create in flight at a kill
  std::set<std::string> paid_all, paid_maybe_all;

  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    LoadResult load =
        RunLoadUntilSignal(server, admin.key, "KILL" + std::to_string(round), 300,
                           /*graceful=*/false, [&] { ::kill(server.process().pid(), SIGKILL); });
    int st = server.Kill();  // reap (it is already dead)
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << "wait status " << st;
    ReportErrors(load);
    EXPECT_GE(load.acked.size(), 300u);
    std::cout << "[ info ] round " << round << ": " << load.acked.size() << " creates and "
              << load.paid_acked.size()
              << " transitions acknowledged; in flight at the kill: " << load.in_flight.size()
              << " creates, " << load.paid_in_flight.size() << " transitions\n";
    acked_all.insert(load.acked.begin(), load.acked.end());
    maybe_all.insert(load.in_flight.begin(), load.in_flight.end());
    paid_all.insert(load.paid_acked.begin(), load.paid_acked.end());
    paid_maybe_all.insert(load.paid_in_flight.begin(), load.paid_in_flight.end());

    ASSERT_TRUE(server.Start());
    ASSERT_TRUE(server.WaitHealthy());
    auto c = server.Client(admin.key);
    auto present = PresentOrders(*c);
    int committed_unanswered = 0;
    for (const auto& [coid, id] : acked_all) {
      auto it = present.find(coid);
      if (it == present.end()) {
        ADD_FAILURE() << "acknowledged order " << coid << " (" << id << ") lost by the crash";
        continue;
      }
      EXPECT_EQ(it->second.id, id) << coid << " came back with another id";
    }
    for (const auto& coid : paid_all) {
      auto it = present.find(coid);
      if (it == present.end()) continue;  // reported above
      EXPECT_EQ(it->second.status, "paid") << "acknowledged move of " << coid << " lost";
      EXPECT_EQ(it->second.version, 2) << coid;
    }
    for (const auto& [coid, p] : present) {
      if (coid.rfind("AFTER-", 0) == 0) continue;  // created after a restart
      if (!acked_all.count(coid)) {
        if (maybe_all.count(coid)) {
          ++committed_unanswered;  // allowed: it was in flight when the server died
        } else {
          ADD_FAILURE() << "order " << coid << " (" << p.id << ") exists but nobody was told "
                        << "it was created and it was not in flight at a kill";
        }
      }
      if (p.version != 1 || p.status != "pending_payment") {
        bool explained = paid_all.count(coid) || paid_maybe_all.count(coid);
        EXPECT_TRUE(explained && p.version == 2 && p.status == "paid")
            << coid << " is " << p.status << " v" << p.version
            << " but no such move was acknowledged or in flight";
      }
    }
    // Each kill leaves at most one unanswered request per load thread, and the orders counted
    // here include every round so far.
    EXPECT_LE(committed_unanswered, kLoadThreads * round);
    // Spot-check the order itself, not only the list.
    int checked = 0;
    for (const auto& [coid, id] : load.acked) {
      if (checked++ % 37 != 0) continue;
      HttpResponse g = c->Get("/v1/orders/" + id);
      EXPECT_EQ(g.status, 200) << g.Describe();
      EXPECT_EQ(Str(Obj(g), "channel_order_id"), coid);
    }

    // The restarted server works: uniqueness survived, new writes and transitions succeed.
    const auto& [old_coid, old_id] = *load.acked.begin();
    HttpResponse repeat = c->Post("/v1/orders", MakeOrder("douyin", old_coid));
    EXPECT_EQ(repeat.status, 200) << repeat.Describe();
    EXPECT_EQ(Str(Obj(repeat), "id"), old_id);
    HttpResponse fresh =
        c->Post("/v1/orders", MakeOrder("douyin", "AFTER-" + std::to_string(round)));
    EXPECT_EQ(fresh.status, 201) << fresh.Describe();
    HttpResponse moved =
        c->Post("/v1/orders/" + Str(Obj(fresh), "id") + "/transitions", TransitionBody("paid", 1));
    EXPECT_EQ(moved.status, 200) << moved.Describe();
  }

  // The database after a clean stop: every acknowledged order, and events matching versions.
  auto st = server.Stop();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "wait status " << *st;
  ExpectOutboxMatchesOrders(server.db_path());
  SqliteReader db(server.db_path());
  ASSERT_TRUE(db.ok());
  std::map<std::string, std::string> db_orders;  // channel_order_id -> id
  for (const auto& row : db.Rows("SELECT channel_order_id, id FROM orders")) {
    db_orders[row[0]] = row[1];
  }
  for (const auto& [coid, id] : acked_all) {
    auto it = db_orders.find(coid);
    ASSERT_NE(it, db_orders.end()) << coid << " missing from the orders table";
    EXPECT_EQ(it->second, id);
  }
}

TEST(DurabilityTest, SigtermDrainsInFlightRequestsAndExitsZero) {
  TestServer server;
  ASSERT_TRUE(server.Start());
  ApiKey admin = CreateKey(server.data_dir(), "admin", "root");
  ASSERT_FALSE(HasFailure());

  std::atomic<int64_t> sigterm_at{0};
  LoadResult load = RunLoadUntilSignal(server, admin.key, "TERM", 200, /*graceful=*/true, [&] {
    sigterm_at.store(SteadyClock::now().time_since_epoch().count());
    server.process().SendSigterm();
  });
  auto st = server.process().WaitExit(std::chrono::seconds(30));
  ASSERT_TRUE(st.has_value()) << "orderd did not exit within 30 s of SIGTERM\n"
                              << server.process().LogTail();
  auto drain =
      SteadyClock::now() - SteadyClock::time_point(SteadyClock::duration(sigterm_at.load()));
  // The clients are gone within moments of the signal; draining a handful of requests must
  // not take anywhere near a drain deadline.
  EXPECT_LT(drain, std::chrono::seconds(5))
      << "SIGTERM to exit took "
      << std::chrono::duration_cast<std::chrono::milliseconds>(drain).count() << " ms\n"
      << server.process().LogTail();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "wait status " << *st << "\n"
                                                       << server.process().LogTail();
  ReportErrors(load);
  std::cout << "[ info ] " << load.acked.size() << " creates and " << load.paid_acked.size()
            << " moves acknowledged; " << load.completed_across_signal
            << " in flight at SIGTERM and answered, " << load.answered_after_signal
            << " sent after SIGTERM and answered; closed without an answer: "
            << load.in_flight.size() << " creates, " << load.paid_in_flight.size() << " moves; "
            << load.refused.size() << " refused with 503\n";

  ASSERT_TRUE(server.Start());
  auto c = server.Client(admin.key);
  auto present = PresentOrders(*c);
  for (const auto& [coid, id] : load.acked) {
    auto it = present.find(coid);
    if (it == present.end()) {
      ADD_FAILURE() << "acknowledged " << coid << " lost across a clean shutdown";
    } else {
      EXPECT_EQ(it->second.id, id);
    }
  }
  // Drained means: whatever the server did, it answered. So the orders present are exactly the
  // acknowledged creates, and the paid ones exactly the acknowledged moves.
  for (const auto& [coid, p] : present) {
    if (!load.acked.count(coid)) {
      if (load.in_flight.count(coid)) {
        ADD_FAILURE() << "create " << coid << " was committed but its request was closed "
                      << "without an answer: SIGTERM did not drain it";
      } else {
        ADD_FAILURE() << coid << " exists but was never acknowledged (refused with 503: "
                      << load.refused.count(coid) << ")";
      }
    }
    bool paid = p.status == "paid";
    if (paid != (load.paid_acked.count(coid) > 0)) {
      ADD_FAILURE() << coid << " is " << p.status << " v" << p.version << " but its move to paid "
                    << (load.paid_acked.count(coid) ? "was acknowledged"
                        : load.paid_in_flight.count(coid)
                            ? "was closed without an answer: SIGTERM did not drain it"
                            : "was never acknowledged");
    }
  }
  EXPECT_EQ(present.size(), load.acked.size());
  // Still fully usable after the restart.
  HttpResponse fresh = c->Post("/v1/orders", MakeOrder("douyin", "AFTER-TERM"));
  EXPECT_EQ(fresh.status, 201) << fresh.Describe();
  auto st2 = server.Stop();
  ASSERT_TRUE(st2.has_value());
  EXPECT_TRUE(WIFEXITED(*st2) && WEXITSTATUS(*st2) == 0);
  ExpectOutboxMatchesOrders(server.db_path());
}

// kill -9 keeps the page cache, so it cannot show a write that was acknowledged before it was
// on the disk. Here orderd (and orderctl) run with powercut_shim preloaded, which logs every
// change to the data directory and every sync; after the kill, the data directory is replaced
// by what a power cut at that moment would have left on a disk that keeps only synced data
// (PowerCutModel): unsynced writes are gone, and so are file names whose directory was never
// synced. orderd must start on that, with every acknowledged order and transition, and a
// database that passes integrity_check. Six cuts at moments the load decides, the first two
// early; the second starts without a log file. A bug that depends on where a cut lands (an
// answer sent for a commit its fsync did not cover) shows in some cuts and not others.
TEST(DurabilityTest, AcknowledgedWritesSurviveAPowerCut) {
  const char* shim = std::getenv("POWERCUT_SHIM");
  if (shim == nullptr || *shim == '\0') {
    GTEST_SKIP() << "POWERCUT_SHIM is not set: the sanitizer build does not preload it (a "
                    "preloaded library would come before the sanitizer runtime)";
  }
  TempDir work;
  const std::string log = work.path() + "/powercut.log";
  TestServer server;
  ApiKey admin, douyin;
  std::map<std::string, std::string> acked_all;
  std::set<std::string> maybe_all, paid_all, paid_maybe_all;
  for (int cut = 1; cut <= 6; ++cut) {
    SCOPED_TRACE("cut " + std::to_string(cut));
    PowerCutModel model(server.data_dir());  // what survived the last cut
    std::filesystem::remove(log);
    {
      ScopedEnv preload(
          {{"LD_PRELOAD", shim}, {"POWERCUT_DIR", server.data_dir()}, {"POWERCUT_LOG", log}});
      ASSERT_TRUE(server.Start());
      if (cut == 1) {
        admin = CreateKey(server.data_dir(), "admin", "root");
        douyin = CreateKey(server.data_dir(), "channel", "dy", "douyin");
      }
      ASSERT_FALSE(HasFailure());
      // Cut 2 starts with no log file and writes as the channel, whose requests are not
      // audited: only SQLite's own sync of the new log's header (which syncs the directory on
      // a log it created) makes the log's name durable, and nothing else (such as the audit
      // checkpoint's directory sync) stands in for it.
      LoadResult load =
          RunLoadUntilSignal(server, cut == 2 ? douyin.key : admin.key, "CUT" + std::to_string(cut),
                             cut <= 2 ? 40 : 100, /*graceful=*/false,
                             [&] { ::kill(server.process().pid(), SIGKILL); });
      int st = server.Kill();
      EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << "wait status " << st;
      ReportErrors(load);
      acked_all.insert(load.acked.begin(), load.acked.end());
      maybe_all.insert(load.in_flight.begin(), load.in_flight.end());
      paid_all.insert(load.paid_acked.begin(), load.paid_acked.end());
      paid_maybe_all.insert(load.paid_in_flight.begin(), load.paid_in_flight.end());
    }
    std::string error;
    ASSERT_TRUE(model.Replay(log, &error)) << error;
    ASSERT_TRUE(model.WriteDurableState(&error)) << error;
    std::cout << "[ info ] cut " << cut << ": " << acked_all.size()
              << " creates acknowledged so far; the log held " << model.Summary() << "\n";

    ASSERT_TRUE(server.Start()) << "orderd must start on what the power cut left";
    auto c = server.Client(admin.key);
    auto present = PresentOrders(*c);
    for (const auto& [coid, id] : acked_all) {
      auto it = present.find(coid);
      if (it == present.end()) {
        ADD_FAILURE() << "acknowledged order " << coid << " (" << id << ") lost by the power cut";
        continue;
      }
      EXPECT_EQ(it->second.id, id);
    }
    for (const auto& coid : paid_all) {
      auto it = present.find(coid);
      if (it != present.end()) {
        EXPECT_EQ(it->second.status, "paid") << coid << ": move lost";
      }
    }
    for (const auto& [coid, p] : present) {
      EXPECT_TRUE(acked_all.count(coid) != 0 || maybe_all.count(coid) != 0)
          << coid << " exists but was neither acknowledged nor in flight";
      if (p.status != "pending_payment") {
        EXPECT_TRUE(paid_all.count(coid) != 0 || paid_maybe_all.count(coid) != 0) << coid;
      }
    }
    auto st = server.Stop();
    ASSERT_TRUE(st.has_value());
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "wait status " << *st;
    ExpectOutboxMatchesOrders(server.db_path());
    if (cut == 1) {
      // The next start writes into a log file it creates, as after a stop whose last
      // connection folded the log into the database and deleted it.
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open(server.db_path().c_str(), &db), SQLITE_OK);
      EXPECT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr),
                SQLITE_OK);
      sqlite3_close(db);
      ASSERT_FALSE(std::filesystem::exists(server.db_path() + "-wal"));
    }
  }
  ProcessResult verify =
      RunProcess({OrderctlBin(), "--data-dir", server.data_dir(), "audit", "verify"},
                 std::chrono::seconds(60));
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// A keyring kept on its own volume (--keyring) is a file nothing else in its directory syncs
// for it: its creation must sync the directory itself, or a power cut after the first orders
// were sealed under it takes the keyring away and leaves the database unreadable. The power-cut
// model watches the keyring's directory while orderctl makes the keyring there.
TEST(DurabilityTest, ANewKeyringOnItsOwnVolumeSurvivesAPowerCut) {
  const char* shim = std::getenv("POWERCUT_SHIM");
  if (shim == nullptr || *shim == '\0') {
    GTEST_SKIP() << "POWERCUT_SHIM is not set (the sanitizer build does not preload it)";
  }
  TempDir data, keys, work;
  const std::string keyring = keys.path() + "/keyring.json";
  const std::string log = work.path() + "/powercut.log";
  PowerCutModel model(keys.path());
  {
    ScopedEnv preload({{"LD_PRELOAD", shim}, {"POWERCUT_DIR", keys.path()}, {"POWERCUT_LOG", log}});
    ProcessResult made =
        RunProcess({OrderctlBin(), "--data-dir", data.path() + "/d", "--keyring", keyring, "keys",
                    "create", "--role", "channel", "--channel", "douyin"},
                   std::chrono::seconds(60));
    ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
  }
  std::string written;
  {
    std::ifstream in(keyring, std::ios::binary);
    written.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_FALSE(written.empty());
  std::string error;
  ASSERT_TRUE(model.Replay(log, &error)) << error;
  ASSERT_TRUE(model.WriteDurableState(&error)) << error;
  std::cout << "[ info ] " << model.Summary() << "\n";
  std::ifstream after(keyring, std::ios::binary);
  ASSERT_TRUE(after.good()) << "the keyring's name did not survive the power cut";
  std::string kept((std::istreambuf_iterator<char>(after)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, written);
}

// An idle server stops promptly and cleanly on SIGTERM, printing nothing more on stdout.
TEST(DurabilityTest, IdleSigtermExitsZeroPromptly) {
  TestServer server;
  ASSERT_TRUE(server.Start());
  auto started = SteadyClock::now();
  auto st = server.Stop(std::chrono::seconds(10));
  ASSERT_TRUE(st.has_value()) << "no exit within 10 s";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "wait status " << *st;
  EXPECT_LT(SteadyClock::now() - started, std::chrono::seconds(5));
  auto lines = server.process().StdoutLines();
  EXPECT_EQ(lines.size(), 1u) << "orderd must print exactly one stdout line";
}

}  // namespace
}  // namespace oc::itest
