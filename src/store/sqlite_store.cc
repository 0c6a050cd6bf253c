// SQLite backend of Store. WAL journal with synchronous=NORMAL, so COMMIT appends the batch's
// frames to the WAL without waiting for the disk, and Sync() fdatasyncs the WAL: together they
// are synchronous=FULL, split so the writer never waits on the disk. (NORMAL still syncs the WAL
// before every checkpoint and the database after it, so checkpoints stay crash-safe.) WAL
// recovery replays only whole, checksummed transactions in log order, so what a Sync() makes
// durable is always a prefix of the commits. Readers use a pool of
// read-only connections that WAL lets run beside the writer.
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "core/ids.h"
#include "core/json.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace oc::store {
namespace {

namespace bj = boost::json;

// Schema migrations, applied in order; the index + 1 is the schema version. Never edit an
// entry that has shipped: append a new one.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE orders (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  channel TEXT NOT NULL,
  channel_order_id TEXT NOT NULL,
  status TEXT NOT NULL,
  refund_origin TEXT,
  version INTEGER NOT NULL,
  currency TEXT NOT NULL,
  total INTEGER NOT NULL,
  payment_method TEXT NOT NULL,
  assigned_agent TEXT NOT NULL DEFAULT '',
  reservation_id TEXT NOT NULL DEFAULT '',
  customer_nickname TEXT NOT NULL DEFAULT '',
  province TEXT NOT NULL DEFAULT '',
  city TEXT NOT NULL DEFAULT '',
  district TEXT NOT NULL DEFAULT '',
  pii TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  risk_flags TEXT NOT NULL DEFAULT '[]',
  health_score INTEGER,
  placed_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  UNIQUE (channel, channel_order_id)
);
CREATE INDEX orders_status ON orders(status, seq);
CREATE INDEX orders_channel ON orders(channel, seq);
CREATE INDEX orders_agent ON orders(assigned_agent, seq);
CREATE TABLE order_lines (
  order_seq INTEGER NOT NULL,
  line_no INTEGER NOT NULL,
  sku TEXT NOT NULL,
  name TEXT NOT NULL,
  qty INTEGER NOT NULL,
  unit_price INTEGER NOT NULL,
  PRIMARY KEY (order_seq, line_no)
) WITHOUT ROWID;
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  order_id TEXT NOT NULL,
  order_version INTEGER NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE idempotency_keys (
  principal_id TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status_code INTEGER NOT NULL,
  response_body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (principal_id, key)
) WITHOUT ROWID;
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  key_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  channel TEXT NOT NULL DEFAULT '',
  totp_secret TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
)sql",
    // 2: stock counters per SKU, written in the same transaction as the orders that move them.
    R"sql(
CREATE TABLE inventory (
  sku TEXT PRIMARY KEY,
  on_hand INTEGER NOT NULL,
  safety_buffer INTEGER NOT NULL,
  reserved INTEGER NOT NULL,
  sold INTEGER NOT NULL,
  CHECK (reserved >= 0 AND sold >= 0 AND safety_buffer >= 0)
) WITHOUT ROWID;
)sql",
    // 3: checkout holds, oversold stock and the orders accepted for it, SKU categories.
    R"sql(
ALTER TABLE inventory ADD COLUMN oversold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inventory ADD COLUMN category TEXT NOT NULL DEFAULT '';
CREATE TABLE reservations (
  id TEXT PRIMARY KEY,
  created_by TEXT NOT NULL,
  channel TEXT NOT NULL,
  lines TEXT NOT NULL,
  state TEXT NOT NULL,
  order_id TEXT NOT NULL DEFAULT '',
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX reservations_due ON reservations(state, expires_at);
CREATE TABLE oversold_orders (
  seq INTEGER PRIMARY KEY,
  order_id TEXT NOT NULL UNIQUE,
  currency TEXT NOT NULL,
  lines TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
)sql",
    // 4: most orders are never assigned to an agent; indexing only the assigned ones keeps one
    // B-tree insert off every order creation (list queries by agent name a non-empty agent).
    R"sql(
DROP INDEX orders_agent;
CREATE INDEX orders_agent ON orders(assigned_agent, seq) WHERE assigned_agent != '';
)sql",
    // 5: webhook subscriptions, their dead letters and the events parked behind them.
    R"sql(
CREATE TABLE subscriptions (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  secret TEXT NOT NULL,
  max_per_minute INTEGER NOT NULL,
  batch_max INTEGER NOT NULL,
  cursor INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE dead_letters (
  id TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL,
  event_seq INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  order_id TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (subscription_id, event_seq)
) WITHOUT ROWID;
CREATE TABLE parked_events (
  subscription_id TEXT NOT NULL,
  event_seq INTEGER NOT NULL,
  order_id TEXT NOT NULL,
  PRIMARY KEY (subscription_id, event_seq)
) WITHOUT ROWID;
)sql",
    // 6: the audit log, a hash chain: each row holds the hash of the one before it.
    R"sql(
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  ip TEXT NOT NULL,
  action TEXT NOT NULL,
  order_id TEXT NOT NULL,
  fields TEXT NOT NULL,
  detail TEXT NOT NULL,
  outcome TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_actor ON audit_log(actor, seq);
CREATE INDEX audit_order ON audit_log(order_id, seq) WHERE order_id != '';
)sql",
    // 7: the keyed blind index of the customer's phone, for exact-match search without
    // decrypting. Filled at insert; rows from before are filled by privacy/'s background pass.
    R"sql(
ALTER TABLE orders ADD COLUMN phone_index TEXT;
CREATE INDEX orders_phone ON orders(phone_index, seq) WHERE phone_index IS NOT NULL;
)sql",
    // 8: a subscription's role view ('' = none): deliveries carry the order as that role sees it.
    R"sql(
ALTER TABLE subscriptions ADD COLUMN view_role TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN view_channel TEXT NOT NULL DEFAULT '';
)sql",
    // 9: checkout holds keyed by a number that their id carries (IdGenerator::NextNumbered). A
    // new hold is one append to the table's B-tree, with no text key to compare and no second
    // index to keep: a flash sale writes one per buyer (callgrind, per row: 21.9k -> 8.2k
    // instructions). The writer keeps the active holds' expiries in memory instead of the
    // due index. Holds from before keep their ids, found through a partial index.
    R"sql(
CREATE TABLE reservations_v9 (
  no INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  created_by TEXT NOT NULL,
  channel TEXT NOT NULL,
  lines TEXT NOT NULL,
  state TEXT NOT NULL,
  order_id TEXT NOT NULL DEFAULT '',
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  legacy INTEGER NOT NULL DEFAULT 0
);
INSERT INTO reservations_v9 (id, created_by, channel, lines, state, order_id, expires_at,
                             created_at, updated_at, legacy)
  SELECT id, created_by, channel, lines, state, order_id, expires_at, created_at, updated_at, 1
  FROM reservations ORDER BY created_at, id;
DROP TABLE reservations;
ALTER TABLE reservations_v9 RENAME TO reservations;
CREATE UNIQUE INDEX reservations_legacy_id ON reservations(id) WHERE legacy = 1;
)sql",
    // 10: the number in a hold id is hidden under a key of the database's own (NumberMask;
    // SqliteStore::Open makes the key), so ids no longer show how many holds came between
    // two. Holds numbered in plain view keep their ids: lookups fall back to the plain number
    // (FindReservationOn), so no row is rewritten here.
    R"sql(
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value BLOB NOT NULL);
)sql",
    // 11: stored Idempotency-Key answers by age, for their retention pass (PurgeIdempotency):
    // without it the table grows with every keyed write, forever.
    R"sql(
CREATE INDEX IF NOT EXISTS idempotency_keys_age ON idempotency_keys(created_at);
)sql",
    // 12: the stored fingerprint of an Idempotency-Key's request was an unkeyed SHA-256 of its
    // body, personal data included, which confirms guesses (a phone is one of 10^8). Requests
    // are now fingerprinted under the keyring's index key (PiiCodec::KeyedDigest, "k1:"); the
    // old hashes are erased. secure_delete (Debian's default, asked for here all the same)
    // zeroes their bytes in the pages too. A repeat of such a request replays its first answer
    // without comparing bodies.
    R"sql(
PRAGMA secure_delete = ON;
UPDATE idempotency_keys SET request_hash = '' WHERE request_hash NOT LIKE 'k1:%';
)sql",
    // 13: dead letters in list order (newest first), so that a page of GET /v1/dead-letters
    // reads its rows from where the cursor points instead of sorting the whole table: a
    // partner's day-long outage leaves a dead letter for every event it missed.
    R"sql(
CREATE INDEX IF NOT EXISTS dead_letters_newest ON dead_letters(created_at, event_seq, id);
)sql",
};

constexpr const char* kOrderColumns =
    "seq, id, channel, channel_order_id, status, refund_origin, version, currency, total, "
    "payment_method, assigned_agent, reservation_id, customer_nickname, province, city, district, "
    "pii, tags, risk_flags, health_score, placed_at, created_at, updated_at, created_by";

std::string IdempotencyContext(std::string_view principal_id, std::string_view key) {
  return "idempotency:" + std::to_string(principal_id.size()) + ":" + std::string(principal_id) +
         ":" + std::string(key);
}

std::string StringsToJson(const std::vector<std::string>& v) {
  bj::array a;
  for (const auto& s : v) a.emplace_back(s);
  return bj::serialize(a);
}

std::vector<std::string> StringsFromJson(const std::string& text) {
  std::vector<std::string> out;
  bj::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.get_array()) {
    if (e.is_string()) out.emplace_back(e.get_string());
  }
  return out;
}

// Built by hand: it runs for every checkout hold on the single writer thread. The same text
// boost::json writes ([{"sku":"…","qty":N},…]), which queries read with json_extract.
void AppendHeldLinesJson(std::string* text, const std::vector<HeldLine>& lines) {
  std::string& out = *text;
  out.reserve(out.size() + 2 + 32 * lines.size());
  out += '[';
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"sku\":";
    json::AppendQuoted(&out, lines[i].sku);
    out += ",\"qty\":";
    out += std::to_string(lines[i].qty);
    out += '}';
  }
  out += ']';
}

std::vector<HeldLine> HeldLinesFromJson(const std::string& text) {
  std::vector<HeldLine> out;
  bj::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.get_array()) {
    const bj::object* o = e.if_object();
    if (o == nullptr || !o->contains("sku") || !o->contains("qty")) continue;
    const bj::value& sku = o->at("sku");
    const bj::value& qty = o->at("qty");
    if (sku.is_string() && qty.is_int64())
      out.push_back({std::string(sku.get_string()), qty.get_int64()});
  }
  return out;
}

