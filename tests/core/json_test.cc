// The strict JSON parser every request body goes through, and its typed field readers.
#include "core/json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace oc::json {
namespace {

namespace bj = boost::json;

std::string Nested(size_t depth, char open, char close, const std::string& inner = "1") {
  return std::string(depth, open) + inner + std::string(depth, close);
}

void ExpectRefused(std::string_view body, const std::string& why) {
  auto r = ParseStrict(body);
  ASSERT_FALSE(r.ok()) << why << ": '" << body << "' was accepted";
  EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidArgument) << why;
  EXPECT_EQ(r.status().code(), "invalid_request") << why;
  EXPECT_FALSE(r.status().detail().empty()) << why;
}

bj::object ParseObject(std::string_view body) {
  auto r = ParseStrict(body);
  EXPECT_TRUE(r.ok()) << body << ": " << r.status().ToString();
  if (!r.ok() || !r->is_object()) return {};
  return r->get_object();
}

// ---- ParseStrict ----------------------------------------------------------------------------

TEST(ParseStrictTest, AcceptsOrdinaryDocuments) {
  auto r = ParseStrict(R"({"a": 1, "b": [true, null, "x", {"c": -2}], "d": {"e": {}}, "f": []})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& o = r->get_object();
  EXPECT_EQ(o.size(), 4u);
  EXPECT_EQ(o.at("a").as_int64(), 1);
  EXPECT_EQ(o.at("b").as_array().size(), 4u);
  EXPECT_EQ(o.at("b").as_array()[3].as_object().at("c").as_int64(), -2);
  EXPECT_TRUE(ParseStrict("[]").ok());
  EXPECT_TRUE(ParseStrict("{}").ok());
  EXPECT_TRUE(ParseStrict("\"x\"").ok());
  EXPECT_TRUE(ParseStrict("0").ok());
}

TEST(ParseStrictTest, SurroundingWhitespaceIsFine) {
  EXPECT_TRUE(ParseStrict(" \t\r\n{\"a\": 1}\n").ok());
}

TEST(ParseStrictTest, SimilarButDistinctKeysAreFine) {
  auto o = ParseObject(R"({"a": 1, "A": 2, "a ": 3, "aa": 4})");
  EXPECT_EQ(o.size(), 4u);
  // Same key names in different objects are not duplicates.
  EXPECT_TRUE(ParseStrict(R"({"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]})").ok());
  EXPECT_TRUE(ParseStrict(R"([{"k": 1}, {"k": 2}, {"k": {"k": 3}}])").ok());
}

TEST(ParseStrictTest, ManyObjectsWithoutDuplicatesAreFine) {
  std::string body = "[";
  for (int i = 0; i < 200; ++i) {
    if (i > 0) body += ",";
    body += R"({"x": {"y": [{}, {"z": 1}]}, "w": {}})";
  }
  body += "]";
  EXPECT_TRUE(ParseStrict(body).ok());
}

TEST(ParseStrictTest, DuplicateKeyAtTopLevel) {
  ExpectRefused(R"({"a": 1, "a": 2})", "top-level duplicate");
  ExpectRefused(R"({"a": 1, "b": 2, "a": 1})", "top-level duplicate, same value");
  ExpectRefused(R"({"status": "paid", "channel": "x", "status": "cancelled"})", "dup status");
  ExpectRefused(R"({"a": {"x": 1}, "a": {"y": 2}})", "duplicate whose values are objects");
  ExpectRefused(R"({"a": [1], "a": [{"b": 1}]})", "duplicate whose values are arrays");
}

TEST(ParseStrictTest, DuplicateKeyAfterUnescaping) {
  ExpectRefused(R"({"a": 1, "\u0061": 2})", "escaped duplicate");
  ExpectRefused(R"({"qty": 1, "q\u0074y": 2})", "escaped duplicate in the middle");
}

TEST(ParseStrictTest, DuplicateKeyNestedInObjects) {
  ExpectRefused(R"({"customer": {"phone": "1", "phone": "2"}})", "nested one level");
  ExpectRefused(R"({"a": {"b": {"c": {"d": 1, "d": 2}}}})", "nested deep");
  ExpectRefused(R"({"a": {"b": 1, "b": 1}, "c": 3})", "nested then more keys");
  ExpectRefused(R"({"x": {}, "y": {"z": {"q": 1, "q": 2}}, "w": {}})", "between siblings");
}

