// The order as the center holds it: the one record every channel, warehouse and report agrees on.
//
// Plain data, no behaviour: the status machine lives in order_status.h, the write rules in
// orders/, the per-role views in privacy/. `version` starts at 1 and grows by one with every
// accepted change, so clients can do optimistic concurrency with `expected_version`.
// Customer PII (name, phone, id number, address detail, invoice) is held here in plaintext only in
// memory; store/ decides how it is persisted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/order_status.h"

namespace oc {

// Limits on what one order may carry; a request beyond them is refused, never truncated.
inline constexpr size_t kOrderLinesMax = 500;
inline constexpr int64_t kLineQtyMax = 1'000'000;
inline constexpr size_t kShortTextMax = 128;  // ids, sku, names, phone, currency
inline constexpr size_t kLongTextMax = 1024;  // address detail, reasons

struct OrderLine {
  std::string sku;
  std::string name;
  int64_t qty = 0;
  int64_t unit_price = 0;  // minor units
};

struct Customer {
  std::string nickname;
  std::string name;
  std::string phone;
  std::optional<std::string> id_number;
};

struct Address {
  std::string province;
  std::string city;
  std::string district;
  std::string detail;
};

// Invoice details (for a company, its registered name and tax id): personal data when the buyer
// is a person, so sealed like the rest.
struct Invoice {
  std::string title;
  std::string tax_id;
};

struct Order {
  std::string id;
  std::string channel;
  std::string channel_order_id;
  OrderStatus status = OrderStatus::kPendingPayment;
  std::optional<OrderStatus> refund_origin;  // set while status == kRefunding
  int64_t version = 1;
  Customer customer;
  Address shipping_address;
  std::optional<Invoice> invoice;
  std::vector<OrderLine> lines;
  int64_t total = 0;  // minor units, sum of qty * unit_price
  std::string currency;
  std::string payment_method;
  std::vector<std::string> tags;
  std::optional<int64_t> health_score;
  std::vector<std::string> risk_flags;
  std::string assigned_agent;  // principal id, empty when unassigned
  std::string reservation_id;
  std::optional<int64_t> placed_at_ms;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string created_by;  // principal id that created the order (scoping uses `channel`)
  // The personal data above in its sealed (encrypted) form, when already sealed off the writer
  // thread; the store seals it itself when this is empty.
  std::string sealed_pii;
  // The keyed blind index of the phone (privacy/: HMAC-SHA256 under the keyring's index key), for
  // exact-match search without decrypting; computed off the writer thread like sealed_pii, and by
  // the store itself when empty.
  std::string phone_index;
};

}  // namespace oc
