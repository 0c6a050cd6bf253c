#include "privacy/csv_export.h"

#include <boost/json.hpp>
#include <unordered_map>

#include "privacy/order_view.h"

namespace oc::privacy {
namespace {

namespace bj = boost::json;

void Flatten(const bj::object& obj, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>* out) {
  for (const auto& kv : obj) {
    std::string key = prefix + std::string(kv.key());
    const bj::value& v = kv.value();
    if (v.is_object()) {
      Flatten(v.get_object(), key + ".", out);
    } else if (v.is_string()) {
      out->emplace_back(key, std::string(v.get_string()));
    } else if (v.is_null()) {
      out->emplace_back(key, "");
    } else {
      out->emplace_back(key, bj::serialize(v));  // numbers, booleans, arrays (lines, tags)
    }
  }
}

std::vector<std::string> Columns(std::initializer_list<std::vector<std::string>> groups) {
  std::vector<std::string> out;
  for (const auto& g : groups) out.insert(out.end(), g.begin(), g.end());
  out.push_back("watermark");
  return out;
}

const std::vector<std::string> kBookkeeping = {"channel", "channel_order_id", "version",
                                               "created_at", "updated_at"};
const std::vector<std::string> kMaskedCustomer = {"customer.nickname", "customer.name",
                                                  "customer.phone", "customer.id_number"};
const std::vector<std::string> kAddress = {"shipping_address.province", "shipping_address.city",
                                           "shipping_address.district", "shipping_address.detail"};
const std::vector<std::string> kMoney = {"total", "currency", "payment_method"};
const std::vector<std::string> kInvoice = {"invoice.title", "invoice.tax_id"};

}  // namespace

const std::vector<std::string>& ExportColumns(Role role) {
  static const std::vector<std::string> kAdmin = Columns(
      {{"id", "status"},
       kBookkeeping,
       kMaskedCustomer,
       kAddress,
       {"lines"},
       kMoney,
       kInvoice,
       {"tags", "health_score", "risk_flags", "assigned_agent", "refund_origin", "placed_at"}});
  static const std::vector<std::string> kChannel = Columns({{"id", "status"},
                                                            kBookkeeping,
                                                            kMaskedCustomer,
                                                            kAddress,
                                                            {"lines"},
                                                            kMoney,
                                                            kInvoice,
                                                            {"placed_at"}});
  static const std::vector<std::string> kCustomerService = Columns(
      {{"id", "status", "customer.nickname", "customer.phone", "lines", "after_sale_status"}});
  static const std::vector<std::string> kWarehouse =
      Columns({{"id", "status", "customer.name"}, kAddress, {"lines", "packing_status"}});
  static const std::vector<std::string> kFinance =
      Columns({{"id", "status"}, kMoney, {"lines"}, kInvoice, {"settlement_status"}});
  static const std::vector<std::string> kNone;
  switch (role) {
    case Role::kAdmin:
      return kAdmin;
    case Role::kChannel:
      return kChannel;
    case Role::kCustomerService:
      return kCustomerService;
    case Role::kWarehouse:
      return kWarehouse;
    case Role::kFinance:
      return kFinance;
    case Role::kOperations:
      return kNone;
  }
  return kNone;
}

std::vector<std::pair<std::string, std::string>> FlattenOrderView(const Order& order,
                                                                  const Principal& viewer) {
  std::vector<std::pair<std::string, std::string>> out;
  Flatten(RenderOrder(order, viewer), "", &out);
  return out;
}

namespace {
// A plain (possibly negative, possibly decimal) number: the only text starting with '-' a
// spreadsheet will not run as a formula ("-2+3+cmd|..." starts with a digit too).
bool IsPlainNumber(std::string_view v) {
  size_t i = v.starts_with('-') ? 1 : 0;
  bool digits = false, dot = false;
  for (; i < v.size(); ++i) {
    if (v[i] >= '0' && v[i] <= '9') {
      digits = true;
    } else if (v[i] == '.' && !dot && digits) {
      dot = true;
    } else {
      return false;
    }
  }
  return digits && !v.ends_with('.');
}
}  // namespace

void AppendCsvCell(std::string* out, std::string_view value) {
  // Leading blanks do not stop a spreadsheet from reading what follows as a formula.
  size_t first = value.find_first_not_of(" \t\r\n");
  std::string_view head = first == std::string_view::npos ? "" : value.substr(first);
  bool formula = (!value.empty() && (value[0] == '\t' || value[0] == '\r')) ||
                 (!head.empty() && (head[0] == '=' || head[0] == '+' || head[0] == '@' ||
                                    head[0] == '|' || (head[0] == '-' && !IsPlainNumber(value))));
  bool quote = formula || value.find_first_of(",\"\r\n") != std::string_view::npos;
  if (quote) out->push_back('"');
  if (formula) out->push_back('\'');
  for (char c : value) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  if (quote) out->push_back('"');
}

CsvExportWriter::CsvExportWriter(const Principal& viewer, std::string watermark, std::string* out)
    : viewer_(viewer), watermark_(std::move(watermark)), out_(out) {
  out_->append(kUtf8Bom);
  const auto& columns = ExportColumns(viewer_.role);
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out_->push_back(',');
    AppendCsvCell(out_, columns[i]);
  }
  out_->append("\r\n");
}

void CsvExportWriter::Row(const Order& order) {
  auto cells = FlattenOrderView(order, viewer_);
  std::unordered_map<std::string_view, std::string_view> by_column;
  for (const auto& [k, v] : cells) by_column.emplace(k, v);
  const auto& columns = ExportColumns(viewer_.role);
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out_->push_back(',');
    if (columns[i] == "watermark") {
      AppendCsvCell(out_, watermark_);
      continue;
    }
    auto it = by_column.find(columns[i]);
    if (it != by_column.end()) AppendCsvCell(out_, it->second);
  }
  out_->append("\r\n");
  ++rows_;
}

void CsvExportWriter::Footer() {
  AppendCsvCell(out_, "# " + watermark_ + "; rows: " + std::to_string(rows_) +
                          "; confidential, for internal use only");
  out_->append("\r\n");
}

}  // namespace oc::privacy