TEST(ParseStrictTest, DuplicateKeyNestedInArrays) {
  ExpectRefused(R"([{"a": 1, "a": 2}])", "object in top-level array");
  ExpectRefused(R"([{"a": 1}, {"b": 1, "b": 2}, {"c": 1}])", "second of three objects");
  ExpectRefused(R"({"lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1, "qty": 9}]})",
                "line item");
  ExpectRefused(R"([[[{"k": 1, "k": 2}]]])", "arrays of arrays");
  ExpectRefused(R"([{"k": {"x": 1}, "k": {"y": 2}}])", "duplicate object values in an array");
  ExpectRefused(R"({"o": [{"k": {"x": {}}, "k": {"y": {}}}]})", "equal-shaped duplicate values");
  ExpectRefused(R"({"a": [[], [{}], [{"x": [{"y": 1, "y": 2}]}]]})", "mixed nesting");
}

TEST(ParseStrictTest, DepthUpTo16IsAccepted) {
  EXPECT_TRUE(ParseStrict(Nested(kNestingDepthMax, '[', ']')).ok());
  std::string obj = "1";
  for (size_t i = 0; i < kNestingDepthMax; ++i) obj = "{\"k\": " + obj + "}";
  EXPECT_TRUE(ParseStrict(obj).ok());
}

TEST(ParseStrictTest, DepthBeyond16IsRefused) {
  EXPECT_EQ(kNestingDepthMax, 16u);
  ExpectRefused(Nested(kNestingDepthMax + 1, '[', ']'), "17 arrays");
  ExpectRefused(Nested(1000, '[', ']'), "1000 arrays");
  std::string obj = "1";
  for (size_t i = 0; i < kNestingDepthMax + 1; ++i) obj = "{\"k\": " + obj + "}";
  ExpectRefused(obj, "17 objects");
  auto r = ParseStrict(Nested(kNestingDepthMax + 1, '[', ']'));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().detail().find("16"), std::string::npos) << r.status().detail();
}

TEST(ParseStrictTest, ValidUtf8IsAccepted) {
  auto o = ParseObject("{\"name\": \"张三\", \"emoji\": \"\xF0\x9F\x98\x80\", \"张\": 1}");
  ASSERT_EQ(o.size(), 3u);
  EXPECT_EQ(std::string(o.at("name").as_string()), "张三");
}

TEST(ParseStrictTest, InvalidUtf8IsRefused) {
  ExpectRefused("{\"a\": \"\xFF\"}", "0xFF byte");
  ExpectRefused("{\"a\": \"\xC0\xAF\"}", "overlong encoding");
  ExpectRefused("{\"a\": \"\xED\xA0\x80\"}", "encoded surrogate");
  ExpectRefused("{\"a\": \"\xE4\xB8\"}", "truncated sequence");
  ExpectRefused("{\"a\": \"\x80\"}", "lone continuation byte");
  ExpectRefused("{\"a\": \"\xF4\x90\x80\x80\"}", "beyond U+10FFFF");
  ExpectRefused("{\"\xFF\": 1}", "invalid UTF-8 in a key");
  ExpectRefused("[\"ok\", \"\xC3\"]", "truncated at the end of an array element");
}

TEST(ParseStrictTest, TrailingGarbageIsRefused) {
  ExpectRefused(R"({"a": 1} x)", "a letter");
  ExpectRefused(R"({"a": 1}{"b": 2})", "a second document");
  ExpectRefused(R"({"a": 1},)", "a comma");
  ExpectRefused(R"({"a": 1}])", "a bracket");
  ExpectRefused(std::string_view("{\"a\": 1}\0", 9), "a NUL byte (explicit length)");
  ExpectRefused("1 2", "two numbers");
}

TEST(ParseStrictTest, NonJsonIsRefused) {
  for (const char* bad : {"", " ", "{", "}", "[", "{\"a\": }", "{\"a\" 1}", "{a: 1}", "{'a': 1}",
                          "{\"a\": 1,}", "[1, 2,]", "{\"a\": 1 /* c */}", "{\"a\": 1} // c",
                          "{\"a\": NaN}", "{\"a\": Infinity}", "{\"a\": 01}", "{\"a\": +1}",
                          "{\"a\": .5}", "{\"a\": \"\t\"}", "{\"a\": True}", "nul"}) {
    ExpectRefused(bad, "malformed");
  }
}

