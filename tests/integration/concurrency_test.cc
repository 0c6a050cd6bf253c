// 32 client threads, each on its own keep-alive connection, hammer one real orderd: racing
// creates of the same (channel, channel_order_id), creates with private lifecycles, and racing
// transitions on the SAME orders with expected_version. Afterwards, over HTTP and in the stopped
// server's database: every order's version == 1 + its accepted transitions, no two accepted
// transitions shared an expected_version, and the outbox holds exactly one order.created per
// order plus exactly one event per accepted transition (versions 1..N per order, in order).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/itest_util.h"
#include "integration/orderd_harness.h"

namespace oc::itest {
namespace {

namespace bj = boost::json;

constexpr int kThreads = 32;
constexpr int kRaceIds = 8;  // channel_order_ids every thread tries to create
constexpr int kOwnOrdersPerThread = 10;
constexpr int kHotOrders = 8;  // orders every thread races to move
constexpr int kHotRounds = 20;

const char* kLifecycle[] = {"paid", "packed", "shipped", "delivered", "completed"};

struct Accepted {
  std::string order_id;
  int64_t expected_version;
  int64_t new_version;
};

struct ThreadLog {
  std::vector<std::string> errors;  // anything unexpected, reported by the main thread
  std::vector<std::pair<std::string, int>> race_results;  // (id, status) per race create
  std::vector<std::string> created;  // ids this thread got 201 for (own orders)
  std::vector<Accepted> accepted;    // accepted transitions
  int version_conflicts = 0;
  int invalid_transitions = 0;
  int connections = 0;
  int idem_status = 0;
  std::string idem_body;
};

TEST(ConcurrencyTest, RacingCreatesAndTransitionsKeepVersionsAndOutboxExact) {
  TestServer server;
  ASSERT_TRUE(server.Start());
  ApiKey admin = CreateKey(server.data_dir(), "admin", "root");
  ASSERT_FALSE(HasFailure());

  // The hot orders, created before the race.
  std::vector<std::string> hot;
  {
    auto c = server.Client(admin.key);
    for (int i = 0; i < kHotOrders; ++i) {
      HttpResponse r = c->Post("/v1/orders", MakeOrder("douyin", "HOT-" + std::to_string(i)));
      ASSERT_EQ(r.status, 201) << r.Describe();
      hot.push_back(Str(Obj(r), "id"));
    }
  }

  std::vector<ThreadLog> logs(kThreads);
  std::atomic<int> workers_done{0};
  std::barrier sync(kThreads);
  auto worker = [&](int t) {
    ThreadLog& log = logs[static_cast<size_t>(t)];
    HttpClient c(server.port(), std::chrono::seconds(60));
    c.set_bearer(admin.key);
    c.set_retry_stale(false);
    auto send = [&](const std::string& method, const std::string& target,
                    const std::string& body) -> std::optional<HttpResponse> {
      HttpResult r = c.Send(method, target, body);
      if (!r.ok()) {
        log.errors.push_back(method + " " + target + ": transport error " + r.error_message);
        return std::nullopt;
      }
      return *r.response;
    };

    // Phase A: everyone creates the same kRaceIds orders at once.
    sync.arrive_and_wait();
    for (int i = 0; i < kRaceIds; ++i) {
      int k = (i + t) % kRaceIds;
      auto r = send("POST", "/v1/orders",
                    bj::serialize(MakeOrder("taobao", "RACE-" + std::to_string(k))));
      if (!r) continue;
      if (r->status != 201 && r->status != 200) {
        log.errors.push_back("race create -> " + r->Describe());
        continue;
      }
      log.race_results.emplace_back(Str(Obj(*r), "id") + "|" + std::to_string(k), r->status);
    }

    // Phase A2: everyone sends the same create with the same Idempotency-Key at once: one
    // order, and every answer is the first response (201, byte-identical body).
    sync.arrive_and_wait();
    {
      HttpResult r = c.Send("POST", "/v1/orders", bj::serialize(MakeOrder("taobao", "IDEM-RACE")),
                            {{"Idempotency-Key", "idem-race-1"}});
      if (!r.ok()) {
        log.errors.push_back("idempotent create: transport error " + r.error_message);
      } else {
        log.idem_status = r.response->status;
        log.idem_body = r.response->body;
      }
    }

    // Phase B: own orders, each through the whole lifecycle; interleaved with the others.
    sync.arrive_and_wait();
    std::vector<std::pair<std::string, int64_t>> own;
    for (int i = 0; i < kOwnOrdersPerThread; ++i) {
      auto r = send(
          "POST", "/v1/orders",
          bj::serialize(MakeOrder("douyin", "OWN-" + std::to_string(t) + "-" + std::to_string(i))));
      if (!r) continue;
      if (r->status != 201) {
        log.errors.push_back("own create -> " + r->Describe());
        continue;
      }
      std::string id = Str(Obj(*r), "id");
      log.created.push_back(id);
      own.emplace_back(id, 1);
    }
    for (const char* to : kLifecycle) {
      for (auto& [id, v] : own) {
        auto r = send("POST", "/v1/orders/" + id + "/transitions", TransitionBody(to, v));
        if (!r) continue;
        if (r->status != 200 || Int(Obj(*r), "version") != v + 1) {
          log.errors.push_back("own move to " + std::string(to) + " -> " + r->Describe());
          continue;
        }
        log.accepted.push_back({id, v, v + 1});
        ++v;
      }
    }

    // Phase C: everyone moves the same hot orders, paid <-> refunding, with expected_version.
    sync.arrive_and_wait();
    std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1);
    for (int round = 0; round < kHotRounds; ++round) {
      std::vector<std::string> order = hot;
      std::shuffle(order.begin(), order.end(), rng);
      for (const auto& id : order) {
        auto g = send("GET", "/v1/orders/" + id, "");
        if (!g) continue;
        if (g->status != 200) {
          log.errors.push_back("hot get -> " + g->Describe());
          continue;
        }
        bj::object o = Obj(*g);
        std::string status = Str(o, "status");
        int64_t v = Int(o, "version");
        std::string to = status == "pending_payment" ? "paid"
                         : status == "paid"          ? "refunding"
                         : status == "refunding"     ? "paid"
                                                     : "";
        if (to.empty() || v < 1) {
          log.errors.push_back("hot order in unexpected state: " + g->Describe());
          continue;
        }
        auto r = send("POST", "/v1/orders/" + id + "/transitions", TransitionBody(to, v));
        if (!r) continue;
        if (r->status == 200) {
          int64_t nv = Int(Obj(*r), "version");
          if (nv != v + 1 || Str(Obj(*r), "status") != to) {
            log.errors.push_back("accepted move with wrong result: " + r->Describe());
          }
          log.accepted.push_back({id, v, nv});
        } else if (r->status == 409 && r->Code() == "version_conflict") {
          ++log.version_conflicts;
        } else if (r->status == 409 && r->Code() == "invalid_transition") {
          ++log.invalid_transitions;  // our read was stale in both version and status
        } else {
          log.errors.push_back("hot move -> " + r->Describe());
        }
      }
    }
    log.connections = c.connections_opened();
    workers_done.fetch_add(1);
  };

  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  // Meanwhile, `orderctl keys create` on the same dir must work, and its key at once.
  int keys_during_load = 0;
  {
    HttpClient probe(server.port(), std::chrono::seconds(60));
    while (workers_done.load() < kThreads && keys_during_load < 50) {
      ApiKey k =
          CreateKey(server.data_dir(), "warehouse", "wh-" + std::to_string(keys_during_load));
      if (k.key.empty()) break;
      ++keys_during_load;
      probe.set_bearer(k.key);
      HttpResponse r = probe.Get("/v1/orders?limit=1");
      EXPECT_EQ(r.status, 200) << "a key made by orderctl during load: " << r.Describe();
    }
  }
  for (auto& th : threads) th.join();
  EXPECT_GE(keys_during_load, 1);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // ---- What the clients saw.
  int errors = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (const auto& e : logs[static_cast<size_t>(t)].errors) {
      if (++errors <= 20) ADD_FAILURE() << "thread " << t << ": " << e;
    }
    EXPECT_EQ(logs[static_cast<size_t>(t)].connections, 1)
        << "thread " << t << " needed " << logs[static_cast<size_t>(t)].connections
        << " connections: keep-alive was not kept";
  }
  EXPECT_EQ(errors, 0) << errors << " unexpected results in total";