std::string OversoldLinesToJson(const std::vector<OversoldLine>& lines) {
  bj::array a;
  for (const auto& l : lines) {
    a.emplace_back(
        bj::object{{"sku", l.sku}, {"qty_short", l.qty_short}, {"unit_price", l.unit_price}});
  }
  return bj::serialize(a);
}

std::vector<OversoldLine> OversoldLinesFromJson(const std::string& text) {
  std::vector<OversoldLine> out;
  bj::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.get_array()) {
    const bj::object* o = e.if_object();
    if (o == nullptr) continue;
    auto num = [&](const char* k) -> int64_t {
      auto it = o->find(k);
      return it != o->end() && it->value().is_int64() ? it->value().get_int64() : 0;
    };
    auto it = o->find("sku");
    if (it == o->end() || !it->value().is_string()) continue;
    out.push_back({std::string(it->value().get_string()), num("qty_short"), num("unit_price")});
  }
  return out;
}

constexpr size_t kHoldInsertSizes = 6;  // statements of 1, 2, 4, ... 32 rows

constexpr const char* kReservationColumns =
    "no, id, created_by, channel, lines, state, order_id, expires_at, created_at, updated_at";

Result<ReservationRecord> ReservationFromRow(const Statement& st) {
  ReservationRecord r;
  r.no = st.Int(0);
  r.id = st.Text(1);
  r.created_by = st.Text(2);
  r.channel = st.Text(3);
  r.lines = HeldLinesFromJson(st.Text(4));
  auto state = ParseReservationState(st.Text(5));
  if (!state) return Status::IOError("reservation " + r.id + " has an unknown state");
  r.state = *state;
  r.order_id = st.Text(6);
  r.expires_at_ms = st.Int(7);
  r.created_at_ms = st.Int(8);
  r.updated_at_ms = st.Int(9);
  return r;
}

// The one row `sql` selects with `keys` bound in order, if any.
template <class... Keys>
Result<std::optional<ReservationRecord>> ReservationWhere(Connection& c, const char* sql,
                                                          Keys... keys) {
  OC_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
  int i = 0;
  (st.Bind(++i, keys), ...);
  OC_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<ReservationRecord>();
  OC_ASSIGN_OR_RETURN(ReservationRecord r, ReservationFromRow(st));
  return std::optional<ReservationRecord>(std::move(r));
}

Result<std::optional<ReservationRecord>> FindReservationByNoOn(Connection& c, int64_t no) {
  static const std::string sql =
      std::string("SELECT ") + kReservationColumns + " FROM reservations WHERE no = ?";
  return ReservationWhere(c, sql.c_str(), no);
}

Result<std::optional<ReservationRecord>> FindReservationOn(Connection& c, std::string_view id,
                                                           const NumberMask& mask) {
  // The id is matched in the same statement: a forged id whose number names some other hold
  // costs what a number naming none does, so answer times cannot probe which numbers exist.
  static const std::string by_no_and_id =
      std::string("SELECT ") + kReservationColumns + " FROM reservations WHERE no = ? AND id = ?";
  if (auto no = NumberInId(id, "res", mask)) {
    OC_ASSIGN_OR_RETURN(auto found,
                        ReservationWhere(c, by_no_and_id.c_str(), static_cast<int64_t>(*no), id));
    if (found) return found;
  }
  // A hold numbered in plain view: made before schema 10, or by an older binary still running
  // beside a newer orderctl that migrated the database. Misses alone pay for this.
  if (auto plain = PlainNumberInId(id, "res")) {
    OC_ASSIGN_OR_RETURN(
        auto found, ReservationWhere(c, by_no_and_id.c_str(), static_cast<int64_t>(*plain), id));
    if (found) return found;
  }
  // A hold made before its id carried its number (schema 9).
  static const std::string legacy = std::string("SELECT ") + kReservationColumns +
                                    " FROM reservations WHERE id = ? AND legacy = 1";
  return ReservationWhere(c, legacy.c_str(), id);
}

constexpr const char* kStockColumns =
    "sku, on_hand, safety_buffer, reserved, sold, oversold, category";

StockRecord StockFromRow(const Statement& st) {
  return StockRecord{st.Text(0), st.Int(1), st.Int(2), st.Int(3), st.Int(4), st.Int(5), st.Text(6)};
}

// Personal data lives in one column, sealed by the PiiCodec (privacy/'s envelope encryption).
// Without a codec (store unit tests only) it is plain JSON.
std::string PiiToJson(const Order& o) {
  bj::object pii;
  pii["name"] = o.customer.name;
  pii["phone"] = o.customer.phone;
  if (o.customer.id_number) pii["id_number"] = *o.customer.id_number;
  pii["detail"] = o.shipping_address.detail;
  if (o.invoice) {
    pii["invoice_title"] = o.invoice->title;
    pii["invoice_tax_id"] = o.invoice->tax_id;
  }
  return bj::serialize(pii);
}

Status PiiFromJson(const std::string& text, Order* o) {
  bj::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec || !v.is_object()) return Status::IOError("order " + o->id + ": unreadable pii column");
  const auto& pii = v.get_object();
  auto str = [&](const char* k) -> std::string {
    auto it = pii.find(k);
    return it != pii.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                      : std::string();
  };
  o->customer.name = str("name");
  o->customer.phone = str("phone");
  if (pii.contains("id_number")) o->customer.id_number = str("id_number");
  o->shipping_address.detail = str("detail");
  if (pii.contains("invoice_title"))
    o->invoice = Invoice{str("invoice_title"), str("invoice_tax_id")};
  return Status::Ok();
}

Result<std::string> SealPii(PiiCodec* codec, const Order& o) {
  if (!o.sealed_pii.empty()) return o.sealed_pii;
  if (codec == nullptr) return PiiToJson(o);
  return codec->Seal(o);
}

Status OpenPii(PiiCodec* codec, const std::string& stored, Order* o) {
  if (codec == nullptr) return PiiFromJson(stored, o);
  return codec->Open(stored, o);
}

Result<Order> OrderFromRow(const Statement& s, PiiCodec* codec) {
  Order o;
  o.id = s.Text(1);
  o.channel = s.Text(2);
  o.channel_order_id = s.Text(3);
  o.status = ParseOrderStatus(s.Text(4)).value_or(OrderStatus::kPendingPayment);
  if (!s.IsNull(5)) o.refund_origin = ParseOrderStatus(s.Text(5));
  o.version = s.Int(6);
  o.currency = s.Text(7);
  o.total = s.Int(8);
  o.payment_method = s.Text(9);
  o.assigned_agent = s.Text(10);
  o.reservation_id = s.Text(11);
  o.customer.nickname = s.Text(12);
  o.shipping_address.province = s.Text(13);
  o.shipping_address.city = s.Text(14);
  o.shipping_address.district = s.Text(15);
  std::string stored_pii = s.Text(16);
  o.tags = StringsFromJson(s.Text(17));
  o.risk_flags = StringsFromJson(s.Text(18));
  if (!s.IsNull(19)) o.health_score = s.Int(19);
  if (!s.IsNull(20)) o.placed_at_ms = s.Int(20);
  o.created_at_ms = s.Int(21);
  o.updated_at_ms = s.Int(22);
  o.created_by = s.Text(23);
  OC_RETURN_IF_ERROR(OpenPii(codec, stored_pii, &o));
  return o;
}

Status LoadLines(Connection& c, int64_t seq, Order* o) {
  OC_ASSIGN_OR_RETURN(Statement st, c.Prepare("SELECT sku, name, qty, unit_price FROM order_lines "
                                              "WHERE order_seq = ? ORDER BY line_no"));
  st.Bind(1, seq);
  while (true) {
    OC_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    o->lines.push_back(OrderLine{st.Text(0), st.Text(1), st.Int(2), st.Int(3)});
  }
  return Status::Ok();
}

Result<std::optional<Order>> FindOrderOn(Connection& c, std::string_view id, PiiCodec* codec) {
  static const std::string sql =
      std::string("SELECT ") + kOrderColumns + " FROM orders WHERE id = ?";
  OC_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql.c_str()));
  st.Bind(1, id);
  OC_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<Order>();
  OC_ASSIGN_OR_RETURN(Order o, OrderFromRow(st, codec));
  int64_t seq = st.Int(0);
  OC_RETURN_IF_ERROR(LoadLines(c, seq, &o));
  return std::optional<Order>(std::move(o));
}

// A TOTP secret is a second factor: it is sealed like personal data, so a copy of the database
// does not hand it out.
std::string TotpContext(std::string_view key_id) { return "totp:" + std::string(key_id); }

std::string SubscriptionSecretContext(std::string_view id) {
  return "subscription:" + std::string(id);
}

// The prefix SealText gives a value sealed under master key `master_id`.
std::string SealedTextPrefix(std::string_view master_id) {
  return "oc1:" + std::string(master_id) + ":";
}

// Each sealed-text place: its name, whether its key has two parts (a one-part key compares and
// binds '' as the second), the context its values are sealed under, and its statements, made
// once from the table's layout (Connection::Prepare keys its cache by the text's address, so a
// statement's text must outlive the connection).
struct SealedTextPlaceInfo {
  std::string_view name;
  bool two_part = false;
  std::string (*context)(std::string_view key, std::string_view key2) = nullptr;
  std::string scan, replace, count;
};
const SealedTextPlaceInfo& PlaceOf(SealedTextPlace place) {
  static const std::array<SealedTextPlaceInfo, 3> places = [] {
    struct Layout {
      SealedTextPlace place;
      std::string_view name;
      const char *table, *column, *key, *key2;
      std::string (*context)(std::string_view, std::string_view);
    };
    const Layout layouts[] = {
        {SealedTextPlace::kIdempotencyAnswer, "idempotent answers", "idempotency_keys",
         "response_body", "principal_id", "key",
         [](std::string_view k, std::string_view k2) { return IdempotencyContext(k, k2); }},
        {SealedTextPlace::kTotpSecret, "TOTP secrets", "api_keys", "totp_secret", "id", "",
         [](std::string_view k, std::string_view) { return TotpContext(k); }},
        {SealedTextPlace::kWebhookSecret, "webhook secrets", "subscriptions", "secret", "id", "",
         [](std::string_view k, std::string_view) { return SubscriptionSecretContext(k); }},
    };
    std::array<SealedTextPlaceInfo, 3> out;
    for (const Layout& t : layouts) {
      SealedTextPlaceInfo& q = out[static_cast<size_t>(t.place)];
      q.name = t.name;
      q.two_part = *t.key2 != '\0';
      q.context = t.context;
      const std::string key2 = q.two_part ? t.key2 : "''";
      q.scan = std::string("SELECT ") + t.key + ", " + key2 + ", " + t.column + " FROM " + t.table +
               " WHERE (" + t.key + ", " + key2 + ") > (?1, ?2) AND " + t.column +
               " <> '' AND substr(" + t.column + ", 1, length(?3)) <> ?3 ORDER BY " + t.key + ", " +
               key2 + " LIMIT ?4";
      q.replace = std::string("UPDATE ") + t.table + " SET " + t.column + " = ?1 WHERE " + t.key +
                  " = ?2 AND " + key2 + " = ?3 AND " + t.column + " = ?4";
      q.count = std::string("SELECT count(*) FROM ") + t.table + " WHERE substr(" + t.column +
                ", 1, length(?1)) = ?1";
    }
    return out;
  }();
  return places[static_cast<size_t>(place)];
}

