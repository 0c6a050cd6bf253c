// Customer data protection against the real orderd: the role × field matrix on every read path
// (single, list, export), BOLA, step-up and reveal, CSV export, the audit log over HTTP and
// `orderctl audit verify` after tampering with the database through the sqlite3 CLI, and the
// bytes on disk and in the log holding no plaintext.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "integration/itest_util.h"
#include "integration/orderd_harness.h"
#include "privacy/hashing.h"
#include "privacy/totp.h"

namespace oc::itest {
namespace {

namespace bj = boost::json;

// RFC 4180 parsing, enough for what the export writes (quoted cells, doubled quotes, CRLF).
std::vector<std::vector<std::string>> ParseCsv(std::string_view text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(cell));
      cell.clear();
    } else if (c == '\r') {
      continue;
    } else if (c == '\n') {
      rows.back().push_back(std::move(cell));
      cell.clear();
      rows.emplace_back();
    } else {
      cell.push_back(c);
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

std::string Mask(const std::string& s, size_t head, size_t tail) {  // ASCII only
  return s.substr(0, head) + std::string(s.size() - head - tail, '*') + s.substr(s.size() - tail);
}

class PrivacyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    admin_key_ = CreateKey(server_.data_dir(), "admin", "root");
    douyin_key_ = CreateKey(server_.data_dir(), "channel", "douyin-shop", "douyin");
    ASSERT_FALSE(HasFailure());
    ASSERT_FALSE(admin_key_.totp_secret.empty()) << admin_key_.raw_json;
    admin_ = server_.Client(admin_key_.key);
    douyin_ = server_.Client(douyin_key_.key);
  }

  bj::object FullOrder(const std::string& channel_order_id) {
    bj::object o = MakeOrder("douyin", channel_order_id, 2, 129900);
    o["invoice"] = bj::object{{"title", kPiiInvoiceTitle}, {"tax_id", kPiiTaxId}};
    return o;
  }

  std::string CreateFull(const std::string& channel_order_id) {
    HttpResponse r = douyin_->Post("/v1/orders", FullOrder(channel_order_id));
    EXPECT_EQ(r.status, 201) << r.Describe();
    return Str(Obj(r), "id");
  }

  std::vector<bj::object> Audit(const std::string& query) {
    HttpResponse r = admin_->Get("/v1/audit?limit=500&" + query);
    EXPECT_EQ(r.status, 200) << r.Describe();
    std::vector<bj::object> out;
    bj::value v = r.Json();
    if (v.is_object() && v.as_object().contains("items")) {
      for (const auto& e : v.at("items").as_array()) out.push_back(e.as_object());
    }
    return out;
  }

  std::string Totp(const std::string& secret, int64_t step_offset = 0) {
    int64_t step = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() /
                   privacy::kTotpStepSeconds;
    return privacy::TotpCode(secret, step + step_offset).value_or("");
  }

  HttpResponse StepUp(HttpClient& c, const std::string& code) {
    return c.Post("/v1/auth/step-up", bj::object{{"totp", code}});
  }

  HttpResponse Reveal(HttpClient& c, const std::string& id, const std::string& token,
                      const bj::array& fields, const std::string& reason = "ticket 4711") {
    Headers h;
    if (!token.empty()) h.emplace_back("X-Step-Up-Token", token);
    bj::object body{{"fields", fields}};
    if (!reason.empty()) body["reason"] = reason;
    return c.Post("/v1/orders/" + id + "/reveal", body, h);
  }

  // The sqlite3 command-line shell (Debian's sqlite3 package), found on PATH.
  ProcessResult Sqlite(const std::string& sql) {
    std::string shell = "sqlite3";
    std::stringstream path(std::getenv("PATH") != nullptr ? std::getenv("PATH") : "/usr/bin");
    for (std::string dir; std::getline(path, dir, ':');) {
      if (std::filesystem::exists(dir + "/sqlite3")) {
        shell = dir + "/sqlite3";
        break;
      }
    }
    return RunProcess({shell, server_.db_path(), sql}, std::chrono::seconds(30));
  }

  ProcessResult OrderctlVerify() {
    return RunProcess({OrderctlBin(), "--data-dir", server_.data_dir(), "audit", "verify"},
                      std::chrono::seconds(60));
  }

  TestServer server_;
  ApiKey admin_key_, douyin_key_;
  std::unique_ptr<HttpClient> admin_, douyin_;
};

