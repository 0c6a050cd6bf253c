#include "privacy/masking.h"

#include <gtest/gtest.h>

#include <string>

namespace oc::privacy {
namespace {

// Code points in valid UTF-8 (every masked output must still be valid UTF-8).
size_t CodePointCount(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

bool IsValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

TEST(MaskPhoneTest, ChineseMobile) { EXPECT_EQ(MaskPhone("13812345678"), "138****5678"); }

TEST(MaskPhoneTest, OtherElevenDigitNumbers) {
  EXPECT_EQ(MaskPhone("15900001111"), "159****1111");
  EXPECT_EQ(MaskPhone("18600000000"), "186****0000");
}

TEST(MaskPhoneTest, LongerNumbersKeepHeadAndTailOnly) {
  std::string masked = MaskPhone("+8613812345678");
  EXPECT_EQ(masked.substr(masked.size() - 4), "5678");
  EXPECT_EQ(masked.find("13812345678"), std::string::npos) << masked;
  EXPECT_EQ(masked.find("1234"), std::string::npos) << masked;
}

TEST(MaskPhoneTest, ShortInputsNeverComeBackWhole) {
  for (const char* phone : {"1", "12", "123", "1234", "12345", "1234567", "0571888888"}) {
    std::string masked = MaskPhone(phone);
    EXPECT_NE(masked, phone) << phone;
    EXPECT_EQ(CodePointCount(masked), CodePointCount(phone)) << phone << " -> " << masked;
    EXPECT_NE(masked.find('*'), std::string::npos) << phone << " -> " << masked;
  }
  EXPECT_EQ(MaskPhone(""), "");
}

TEST(MaskNameTest, KeepsFirstCodePointOnly) {
  EXPECT_EQ(MaskName("张三"), "张*");
  EXPECT_EQ(MaskName("John"), "J***");
  EXPECT_EQ(MaskName("李四"), "李*");
  EXPECT_EQ(MaskName("欧阳娜娜"), "欧***");
  EXPECT_EQ(MaskName("Jo"), "J*");
  EXPECT_EQ(MaskName("Émile"), "É****");
}

TEST(MaskNameTest, OneCodePointNameIsHidden) {
  // A single-character name has nothing left to hide behind: it must not come back in plaintext.
  EXPECT_NE(MaskName("张"), "张");
  EXPECT_EQ(MaskName("张").find("张"), std::string::npos);
  EXPECT_NE(MaskName("J"), "J");
  EXPECT_EQ(CodePointCount(MaskName("张")), 1u);
  EXPECT_EQ(MaskName(""), "");
}

TEST(MaskNameTest, OutputIsValidUtf8) {
  for (const char* name : {"张三", "欧阳娜娜", "Émile", "😀x", "a😀😀"}) {
    std::string masked = MaskName(name);
    EXPECT_TRUE(IsValidUtf8(masked)) << name;
    EXPECT_EQ(CodePointCount(masked), CodePointCount(name)) << name;
  }
}

TEST(MaskIdNumberTest, KeepsFirstSixAndLastTwo) {
  EXPECT_EQ(MaskIdNumber("110101199003071234"), "110101**********34");
  EXPECT_EQ(MaskIdNumber("11010119900307123X"), "110101**********3X");
  EXPECT_EQ(MaskIdNumber("123456789"), "123456*89");  // 9 = 6 + 1 hidden + 2
}

TEST(MaskIdNumberTest, ShortInputsHideMoreNotLess) {
  for (const char* id : {"12345678", "1234567", "12", "1"}) {
    std::string masked = MaskIdNumber(id);
    EXPECT_NE(masked, id) << id;
    EXPECT_EQ(masked.size(), std::string(id).size()) << id;
  }
  EXPECT_EQ(MaskIdNumber("12345678"), "1*******");
  EXPECT_EQ(MaskIdNumber(""), "");
}

TEST(MaskAddressDetailTest, KeepsTwoCodePoints) {
  EXPECT_EQ(MaskAddressDetail("文三路 1 号"), "文三****");
  EXPECT_EQ(MaskAddressDetail("1 Infinite Loop"), "1 ****");
  EXPECT_EQ(MaskAddressDetail("路"), "路****");
  EXPECT_EQ(MaskAddressDetail(""), "");  // nothing to hide, nothing to show
  EXPECT_TRUE(IsValidUtf8(MaskAddressDetail("文三路")));
}

}  // namespace
TEST(MaskDigitRunsTest, PhonesAndIdNumbersInFreeTextAreMasked) {
  EXPECT_EQ(MaskDigitRuns("客户13812345678来电"), "客户138******78来电");
  EXPECT_EQ(MaskDigitRuns("id 11010119900307123X, phone 13812345678."),
            "id 110*************3X, phone 138******78.");
  EXPECT_EQ(MaskDigitRuns("1234567"), "123**67");  // the shortest run that is masked
}

TEST(MaskDigitRunsTest, ShortNumbersAndTextStay) {
  EXPECT_EQ(MaskDigitRuns("ticket 4711, 2026-12-02, order ord_01M8TP43W3BW"),
            "ticket 4711, 2026-12-02, order ord_01M8TP43W3BW");
  EXPECT_EQ(MaskDigitRuns("123456"), "123456");
  EXPECT_EQ(MaskDigitRuns(""), "");
  EXPECT_EQ(MaskDigitRuns("张三 asked"), "张三 asked");
  // An X after a short run is a letter, not a check digit.
  EXPECT_EQ(MaskDigitRuns("1234567X"), "123**67X");
}

}  // namespace oc::privacy