Result<std::optional<ApiKeyRecord>> FindKeyOn(Connection& c, const char* sql, std::string_view arg,
                                              PiiCodec* codec) {
  OC_ASSIGN_OR_RETURN(Statement st, c.Prepare(sql));
  st.Bind(1, arg);
  OC_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<ApiKeyRecord>();
  ApiKeyRecord r;
  r.principal.id = st.Text(0);
  r.key_hash = st.Text(1);
  r.principal.name = st.Text(2);
  auto role = ParseRole(st.Text(3));
  if (!role) return Status::IOError("api key " + r.principal.id + " has an unknown role");
  r.principal.role = *role;
  r.principal.channel = st.Text(4);
  r.totp_secret = st.Text(5);
  if (codec != nullptr && !r.totp_secret.empty()) {
    // Who the key belongs to is plain; only the second factor is sealed. A secret that will not
    // open fails the step-up alone, not every request the key makes.
    auto opened = codec->OpenText(TotpContext(r.principal.id), r.totp_secret);
    r.totp_secret = opened.ok() ? std::move(*opened) : std::string();
    r.totp_unreadable = !opened.ok();
  }
  r.created_at_ms = st.Int(6);
  return std::optional<ApiKeyRecord>(std::move(r));
}

Status Migrate(Connection& c) {
  OC_RETURN_IF_ERROR(
      c.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
             "applied_at INTEGER NOT NULL)"));
  int64_t current = 0;
  {
    OC_ASSIGN_OR_RETURN(Statement st,
                        c.Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations"));
    OC_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) current = st.Int(0);
  }
  constexpr int64_t kLatest = static_cast<int64_t>(std::size(kMigrations));
  if (current > kLatest) {
    return Status::IOError("database schema version " + std::to_string(current) +
                           " is newer than this binary understands (" + std::to_string(kLatest) +
                           ")");
  }
  for (int64_t v = current + 1; v <= kLatest; ++v) {
    OC_RETURN_IF_ERROR(c.Exec("BEGIN IMMEDIATE"));
    Status s = c.Exec(kMigrations[v - 1]);
    if (s.ok()) {
      s = c.Exec("INSERT INTO schema_migrations VALUES (" + std::to_string(v) +
                 ", CAST(strftime('%s','now') AS INTEGER) * 1000)");
    }
    if (!s.ok()) {
      (void)c.Exec("ROLLBACK");
      return s;
    }
    OC_RETURN_IF_ERROR(c.Exec("COMMIT"));
  }
  return Status::Ok();
}

// A value of the settings table, or empty when there is none.
Result<std::string> ReadSetting(Connection& c, std::string_view name) {
  OC_ASSIGN_OR_RETURN(Statement st, c.Prepare("SELECT value FROM settings WHERE name = ?"));
  st.Bind(1, name);
  OC_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Blob(0) : std::string();
}

// The database's key for hold ids, made on first use from the CSPRNG. INSERT OR IGNORE: a
// second process (orderctl) opening the same new database reads the key the first one made.
// Only a database without one is written to.
Result<std::array<unsigned char, NumberMask::kKeyBytes>> HoldIdKey(Connection& c) {
  auto stored = [&] { return ReadSetting(c, "hold_id_key"); };
  OC_ASSIGN_OR_RETURN(std::string key_bytes, stored());
  if (key_bytes.empty()) {
    std::array<unsigned char, NumberMask::kKeyBytes> fresh{};
    Random::Secure().Fill(fresh.data(), fresh.size());
    {
      OC_ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("INSERT OR IGNORE INTO settings (name, value) VALUES ('hold_id_key', ?)"));
      st.BindBlob(1, std::string_view(reinterpret_cast<const char*>(fresh.data()), fresh.size()));
      OC_RETURN_IF_ERROR(st.Run());
    }
    OC_ASSIGN_OR_RETURN(key_bytes, stored());
  }
  if (key_bytes.size() != NumberMask::kKeyBytes) {
    return Status::IOError("the database's hold id key is missing or damaged");
  }
  std::array<unsigned char, NumberMask::kKeyBytes> key{};
  std::memcpy(key.data(), key_bytes.data(), key.size());
  return key;
}

// The keyring this database's personal data is sealed under, recorded on first use as a keyed
// digest under the keyring's index key (never rotated, so master-key rotations keep it). A
// database opened with another keyring is refused: everything new would be sealed and indexed
// under keys that open nothing stored before, and the loss would show order by order. `adopt`
// (orderd --new-keyring) records the given keyring instead.
Status CheckKeyringFingerprint(Connection& c, PiiCodec& codec, bool adopt) {
  OC_ASSIGN_OR_RETURN(std::string given, codec.KeyedDigest("keyring-fingerprint", "ordercenter"));
  auto stored = [&] { return ReadSetting(c, "keyring_fingerprint"); };
  OC_ASSIGN_OR_RETURN(std::string recorded, stored());
  if (recorded.empty() || (adopt && recorded != given)) {
    OC_ASSIGN_OR_RETURN(Statement st,
                        c.Prepare(adopt ? "INSERT OR REPLACE INTO settings (name, value) VALUES "
                                          "('keyring_fingerprint', ?)"
                                        : "INSERT OR IGNORE INTO settings (name, value) VALUES "
                                          "('keyring_fingerprint', ?)"));
    st.Bind(1, given);
    OC_RETURN_IF_ERROR(st.Run());
    OC_ASSIGN_OR_RETURN(recorded, stored());  // another process may have recorded it first
  }
  if (recorded != given) {
    return Status::Make(ErrorKind::kConflict, "keyring_mismatch",
                        "this database's personal data is sealed under another keyring (its "
                        "fingerprint " +
                            recorded.substr(0, 11) + "…, the given keyring's " +
                            given.substr(0, 11) + "…)");
  }
  return Status::Ok();
}

// Which commits are durable yet. Readers see only durable data: after a read, a reader that may
// have seen commits not yet fsync'd runs (or joins) the fsync before it returns anything, so
// nobody acts on data — ships an order, delivers an event — that a power cut could still take
// back. Costs at most one fsync, and only while writes are in flight.
//
// Two counters make that exact. `started` counts commits before their COMMIT runs, `finished`
// after it returns (either way). Anything a read's snapshot can see was counted in `started`
// before the read began, so a read made durable up to `started`-after-the-read covers it. An
// fsync covers only `finished` commits, those whose log frames were written before it began.
class DurabilityTracker {
 public:
  void BeginCommit() { started_.fetch_add(1); }
  void EndCommit() { finished_.fetch_add(1); }
  int64_t started() const { return started_.load(); }
  int64_t finished() const { return finished_.load(); }
  int64_t durable() const { return durable_.load(); }
  bool failed() const { return failed_.load(); }
  void Synced(int64_t covered, bool ok) {
    if (!ok) {
      failed_ = true;
      return;
    }
    int64_t seen = durable_.load();
    while (seen < covered && !durable_.compare_exchange_weak(seen, covered)) {
    }
  }

 private:
  std::atomic<int64_t> started_{0};
  std::atomic<int64_t> finished_{0};
  std::atomic<int64_t> durable_{0};
  std::atomic<bool> failed_{false};
};

class SqliteWriteTransaction final : public WriteTransaction {
 public:
  SqliteWriteTransaction(Connection& c, std::unique_lock<std::mutex> lock, PiiCodec* codec,
                         DurabilityTracker& durability, const NumberMask& mask)
      : c_(c), lock_(std::move(lock)), codec_(codec), durability_(durability), mask_(mask) {}
  ~SqliteWriteTransaction() override {
    if (!finished_) (void)c_.Exec("ROLLBACK");
  }

  int64_t writes() const override { return writes_; }
  bool lost() const override { return lost_ || sqlite3_get_autocommit(c_.raw()) != 0; }