// API.md's role table, field by field, on GET /v1/orders/{id}, GET /v1/orders and
// GET /v1/orders/export.csv: exactly these fields, with these (masked) values, and no others.
TEST_F(PrivacyTest, EveryRoleSeesExactlyItsFieldsOnEveryReadPath) {
  ApiKey cs = CreateKey(server_.data_dir(), "customer_service", "agent-1");
  ApiKey wh = CreateKey(server_.data_dir(), "warehouse", "wh");
  ApiKey fin = CreateKey(server_.data_dir(), "finance", "fin");
  ApiKey ops = CreateKey(server_.data_dir(), "operations", "ops");
  ASSERT_FALSE(HasFailure());
  std::string id = CreateFull("DY-MATRIX");
  ASSERT_FALSE(id.empty());
  HttpResponse assigned =
      admin_->Post("/v1/orders/" + id + "/assign", bj::object{{"agent", cs.id}});
  ASSERT_EQ(assigned.status, 200) << assigned.Describe();

  const std::set<std::string> bookkeeping = {"channel", "channel_order_id", "version", "created_at",
                                             "updated_at"};
  const std::set<std::string> customer = {"customer.nickname", "customer.name", "customer.phone",
                                          "customer.id_number"};
  const std::set<std::string> address = {"shipping_address.province", "shipping_address.city",
                                         "shipping_address.district", "shipping_address.detail"};
  const std::set<std::string> money = {"total", "currency", "payment_method"};
  const std::set<std::string> invoice = {"invoice.title", "invoice.tax_id"};
  auto join = [](std::initializer_list<std::set<std::string>> parts) {
    std::set<std::string> out;
    for (const auto& p : parts) out.insert(p.begin(), p.end());
    return out;
  };
  struct Expectation {
    std::string role;
    std::string key;
    std::set<std::string> fields;
    std::map<std::string, std::string> values;
    std::vector<std::string> plaintext_allowed;  // PII this role legitimately sees in full
  };
  const std::string masked_id = Mask(kPiiIdNumber, 6, 2);
  const std::string masked_tax = Mask(kPiiTaxId, 6, 2);
  std::vector<Expectation> matrix = {
      {"admin",
       admin_key_.key,
       join({{"id", "status", "lines", "tags", "health_score", "risk_flags", "assigned_agent",
              "placed_at"},
             bookkeeping,
             customer,
             address,
             money,
             invoice}),
       {{"customer.name", "李*"},
        {"customer.phone", "138****5678"},
        {"customer.id_number", masked_id},
        {"shipping_address.detail", "文三****"},
        {"invoice.title", "杭***********"},
        {"invoice.tax_id", masked_tax},
        {"total", "259800"},
        {"assigned_agent", cs.id}},
       {}},
      {"channel",
       douyin_key_.key,
       join({{"id", "status", "lines", "placed_at"},
             bookkeeping,
             customer,
             address,
             money,
             invoice}),
       {{"customer.name", "李*"},
        {"customer.phone", "138****5678"},
        {"customer.id_number", masked_id},
        {"invoice.tax_id", masked_tax}},
       {}},
      {"customer_service",
       cs.key,
       {"id", "status", "customer.nickname", "customer.phone", "lines", "after_sale_status"},
       {{"customer.phone", "138****5678"}, {"customer.nickname", "小李"}},
       {}},
      {"warehouse",
       wh.key,
       join({{"id", "status", "customer.name", "lines", "packing_status"}, address}),
       {{"customer.name", "李*"}, {"shipping_address.detail", kPiiDetail}},
       {kPiiDetail}},
      {"finance",
       fin.key,
       join({{"id", "status", "lines", "settlement_status"}, money, invoice}),
       {{"total", "259800"}, {"invoice.title", kPiiInvoiceTitle}, {"invoice.tax_id", kPiiTaxId}},
       {kPiiInvoiceTitle, kPiiTaxId}},
  };
  const std::vector<std::string> all_plaintext = {kPiiPhone,  kPiiIdNumber,     kPiiName,
                                                  kPiiDetail, kPiiInvoiceTitle, kPiiTaxId};

  for (const Expectation& want : matrix) {
    SCOPED_TRACE("role " + want.role);
    auto client = server_.Client(want.key);
    auto check_view = [&](const std::map<std::string, std::string>& got, const std::string& path) {
      EXPECT_EQ(KeysOf(got), want.fields) << path;
      for (const auto& [field, value] : want.values) {
        auto it = got.find(field);
        EXPECT_TRUE(it != got.end() && it->second == value)
            << path << ": " << field << " = " << (it == got.end() ? "(absent)" : it->second)
            << ", want " << value;
      }
      for (const auto& plain : all_plaintext) {
        bool allowed = std::find(want.plaintext_allowed.begin(), want.plaintext_allowed.end(),
                                 plain) != want.plaintext_allowed.end();
        if (allowed) continue;
        for (const auto& [field, value] : got) {
          EXPECT_EQ(value.find(plain), std::string::npos)
              << path << ": " << field << " holds plaintext " << plain;
        }
      }
    };
    // Single.
    HttpResponse single = client->Get("/v1/orders/" + id);
    ASSERT_EQ(single.status, 200) << single.Describe();
    check_view(FlattenView(Obj(single)), "GET /v1/orders/{id}");
    // List.
    auto listed = ListAll(*client);
    ASSERT_EQ(listed.size(), 1u);
    check_view(FlattenView(listed[0]), "GET /v1/orders");
    // Export: the header names the role's columns (plus the watermark); the one row is the view.
    HttpResponse csv = client->Get("/v1/orders/export.csv");
    ASSERT_EQ(csv.status, 200) << csv.Describe();
    ASSERT_TRUE(csv.body.starts_with("\xEF\xBB\xBF")) << "no UTF-8 byte-order mark";
    auto rows = ParseCsv(std::string_view(csv.body).substr(3));
    ASSERT_EQ(rows.size(), 3u) << csv.body;  // header, one order, the footer line
    const auto& header = rows[0];
    ASSERT_EQ(header.size(), rows[1].size());
    ASSERT_EQ(header.back(), "watermark");
    std::map<std::string, std::string> exported;
    for (size_t i = 0; i + 1 < header.size(); ++i) {
      if (!rows[1][i].empty()) exported[header[i]] = rows[1][i];
    }
    std::map<std::string, std::string> expected_export;
    for (const auto& [k, v] : FlattenView(Obj(single))) {
      if (!v.empty()) expected_export[k] = v;
    }
    check_view(FlattenView(Obj(single)), "export (through the single view)");
    EXPECT_EQ(exported, expected_export) << "the export row is not the role's view";
    for (const auto& column : header) {
      // refund_origin is an admin column that only refunding orders fill.
      bool optional = want.role == "admin" && column == "refund_origin";
      EXPECT_TRUE(column == "watermark" || optional || want.fields.contains(column))
          << "export column " << column << " is not in the role's view";
    }
    EXPECT_NE(rows[1].back().find("exported by key_"), std::string::npos) << rows[1].back();
    EXPECT_TRUE(rows[2][0].starts_with("# exported by key_")) << rows[2][0];
  }

  // Operations sees aggregates only: 403 on every order read path.
  auto ops_c = server_.Client(ops.key);
  EXPECT_EQ(CheckProblem(ops_c->Get("/v1/orders/" + id), 403, "forbidden"), "");
  EXPECT_EQ(CheckProblem(ops_c->Get("/v1/orders"), 403, "forbidden"), "");
  EXPECT_EQ(CheckProblem(ops_c->Get("/v1/orders/export.csv"), 403, "forbidden"), "");
}

