// CSV export of orders in the caller's role view (GET /v1/orders/export.csv).
//
// Each row is the same view the JSON API gives that role (order_view.h renders it; this file only
// flattens it: nested objects become dotted columns, arrays stay JSON text), so an export can
// never show more than the API does. The file is UTF-8 with a byte-order mark (so spreadsheet
// tools read Chinese text correctly), every row carries a watermark naming the exporter and the
// time, and a footer line repeats it. Cells that a spreadsheet would run as a formula are
// defused with a leading quote (CSV injection). Pure functions: thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/order.h"
#include "core/principal.h"

namespace oc::privacy {

inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// The columns of `role`'s export, in order, "watermark" last. Empty for roles with no order
// access.
const std::vector<std::string>& ExportColumns(Role role);

// `order` as `viewer` sees it, flattened to (column, text) pairs in view order.
std::vector<std::pair<std::string, std::string>> FlattenOrderView(const Order& order,
                                                                  const Principal& viewer);

class CsvExportWriter {
 public:
  // `watermark` names the exporter and time, e.g. "exported by key_… (admin) at 2026-…Z".
  CsvExportWriter(const Principal& viewer, std::string watermark, std::string* out);
  void Row(const Order& order);
  void Footer();
  int64_t rows() const { return rows_; }

 private:
  const Principal& viewer_;
  std::string watermark_;
  std::string* out_;
  int64_t rows_ = 0;
};

// One CSV cell: quoted when it holds a comma, quote or line break; formula-looking text is
// prefixed with "'".
void AppendCsvCell(std::string* out, std::string_view value);

}  // namespace oc::privacy