// ---- ObjectReader -----------------------------------------------------------------------

TEST(ObjectReaderTest, RequiredIntAcceptsIntegersWithinTheSafeRange) {
  auto o = ParseObject(
      R"({"zero": 0, "neg": -17, "max": 9007199254740992, "min": -9007199254740992})");
  ObjectReader r(o, "");
  EXPECT_EQ(r.RequiredInt("zero").value(), 0);
  EXPECT_EQ(r.RequiredInt("neg").value(), -17);
  EXPECT_EQ(r.RequiredInt("max").value(), int64_t{1} << 53);
  EXPECT_EQ(r.RequiredInt("min").value(), -(int64_t{1} << 53));
}

TEST(ObjectReaderTest, RequiredIntRefusesFloats) {
  for (const char* number : {"1.0", "1.5", "-0.0", "1e3", "1E3", "12990.00", "0.1", "1e-7"}) {
    auto o = ParseObject(std::string("{\"qty\": ") + number + "}");
    auto r = ObjectReader(o, "").RequiredInt("qty");
    ASSERT_FALSE(r.ok()) << number;
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidArgument) << number;
    EXPECT_EQ(r.status().code(), "invalid_request");
    EXPECT_NE(r.status().detail().find("qty"), std::string::npos) << r.status().detail();
  }
}

TEST(ObjectReaderTest, IntegersBeyondTwoToThe53AreRefused) {
  for (const char* number : {"9007199254740993", "-9007199254740993", "9223372036854775807",
                             "-9223372036854775808"}) {
    auto o = ParseObject(std::string("{\"total\": ") + number + "}");
    auto r = ObjectReader(o, "").RequiredInt("total");
    ASSERT_FALSE(r.ok()) << number;
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidArgument) << number;
    EXPECT_NE(r.status().detail().find("total"), std::string::npos) << r.status().detail();
  }
}

TEST(ObjectReaderTest, Uint64AndHugeNumbersAreRefused) {
  for (const char* number : {"9223372036854775808", "18446744073709551615",
                             "18446744073709551616", "100000000000000000000000000"}) {
    auto parsed = ParseStrict(std::string("{\"unit_price\": ") + number + "}");
    if (!parsed.ok()) continue;  // refusing at parse time is fine too
    auto r = ObjectReader(parsed->get_object(), "lines[0]").OptionalInt("unit_price");
    ASSERT_FALSE(r.ok()) << number;
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidArgument) << number;
    EXPECT_NE(r.status().detail().find("lines[0].unit_price"), std::string::npos)
        << r.status().detail();
  }
}