// BOLA: another agent's order does not exist as far as a customer_service key can tell, and the
// probe is audited as a denied access.
TEST_F(PrivacyTest, CustomerServiceCannotReadAnotherAgentsOrder) {
  ApiKey mine = CreateKey(server_.data_dir(), "customer_service", "agent-a");
  ApiKey other = CreateKey(server_.data_dir(), "customer_service", "agent-b");
  ASSERT_FALSE(HasFailure());
  std::string id = CreateFull("DY-BOLA");
  ASSERT_EQ(admin_->Post("/v1/orders/" + id + "/assign", bj::object{{"agent", mine.id}}).status,
            200);
  auto probe = server_.Client(other.key);
  HttpResponse r = probe->Get("/v1/orders/" + id);
  EXPECT_EQ(CheckProblem(r, 404, "not_found"), "");
  EXPECT_EQ(ListAll(*probe).size(), 0u);
  HttpResponse csv = probe->Get("/v1/orders/export.csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.body.find("DY-BOLA"), std::string::npos);
  EXPECT_EQ(csv.body.find(id), std::string::npos);
  EXPECT_EQ(server_.Client(mine.key)->Get("/v1/orders/" + id).status, 200);
  // An id that exists nowhere is answered and audited exactly like the order out of scope: an
  // answer that waited for an audit fsync only when the order exists would give it away.
  std::string missing = id.substr(0, id.size() - 1) + (id.back() == '0' ? '1' : '0');
  EXPECT_EQ(CheckProblem(probe->Get("/v1/orders/" + missing), 404, "not_found"), "");

  auto denied = Audit("action=access.denied&actor=" + other.id);
  ASSERT_EQ(denied.size(), 2u);
  std::set<std::string> probed;
  for (const auto& entry : denied) {
    probed.insert(Str(entry, "order_id"));
    EXPECT_EQ(Str(entry, "outcome"), "404");
    EXPECT_EQ(Str(entry, "role"), "customer_service");
    EXPECT_EQ(Str(entry, "ip"), "127.0.0.1");
    EXPECT_EQ(Str(entry, "detail"), "GET /v1/orders/{id}");
  }
  EXPECT_EQ(probed, (std::set<std::string>{id, missing}));
  // The same for a channel key, whose scope is its channel; an id of the wrong shape is not
  // worth an entry.
  EXPECT_EQ(douyin_->Get("/v1/orders/" + missing).status, 404);
  EXPECT_EQ(douyin_->Get("/v1/orders/ord_not-an-id").status, 404);
  auto channel_denied = Audit("action=access.denied&actor=" + douyin_key_.id);
  ASSERT_EQ(channel_denied.size(), 1u);
  EXPECT_EQ(Str(channel_denied[0], "order_id"), missing);
  // A key that sees every order learns nothing from a 404, and its misses are not audited.
  ApiKey warehouse = CreateKey(server_.data_dir(), "warehouse", "wh");
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(server_.Client(warehouse.key)->Get("/v1/orders/" + missing).status, 404);
  EXPECT_EQ(Audit("action=access.denied&actor=" + warehouse.id).size(), 0u);
}

TEST_F(PrivacyTest, RevealNeedsAStepUpTokenAndAReasonAndIsAudited) {
  std::string id = CreateFull("DY-REVEAL");
  ASSERT_FALSE(id.empty());
  bj::array phone{"customer.phone"};

  // No token, a made-up token: refused.
  EXPECT_EQ(CheckProblem(Reveal(*admin_, id, "", phone), 403, "step_up_required"), "");
  EXPECT_EQ(CheckProblem(Reveal(*admin_, id, "su_forged", phone), 403, "step_up_invalid"), "");
  // Step-up: a missing, malformed or wrong code is refused.
  EXPECT_EQ(CheckProblem(admin_->Post("/v1/auth/step-up", bj::object{}), 400, "invalid_request"),
            "");
  std::string right = Totp(admin_key_.totp_secret);
  std::string wrong = right == "000000" ? "111111" : "000000";
  EXPECT_EQ(CheckProblem(StepUp(*admin_, wrong), 403, "step_up_failed"), "");
  EXPECT_EQ(CheckProblem(StepUp(*admin_, Totp(admin_key_.totp_secret, -10)), 403, "step_up_failed"),
            "");
  // Only admins step up.
  EXPECT_EQ(StepUp(*douyin_, right).status, 403);

  HttpResponse stepped = StepUp(*admin_, right);
  ASSERT_EQ(stepped.status, 200) << stepped.Describe();
  std::string token = Str(Obj(stepped), "token");
  ASSERT_FALSE(token.empty());
  EXPECT_FALSE(Str(Obj(stepped), "expires_at").empty());
  // The same code a second time is a replay.
  EXPECT_EQ(CheckProblem(StepUp(*admin_, right), 403, "step_up_failed"), "");

  // A reason is required, fields must be known.
  EXPECT_EQ(CheckProblem(Reveal(*admin_, id, token, phone, ""), 400, "invalid_request"), "");
  EXPECT_EQ(Reveal(*admin_, id, token, phone, "   ").status, 422);
  EXPECT_EQ(Reveal(*admin_, id, token, bj::array{"total"}).status, 422);
  // Another admin cannot use this admin's token.
  ApiKey admin2 = CreateKey(server_.data_dir(), "admin", "second");
  EXPECT_EQ(
      CheckProblem(Reveal(*server_.Client(admin2.key), id, token, phone), 403, "step_up_invalid"),
      "");

  // The reason quotes the customer's phone, as an agent's note might: the audit log keeps the
  // reason with the number masked.
  HttpResponse revealed = Reveal(
      *admin_, id, token, bj::array{"customer.phone", "customer.id_number", "invoice.tax_id"},
      std::string("ticket 4711: caller ") + kPiiPhone + " asks to change the address");
  ASSERT_EQ(revealed.status, 200) << revealed.Describe();
  bj::object got = Obj(revealed);
  const bj::object& fields = got.at("fields").as_object();
  EXPECT_EQ(fields.at("customer.phone").as_string(), kPiiPhone);
  EXPECT_EQ(fields.at("customer.id_number").as_string(), kPiiIdNumber);
  EXPECT_EQ(fields.at("invoice.tax_id").as_string(), kPiiTaxId);
  EXPECT_EQ(Str(got, "order_id"), id);

  // The audit log has the reveal (with fields and reason) and every refusal on the way.
  auto reveals = Audit("action=pii.reveal&order_id=" + id);
  std::multiset<std::string> outcomes;
  for (const auto& e : reveals) outcomes.insert(Str(e, "outcome"));
  EXPECT_EQ(outcomes.count("200"), 1u);
  EXPECT_GE(outcomes.count("403"), 3u);
  for (const auto& e : reveals) {
    if (Str(e, "outcome") != "200") continue;
    EXPECT_EQ(Str(e, "actor"), admin_key_.id);
    EXPECT_NE(Str(e, "detail").find("ticket 4711: caller 138******78 asks"), std::string::npos)
        << bj::serialize(e);
    EXPECT_EQ(bj::serialize(e.at("fields")),
              R"(["customer.phone","customer.id_number","invoice.tax_id"])");
    EXPECT_EQ(bj::serialize(e).find(kPiiPhone), std::string::npos) << "the audit holds the value";
  }
  auto step_ups = Audit("action=auth.step_up&actor=" + admin_key_.id);
  std::multiset<std::string> step_outcomes;
  for (const auto& e : step_ups) step_outcomes.insert(Str(e, "outcome"));
  EXPECT_EQ(step_outcomes.count("200"), 1u);
  EXPECT_EQ(step_outcomes.count("403"), 3u);  // wrong, stale, replayed
  EXPECT_EQ(step_outcomes.count("400"), 1u);  // missing
}

// Guessing TOTP codes counts as failed authentication: after the limit, the key is locked out.
TEST_F(PrivacyTest, GuessingStepUpCodesLocksTheKeyOut) {
  std::string right = Totp(admin_key_.totp_secret);
  int refused = 0;
  for (int guess = 0; guess < 40 && refused < 20; ++guess) {
    std::string code = std::to_string(100000 + guess * 7919);
    if (code == right || code == Totp(admin_key_.totp_secret, -1) ||
        code == Totp(admin_key_.totp_secret, 1)) {
      continue;
    }
    HttpResponse r = StepUp(*admin_, code);
    ASSERT_EQ(r.status, 403) << r.Describe();
    ++refused;
  }
  HttpResponse locked = StepUp(*admin_, right);
  EXPECT_EQ(CheckProblem(locked, 429, "too_many_auth_failures"), "");
  EXPECT_FALSE(locked.Header("retry-after").empty());
  EXPECT_EQ(admin_->Get("/v1/orders").status, 429) << "the key is locked out for everything";
}

TEST_F(PrivacyTest, FailedAuthenticationsAreAuditedWithoutTheKey) {
  auto stranger = server_.Client("oc_this-is-not-a-key-1234567890");
  EXPECT_EQ(stranger->Get("/v1/orders").status, 401);
  auto none = server_.Client("");
  EXPECT_EQ(none->Get("/v1/orders").status, 401);
  auto failures = Audit("action=auth.failed");
  ASSERT_EQ(failures.size(), 2u);
  for (const auto& e : failures) {
    EXPECT_EQ(Str(e, "ip"), "127.0.0.1");
    EXPECT_EQ(Str(e, "outcome"), "401");
    EXPECT_EQ(bj::serialize(e).find("this-is-not-a-key"), std::string::npos) << bj::serialize(e);
  }
}

TEST_F(PrivacyTest, ExportsAreWatermarkedAndAudited) {
  for (int i = 0; i < 3; ++i) CreateFull("DY-EXPORT-" + std::to_string(i));
  HttpResponse csv = admin_->Get("/v1/orders/export.csv?channel=douyin&limit=2");
  ASSERT_EQ(csv.status, 200) << csv.Describe();
  EXPECT_EQ(csv.ContentType(), "text/csv");
  EXPECT_NE(csv.Header("content-disposition").find("attachment"), std::string::npos);
  auto rows = ParseCsv(std::string_view(csv.body).substr(3));
  ASSERT_EQ(rows.size(), 4u);  // header, 2 orders, footer
  EXPECT_FALSE(csv.Header("x-next-cursor").empty()) << "a third order is left to export";
  HttpResponse rest =
      admin_->Get("/v1/orders/export.csv?channel=douyin&cursor=" + csv.Header("x-next-cursor"));
  ASSERT_EQ(rest.status, 200);
  EXPECT_EQ(ParseCsv(std::string_view(rest.body).substr(3)).size(), 3u);
  EXPECT_TRUE(rest.Header("x-next-cursor").empty());
  EXPECT_EQ(csv.body.find(kPiiPhone), std::string::npos);
  EXPECT_NE(rows[3][0].find(admin_key_.id), std::string::npos) << rows[3][0];

  auto exports = Audit("action=orders.export");
  ASSERT_EQ(exports.size(), 2u);
  EXPECT_EQ(Str(exports[0], "actor"), admin_key_.id);
  EXPECT_NE(Str(exports[0], "detail").find("rows: 2"), std::string::npos)
      << bj::serialize(exports[0]);
  EXPECT_EQ(CheckProblem(admin_->Get("/v1/orders/export.csv?limit=0"), 400, "invalid_request"), "");
}

// Tampering with the audit rows through the sqlite3 CLI, beside the running server: verify (HTTP
// and orderctl) fails and names the entry; cutting the tail is caught by the checkpoint.
TEST_F(PrivacyTest, AuditVerifyCatchesEditsDeletionsAndACutTail) {
  for (int i = 0; i < 4; ++i) CreateFull("DY-AUDIT-" + std::to_string(i));
  ApiKey denied = CreateKey(server_.data_dir(), "warehouse", "wh");
  auto wh = server_.Client(denied.key);
  EXPECT_EQ(wh->Post("/v1/keys", bj::object{{"role", "admin"}}).status, 403);  // audited
  HttpResponse ok = admin_->Get("/v1/audit/verify");
  ASSERT_EQ(ok.status, 200) << ok.Describe();
  EXPECT_TRUE(Obj(ok).at("ok").as_bool()) << ok.body;
  int64_t entries = Int(Obj(ok), "entries");
  ASSERT_GE(entries, 5) << ok.body;
  ProcessResult clean = OrderctlVerify();
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_EQ(clean.out, "ok\n");

  // Edit one row: it is named.
  auto original = SqliteReader(server_.db_path()).Rows("SELECT actor FROM audit_log WHERE seq = 3");
  ASSERT_EQ(original.size(), 1u);
  ProcessResult edit = Sqlite("UPDATE audit_log SET actor = 'key_nobody' WHERE seq = 3");
  ASSERT_EQ(edit.exit_code, 0) << edit.err;
  HttpResponse bad = admin_->Get("/v1/audit/verify");
  ASSERT_EQ(bad.status, 200);
  EXPECT_FALSE(Obj(bad).at("ok").as_bool()) << bad.body;
  EXPECT_EQ(Int(Obj(bad), "first_bad.seq"), 3) << bad.body;
  ProcessResult cli = OrderctlVerify();
  EXPECT_EQ(cli.exit_code, 1) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("entry 3"), std::string::npos) << cli.out;

  // Put it back (the hash still holds the truth), then cut off the tail instead.
  ASSERT_EQ(Sqlite("UPDATE audit_log SET actor = '" + original[0][0] + "' WHERE seq = 3").exit_code,
            0);
  ASSERT_EQ(OrderctlVerify().exit_code, 0) << "restoring row 3 did not restore the chain";
  ASSERT_EQ(server_.Stop(), 0);  // nothing appends while the tail is cut
  int64_t last = SqliteReader(server_.db_path()).Scalar("SELECT max(seq) FROM audit_log");
  ASSERT_EQ(Sqlite("DELETE FROM audit_log WHERE seq >= " + std::to_string(last - 1)).exit_code, 0);
  ProcessResult cut = OrderctlVerify();
  EXPECT_EQ(cut.exit_code, 1) << cut.out << cut.err;
  EXPECT_NE(cut.out.find("tail"), std::string::npos) << cut.out;
  EXPECT_NE(cut.out.find("entry " + std::to_string(last - 1)), std::string::npos) << cut.out;

  // Deleting a row in the middle is named too.
  ASSERT_EQ(Sqlite("DELETE FROM audit_log WHERE seq = 2").exit_code, 0);
  ProcessResult hole = OrderctlVerify();
  EXPECT_EQ(hole.exit_code, 1);
  EXPECT_NE(hole.out.find("entry 2"), std::string::npos) << hole.out;
}