  Result<std::optional<Order>> FindOrder(std::string_view id) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    return FindOrderOn(c_, id, codec_);
  }

  Result<std::optional<std::string>> FindOrderIdByChannelRef(
      std::string_view channel, std::string_view channel_order_id) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    OC_ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT id FROM orders WHERE channel = ? AND channel_order_id = ?"));
    st.Bind(1, channel).Bind(2, channel_order_id);
    OC_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(st.Text(0));
  }

  Status InsertOrder(const Order& o) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    OC_ASSIGN_OR_RETURN(std::string sealed, SealPii(codec_, o));
    OC_ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(
            "INSERT INTO orders (id, channel, channel_order_id, status, refund_origin, version, "
            "currency, total, payment_method, assigned_agent, reservation_id, customer_nickname, "
            "province, city, district, pii, tags, risk_flags, health_score, placed_at, created_at, "
            "updated_at, created_by, phone_index) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    st.Bind(1, o.id).Bind(2, o.channel).Bind(3, o.channel_order_id).Bind(4, ToString(o.status));
    if (o.refund_origin)
      st.Bind(5, ToString(*o.refund_origin));
    else
      st.BindNull(5);
    st.Bind(6, o.version).Bind(7, o.currency).Bind(8, o.total).Bind(9, o.payment_method);
    st.Bind(10, o.assigned_agent).Bind(11, o.reservation_id).Bind(12, o.customer.nickname);
    st.Bind(13, o.shipping_address.province).Bind(14, o.shipping_address.city);
    st.Bind(15, o.shipping_address.district).Bind(16, sealed);
    st.Bind(17, StringsToJson(o.tags)).Bind(18, StringsToJson(o.risk_flags));
    st.Bind(19, o.health_score).Bind(20, o.placed_at_ms).Bind(21, o.created_at_ms);
    st.Bind(22, o.updated_at_ms).Bind(23, o.created_by);
    std::string phone_index = o.phone_index;
    if (phone_index.empty() && codec_ != nullptr)
      phone_index = codec_->PhoneIndex(o.customer.phone);
    if (phone_index.empty() && codec_ == nullptr) {
      st.BindNull(24);  // store unit tests: no index key
    } else {
      st.Bind(24, phone_index);
    }
    OC_RETURN_IF_ERROR(Checked(st.Run()));
    ++writes_;
    int64_t seq = sqlite3_last_insert_rowid(c_.raw());
    OC_ASSIGN_OR_RETURN(
        Statement line,
        c_.Prepare("INSERT INTO order_lines (order_seq, line_no, sku, name, qty, unit_price) "
                   "VALUES (?,?,?,?,?,?)"));
    for (size_t i = 0; i < o.lines.size(); ++i) {
      const OrderLine& l = o.lines[i];
      line.Bind(1, seq).Bind(2, static_cast<int64_t>(i)).Bind(3, l.sku).Bind(4, l.name);
      line.Bind(5, l.qty).Bind(6, l.unit_price);
      OC_RETURN_IF_ERROR(Checked(line.Run()));
      ++writes_;
      line.Reset();
    }
    return Status::Ok();
  }

  Status UpdateOrder(const Order& o) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    OC_ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(
            "UPDATE orders SET status = ?, refund_origin = ?, version = ?, assigned_agent = ?, "
            "tags = ?, risk_flags = ?, health_score = ?, updated_at = ? WHERE id = ?"));
    st.Bind(1, ToString(o.status));
    if (o.refund_origin)
      st.Bind(2, ToString(*o.refund_origin));
    else
      st.BindNull(2);
    st.Bind(3, o.version).Bind(4, o.assigned_agent).Bind(5, StringsToJson(o.tags));
    st.Bind(6, StringsToJson(o.risk_flags)).Bind(7, o.health_score).Bind(8, o.updated_at_ms);
    st.Bind(9, o.id);
    OC_RETURN_IF_ERROR(Checked(st.Run()));
    ++writes_;
    if (sqlite3_changes(c_.raw()) != 1) return Status::Internal("update of a missing order");
    return Status::Ok();
  }

  Status AppendOutbox(const OutboxEvent& e) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    OC_ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO outbox (id, type, order_id, order_version, payload, created_at) "
                   "VALUES (?,?,?,?,?,?)"));
    st.Bind(1, e.id).Bind(2, e.type).Bind(3, e.order_id).Bind(4, e.order_version);
    st.Bind(5, e.payload_json).Bind(6, e.created_at_ms);
    OC_RETURN_IF_ERROR(Checked(st.Run()));
    ++writes_;
    return Status::Ok();
  }

  Result<std::optional<IdempotencyRecord>> FindIdempotency(std::string_view principal_id,
                                                           std::string_view key) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    OC_ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("SELECT request_hash, status_code, response_body FROM idempotency_keys "
                   "WHERE principal_id = ? AND key = ?"));
    st.Bind(1, principal_id).Bind(2, key);
    OC_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<IdempotencyRecord>();
    IdempotencyRecord r{st.Text(0), static_cast<int>(st.Int(1)), st.Text(2)};
    if (codec_ != nullptr) {
      OC_ASSIGN_OR_RETURN(r.response_body,
                          codec_->OpenText(IdempotencyContext(principal_id, key), r.response_body));
    }
    return std::optional<IdempotencyRecord>(std::move(r));
  }

  Status PutIdempotency(std::string_view principal_id, std::string_view key,
                        const IdempotencyRecord& r, int64_t now_ms) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    OC_ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO idempotency_keys (principal_id, key, request_hash, status_code, "
                   "response_body, created_at) VALUES (?,?,?,?,?,?)"));
    st.Bind(1, principal_id).Bind(2, key).Bind(3, r.request_hash).Bind(4, int64_t{r.status_code});
    // The answer is the caller's role view, which may hold personal data in plain (a
    // warehouse sees the full address): sealed like the order itself.
    std::string body = r.response_body;
    if (codec_ != nullptr) {
      OC_ASSIGN_OR_RETURN(body,
                          codec_->SealText(IdempotencyContext(principal_id, key), r.response_body));
    }
    st.Bind(5, body).Bind(6, now_ms);
    OC_RETURN_IF_ERROR(Checked(st.Run()));
    ++writes_;
    return Status::Ok();
  }

  Result<int64_t> PurgeIdempotency(int64_t stored_before_ms, size_t max_rows) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    OC_ASSIGN_OR_RETURN(
        Statement del,
        c_.Prepare("DELETE FROM idempotency_keys WHERE (principal_id, key) IN ("
                   "SELECT principal_id, key FROM idempotency_keys WHERE created_at < ? "
                   "ORDER BY created_at LIMIT ?)"));
    del.Bind(1, stored_before_ms).Bind(2, static_cast<int64_t>(max_rows));
    OC_RETURN_IF_ERROR(Checked(del.Run()));
    int64_t deleted = sqlite3_changes(c_.raw());
    if (deleted > 0) ++writes_;
    return deleted;
  }

  Status PutStock(const StockRecord& r) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    OC_ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare(
            "INSERT INTO inventory (sku, on_hand, safety_buffer, reserved, sold, oversold) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT (sku) DO UPDATE SET on_hand = excluded.on_hand, "
            "safety_buffer = excluded.safety_buffer, reserved = excluded.reserved, "
            "sold = excluded.sold, oversold = excluded.oversold"));
    st.Bind(1, r.sku).Bind(2, r.on_hand).Bind(3, r.safety_buffer).Bind(4, r.reserved);
    st.Bind(5, r.sold).Bind(6, r.oversold);
    OC_RETURN_IF_ERROR(Checked(st.Run()));
    ++writes_;
    return Status::Ok();
  }

  Status SetCategory(std::string_view sku, std::string_view category) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    OC_ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("INSERT INTO inventory (sku, on_hand, safety_buffer, reserved, sold, category) "
                   "VALUES (?, 0, 0, 0, 0, ?) ON CONFLICT (sku) DO UPDATE SET category = "
                   "excluded.category"));
    st.Bind(1, sku).Bind(2, category);
    OC_RETURN_IF_ERROR(Checked(st.Run()));
    ++writes_;
    return Status::Ok();
  }

  Result<std::optional<StockRecord>> FindStock(std::string_view sku) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    static const std::string sql =
        std::string("SELECT ") + kStockColumns + " FROM inventory WHERE sku = ?";
    OC_ASSIGN_OR_RETURN(Statement st, c_.Prepare(sql.c_str()));
    st.Bind(1, sku);
    OC_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<StockRecord>();
    return std::optional<StockRecord>(StockFromRow(st));
  }

  Result<std::optional<ReservationRecord>> FindReservation(std::string_view id) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    return FindReservationOn(c_, id, mask_);
  }

  Result<std::optional<ReservationRecord>> FindReservationByNo(int64_t no) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    return FindReservationByNoOn(c_, no);
  }

  Status InsertReservations(const std::vector<const ReservationRecord*>& holds) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    // Statements for 32, 16, ... 1 rows: a batch's holds go in the fewest of them. Several
    // rows to a statement share its per-step work (about a quarter of a row's cost alone).
    static const std::array<std::string, kHoldInsertSizes> sql = [] {
      std::array<std::string, kHoldInsertSizes> out;
      for (size_t k = 0; k < kHoldInsertSizes; ++k) {
        out[k] =
            "INSERT INTO reservations (no, id, created_by, channel, lines, state, order_id, "
            "expires_at, created_at, updated_at) VALUES ";
        for (size_t row = 0; row < (size_t{1} << k); ++row) {
          out[k] += row == 0 ? "(?,?,?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?,?,?)";
        }
      }
      return out;
    }();
    // Every row's lines JSON, back to back, bound unowned: it outlives each statement's run.
    std::string lines;
    std::vector<size_t> lines_end;
    for (size_t done = 0; done < holds.size();) {
      size_t k = kHoldInsertSizes - 1;
      while ((size_t{1} << k) > holds.size() - done) --k;
      size_t rows = size_t{1} << k;
      OC_ASSIGN_OR_RETURN(Statement st, c_.Prepare(sql[k].c_str()));
      lines.clear();
      lines_end.clear();
      for (size_t row = 0; row < rows; ++row) {
        AppendHeldLinesJson(&lines, holds[done + row]->lines);
        lines_end.push_back(lines.size());
      }
      for (size_t row = 0; row < rows; ++row) {
        const ReservationRecord& r = *holds[done + row];
        size_t from = row == 0 ? 0 : lines_end[row - 1];
        int p = static_cast<int>(row * 10);
        st.Bind(p + 1, r.no).BindUnowned(p + 2, r.id).BindUnowned(p + 3, r.created_by);
        st.BindUnowned(p + 4, r.channel);
        st.BindUnowned(p + 5, std::string_view(lines).substr(from, lines_end[row] - from));
        st.BindUnowned(p + 6, ToString(r.state)).BindUnowned(p + 7, r.order_id);
        st.Bind(p + 8, r.expires_at_ms).Bind(p + 9, r.created_at_ms).Bind(p + 10, r.updated_at_ms);
      }
      OC_RETURN_IF_ERROR(Checked(st.Run()));
      ++writes_;
      done += rows;
    }
    return Status::Ok();
  }

  Status UpdateReservation(const ReservationRecord& r) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    OC_ASSIGN_OR_RETURN(
        Statement st,
        c_.Prepare("UPDATE reservations SET state = ?, order_id = ?, updated_at = ? WHERE no = ?"));
    st.Bind(1, ToString(r.state)).Bind(2, r.order_id).Bind(3, r.updated_at_ms).Bind(4, r.no);
    OC_RETURN_IF_ERROR(Checked(st.Run()));
    if (sqlite3_changes(c_.raw()) != 1) {
      return Status::Internal("no reservation " + std::to_string(r.no) + " to update");
    }
    ++writes_;
    return Status::Ok();
  }

  Result<HoldPurgeStep> PurgeEndedReservations(int64_t from_no, int64_t ended_before_ms,
                                               size_t examine_max) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    HoldPurgeStep step;
    step.next_no = from_no;
    // The span to look at: up to examine_max holds, cut short at the first one too young.
    int64_t last_old = -1;
    {
      OC_ASSIGN_OR_RETURN(
          Statement scan,
          c_.Prepare("SELECT no, created_at FROM reservations WHERE no >= ? ORDER BY no LIMIT ?"));
      scan.Bind(1, from_no).Bind(2, static_cast<int64_t>(examine_max));
      size_t seen = 0;
      while (true) {
        OC_ASSIGN_OR_RETURN(bool row, CheckedStep(scan));
        if (!row) break;
        ++seen;
        if (scan.Int(1) >= ended_before_ms) {
          step.pass_done = true;
          break;
        }
        last_old = scan.Int(0);
      }
      if (seen < examine_max) step.pass_done = true;  // the end of the table
    }
    if (last_old < 0) return step;
    OC_ASSIGN_OR_RETURN(Statement del,
                        c_.Prepare("DELETE FROM reservations WHERE no BETWEEN ? AND ? "
                                   "AND state <> 'active' AND updated_at < ? "
                                   "AND no < (SELECT max(no) FROM reservations)"));
    del.Bind(1, from_no).Bind(2, last_old).Bind(3, ended_before_ms);
    OC_RETURN_IF_ERROR(Checked(del.Run()));
    step.deleted = sqlite3_changes(c_.raw());
    if (step.deleted > 0) ++writes_;
    step.next_no = last_old + 1;
    return step;
  }

  Status InsertOversold(const OversoldRecord& r) override {
    OC_RETURN_IF_ERROR(RefuseIfLost());
    OC_ASSIGN_OR_RETURN(Statement st, c_.Prepare("INSERT INTO oversold_orders (order_id, currency, "
                                                 "lines, created_at) VALUES (?,?,?,?)"));
    st.Bind(1, r.order_id).Bind(2, r.currency).Bind(3, OversoldLinesToJson(r.lines));
    st.Bind(4, r.created_at_ms);
    OC_RETURN_IF_ERROR(Checked(st.Run()));
    ++writes_;
    return Status::Ok();
  }

  // After a failed statement: did SQLite abandon the whole transaction? Then nothing more may
  // run on it — later statements would each commit on their own (autocommit).
  Status Checked(Status s) {
    if (!s.ok() && sqlite3_get_autocommit(c_.raw()) != 0) {
      lost_ = true;
      return Status::IOError("the database abandoned the transaction: " + s.detail());
    }
    return s;
  }
  Result<bool> CheckedStep(Statement& st) {
    Result<bool> row = st.Step();
    if (!row.ok()) return Checked(row.status());
    return row;
  }
  // Inside BEGIN IMMEDIATE autocommit is off; seeing it on means the transaction is gone.
  Status RefuseIfLost() {
    if (!lost_ && sqlite3_get_autocommit(c_.raw()) != 0) lost_ = true;
    return lost_ ? Status::IOError("the transaction was abandoned by the database") : Status::Ok();
  }

  Status Commit() override {
    finished_ = true;
    if (lost_) return Status::IOError("the transaction was abandoned by the database");
    durability_.BeginCommit();
    Status s = c_.Exec("COMMIT");
    durability_.EndCommit();
    if (!s.ok()) (void)c_.Exec("ROLLBACK");
    lock_.unlock();  // the connection is free for the next writer as soon as the batch is done
    return s;
  }

 private:
  Connection& c_;
  std::unique_lock<std::mutex> lock_;
  PiiCodec* codec_;
  DurabilityTracker& durability_;
  const NumberMask& mask_;
  int64_t writes_ = 0;
  bool lost_ = false;
  bool finished_ = false;
};

