// CSV export: the columns cover every field of every role's view, cells are escaped, and
// formula-looking text is defused.
#include "privacy/csv_export.h"

#include <gtest/gtest.h>

#include <set>

namespace oc::privacy {
namespace {

Order EveryFieldSet() {
  Order o;
  o.id = "ord_1";
  o.channel = "douyin";
  o.channel_order_id = "DY1";
  o.status = OrderStatus::kRefunding;
  o.refund_origin = OrderStatus::kPaid;
  o.customer = {"小李", "李四", "13812345678", "110101199003071234"};
  o.shipping_address = {"浙江省", "杭州市", "西湖区", "文三路 1 号"};
  o.invoice = Invoice{"某某公司", "91330106MA2B0Q7X3K"};
  o.lines = {{"SKU", "净化器", 1, 100}};
  o.total = 100;
  o.currency = "CNY";
  o.payment_method = "wechat_pay";
  o.tags = {"vip"};
  o.health_score = 80;
  o.risk_flags = {"oversold"};
  o.assigned_agent = "key_cs";
  o.placed_at_ms = 1;
  return o;
}

TEST(CsvExportTest, ColumnsCoverEveryFieldOfEveryRolesView) {
  Order o = EveryFieldSet();
  for (Role role :
       {Role::kAdmin, Role::kChannel, Role::kCustomerService, Role::kWarehouse, Role::kFinance}) {
    Principal viewer{"key_cs", "", role, "douyin"};
    const auto& columns = ExportColumns(role);
    std::set<std::string> known(columns.begin(), columns.end());
    for (const auto& [field, value] : FlattenOrderView(o, viewer)) {
      EXPECT_TRUE(known.contains(field))
          << ToString(role) << " view has " << field << " but its export has no such column";
    }
    EXPECT_EQ(columns.back(), "watermark");
  }
  EXPECT_TRUE(ExportColumns(Role::kOperations).empty());
}

TEST(CsvExportTest, CellsAreQuotedAndFormulasDefused) {
  auto cell = [](std::string_view v) {
    std::string out;
    AppendCsvCell(&out, v);
    return out;
  };
  EXPECT_EQ(cell("plain"), "plain");
  EXPECT_EQ(cell("a,b"), "\"a,b\"");
  EXPECT_EQ(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(cell("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
  EXPECT_EQ(cell("+1"), "\"'+1\"");
  EXPECT_EQ(cell("@SUM(A1)"), "\"'@SUM(A1)\"");
  EXPECT_EQ(cell("-5"), "-5");  // a negative number stays a number
  EXPECT_EQ(cell("-cmd"), "\"'-cmd\"");
  EXPECT_EQ(cell("-12.5"), "-12.5");
  EXPECT_EQ(cell("-2+3+cmd|' /C calc'!A0"), "\"'-2+3+cmd|' /C calc'!A0\"");
  EXPECT_EQ(cell("-0+HYPERLINK(1)"), "\"'-0+HYPERLINK(1)\"");
  EXPECT_EQ(cell("  =1+1"), "\"'  =1+1\"");
  EXPECT_EQ(cell("\t1"), "\"'\t1\"");
}

TEST(CsvExportTest, WriterEmitsBomHeaderRowsAndFooter) {
  std::string out;
  Principal fin{"key_fin", "", Role::kFinance, ""};
  CsvExportWriter w(fin, "exported by key_fin at T", &out);
  w.Row(EveryFieldSet());
  w.Footer();
  ASSERT_TRUE(out.starts_with(kUtf8Bom));
  EXPECT_NE(out.find("id,status,total,currency,payment_method,lines,invoice.title,invoice.tax_id,"
                     "settlement_status,watermark\r\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("91330106MA2B0Q7X3K"), std::string::npos);  // finance sees invoices
  EXPECT_EQ(out.find("13812345678"), std::string::npos);
  EXPECT_NE(out.find("# exported by key_fin at T; rows: 1"), std::string::npos) << out;
  EXPECT_EQ(w.rows(), 1);
}

}  // namespace
}  // namespace oc::privacy