// Exact-match phone search through the blind index, for the roles that see phones.
TEST_F(PrivacyTest, PhoneSearchFindsExactMatchesThroughTheBlindIndex) {
  std::string a = CreateFull("DY-PHONE-A");
  bj::object other = FullOrder("DY-PHONE-B");
  other["customer"].as_object()["phone"] = "13900001111";
  HttpResponse b = douyin_->Post("/v1/orders", other);
  ASSERT_EQ(b.status, 201) << b.Describe();
  auto found = ListAll(*admin_, "phone=13812345678");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(Str(found[0], "id"), a);
  EXPECT_EQ(ListAll(*admin_, "phone=%2B86%20138-1234-5678").size(), 1u);  // "+86 138-1234-5678"
  EXPECT_EQ(ListAll(*admin_, "phone=13812345670").size(), 0u);
  EXPECT_EQ(ListAll(*douyin_, "phone=13900001111").size(), 1u);
  ApiKey wh = CreateKey(server_.data_dir(), "warehouse", "wh");
  EXPECT_EQ(
      CheckProblem(server_.Client(wh.key)->Get("/v1/orders?phone=13812345678"), 403, "forbidden"),
      "");
  EXPECT_EQ(CheckProblem(admin_->Get("/v1/orders?phone=abc"), 400, "invalid_request"), "");
  // The index column is keyed: not the phone, not its plain SHA-256.
  auto rows = SqliteReader(server_.db_path())
                  .Rows("SELECT phone_index FROM orders WHERE channel_order_id = 'DY-PHONE-A'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].size(), 64u);
  EXPECT_EQ(rows[0][0].find(kPiiPhone), std::string::npos);
  EXPECT_NE(rows[0][0], privacy::Sha256Hex(kPiiPhone));
}

// `orderctl keys rotate-master` beside the running server: new orders are sealed under the new
// master key at once, orderd re-wraps every existing data key in the background, and every order
// stays readable throughout and after a restart.
TEST_F(PrivacyTest, MasterKeyRotationNeedsNoDowntimeAndLosesNothing) {
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(CreateFull("DY-ROT-" + std::to_string(i)));
  std::map<std::string, std::string> before;
  for (const auto& id : ids) before[id] = admin_->Get("/v1/orders/" + id).body;

  ProcessResult rotated =
      RunProcess({OrderctlBin(), "--data-dir", server_.data_dir(), "keys", "rotate-master"},
                 std::chrono::seconds(60));
  ASSERT_EQ(rotated.exit_code, 0) << rotated.out << rotated.err;
  bj::value out = bj::parse(rotated.out);
  EXPECT_EQ(out.at("active").as_string(), "m2");
  EXPECT_EQ(out.at("previous").as_string(), "m1");

  auto count = [&](const std::string& where) {
    return SqliteReader(server_.db_path()).Scalar("SELECT count(*) FROM orders WHERE " + where);
  };
  // Bounded wait: the keyring is polled every second and a pass follows at once.
  EXPECT_TRUE(WaitFor([&] { return count("json_extract(pii, '$.mk') != 'm2'") == 0; },
                      std::chrono::seconds(30)))
      << count("json_extract(pii, '$.mk') != 'm2'") << " orders still under m1";
  std::string fresh = CreateFull("DY-ROT-NEW");
  EXPECT_EQ(count("channel_order_id = 'DY-ROT-NEW' AND json_extract(pii, '$.mk') = 'm2'"), 1);
  for (const auto& id : ids) {
    EXPECT_EQ(admin_->Get("/v1/orders/" + id).body, before[id]) << "order " << id << " changed";
  }
  HttpResponse stepped = StepUp(*admin_, Totp(admin_key_.totp_secret));
  ASSERT_EQ(stepped.status, 200) << stepped.Describe();
  for (const auto& id : {ids[0], fresh}) {
    HttpResponse r = Reveal(*admin_, id, Str(Obj(stepped), "token"), bj::array{"customer.phone"});
    ASSERT_EQ(r.status, 200) << r.Describe();
    EXPECT_EQ(Obj(r).at("fields").at("customer.phone").as_string(), kPiiPhone);
  }
  ASSERT_EQ(server_.Stop(), 0);
  ASSERT_TRUE(server_.Start());
  admin_ = server_.Client(admin_key_.key);
  for (const auto& id : ids) {
    EXPECT_EQ(admin_->Get("/v1/orders/" + id).body, before[id])
        << "order " << id << " after restart";
  }
  auto rotations = Audit("action=keys.rotate_master");
  EXPECT_EQ(rotations.size(), 1u);
}

// After a rotation orderd moves every sealed value to the new key by itself; `orderctl keys
// retire-master` then takes the old key out of the keyring for good, refusing while that could
// lose anything, and orders, TOTP and stored answers read as before, across a restart too.
TEST_F(PrivacyTest, AnOldMasterKeyIsRetiredOnceNothingNamesItAndNothingIsLost) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(CreateFull("DY-RET-" + std::to_string(i)));
  std::map<std::string, std::string> before;
  for (const auto& id : ids) before[id] = admin_->Get("/v1/orders/" + id).body;
  Headers idem{{"Idempotency-Key", "retire-1"}};
  HttpResponse paid =
      douyin_->Post("/v1/orders/" + ids[0] + "/transitions", TransitionBody("paid", 1), idem);
  ASSERT_EQ(paid.status, 200) << paid.Describe();
  before[ids[0]] = admin_->Get("/v1/orders/" + ids[0]).body;

  auto retire = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        OrderctlBin(), "--data-dir", server_.data_dir(), "keys", "retire-master", "--id", "m1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunProcess(argv, std::chrono::seconds(60));
  };
  ProcessResult active = retire({});
  EXPECT_NE(active.exit_code, 0);
  EXPECT_NE(active.err.find("master_key_active"), std::string::npos) << active.err;
  // orderd logs each reload of the keyring.
  auto reloads = [&] {
    std::string log = server_.process().LogTail(1 << 20);
    size_t n = 0;
    for (size_t at = log.find("keyring changed"); at != std::string::npos;
         at = log.find("keyring changed", at + 1)) {
      ++n;
    }
    return n;
  };
  ProcessResult rotated =
      RunProcess({OrderctlBin(), "--data-dir", server_.data_dir(), "keys", "rotate-master"},
                 std::chrono::seconds(60));
  ASSERT_EQ(rotated.exit_code, 0) << rotated.out << rotated.err;
  ASSERT_TRUE(WaitFor([&] { return reloads() >= 1; }, std::chrono::seconds(30)));
  ProcessResult recent = retire({});  // the default wait is an hour
  EXPECT_NE(recent.exit_code, 0);
  EXPECT_NE(recent.err.find("master_key_recent"), std::string::npos) << recent.err;
  EXPECT_NE(retire({"--min-active-minutes", "0"}).exit_code, 0);  // below the floor: refused
  // Two hours on, as far as the keyring can tell (the test does not wait them out).
  const std::string keyring_path = server_.data_dir() + "/keyring.json";
  {
    std::ifstream in(keyring_path);
    bj::value ring = bj::parse(std::string(std::istreambuf_iterator<char>(in), {}));
    ring.as_object()["activated_at_ms"] = ring.at("activated_at_ms").as_int64() - 2 * 3'600'000;
    std::ofstream(keyring_path, std::ios::trunc) << bj::serialize(ring);
  }
  ASSERT_TRUE(WaitFor([&] { return reloads() >= 2; }, std::chrono::seconds(30)));

  // orderd re-wraps and reseals in the background; until it is done the key is refused as in
  // use, and never removed.
  ProcessResult done;
  EXPECT_TRUE(WaitFor(
      [&] {
        done = retire({});
        EXPECT_TRUE(done.exit_code == 0 || done.err.find("master_key_in_use") != std::string::npos)
            << done.err;
        return done.exit_code == 0;
      },
      std::chrono::seconds(30)))
      << done.err;
  bj::value out = bj::parse(done.out);
  EXPECT_EQ(out.at("retired").as_string(), "m1");
  EXPECT_EQ(out.at("active").as_string(), "m2");
  std::ifstream keyring(keyring_path);
  bj::value ring = bj::parse(std::string(std::istreambuf_iterator<char>(keyring), {}));
  EXPECT_FALSE(ring.at("masters").as_object().contains("m1"));
  EXPECT_EQ(bj::serialize(ring.at("retired")), R"(["m1"])");

  auto still_readable = [&](const std::string& when) {
    for (const auto& id : ids) {
      EXPECT_EQ(admin_->Get("/v1/orders/" + id).body, before[id]) << id << " " << when;
    }
    HttpResponse replayed =
        douyin_->Post("/v1/orders/" + ids[0] + "/transitions", TransitionBody("paid", 1), idem);
    EXPECT_EQ(replayed.Header("idempotent-replayed"), "true") << when;
    EXPECT_EQ(replayed.body, paid.body) << when;
    EXPECT_EQ(StepUp(*admin_, Totp(admin_key_.totp_secret)).status, 200) << when;
  };
  // orderd reloads the keyring and forgets m1; everything still reads.
  EXPECT_TRUE(WaitFor([&] { return reloads() >= 3; }, std::chrono::seconds(30)))
      << "orderd did not reload the keyring after the retirement";
  still_readable("after retiring m1");
  ASSERT_EQ(server_.Stop(), 0);
  ASSERT_TRUE(server_.Start());
  admin_ = server_.Client(admin_key_.key);
  douyin_ = server_.Client(douyin_key_.key);
  still_readable("after a restart");
  EXPECT_EQ(Audit("action=keys.retire_master").size(), 1u);
}