// Copies the WAL back into the database file on its own thread and connection, so the writer
// never stops for a checkpoint: SQLite's automatic checkpoint runs inside the COMMIT that crosses
// its threshold — copying megabytes and fsyncing the database on the write path, a stall of tens
// of milliseconds for every request in the pipeline. PASSIVE checkpoints run beside the writer
// and readers. If the log still grows past kHardLimitPages (readers pinning old frames, or
// writes outpacing the copy), one RESTART checkpoint waits for the writer so the log starts over:
// the WAL stays bounded. A failed checkpoint loses nothing (the frames stay in the log) and is
// retried after the next commit.
class Checkpointer {
 public:
  static constexpr int kStartPages = 4096;       // 16 MiB of log with 4 KiB pages
  static constexpr int kHardLimitPages = 65536;  // 256 MiB

  explicit Checkpointer(std::unique_ptr<Connection> c) : c_(std::move(c)) {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "oc-checkpoint");
      Run();
    });
  }
  ~Checkpointer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  // Called after every commit with the number of pages in the log.
  void OnCommit(int wal_pages) {
    if (wal_pages < kStartPages) return;
    {
      std::lock_guard lock(mu_);
      requested_pages_ = std::max(requested_pages_, wal_pages);
    }
    cv_.notify_one();
  }

  // sqlite3_wal_hook's signature.
  static int Hook(void* self, sqlite3*, const char*, int wal_pages) {
    static_cast<Checkpointer*>(self)->OnCommit(wal_pages);
    return SQLITE_OK;
  }

 private:
  void Run() {
    while (true) {
      int pages = 0;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || requested_pages_ > 0; });
        if (stopping_) return;
        pages = requested_pages_;
        requested_pages_ = 0;
      }
      int mode = pages >= kHardLimitPages ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE;
      (void)sqlite3_wal_checkpoint_v2(c_->raw(), nullptr, mode, nullptr, nullptr);
    }
  }

  std::unique_ptr<Connection> c_;
  std::mutex mu_;
  std::condition_variable cv_;
  int requested_pages_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// A fixed pool of read-only connections; a reader borrows one for the duration of a call.
class ReadPool {
 public:
  class Lease {
   public:
    Lease(ReadPool& pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    ~Lease() { pool_.Return(std::move(c_)); }
    Connection& operator*() { return *c_; }

   private:
    ReadPool& pool_;
    std::unique_ptr<Connection> c_;
  };

  void Add(std::unique_ptr<Connection> c) { free_.push_back(std::move(c)); }
  Lease Borrow() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    auto c = std::move(free_.back());
    free_.pop_back();
    return Lease(*this, std::move(c));
  }