TEST(ObjectReaderTest, RequiredIntRefusesOtherTypesAndNamesTheField) {
  auto o = ParseObject(R"({"s": "1", "b": true, "a": [1], "o": {"v": 1}})");
  ObjectReader r(o, "lines[2]");
  for (const char* key : {"s", "b", "a", "o"}) {
    auto got = r.RequiredInt(key);
    ASSERT_FALSE(got.ok()) << key;
    EXPECT_EQ(got.status().kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(got.status().detail().find("lines[2]." + std::string(key)), std::string::npos)
        << got.status().detail();
  }
}

TEST(ObjectReaderTest, MissingAndNullRequiredFields) {
  auto o = ParseObject(R"({"n": null})");
  ObjectReader r(o, "lines[1]");
  for (const char* key : {"n", "absent"}) {
    auto i = r.RequiredInt(key);
    ASSERT_FALSE(i.ok());
    EXPECT_EQ(i.status().kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(i.status().detail().find("lines[1]." + std::string(key)), std::string::npos);
    EXPECT_FALSE(r.RequiredString(key, 10).ok());
    EXPECT_FALSE(r.RequiredObject(key).ok());
    EXPECT_FALSE(r.RequiredArray(key).ok());
  }
}

TEST(ObjectReaderTest, OptionalReadersTreatNullAndAbsenceAlike) {
  auto o = ParseObject(R"({"n": null})");
  ObjectReader r(o, "");
  for (const char* key : {"n", "absent"}) {
    auto i = r.OptionalInt(key);
    ASSERT_TRUE(i.ok());
    EXPECT_FALSE(i->has_value());
    auto s = r.OptionalString(key, 10);
    ASSERT_TRUE(s.ok());
    EXPECT_FALSE(s->has_value());
    auto b = r.OptionalBool(key);
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(b->has_value());
    auto obj = r.OptionalObject(key);
    ASSERT_TRUE(obj.ok());
    EXPECT_EQ(*obj, nullptr);
  }
}

TEST(ObjectReaderTest, Strings) {
  auto o = ParseObject(R"({"s": "abcde", "u": "张三", "n": 5})");
  ObjectReader r(o, "customer");
  EXPECT_EQ(r.RequiredString("s", 5).value(), "abcde");
  auto too_long = r.RequiredString("s", 4);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(too_long.status().detail().find("customer.s"), std::string::npos);
  EXPECT_EQ(r.RequiredString("u", 6).value(), "张三");  // limit counts bytes: 2 x 3
  EXPECT_FALSE(r.RequiredString("u", 5).ok());
  auto wrong = r.OptionalString("n", 10);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().detail().find("customer.n"), std::string::npos);
}

TEST(ObjectReaderTest, BoolsObjectsArrays) {
  auto o = ParseObject(R"({"t": true, "f": false, "o": {}, "a": [], "s": "x"})");
  ObjectReader r(o, "");
  EXPECT_EQ(r.OptionalBool("t").value(), true);
  EXPECT_EQ(r.OptionalBool("f").value(), false);
  EXPECT_FALSE(r.OptionalBool("s").ok());
  EXPECT_NE(r.RequiredObject("o").value(), nullptr);
  EXPECT_FALSE(r.RequiredObject("a").ok());
  EXPECT_FALSE(r.OptionalObject("s").ok());
  EXPECT_NE(r.RequiredArray("a").value(), nullptr);
  EXPECT_FALSE(r.RequiredArray("o").ok());
  auto wrong = r.RequiredArray("s");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(wrong.status().detail().find("'s'"), std::string::npos) << wrong.status().detail();
}

TEST(ObjectReaderTest, PathJoinsPrefixAndKey) {
  bj::object o;
  EXPECT_EQ(ObjectReader(o, "").Path("qty"), "qty");
  EXPECT_EQ(ObjectReader(o, "lines[3]").Path("qty"), "lines[3].qty");
}

TEST(ObjectReaderTest, OnlyKeysAcceptsKnownKeys) {
  auto o = ParseObject(R"({"to": "paid", "expected_version": 3})");
  ObjectReader r(o, "");
  EXPECT_TRUE(r.OnlyKeys({"to", "expected_version", "reason"}).ok());
  bj::object empty;
  EXPECT_TRUE(ObjectReader(empty, "").OnlyKeys({}).ok());
}

TEST(ObjectReaderTest, OnlyKeysRefusesUnknownKeysNamingThem) {
  for (const char* extra : {"status", "version", "total", "Status", "to "}) {
    auto o = ParseObject(std::string(R"({"to": "paid", ")") + extra + R"(": 1})");
    auto s = ObjectReader(o, "").OnlyKeys({"to", "expected_version", "reason"});
    ASSERT_FALSE(s.ok()) << extra;
    EXPECT_EQ(s.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(s.code(), "invalid_request");
    EXPECT_NE(s.detail().find("'" + std::string(extra) + "'"), std::string::npos) << s.detail();
  }
  auto o = ParseObject(R"({"phone": "1", "email": "x@y"})");
  auto s = ObjectReader(o, "customer").OnlyKeys({"phone"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.detail().find("customer.email"), std::string::npos) << s.detail();
}

TEST(AppendQuotedTest, EveryStringRoundTripsThroughAJsonParser) {
  std::vector<std::string> samples = {"", "plain", "李四 文三路 1 号", "quote\"back\\slash",
                                      "tab\tnew\nline\rret", "\x7f del kept"};
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls.push_back(static_cast<char>(c));
  samples.push_back(controls);
  samples.push_back("mixed" + controls + "tail\"");
  for (const std::string& s : samples) {
    std::string out = "x";
    AppendQuoted(&out, s);
    ASSERT_EQ(out[0], 'x');
    bj::error_code ec;
    bj::value v = bj::parse(std::string_view(out).substr(1), ec);
    ASSERT_FALSE(ec) << out;
    ASSERT_TRUE(v.is_string()) << out;
    EXPECT_EQ(std::string(v.get_string()), s);
    EXPECT_TRUE(ParseStrict(std::string_view(out).substr(1)).ok()) << out;
  }
}

}  // namespace
}  // namespace oc::json