// After orders, reveals and exports: no plaintext phone, name, ID number, address detail or
// invoice data in the database, its WAL, the audit checkpoint or orderd's log.
TEST_F(PrivacyTest, NoPlaintextReachesTheDiskOrTheLog) {
  std::string id = CreateFull("DY-DISK");
  ASSERT_EQ(admin_->Get("/v1/orders/export.csv").status, 200);
  HttpResponse stepped = StepUp(*admin_, Totp(admin_key_.totp_secret));
  ASSERT_EQ(stepped.status, 200) << stepped.Describe();
  ASSERT_EQ(Reveal(*admin_, id, Str(Obj(stepped), "token"),
                   bj::array{"customer.phone", "customer.name", "invoice.title"})
                .status,
            200);
  // A warehouse answer holds the full address; its idempotency record must not.
  ASSERT_EQ(douyin_->Post("/v1/orders/" + id + "/transitions", TransitionBody("paid", 1)).status,
            200);
  ApiKey wh = CreateKey(server_.data_dir(), "warehouse", "wh");
  auto wh_c = server_.Client(wh.key);
  Headers idem{{"Idempotency-Key", "pack-1"}};
  HttpResponse packed =
      wh_c->Post("/v1/orders/" + id + "/transitions", TransitionBody("packed", 2), idem);
  ASSERT_EQ(packed.status, 200) << packed.Describe();
  EXPECT_NE(packed.body.find(kPiiDetail), std::string::npos);
  HttpResponse replayed =
      wh_c->Post("/v1/orders/" + id + "/transitions", TransitionBody("packed", 2), idem);
  EXPECT_EQ(replayed.Header("idempotent-replayed"), "true");
  EXPECT_EQ(replayed.body, packed.body);
  // Nor an unkeyed hash of a request body, which would confirm a guess of the data in it.
  const std::string keyed_body = bj::serialize(FullOrder("DY-DISK-KEYED"));
  ASSERT_EQ(douyin_->Post("/v1/orders", keyed_body, {{"Idempotency-Key", "create-1"}}).status, 201);
  const std::string create_hash = privacy::Sha256Hex("POST /v1/orders\n" + keyed_body);
  auto fingerprints =
      SqliteReader(server_.db_path()).Rows("SELECT request_hash FROM idempotency_keys");
  ASSERT_FALSE(fingerprints.empty());
  for (const auto& row : fingerprints) EXPECT_TRUE(row[0].starts_with("k1:")) << row[0];
  std::string log = server_.process().LogTail(1 << 20);
  for (const auto& entry : std::filesystem::directory_iterator(server_.data_dir())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream f(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    for (const char* plain :
         {kPiiPhone, kPiiIdNumber, kPiiName, kPiiDetail, kPiiInvoiceTitle, kPiiTaxId}) {
      EXPECT_EQ(bytes.find(plain), std::string::npos) << entry.path() << " holds " << plain;
    }
    EXPECT_EQ(bytes.find(create_hash), std::string::npos) << entry.path() << " holds the hash";
  }
  for (const char* plain :
       {kPiiPhone, kPiiIdNumber, kPiiName, kPiiDetail, kPiiInvoiceTitle, kPiiTaxId}) {
    EXPECT_EQ(log.find(plain), std::string::npos) << "orderd's log holds " << plain;
  }
  // Nor the admin's TOTP secret: a copied database must not carry the second factor.
  for (const auto& row : SqliteReader(server_.db_path()).Rows("SELECT totp_secret FROM api_keys")) {
    EXPECT_NE(row[0], admin_key_.totp_secret);
    EXPECT_TRUE(row[0].empty() || row[0].starts_with("oc1:")) << row[0];
  }
}

// Swapping two orders' sealed personal data in the database (sqlite3 CLI) does not move a
// customer's data to another order: both refuse to decrypt, and nothing plaintext comes back.
TEST_F(PrivacyTest, SwappedCiphertextsRefuseToDecrypt) {
  std::string a = CreateFull("DY-SWAP-A");
  bj::object other = FullOrder("DY-SWAP-B");
  other["customer"].as_object()["phone"] = "13900001111";
  HttpResponse b = douyin_->Post("/v1/orders", other);
  ASSERT_EQ(b.status, 201);
  std::string b_id = Str(Obj(b), "id");
  ASSERT_EQ(server_.Stop(), 0);
  std::string both = "('" + a + "', '" + b_id + "')";
  ProcessResult swap =
      Sqlite("CREATE TEMP TABLE t AS SELECT id, pii FROM orders WHERE id IN " + both +
             "; UPDATE orders SET pii = (SELECT pii FROM t WHERE t.id != orders.id) WHERE id IN " +
             both + ";");
  ASSERT_EQ(swap.exit_code, 0) << swap.err;
  ASSERT_TRUE(server_.Start());
  admin_ = server_.Client(admin_key_.key);
  for (const auto& id : {a, b_id}) {
    HttpResponse r = admin_->Get("/v1/orders/" + id);
    EXPECT_EQ(r.status, 500) << r.Describe();
    EXPECT_TRUE(r.IsProblem()) << r.Describe();
    EXPECT_EQ(r.body.find("1381234"), std::string::npos);
    EXPECT_EQ(r.body.find("1390000"), std::string::npos);
  }
  EXPECT_EQ(admin_->Get("/healthz").status, 200);
}

// The keyring may live outside the data directory (ORDERCENTER_KEYRING or --keyring, for both
// binaries), so that a copy of the data directory holds ciphertext only. A database whose
// keyring is missing is refused by both binaries, naming the path; before, orderd made a new
// keyring beside it and served, and every order stored before failed to decrypt one by one.
TEST(KeyringPlacementTest, AKeyringOutsideTheDataDirIsUsedAndAMissingOneIsRefused) {
  namespace fs = std::filesystem;
  TempDir secrets;
  const std::string keyring = secrets.path() + "/keyring.json";
  ScopedEnv env({{"ORDERCENTER_KEYRING", keyring}});
  TestServer server;
  ASSERT_TRUE(server.Start());
  const std::string dir = server.data_dir();
  ApiKey admin = CreateKey(dir, "admin", "root");
  ApiKey douyin = CreateKey(dir, "channel", "dy", "douyin");
  ASSERT_FALSE(::testing::Test::HasFailure());
  HttpResponse created = server.Client(douyin.key)->Post("/v1/orders", MakeOrder("douyin", "KR-1"));
  ASSERT_EQ(created.status, 201) << created.Describe();
  const std::string id = Str(Obj(created), "id");
  const std::string before = server.Client(admin.key)->Get("/v1/orders/" + id).body;
  EXPECT_NE(before.find("138****5678"), std::string::npos) << "the phone decrypts: " << before;
  EXPECT_TRUE(fs::exists(keyring));
  EXPECT_EQ(fs::status(keyring).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_FALSE(fs::exists(dir + "/keyring.json")) << "the data directory holds no keyring";
  ASSERT_EQ(server.Stop(), 0);

  env.Unset();
  ProcessResult orderd = RunProcess({OrderdBin(), "--data-dir", dir, "--listen", "127.0.0.1:0"},
                                    std::chrono::seconds(60));
  EXPECT_EQ(orderd.exit_code, 1) << orderd.out << orderd.err;
  EXPECT_NE(orderd.err.find("keyring_missing"), std::string::npos) << orderd.err;
  EXPECT_NE(orderd.err.find(dir + "/keyring.json"), std::string::npos) << orderd.err;
  EXPECT_EQ(orderd.out.find("listening on"), std::string::npos);
  ProcessResult verify =
      RunProcess({OrderctlBin(), "--data-dir", dir, "audit", "verify"}, std::chrono::seconds(60));
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  EXPECT_NE(verify.err.find("keyring_missing"), std::string::npos) << verify.err;
  EXPECT_FALSE(fs::exists(dir + "/keyring.json")) << "no keyring was made on the way";

  // Named on the command line instead, by both: everything as before.
  ASSERT_TRUE(server.Start({"--keyring", keyring}));
  EXPECT_EQ(server.Client(admin.key)->Get("/v1/orders/" + id).body, before);
  ProcessResult named =
      RunProcess({OrderctlBin(), "--data-dir", dir, "--keyring", keyring, "audit", "verify"},
                 std::chrono::seconds(60));
  EXPECT_EQ(named.exit_code, 0) << named.out << named.err;
  ASSERT_EQ(server.Stop(), 0);

  // An operator who has lost the keyring for good may start over on purpose.
  ASSERT_TRUE(server.Start({"--new-keyring"}));
  EXPECT_TRUE(fs::exists(dir + "/keyring.json"));
  HttpResponse fresh = server.Client(douyin.key)->Post("/v1/orders", MakeOrder("douyin", "KR-2"));
  EXPECT_EQ(fresh.status, 201) << fresh.Describe();
  // The admin key made before still authenticates; only its second factor is gone, and it says
  // so (it used to answer 500 to every request).
  auto old_admin = server.Client(admin.key);
  HttpResponse subs = old_admin->Get("/v1/subscriptions");
  EXPECT_EQ(subs.status, 200) << subs.Describe();
  int64_t step = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count() /
                 privacy::kTotpStepSeconds;
  HttpResponse stepped = old_admin->Post(
      "/v1/auth/step-up",
      bj::object{{"totp", privacy::TotpCode(admin.totp_secret, step).value_or("")}});
  EXPECT_EQ(CheckProblem(stepped, 409, "totp_unreadable"), "") << stepped.Describe();
}

// --keyring may name a file inside a data directory that does not exist yet (it is made first),
// and must not name a directory: such a path used to pass, and then failed as "readable by
// others; chmod 600 it", inviting a chmod of /tmp.
TEST(KeyringPlacementTest, AKeyringPathInANewDataDirWorksAndADirectoryIsRefused) {
  TempDir tmp;
  const std::string fresh = tmp.path() + "/fresh";
  ProcessResult made = RunProcess(
      {OrderctlBin(), "--data-dir", fresh, "--keyring", fresh + "/keys.json", "audit", "verify"},
      std::chrono::seconds(60));
  EXPECT_EQ(made.exit_code, 0) << made.out << made.err;
  EXPECT_TRUE(std::filesystem::exists(fresh + "/keys.json"));
  EXPECT_FALSE(std::filesystem::exists(fresh + "/keyring.json"));
  for (const std::string& dir_path : {tmp.path(), tmp.path() + "/"}) {
    ProcessResult refused = RunProcess({OrderctlBin(), "--data-dir", tmp.path() + "/other",
                                        "--keyring", dir_path, "audit", "verify"},
                                       std::chrono::seconds(60));
    EXPECT_EQ(refused.exit_code, 1) << dir_path << ": " << refused.out << refused.err;
    EXPECT_NE(refused.err.find("not a directory"), std::string::npos) << refused.err;
  }
}

// A keyring that exists but is not the one the database was sealed with (another data
// directory's, a stale copy) is refused by both binaries: the database records a keyed digest
// of its keyring on first use. Before, orderd served with it, sealing new orders under keys
// that open nothing stored before.
TEST(KeyringPlacementTest, AnotherDatabasesKeyringIsRefused) {
  TempDir tmp;
  const std::string a = tmp.path() + "/a", b = tmp.path() + "/b";
  for (const std::string& dir : {a, b}) {
    ProcessResult made = RunProcess({OrderctlBin(), "--data-dir", dir, "keys", "create", "--role",
                                     "channel", "--channel", "dy"},
                                    std::chrono::seconds(60));
    ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
  }
  auto verify = [&](const std::string& keyring, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {OrderctlBin(), "--data-dir", a, "--keyring", keyring};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"audit", "verify"});
    return RunProcess(argv, std::chrono::seconds(60));
  };
  EXPECT_EQ(verify(a + "/keyring.json").exit_code, 0);
  ProcessResult wrong = verify(b + "/keyring.json");
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out << wrong.err;
  EXPECT_NE(wrong.err.find("keyring_mismatch"), std::string::npos) << wrong.err;
  EXPECT_NE(wrong.err.find(b + "/keyring.json"), std::string::npos) << wrong.err;
  ProcessResult served = RunProcess(
      {OrderdBin(), "--data-dir", a, "--keyring", b + "/keyring.json", "--listen", "127.0.0.1:0"},
      std::chrono::seconds(60));
  EXPECT_EQ(served.exit_code, 1) << served.out << served.err;
  EXPECT_NE(served.err.find("keyring_mismatch"), std::string::npos) << served.err;
  EXPECT_EQ(served.out.find("listening on"), std::string::npos);
  EXPECT_EQ(verify(a + "/keyring.json").exit_code, 0) << "the refusal changed nothing";

  // Adopted on purpose, B's keyring is the one A records from then on.
  OrderdProcess orderd;
  std::string error;
  ASSERT_TRUE(orderd.Start(a, tmp.path() + "/orderd.log", std::chrono::seconds(20), &error,
                           {"--keyring", b + "/keyring.json", "--new-keyring"}))
      << error;
  EXPECT_TRUE(orderd.Terminate(std::chrono::seconds(30)).has_value());
  EXPECT_EQ(verify(b + "/keyring.json").exit_code, 0);
  ProcessResult old = verify(a + "/keyring.json");
  EXPECT_EQ(old.exit_code, 1) << old.out << old.err;
  EXPECT_NE(old.err.find("keyring_mismatch"), std::string::npos) << old.err;
}

}  // namespace
}  // namespace oc::itest
