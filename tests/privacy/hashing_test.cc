// SHA-256, HMAC, hex, base32 against published test vectors (FIPS 180-2, RFC 4231, RFC 4648),
// and API key / TOTP secret generation.
#include "privacy/hashing.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "core/clock.h"
#include "privacy/api_keys.h"

namespace oc::privacy {
namespace {

const unsigned char* Bytes(const char* s) { return reinterpret_cast<const unsigned char*>(s); }

class ConstantRandom final : public Random {
 public:
  explicit ConstantRandom(unsigned char b) : b_(b) {}
  void Fill(unsigned char* out, size_t len) override { std::memset(out, b_, len); }
  unsigned char b_;
};

bool IsLowerHex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST(HashingTest, Sha256Vectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string_view("a\0b", 3)).size(), 64u);
  EXPECT_NE(Sha256Hex(std::string_view("a\0b", 3)), Sha256Hex("a"));
}

TEST(HashingTest, HmacSha256Rfc4231) {
  // Test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 1: key = 20 x 0x0b, data = "Hi There".
  EXPECT_EQ(HmacSha256Hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HashingTest, HexEncode) {
  const unsigned char data[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  EXPECT_EQ(HexEncode(data, sizeof data), "00017f80abff");
  EXPECT_EQ(HexEncode(data, 0), "");
}

TEST(HashingTest, Base32Rfc4648WithoutPadding) {
  EXPECT_EQ(Base32Encode(Bytes(""), 0), "");
  EXPECT_EQ(Base32Encode(Bytes("f"), 1), "MY");
  EXPECT_EQ(Base32Encode(Bytes("fo"), 2), "MZXQ");
  EXPECT_EQ(Base32Encode(Bytes("foo"), 3), "MZXW6");
  EXPECT_EQ(Base32Encode(Bytes("foob"), 4), "MZXW6YQ");
  EXPECT_EQ(Base32Encode(Bytes("fooba"), 5), "MZXW6YTB");
  EXPECT_EQ(Base32Encode(Bytes("foobar"), 6), "MZXW6YTBOI");
  // The RFC 6238 reference secret "12345678901234567890".
  EXPECT_EQ(Base32Encode(Bytes("12345678901234567890"), 20), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(ApiKeysTest, GeneratedKeyShape) {
  std::string key = GenerateApiKey(Random::Secure());
  ASSERT_EQ(key.size(), kApiKeyPrefix.size() + 64) << key;  // 32 bytes, hex
  EXPECT_EQ(key.substr(0, 3), "oc_");
  EXPECT_TRUE(IsLowerHex(key.substr(3))) << key;
}

TEST(ApiKeysTest, KeysComeFromTheRandomSource) {
  ConstantRandom ab(0xAB);
  std::string expected = "oc_";
  for (int i = 0; i < 32; ++i) expected += "ab";
  EXPECT_EQ(GenerateApiKey(ab), expected);
}

TEST(ApiKeysTest, KeysAreUnique) {
  std::set<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.insert(GenerateApiKey(Random::Secure()));
  EXPECT_EQ(keys.size(), 1000u);
}

TEST(ApiKeysTest, HashIsSha256OfTheWholeKey) {
  std::string key = GenerateApiKey(Random::Secure());
  std::string hash = HashApiKey(key);
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_TRUE(IsLowerHex(hash));
  EXPECT_EQ(hash, Sha256Hex(key));
  EXPECT_EQ(hash, HashApiKey(key));  // deterministic
  EXPECT_EQ(hash.find(key.substr(3, 16)), std::string::npos);
  std::string other = key;
  other.back() = other.back() == '0' ? '1' : '0';
  EXPECT_NE(HashApiKey(other), hash);
  EXPECT_EQ(HashApiKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeysTest, TotpSecretIs160BitsOfBase32) {
  std::string secret = GenerateTotpSecret(Random::Secure());
  ASSERT_EQ(secret.size(), 32u);  // 160 bits / 5
  for (char c : secret) {
    EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')) << secret;
  }
  EXPECT_NE(GenerateTotpSecret(Random::Secure()), secret);
  ConstantRandom zero(0);
  EXPECT_EQ(GenerateTotpSecret(zero), std::string(32, 'A'));
}

}  // namespace
}  // namespace oc::privacy