 private:
  void Return(std::unique_ptr<Connection> c) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(std::move(c));
    }
    cv_.notify_one();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> free_;
};

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const SqliteOptions& opt) {
    OC_ASSIGN_OR_RETURN(auto writer, Connection::Open(opt.path, false, opt.busy_timeout_ms));
    OC_RETURN_IF_ERROR(writer->Exec("PRAGMA journal_mode=WAL"));
    OC_RETURN_IF_ERROR(writer->Exec("PRAGMA synchronous=NORMAL"));  // Sync() supplies the fsync
    OC_RETURN_IF_ERROR(writer->Exec("PRAGMA foreign_keys=ON"));
    // Temporary tables and statement journals in memory: never a temp file on the write path.
    OC_RETURN_IF_ERROR(writer->Exec("PRAGMA temp_store=MEMORY"));
    OC_RETURN_IF_ERROR(writer->Exec("PRAGMA cache_size=-65536"));  // 64 MiB of hot index pages
    OC_RETURN_IF_ERROR(Migrate(*writer));
    if (opt.max_database_pages > 0) {
      OC_RETURN_IF_ERROR(
          writer->Exec("PRAGMA max_page_count=" + std::to_string(opt.max_database_pages)));
    }
    OC_ASSIGN_OR_RETURN(auto hold_id_key, HoldIdKey(*writer));
    if (opt.pii_codec != nullptr) {
      OC_RETURN_IF_ERROR(CheckKeyringFingerprint(*writer, *opt.pii_codec, opt.adopt_keyring));
    }
    auto store =
        std::unique_ptr<SqliteStore>(new SqliteStore(std::move(writer), opt.path, opt.pii_codec));
    store->hold_id_mask_ = std::make_unique<NumberMask>(
        std::span<const unsigned char, NumberMask::kKeyBytes>(hold_id_key));
    OC_ASSIGN_OR_RETURN(auto checkpoint_conn,
                        Connection::Open(opt.path, false, opt.busy_timeout_ms));
    OC_RETURN_IF_ERROR(checkpoint_conn->Exec("PRAGMA synchronous=NORMAL"));
    store->checkpointer_ = std::make_unique<Checkpointer>(std::move(checkpoint_conn));
    // Replaces SQLite's automatic checkpoint on the writer's connection.
    sqlite3_wal_hook(store->writer_->raw(), &Checkpointer::Hook, store->checkpointer_.get());
    for (size_t i = 0; i < std::max<size_t>(1, opt.read_connections); ++i) {
      OC_ASSIGN_OR_RETURN(auto r, Connection::Open(opt.path, true, opt.busy_timeout_ms));
      store->readers_.Add(std::move(r));
    }
    // Opens the WAL's fd now, while file descriptors are surely available, rather than at the
    // first commit under load; and makes the migrations durable.
    OC_RETURN_IF_ERROR(store->SyncWal());
    return std::unique_ptr<Store>(std::move(store));
  }

  Result<std::unique_ptr<WriteTransaction>> BeginWrite() override {
    std::unique_lock lock(write_mu_);
    OC_RETURN_IF_ERROR(writer_->Exec("BEGIN IMMEDIATE"));
    return std::unique_ptr<WriteTransaction>(
        new SqliteWriteTransaction(*writer_, std::move(lock), codec_, durability_, *hold_id_mask_));
  }

  Status Sync() override { return SyncUpTo(durability_.finished()); }
  int64_t fsyncs() const override { return fsyncs_.load(); }

  // Makes commits up to `target` durable, unless a concurrent Sync() already did.
  Status SyncUpTo(int64_t target) {
    std::lock_guard lock(sync_mu_);
    if (durability_.failed()) return Status::IOError("an earlier fsync failed");
    if (durability_.durable() >= target) return Status::Ok();
    int64_t covered = durability_.finished();
    Status s = SyncWal();
    durability_.Synced(covered, s.ok());
    return s;
  }

  // Called after every read that others act on, before its result is returned: makes durable
  // everything the read could have seen (DurabilityTracker).
  Status WaitDurable() {
    if (durability_.failed()) {
      return Status::Unavailable("storage failed to sync; reads are stopped until a restart");
    }
    int64_t target = durability_.started();
    if (durability_.durable() >= target) return Status::Ok();
    // A COMMIT the read may have seen can still be returning; it takes microseconds.
    while (durability_.finished() < target) std::this_thread::yield();
    Status s = SyncUpTo(target);
    if (!s.ok()) return Status::Unavailable("storage failed to sync: " + s.detail());
    return Status::Ok();
  }

  // `result`, unless what it was read from cannot be made durable.
  template <class T>
  T ThenDurable(T result) {
    Status s = WaitDurable();
    if (!s.ok()) return T(s);
    return result;
  }

  Status SyncWal() {
    // The WAL is reset in place after checkpoints, never deleted while we hold connections,
    // but re-open if its inode ever changes so we never sync a stale file.
    std::string wal = path_ + "-wal";
    struct stat st {};
    if (::stat(wal.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status::Ok();  // no log yet: nothing committed to make durable
      return Status::IOError("stat " + wal + ": " + std::strerror(errno));
    }
    if (wal_fd_ < 0 || st.st_ino != wal_ino_ || st.st_dev != wal_dev_) {
      if (wal_fd_ >= 0) ::close(wal_fd_);
      wal_fd_ = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
      if (wal_fd_ < 0) return Status::IOError("open " + wal + ": " + std::strerror(errno));
      wal_ino_ = st.st_ino;
      wal_dev_ = st.st_dev;
    }
    if (::fdatasync(wal_fd_) != 0) {
      return Status::IOError("fdatasync " + wal + ": " + std::strerror(errno));
    }
    fsyncs_.fetch_add(1);
    return Status::Ok();
  }

  ~SqliteStore() override {
    sqlite3_wal_hook(writer_->raw(), nullptr, nullptr);
    checkpointer_.reset();
    if (wal_fd_ >= 0) ::close(wal_fd_);
  }

  Result<std::optional<Order>> GetOrder(std::string_view id) override {
    return ThenDurable([&]() -> Result<std::optional<Order>> {
      auto lease = readers_.Borrow();
      OC_RETURN_IF_ERROR((*lease).Exec("BEGIN"));
      auto r = FindOrderOn(*lease, id, codec_);
      (void)(*lease).Exec("COMMIT");
      return r;
    }());
  }

  Result<OrderPage> ListOrders(const OrderQuery& q) override {
    return ThenDurable([&]() -> Result<OrderPage> {
      std::string sql = std::string("SELECT ") + kOrderColumns + " FROM orders WHERE 1=1";
      std::vector<std::string> text_args;
      if (q.status) sql += " AND status = ?1";
      if (q.channel) sql += " AND channel = ?2";
      // The second term lets SQLite use the partial index on assigned agents.
      if (q.assigned_agent) sql += " AND assigned_agent = ?3 AND assigned_agent != ''";
      if (q.tag) sql += " AND EXISTS (SELECT 1 FROM json_each(orders.tags) WHERE value = ?4)";
      if (q.since_ms) sql += " AND created_at >= ?5";
      if (q.before_seq > 0) sql += " AND seq < ?6";
      if (q.phone_index) sql += " AND phone_index = ?8";
      sql += " ORDER BY seq DESC LIMIT ?7";
      size_t limit = std::min(q.limit == 0 ? kListLimitDefault : q.limit, kListLimitMax);

      auto lease = readers_.Borrow();
      Connection& c = *lease;
      sqlite3_stmt* raw = nullptr;
      if (sqlite3_prepare_v2(c.raw(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
        return c.Error("prepare list");
      }
      std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owner(raw, sqlite3_finalize);
      Statement st(raw);
      if (q.status) st.Bind(1, ToString(*q.status));
      if (q.channel) st.Bind(2, *q.channel);
      if (q.assigned_agent) st.Bind(3, *q.assigned_agent);
      if (q.tag) st.Bind(4, *q.tag);
      if (q.since_ms) st.Bind(5, *q.since_ms);
      if (q.before_seq > 0) st.Bind(6, q.before_seq);
      st.Bind(7, static_cast<int64_t>(limit + 1));
      if (q.phone_index) st.Bind(8, *q.phone_index);

      OC_RETURN_IF_ERROR(c.Exec("BEGIN"));
      OrderPage page;
      std::vector<int64_t> seqs;
      Status status;
      while (true) {
        auto row = st.Step();
        if (!row.ok()) {
          status = row.status();
          break;
        }
        if (!*row) break;
        if (page.items.size() == limit) {
          page.next_before_seq = seqs.back();
          break;
        }
        auto order = OrderFromRow(st, codec_);
        if (!order.ok()) {
          status = order.status();
          break;
        }
        page.items.push_back(std::move(*order));
        seqs.push_back(st.Int(0));
      }
      for (size_t i = 0; status.ok() && i < page.items.size(); ++i) {
        status = LoadLines(c, seqs[i], &page.items[i]);
      }
      (void)c.Exec("COMMIT");
      if (!status.ok()) return status;
      return page;
    }());
  }

  Result<std::vector<std::pair<OrderStatus, int64_t>>> CountOrdersByStatus() override {
    auto lease = readers_.Borrow();
    OC_ASSIGN_OR_RETURN(Statement st,
                        (*lease).Prepare("SELECT status, count(*) FROM orders GROUP BY status"));
    std::vector<std::pair<OrderStatus, int64_t>> out;
    while (true) {
      OC_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      if (auto s = ParseOrderStatus(st.Text(0))) out.emplace_back(*s, st.Int(1));
    }
    return out;
  }

  Result<std::vector<OutboxEvent>> ReadOutbox(int64_t after_seq, size_t limit) override {
    return ThenDurable([&]() -> Result<std::vector<OutboxEvent>> {
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(
          Statement st,
          (*lease).Prepare(
              "SELECT seq, id, type, order_id, order_version, payload, created_at FROM outbox "
              "WHERE seq > ? ORDER BY seq LIMIT ?"));
      st.Bind(1, after_seq).Bind(2, static_cast<int64_t>(limit));
      std::vector<OutboxEvent> out;
      while (true) {
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        out.push_back(OutboxEvent{st.Int(0), st.Text(1), st.Text(2), st.Text(3), st.Int(4),
                                  st.Text(5), st.Int(6)});
      }
      return out;
    }());
  }

  Result<std::vector<StockRecord>> LoadStock() override {
    return ThenDurable([&]() -> Result<std::vector<StockRecord>> {
      auto lease = readers_.Borrow();
      static const std::string sql =
          std::string("SELECT ") + kStockColumns + " FROM inventory ORDER BY sku";
      OC_ASSIGN_OR_RETURN(Statement st, (*lease).Prepare(sql.c_str()));
      std::vector<StockRecord> out;
      while (true) {
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        out.push_back(StockFromRow(st));
      }
      return out;
    }());
  }

  Result<std::optional<StockRecord>> GetStock(std::string_view sku) override {
    return ThenDurable([&]() -> Result<std::optional<StockRecord>> {
      auto lease = readers_.Borrow();
      static const std::string sql =
          std::string("SELECT ") + kStockColumns + " FROM inventory WHERE sku = ?";
      OC_ASSIGN_OR_RETURN(Statement st, (*lease).Prepare(sql.c_str()));
      st.Bind(1, sku);
      OC_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return std::optional<StockRecord>();
      return std::optional<StockRecord>(StockFromRow(st));
    }());
  }

  Result<std::optional<ReservationRecord>> GetReservation(std::string_view id) override {
    return ThenDurable([&]() -> Result<std::optional<ReservationRecord>> {
      auto lease = readers_.Borrow();
      return FindReservationOn(*lease, id, *hold_id_mask_);
    }());
  }

  Result<std::vector<std::pair<int64_t, int64_t>>> ActiveReservationExpiries() override {
    return ThenDurable([&]() -> Result<std::vector<std::pair<int64_t, int64_t>>> {
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(
          Statement st,
          (*lease).Prepare("SELECT expires_at, no FROM reservations WHERE state = 'active'"));
      std::vector<std::pair<int64_t, int64_t>> out;
      while (true) {
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        out.emplace_back(st.Int(0), st.Int(1));
      }
      return out;
    }());
  }

  Result<int64_t> MaxReservationNo() override {
    return DurableInt("SELECT coalesce(max(no), 0) FROM reservations");
  }

  const NumberMask& hold_id_mask() const override { return *hold_id_mask_; }

  Result<std::vector<OversoldRecord>> ListOversold() override {
    return ThenDurable([&]() -> Result<std::vector<OversoldRecord>> {
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(
          Statement st,
          (*lease).Prepare("SELECT x.order_id, x.currency, x.lines, x.created_at, o.channel, "
                           "o.channel_order_id, "
                           "o.status FROM oversold_orders x JOIN orders o ON o.id = x.order_id "
                           "WHERE o.status NOT IN ('cancelled', 'refunded') ORDER BY x.seq"));
      std::vector<OversoldRecord> out;
      while (true) {
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        OversoldRecord r;
        r.order_id = st.Text(0);
        r.currency = st.Text(1);
        r.lines = OversoldLinesFromJson(st.Text(2));
        r.created_at_ms = st.Int(3);
        r.channel = st.Text(4);
        r.channel_order_id = st.Text(5);
        r.status = ParseOrderStatus(st.Text(6)).value_or(OrderStatus::kPendingPayment);
        out.push_back(std::move(r));
      }
      return out;
    }());
  }

  // Runs `fn` in a write transaction of its own on the writer connection (between the order
  // writer's batches), committed but not fsync'd: callers that promise durability Sync().
  Status InWriteTransaction(const std::function<Status(Connection&)>& fn) {
    std::lock_guard lock(write_mu_);
    OC_RETURN_IF_ERROR(writer_->Exec("BEGIN IMMEDIATE"));
    Status s = fn(*writer_);
    if (s.ok()) {
      durability_.BeginCommit();
      s = writer_->Exec("COMMIT");
      durability_.EndCommit();
    }
    if (!s.ok()) {
      (void)writer_->Exec("ROLLBACK");
      return s;
    }
    return Status::Ok();
  }

  Status InsertSubscription(const SubscriptionRecord& r) override {
    // The signing secret is a credential: sealed, so a copy of the database cannot forge
    // deliveries to the partner.
    std::string secret = r.secret;
    if (codec_ != nullptr) {
      OC_ASSIGN_OR_RETURN(secret, codec_->SealText(SubscriptionSecretContext(r.id), r.secret));
    }
    OC_RETURN_IF_ERROR(InWriteTransaction([&](Connection& c) -> Status {
      OC_ASSIGN_OR_RETURN(Statement st,
                          c.Prepare("INSERT INTO subscriptions (id, url, events, secret, "
                                    "max_per_minute, batch_max, cursor, created_by, created_at, "
                                    "view_role, view_channel) VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
      st.Bind(1, r.id).Bind(2, r.url).Bind(3, StringsToJson(r.events)).Bind(4, secret);
      st.Bind(5, r.max_per_minute).Bind(6, r.batch_max).Bind(7, r.cursor);
      st.Bind(8, r.created_by).Bind(9, r.created_at_ms);
      // A default string_view would bind NULL (its data() is null); "" binds the empty text.
      st.Bind(10, r.view_role ? ToString(*r.view_role) : std::string_view(""));
      st.Bind(11, r.view_channel);
      return st.Run();
    }));
    return Sync();
  }

  Status DeleteSubscription(std::string_view id) override {
    bool found = false;
    OC_RETURN_IF_ERROR(InWriteTransaction([&](Connection& c) -> Status {
      OC_ASSIGN_OR_RETURN(Statement del, c.Prepare("DELETE FROM subscriptions WHERE id = ?"));
      del.Bind(1, id);
      OC_RETURN_IF_ERROR(del.Run());
      found = sqlite3_changes(c.raw()) == 1;
      OC_ASSIGN_OR_RETURN(Statement parked,
                          c.Prepare("DELETE FROM parked_events WHERE subscription_id = ?"));
      parked.Bind(1, id);
      OC_RETURN_IF_ERROR(parked.Run());
      OC_ASSIGN_OR_RETURN(Statement dead,
                          c.Prepare("DELETE FROM dead_letters WHERE subscription_id = ?"));
      dead.Bind(1, id);
      return dead.Run();
    }));
    if (!found) return Status::NotFound("subscription not found");
    return Sync();
  }

  Result<std::vector<SubscriptionRecord>> ListSubscriptions() override {
    return ThenDurable([&]() -> Result<std::vector<SubscriptionRecord>> {
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(
          Statement st,
          (*lease).Prepare(
              "SELECT id, url, events, secret, max_per_minute, batch_max, cursor, created_by, "
              "created_at, view_role, view_channel FROM subscriptions ORDER BY created_at, id"));
      std::vector<SubscriptionRecord> out;
      while (true) {
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        SubscriptionRecord r;
        r.id = st.Text(0);
        r.url = st.Text(1);
        r.events = StringsFromJson(st.Text(2));
        r.secret = st.Text(3);
        if (codec_ != nullptr) {
          OC_ASSIGN_OR_RETURN(r.secret,
                              codec_->OpenText(SubscriptionSecretContext(r.id), r.secret));
        }
        r.max_per_minute = st.Int(4);
        r.batch_max = st.Int(5);
        r.cursor = st.Int(6);
        r.created_by = st.Text(7);
        r.created_at_ms = st.Int(8);
        std::string role = st.Text(9);
        if (!role.empty()) {
          r.view_role = ParseRole(role);
          // Never fall back to "no view" or a wider one: a subscriber gets no more than it was
          // given, so an unreadable view stops the server from starting instead.
          if (!r.view_role) {
            return Status::IOError("subscription " + r.id + " has an unknown view role '" + role +
                                   "'");
          }
          r.view_channel = st.Text(10);
        }
        out.push_back(std::move(r));
      }
      return out;
    }());
  }

  Status RecordDelivery(const DeliveryProgress& p) override {
    return InWriteTransaction([&](Connection& c) -> Status {
      // A deleted subscription's progress is dropped (the UPDATE matches nothing).
      OC_ASSIGN_OR_RETURN(
          Statement cur,
          c.Prepare("UPDATE subscriptions SET cursor = max(cursor, ?) WHERE id = ?"));
      cur.Bind(1, p.cursor).Bind(2, p.subscription_id);
      OC_RETURN_IF_ERROR(cur.Run());
      if (sqlite3_changes(c.raw()) == 0) return Status::Ok();
      for (const DeadLetterRecord& d : p.dead_letters) {
        OC_ASSIGN_OR_RETURN(
            Statement st,
            c.Prepare(
                "INSERT OR REPLACE INTO dead_letters (id, subscription_id, event_seq, event_id, "
                "event_type, order_id, attempts, last_error, state, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
        st.Bind(1, d.id).Bind(2, d.subscription_id).Bind(3, d.event_seq).Bind(4, d.event_id);
        st.Bind(5, d.event_type).Bind(6, d.order_id).Bind(7, d.attempts).Bind(8, d.last_error);
        st.Bind(9, ToString(d.state)).Bind(10, d.created_at_ms).Bind(11, d.updated_at_ms);
        OC_RETURN_IF_ERROR(st.Run());
      }
      for (const ParkedEvent& e : p.parked) {
        OC_ASSIGN_OR_RETURN(
            Statement st,
            c.Prepare("INSERT OR IGNORE INTO parked_events (subscription_id, event_seq, order_id) "
                      "VALUES (?,?,?)"));
        st.Bind(1, p.subscription_id).Bind(2, e.event_seq).Bind(3, e.order_id);
        OC_RETURN_IF_ERROR(st.Run());
      }
      for (int64_t seq : p.unparked_seqs) {
        OC_ASSIGN_OR_RETURN(
            Statement st,
            c.Prepare("DELETE FROM parked_events WHERE subscription_id = ? AND event_seq = ?"));
        st.Bind(1, p.subscription_id).Bind(2, seq);
        OC_RETURN_IF_ERROR(st.Run());
      }
      return Status::Ok();
    });
  }

  static Result<DeadLetterRecord> DeadLetterFromRow(const Statement& st) {
    DeadLetterRecord d;
    d.id = st.Text(0);
    d.subscription_id = st.Text(1);
    d.event_seq = st.Int(2);
    d.event_id = st.Text(3);
    d.event_type = st.Text(4);
    d.order_id = st.Text(5);
    d.attempts = st.Int(6);
    d.last_error = st.Text(7);
    auto state = ParseDeadLetterState(st.Text(8));
    if (!state) return Status::IOError("dead letter " + d.id + " has an unknown state");
    d.state = *state;
    d.created_at_ms = st.Int(9);
    d.updated_at_ms = st.Int(10);
    return d;
  }

  Result<std::vector<DeadLetterRecord>> ListDeadLetters(const DeadLetterQuery& q) override {
    return ThenDurable([&]() -> Result<std::vector<DeadLetterRecord>> {
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(
          Statement st,
          (*lease).Prepare(
              // Two statements, not one with "?3 = 0 OR": a bare row-value range lets the
              // index (dead_letters_newest) start at the cursor.
              q.after ? "SELECT id, subscription_id, event_seq, event_id, event_type, order_id, "
                        "attempts, last_error, state, created_at, updated_at FROM dead_letters "
                        "WHERE (created_at, event_seq, id) < (?3, ?4, ?5) "
                        "AND (?1 = '' OR subscription_id = ?1) "
                        "ORDER BY created_at DESC, event_seq DESC, id DESC LIMIT ?2"
                      : "SELECT id, subscription_id, event_seq, event_id, event_type, order_id, "
                        "attempts, last_error, state, created_at, updated_at FROM dead_letters "
                        "WHERE ?1 = '' OR subscription_id = ?1 "
                        "ORDER BY created_at DESC, event_seq DESC, id DESC LIMIT ?2"));
      st.Bind(1, q.subscription_id).Bind(2, static_cast<int64_t>(q.limit));
      if (q.after) {
        st.Bind(3, q.after->created_at_ms).Bind(4, q.after->event_seq).Bind(5, q.after->id);
      }
      std::vector<DeadLetterRecord> out;
      while (true) {
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        OC_ASSIGN_OR_RETURN(DeadLetterRecord d, DeadLetterFromRow(st));
        out.push_back(std::move(d));
      }
      return out;
    }());
  }

  Result<std::optional<DeadLetterRecord>> GetDeadLetter(std::string_view id) override {
    return ThenDurable([&]() -> Result<std::optional<DeadLetterRecord>> {
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(
          Statement st,
          (*lease).Prepare(
              "SELECT id, subscription_id, event_seq, event_id, event_type, order_id, attempts, "
              "last_error, state, created_at, updated_at FROM dead_letters WHERE id = ?"));
      st.Bind(1, id);
      OC_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return std::optional<DeadLetterRecord>();
      OC_ASSIGN_OR_RETURN(DeadLetterRecord d, DeadLetterFromRow(st));
      return std::optional<DeadLetterRecord>(std::move(d));
    }());
  }

  Status SetDeadLetterState(std::string_view id, DeadLetterState state, int64_t now_ms) override {
    return InWriteTransaction([&](Connection& c) -> Status {
      OC_ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("UPDATE dead_letters SET state = ?, updated_at = ? WHERE id = ?"));
      st.Bind(1, ToString(state)).Bind(2, now_ms).Bind(3, id);
      OC_RETURN_IF_ERROR(st.Run());
      if (sqlite3_changes(c.raw()) != 1) return Status::NotFound("dead letter not found");
      return Status::Ok();
    });
  }

  Result<std::vector<ParkedEvent>> ListParked(std::string_view subscription_id) override {
    return ThenDurable([&]() -> Result<std::vector<ParkedEvent>> {
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(
          Statement st,
          (*lease).Prepare(
              "SELECT event_seq, order_id FROM parked_events WHERE subscription_id = ? "
              "ORDER BY event_seq"));
      st.Bind(1, subscription_id);
      std::vector<ParkedEvent> out;
      while (true) {
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        out.push_back(ParkedEvent{st.Int(0), st.Text(1)});
      }
      return out;
    }());
  }

  Result<std::vector<OutboxEvent>> ReadOutboxSeqs(const std::vector<int64_t>& seqs) override {
    return ThenDurable([&]() -> Result<std::vector<OutboxEvent>> {
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(
          Statement st,
          (*lease).Prepare(
              "SELECT seq, id, type, order_id, order_version, payload, created_at FROM outbox "
              "WHERE seq = ?"));
      std::vector<int64_t> sorted = seqs;
      std::sort(sorted.begin(), sorted.end());
      std::vector<OutboxEvent> out;
      for (int64_t seq : sorted) {
        st.Bind(1, seq);
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        if (row) {
          out.push_back(OutboxEvent{st.Int(0), st.Text(1), st.Text(2), st.Text(3), st.Int(4),
                                    st.Text(5), st.Int(6)});
        }
        st.Reset();
      }
      return out;
    }());
  }

  Result<int64_t> MaxOutboxSeq() override {
    return DurableInt("SELECT coalesce(max(seq), 0) FROM outbox");
  }

  // The one integer `sql` (a literal) selects, 0 for no row, read like every read: durable.
  Result<int64_t> DurableInt(const char* sql) {
    return ThenDurable([&]() -> Result<int64_t> {
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(Statement st, (*lease).Prepare(sql));
      OC_ASSIGN_OR_RETURN(bool row, st.Step());
      return row ? st.Int(0) : int64_t{0};
    }());
  }

  Status InsertApiKey(const ApiKeyRecord& r) override {
    std::string totp_secret = r.totp_secret;
    if (codec_ != nullptr && !totp_secret.empty()) {
      OC_ASSIGN_OR_RETURN(totp_secret, codec_->SealText(TotpContext(r.principal.id), totp_secret));
    }
    // Keys are rare writes; they share the writer connection under its lock, so a key insert
    // and an order batch never interleave inside one transaction.
    std::lock_guard lock(write_mu_);
    OC_ASSIGN_OR_RETURN(
        Statement st,
        writer_->Prepare(
            "INSERT INTO api_keys (id, key_hash, name, role, channel, totp_secret, created_at) "
            "VALUES (?,?,?,?,?,?,?)"));
    st.Bind(1, r.principal.id).Bind(2, r.key_hash).Bind(3, r.principal.name);
    st.Bind(4, ToString(r.principal.role)).Bind(5, r.principal.channel);
    st.Bind(6, totp_secret).Bind(7, r.created_at_ms);
    durability_.BeginCommit();  // an autocommit insert is a commit of its own
    Status inserted = st.Run();
    durability_.EndCommit();
    OC_RETURN_IF_ERROR(inserted);
    return Sync();  // the key is printed once; it must not vanish in a crash after that
  }

  Result<std::optional<ApiKeyRecord>> FindApiKeyByHash(std::string_view key_hash) override {
    auto lease = readers_.Borrow();
    return FindKeyOn(*lease,
                     "SELECT id, key_hash, name, role, channel, totp_secret, created_at "
                     "FROM api_keys WHERE key_hash = ?",
                     key_hash, codec_);
  }

  Result<std::optional<ApiKeyRecord>> FindApiKeyById(std::string_view id) override {
    auto lease = readers_.Borrow();
    return FindKeyOn(*lease,
                     "SELECT id, key_hash, name, role, channel, totp_secret, created_at "
                     "FROM api_keys WHERE id = ?",
                     id, codec_);
  }

  Result<std::vector<SealedPiiRow>> ScanSealedPii(int64_t after_seq, size_t limit) override {
    return ThenDurable([&]() -> Result<std::vector<SealedPiiRow>> {
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(
          Statement st,
          (*lease).Prepare(
              "SELECT seq, id, pii, phone_index IS NOT NULL FROM orders WHERE seq > ? ORDER BY seq "
              "LIMIT ?"));
      st.Bind(1, after_seq).Bind(2, static_cast<int64_t>(limit));
      std::vector<SealedPiiRow> out;
      while (true) {
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        out.push_back(SealedPiiRow{st.Int(0), st.Text(1), st.Text(2), st.Int(3) != 0});
      }
      return out;
    }());
  }

  Result<int64_t> ReplaceSealedPii(const std::vector<SealedPiiUpdate>& updates) override {
    if (updates.empty()) return int64_t{0};
    int64_t replaced = 0;
    OC_RETURN_IF_ERROR(InWriteTransaction([&](Connection& c) -> Status {
      OC_ASSIGN_OR_RETURN(
          Statement st,
          c.Prepare("UPDATE orders SET pii = ?1, phone_index = coalesce(?2, phone_index) "
                    "WHERE seq = ?3 AND pii = ?4"));
      for (const auto& u : updates) {
        st.Bind(1, u.sealed).BindOptional(2, u.phone_index).Bind(3, u.seq);
        st.Bind(4, u.expected_sealed);
        OC_RETURN_IF_ERROR(st.Run());
        replaced += sqlite3_changes(c.raw());
        st.Reset();
      }
      return Status::Ok();
    }));
    OC_RETURN_IF_ERROR(Sync());
    return replaced;
  }

  Result<std::vector<SealedTextRow>> ScanSealedTexts(SealedTextPlace place,
                                                     std::string_view master_id,
                                                     std::string_view after_key,
                                                     std::string_view after_key2,
                                                     size_t limit) override {
    return ThenDurable([&]() -> Result<std::vector<SealedTextRow>> {
      const SealedTextPlaceInfo& info = PlaceOf(place);
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(Statement st, (*lease).Prepare(info.scan.c_str()));
      const std::string prefix = SealedTextPrefix(master_id);
      st.Bind(1, after_key).Bind(2, info.two_part ? after_key2 : std::string_view());
      st.Bind(3, prefix).Bind(4, static_cast<int64_t>(limit));
      std::vector<SealedTextRow> out;
      while (true) {
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        SealedTextRow r;
        r.place = place;
        r.key = st.Text(0);
        r.key2 = st.Text(1);
        r.context = info.context(r.key, r.key2);
        r.stored = st.Text(2);
        out.push_back(std::move(r));
      }
      return out;
    }());
  }

  Result<int64_t> ReplaceSealedTexts(const std::vector<SealedTextUpdate>& updates) override {
    if (updates.empty()) return int64_t{0};
    int64_t replaced = 0;
    OC_RETURN_IF_ERROR(InWriteTransaction([&](Connection& c) -> Status {
      for (const auto& u : updates) {
        OC_ASSIGN_OR_RETURN(Statement st, c.Prepare(PlaceOf(u.row.place).replace.c_str()));
        st.Bind(1, u.sealed).Bind(2, u.row.key).Bind(3, u.row.key2).Bind(4, u.row.stored);
        OC_RETURN_IF_ERROR(st.Run());
        replaced += sqlite3_changes(c.raw());
      }
      return Status::Ok();
    }));
    OC_RETURN_IF_ERROR(Sync());
    return replaced;
  }

  Result<std::vector<std::pair<std::string, int64_t>>> CountSealedUnder(
      std::string_view master_id) override {
    return ThenDurable([&]() -> Result<std::vector<std::pair<std::string, int64_t>>> {
      auto lease = readers_.Borrow();
      std::vector<std::pair<std::string, int64_t>> out;
      {
        OC_ASSIGN_OR_RETURN(
            Statement st,
            (*lease).Prepare("SELECT count(*) FROM orders WHERE pii <> '' AND json_valid(pii) AND "
                             "json_extract(pii, '$.mk') = ?"));
        st.Bind(1, master_id);
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        out.emplace_back("orders", row ? st.Int(0) : 0);
      }
      const std::string prefix = SealedTextPrefix(master_id);
      for (SealedTextPlace place : kSealedTextPlaces) {
        OC_ASSIGN_OR_RETURN(Statement st, (*lease).Prepare(PlaceOf(place).count.c_str()));
        st.Bind(1, prefix);
        OC_ASSIGN_OR_RETURN(bool row, st.Step());
        out.emplace_back(std::string(ToString(place)), row ? st.Int(0) : 0);
      }
      return out;
    }());
  }

  Status AppendAudit(std::vector<AuditRecord>* entries,
                     const std::function<std::string(const AuditRecord&)>& chain) override {
    if (entries->empty()) return Status::Ok();
    OC_RETURN_IF_ERROR(InWriteTransaction([&](Connection& c) -> Status {
      OC_ASSIGN_OR_RETURN(Statement head,
                          c.Prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
      OC_ASSIGN_OR_RETURN(bool has_head, head.Step());
      int64_t seq = has_head ? head.Int(0) : 0;
      std::string prev = has_head ? head.Text(1) : std::string();
      OC_ASSIGN_OR_RETURN(
          Statement ins, c.Prepare("INSERT INTO audit_log (seq, id, at, actor, role, ip, action, "
                                   "order_id, fields, detail, "
                                   "outcome, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"));
      for (AuditRecord& e : *entries) {
        e.seq = ++seq;
        e.prev_hash = prev;
        e.hash = chain(e);
        prev = e.hash;
        ins.Bind(1, e.seq).Bind(2, e.id).Bind(3, e.at_ms).Bind(4, e.actor).Bind(5, e.role);
        ins.Bind(6, e.ip).Bind(7, e.action).Bind(8, e.order_id).Bind(9, StringsToJson(e.fields));
        ins.Bind(10, e.detail).Bind(11, e.outcome).Bind(12, e.prev_hash).Bind(13, e.hash);
        OC_RETURN_IF_ERROR(ins.Run());
        ins.Reset();
      }
      return Status::Ok();
    }));
    return Sync();
  }

  Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& q) override {
    return ThenDurable([&]() -> Result<std::vector<AuditRecord>> {
      auto lease = readers_.Borrow();
      // One statement for every filter combination (statements are cached per text pointer).
      OC_ASSIGN_OR_RETURN(
          Statement st,
          (*lease).Prepare(
              "SELECT seq, id, at, actor, role, ip, action, order_id, fields, detail, outcome, "
              "prev_hash, hash FROM audit_log WHERE seq > ?1 AND (?2 IS NULL OR at >= ?2) AND "
              "(?3 IS NULL OR actor = ?3) AND (?4 IS NULL OR order_id = ?4) AND "
              "(?5 IS NULL OR action = ?5) ORDER BY seq LIMIT ?6"));
      st.Bind(1, q.after_seq).Bind(2, q.since_ms).BindOptional(3, q.actor);
      st.BindOptional(4, q.order_id).BindOptional(5, q.action);
      st.Bind(6, static_cast<int64_t>(q.limit));
      return ReadAuditRows(st);
    }());
  }

  Result<std::vector<AuditRecord>> ReadAuditChain(int64_t after_seq, size_t limit) override {
    return ThenDurable([&]() -> Result<std::vector<AuditRecord>> {
      auto lease = readers_.Borrow();
      OC_ASSIGN_OR_RETURN(
          Statement st,
          (*lease).Prepare(
              "SELECT seq, id, at, actor, role, ip, action, order_id, fields, detail, outcome, "
              "prev_hash, hash FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"));
      st.Bind(1, after_seq).Bind(2, static_cast<int64_t>(limit));
      return ReadAuditRows(st);
    }());
  }

  static Result<std::vector<AuditRecord>> ReadAuditRows(Statement& st) {
    std::vector<AuditRecord> out;
    while (true) {
      OC_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      AuditRecord r;
      r.seq = st.Int(0);
      r.id = st.Text(1);
      r.at_ms = st.Int(2);
      r.actor = st.Text(3);
      r.role = st.Text(4);
      r.ip = st.Text(5);
      r.action = st.Text(6);
      r.order_id = st.Text(7);
      r.fields = StringsFromJson(st.Text(8));
      r.detail = st.Text(9);
      r.outcome = st.Text(10);
      r.prev_hash = st.Text(11);
      r.hash = st.Text(12);
      out.push_back(std::move(r));
    }
    return out;
  }

  Status Ping() override {
    auto lease = readers_.Borrow();
    OC_ASSIGN_OR_RETURN(Statement st, (*lease).Prepare("SELECT 1 FROM schema_migrations LIMIT 1"));
    OC_ASSIGN_OR_RETURN(bool row, st.Step());
    (void)row;
    return Status::Ok();
  }

 private:
  SqliteStore(std::unique_ptr<Connection> writer, std::string path, PiiCodec* codec)
      : writer_(std::move(writer)), path_(std::move(path)), codec_(codec) {}
  std::mutex write_mu_;
  std::unique_ptr<Connection> writer_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::unique_ptr<NumberMask> hold_id_mask_;
  ReadPool readers_;
  std::string path_;
  PiiCodec* codec_;
  DurabilityTracker durability_;
  std::atomic<int64_t> fsyncs_{0};
  std::mutex sync_mu_;
  int wal_fd_ = -1;
  ino_t wal_ino_ = 0;
  dev_t wal_dev_ = 0;
};

}  // namespace

std::string_view ToString(SealedTextPlace place) { return PlaceOf(place).name; }

std::string_view ToString(ReservationState s) {
  switch (s) {
    case ReservationState::kActive:
      return "active";
    case ReservationState::kConverted:
      return "converted";
    case ReservationState::kReleased:
      return "released";
    case ReservationState::kExpired:
      return "expired";
  }
  return "active";
}

std::string_view ToString(DeadLetterState s) {
  switch (s) {
    case DeadLetterState::kDead:
      return "dead";
    case DeadLetterState::kReplayPending:
      return "replay_pending";
    case DeadLetterState::kReplayed:
      return "replayed";
  }
  return "dead";
}

std::optional<DeadLetterState> ParseDeadLetterState(std::string_view s) {
  for (auto state :
       {DeadLetterState::kDead, DeadLetterState::kReplayPending, DeadLetterState::kReplayed}) {
    if (ToString(state) == s) return state;
  }
  return std::nullopt;
}

std::optional<ReservationState> ParseReservationState(std::string_view s) {
  for (auto state : {ReservationState::kActive, ReservationState::kConverted,
                     ReservationState::kReleased, ReservationState::kExpired}) {
    if (ToString(state) == s) return state;
  }
  return std::nullopt;
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  return SqliteStore::Open(options);
}

}  // namespace oc::store