  // Phase A: exactly one 201 per race id, everyone agrees on the id.
  std::map<int, std::set<std::string>> race_ids;
  std::map<int, int> race_created;
  for (const auto& log : logs) {
    for (const auto& [id_k, status] : log.race_results) {
      auto bar = id_k.rfind('|');
      int k = std::stoi(id_k.substr(bar + 1));
      race_ids[k].insert(id_k.substr(0, bar));
      if (status == 201) ++race_created[k];
    }
  }
  for (int k = 0; k < kRaceIds; ++k) {
    EXPECT_EQ(race_created[k], 1) << "RACE-" << k << " was created " << race_created[k] << " times";
    EXPECT_EQ(race_ids[k].size(), 1u) << "RACE-" << k << " answered with several ids";
  }

  // Phase A2: one order, every answer the first one.
  std::string idem_id = Str(Obj(HttpResponse{201, {}, logs[0].idem_body}), "id");
  EXPECT_FALSE(idem_id.empty()) << logs[0].idem_body;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(logs[static_cast<size_t>(t)].idem_status, 201)
        << "thread " << t << ": a replay must repeat the first response's status";
    EXPECT_EQ(logs[static_cast<size_t>(t)].idem_body, logs[0].idem_body) << "thread " << t;
  }

  // Accepted transitions per order; no expected_version accepted twice.
  std::map<std::string, std::vector<int64_t>> accepted_versions;
  int64_t accepted_total = 0, conflicts = 0, invalid = 0;
  std::set<std::string> all_orders(hot.begin(), hot.end());
  if (!idem_id.empty()) all_orders.insert(idem_id);
  for (const auto& log : logs) {
    for (const auto& a : log.accepted) accepted_versions[a.order_id].push_back(a.expected_version);
    accepted_total += static_cast<int64_t>(log.accepted.size());
    conflicts += log.version_conflicts;
    invalid += log.invalid_transitions;
    all_orders.insert(log.created.begin(), log.created.end());
  }
  for (const auto& [k, ids] : race_ids) all_orders.insert(ids.begin(), ids.end());
  const int64_t creates = kHotOrders + kRaceIds + 1 + kThreads * kOwnOrdersPerThread;
  EXPECT_EQ(static_cast<int64_t>(all_orders.size()), creates);
  EXPECT_GT(conflicts, 0) << "the race produced no version_conflict: it did not race";
  std::cout << "[ info ] " << kThreads << " threads, " << secs << " s: " << accepted_total
            << " accepted transitions, " << conflicts << " version_conflict, " << invalid
            << " invalid_transition, " << keys_during_load << " keys made by orderctl meanwhile\n";

  auto admin_c = server.Client(admin.key);
  std::map<std::string, int64_t> final_version;
  for (const auto& id : all_orders) {
    auto& vs = accepted_versions[id];
    std::sort(vs.begin(), vs.end());
    for (size_t i = 0; i < vs.size(); ++i) {
      if (vs[i] != static_cast<int64_t>(i) + 1) {
        ADD_FAILURE() << "order " << id << ": accepted expected_versions are not 1..n: the "
                      << i + 1 << "th is " << vs[i] << " (a lost update or a double accept)";
        break;
      }
    }
    HttpResponse g = admin_c->Get("/v1/orders/" + id);
    ASSERT_EQ(g.status, 200) << g.Describe();
    int64_t v = Int(Obj(g), "version");
    final_version[id] = v;
    EXPECT_EQ(v, 1 + static_cast<int64_t>(vs.size()))
        << "order " << id << ": version != 1 + accepted transitions";
  }
  EXPECT_EQ(static_cast<int64_t>(ListAll(*admin_c).size()), creates);

  // ---- The database, after a clean stop.
  auto st = server.Stop();
  ASSERT_TRUE(st.has_value()) << "orderd did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "wait status " << *st;
  SqliteReader db(server.db_path());
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(db.Scalar("SELECT COUNT(*) FROM orders"), creates);
  EXPECT_EQ(db.Scalar("SELECT COUNT(*) FROM outbox"), creates + accepted_total)
      << "outbox rows != creates + accepted transitions";
  EXPECT_EQ(db.Scalar("SELECT COUNT(*) FROM outbox WHERE type = 'order.created'"), creates);
  EXPECT_EQ(db.Scalar("SELECT COUNT(*) FROM (SELECT order_id FROM outbox WHERE type = "
                      "'order.created' GROUP BY order_id HAVING COUNT(*) <> 1)"),
            0)
      << "an order has more or less than one order.created";
  EXPECT_EQ(db.Scalar("SELECT COUNT(*) FROM outbox WHERE type NOT IN ('order.created', "
                      "'order.status_changed')"),
            0);
  EXPECT_EQ(db.Scalar("SELECT COUNT(*) FROM outbox o LEFT JOIN orders r ON r.id = o.order_id "
                      "WHERE r.id IS NULL"),
            0)
      << "outbox events for orders that do not exist";
  EXPECT_EQ(db.Scalar("SELECT COUNT(DISTINCT id) FROM outbox"), creates + accepted_total);

  // Per order: versions in the table, and events with order_version 1..N in seq order.
  std::map<std::string, std::vector<int64_t>> event_versions;
  int bad_payloads = 0;
  for (const auto& row :
       db.Rows("SELECT order_id, order_version, type, payload, id FROM outbox ORDER BY seq")) {
    int64_t ov = std::stoll(row[1]);
    // The payload is the event as subscribers get it (API.md): id, type, order_id,
    // order_version, status, occurred_at; consistent with the row.
    boost::system::error_code ec;
    bj::value pv = bj::parse(row[3], ec);
    bool ok = !ec && pv.is_object();
    if (ok) {
      const bj::object& po = pv.get_object();
      ok = Str(po, "id") == row[4] && Str(po, "type") == row[2] && Str(po, "order_id") == row[0] &&
           Int(po, "order_version") == ov && !Str(po, "status").empty() &&
           !Str(po, "occurred_at").empty();
    }
    if (!ok && ++bad_payloads <= 5) {
      ADD_FAILURE() << "outbox payload does not match its row (" << row[4] << ", " << row[2] << ", "
                    << row[0] << ", v" << ov << "): " << row[3];
    }
    if ((row[2] == "order.created") != (ov == 1)) {
      ADD_FAILURE() << "event " << row[2] << " with order_version " << ov << " for " << row[0];
    }
    event_versions[row[0]].push_back(ov);
  }
  for (const auto& row : db.Rows("SELECT id, version FROM orders")) {
    const std::string& id = row[0];
    int64_t v = std::stoll(row[1]);
    EXPECT_EQ(v, final_version[id]) << "orders.version for " << id;
    const auto& evs = event_versions[id];
    bool sequential = static_cast<int64_t>(evs.size()) == v;
    for (size_t i = 0; sequential && i < evs.size(); ++i) {
      sequential = evs[i] == static_cast<int64_t>(i) + 1;
    }
    EXPECT_TRUE(sequential) << "order " << id << " (version " << v << ") has " << evs.size()
                            << " events, not versions 1.." << v << " in seq order";
  }
}

}  // namespace
}  // namespace oc::itest
