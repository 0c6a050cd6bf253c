// Field encryption: round trips, and every way a ciphertext must refuse to open.
#include "privacy/field_crypto.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>

#include "privacy/hashing.h"
#include "store/scoped_temp_dir.h"

namespace oc::privacy {
namespace {

constexpr int64_t kRotatedAt = 1'800'000'000'000;  // when the tests' rotations happen

namespace bj = boost::json;
using oc::testing::ScopedTempDir;

Order MakeOrder(const std::string& id) {
  Order o;
  o.id = id;
  o.customer.name = "李四";
  o.customer.phone = "13812345678";
  o.customer.id_number = "110101199003071234";
  o.shipping_address.detail = "文三路 1 号";
  return o;
}

class FieldCryptoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = FileKeyProvider::OpenOrCreate(dir_.File("keyring.json"), Random::Secure());
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    keys_ = std::move(keys).value();
    codec_ = std::make_unique<EnvelopePiiCodec>(*keys_, Random::Secure());
  }

  std::string Seal(const Order& o) {
    auto s = codec_->Seal(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : "";
  }

  ScopedTempDir dir_;
  std::unique_ptr<FileKeyProvider> keys_;
  std::unique_ptr<EnvelopePiiCodec> codec_;
};

TEST_F(FieldCryptoTest, RoundTripsEveryField) {
  Order in = MakeOrder("ord_A");
  std::string sealed = Seal(in);
  Order out;
  out.id = "ord_A";
  ASSERT_TRUE(codec_->Open(sealed, &out).ok());
  EXPECT_EQ(out.customer.name, in.customer.name);
  EXPECT_EQ(out.customer.phone, in.customer.phone);
  EXPECT_EQ(out.customer.id_number, in.customer.id_number);
  EXPECT_EQ(out.shipping_address.detail, in.shipping_address.detail);
}

TEST_F(FieldCryptoTest, SealedFormHoldsNoPlaintextAndDiffersEachTime) {
  Order in = MakeOrder("ord_A");
  std::string a = Seal(in);
  std::string b = Seal(in);
  EXPECT_NE(a, b);  // fresh data key and nonces every time
  for (const std::string& s : {a, b}) {
    EXPECT_EQ(s.find("13812345678"), std::string::npos);
    EXPECT_EQ(s.find("李四"), std::string::npos);
    EXPECT_EQ(s.find("110101199003071234"), std::string::npos);
    EXPECT_EQ(s.find("文三路"), std::string::npos);
  }
}

TEST_F(FieldCryptoTest, CiphertextCopiedToAnotherOrderRefusesToOpen) {
  std::string sealed = Seal(MakeOrder("ord_A"));
  Order other;
  other.id = "ord_B";
  Status s = codec_->Open(sealed, &other);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(other.customer.phone.empty());
}

TEST_F(FieldCryptoTest, FieldMovedIntoAnotherFieldRefusesToOpen) {
  bj::value doc = bj::parse(Seal(MakeOrder("ord_A")));
  auto& f = doc.as_object()["f"].as_object();
  std::swap(f["phone"], f["name"]);
  Order out;
  out.id = "ord_A";
  EXPECT_FALSE(codec_->Open(bj::serialize(doc), &out).ok());
}

TEST_F(FieldCryptoTest, AnyFlippedByteRefusesToOpen) {
  bj::value doc = bj::parse(Seal(MakeOrder("ord_A")));
  std::string phone(doc.as_object()["f"].as_object()["phone"].as_string());
  for (size_t i = 0; i < phone.size(); i += 3) {
    std::string tampered = phone;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    bj::value copy = doc;
    copy.as_object()["f"].as_object()["phone"] = tampered;
    Order out;
    out.id = "ord_A";
    EXPECT_FALSE(codec_->Open(bj::serialize(copy), &out).ok()) << "byte " << i;
  }
}

TEST_F(FieldCryptoTest, AnotherKeyringCannotOpen) {
  ScopedTempDir other_dir;
  auto other_keys = FileKeyProvider::OpenOrCreate(other_dir.File("keyring.json"), Random::Secure());
  ASSERT_TRUE(other_keys.ok());
  EnvelopePiiCodec other(**other_keys, Random::Secure());
  std::string sealed = Seal(MakeOrder("ord_A"));
  Order out;
  out.id = "ord_A";
  EXPECT_FALSE(other.Open(sealed, &out).ok());
}

TEST_F(FieldCryptoTest, KeyringIsCreatedPrivateAndReopens) {
  struct stat st {};
  ASSERT_EQ(::stat(dir_.File("keyring.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string sealed = Seal(MakeOrder("ord_A"));
  auto reopened = FileKeyProvider::OpenOrCreate(dir_.File("keyring.json"), Random::Secure());
  ASSERT_TRUE(reopened.ok());
  EnvelopePiiCodec codec(**reopened, Random::Secure());
  Order out;
  out.id = "ord_A";
  ASSERT_TRUE(codec.Open(sealed, &out).ok());
  EXPECT_EQ(out.customer.phone, "13812345678");
}

TEST_F(FieldCryptoTest, KeyringReadableByOthersIsRefused) {
  ASSERT_EQ(::chmod(dir_.File("keyring.json").c_str(), 0644), 0);
  auto reopened = FileKeyProvider::OpenOrCreate(dir_.File("keyring.json"), Random::Secure());
  EXPECT_FALSE(reopened.ok());
}

TEST_F(FieldCryptoTest, OrderWithoutIdIsNotSealed) {
  Order o = MakeOrder("");
  EXPECT_FALSE(codec_->Seal(o).ok());
}

TEST_F(FieldCryptoTest, InvoiceFieldsAreSealedAndBound) {
  Order in = MakeOrder("ord_I");
  in.invoice = Invoice{"杭州某某科技有限公司", "91330106MA2B0Q7X3K"};
  std::string sealed = Seal(in);
  EXPECT_EQ(sealed.find("91330106MA2B0Q7X3K"), std::string::npos);
  Order out;
  out.id = "ord_I";
  ASSERT_TRUE(codec_->Open(sealed, &out).ok());
  ASSERT_TRUE(out.invoice.has_value());
  EXPECT_EQ(out.invoice->tax_id, "91330106MA2B0Q7X3K");
  WipePii(&out);
  EXPECT_TRUE(out.customer.phone.empty());
  EXPECT_TRUE(out.invoice->title.empty());
}

TEST_F(FieldCryptoTest, RotationRewrapsDataKeysAndOldDataStaysReadable) {
  std::string before = Seal(MakeOrder("ord_R"));
  EXPECT_EQ(keys_->active_id(), "m1");
  auto rotated =
      FileKeyProvider::RotateMaster(dir_.File("keyring.json"), Random::Secure(), kRotatedAt);
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_EQ(*rotated, "m2");
  struct stat st {};
  ASSERT_EQ(::stat(dir_.File("keyring.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto changed = keys_->ReloadIfChanged();
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_FALSE(*keys_->ReloadIfChanged());
  EXPECT_EQ(keys_->active_id(), "m2");

  // New data is wrapped under m2; old data opens as it is and after its re-wrap.
  std::string after = Seal(MakeOrder("ord_S"));
  EXPECT_NE(after.find("\"mk\":\"m2\""), std::string::npos) << after;
  Order out;
  out.id = "ord_R";
  ASSERT_TRUE(codec_->Open(before, &out).ok());
  auto rewrapped = codec_->Rewrap("ord_R", before);
  ASSERT_TRUE(rewrapped.ok()) << rewrapped.status().ToString();
  ASSERT_TRUE(rewrapped->has_value());
  EXPECT_NE((*rewrapped)->find("\"mk\":\"m2\""), std::string::npos);
  Order again;
  again.id = "ord_R";
  ASSERT_TRUE(codec_->Open(**rewrapped, &again).ok());
  EXPECT_EQ(again.customer.phone, "13812345678");
  EXPECT_EQ(again.shipping_address.detail, "文三路 1 号");
  // Already under the active key: nothing to do. Bound to its order: re-wrapping under another
  // order's id fails.
  auto twice = codec_->Rewrap("ord_R", **rewrapped);
  ASSERT_TRUE(twice.ok());
  EXPECT_FALSE(twice->has_value());
  EXPECT_FALSE(codec_->Rewrap("ord_X", before).ok());

  // A fresh process reading the rotated keyring opens both generations.
  auto reopened = FileKeyProvider::OpenOrCreate(dir_.File("keyring.json"), Random::Secure());
  ASSERT_TRUE(reopened.ok());
  EnvelopePiiCodec codec(**reopened, Random::Secure());
  Order old_out;
  old_out.id = "ord_R";
  EXPECT_TRUE(codec.Open(before, &old_out).ok());
}

// Retirement takes an old master key out of the keyring for good, and only when that is safe:
// never the active key, not while the rotation is recent, not while something still names it.
TEST_F(FieldCryptoTest, RetiringAMasterKeyRemovesItOnlyWhenNothingCanStillNeedIt) {
  const std::string path = dir_.File("keyring.json");
  const int64_t t0 = 1'800'000'000'000;
  const int64_t hour = 3'600'000;
  auto unused = [](std::string_view) { return Status::Ok(); };
  Status active = FileKeyProvider::RetireMaster(path, "m1", t0, 0, unused);
  EXPECT_EQ(active.code(), "master_key_active") << active.ToString();
  ASSERT_TRUE(FileKeyProvider::RotateMaster(path, Random::Secure(), t0).ok());
  std::string sealed_under_m1 = Seal(MakeOrder("ord_OLD"));

  Status recent = FileKeyProvider::RetireMaster(path, "m1", t0 + hour - 1, hour, unused);
  EXPECT_EQ(recent.code(), "master_key_recent") << recent.ToString();
  EXPECT_EQ(FileKeyProvider::RetireMaster(path, "m9", t0 + hour, hour, unused).kind(),
            ErrorKind::kNotFound);
  std::string asked;
  Status used =
      FileKeyProvider::RetireMaster(path, "m1", t0 + hour, hour, [&](std::string_view id) {
        asked = std::string(id);
        return Status::Conflict("master_key_in_use", "still used");
      });
  EXPECT_EQ(used.code(), "master_key_in_use");
  EXPECT_EQ(asked, "m1");
  ASSERT_TRUE(keys_->ReloadIfChanged().ok());
  EXPECT_TRUE(keys_->MasterKey("m1").ok());  // every refusal left the keyring as it was

  ASSERT_TRUE(FileKeyProvider::RetireMaster(path, "m1", t0 + hour, hour, unused).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(keys_->ReloadIfChanged().ok());
  EXPECT_EQ(keys_->active_id(), "m2");
  EXPECT_FALSE(keys_->MasterKey("m1").ok());
  EXPECT_TRUE(keys_->MasterKey("m2").ok());
  // What m1 wrapped is now unreadable: that is the point, and why the check above comes first.
  Order out;
  out.id = "ord_OLD";
  EXPECT_FALSE(codec_->Open(sealed_under_m1, &out).ok());
  // A reopened keyring agrees, and the next rotation does not bring the id back.
  auto reopened = FileKeyProvider::OpenOrCreate(path, Random::Secure());
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE((*reopened)->MasterKey("m1").ok());
  auto next = FileKeyProvider::RotateMaster(path, Random::Secure(), t0 + 2 * hour);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, "m3");
}

TEST_F(FieldCryptoTest, SealedTextOpensOnlyInItsContextAndAcrossRotation) {
  auto sealed = codec_->SealText("idempotency:key_a:k1", R"({"detail":"文三路 1 号"})");
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(sealed->starts_with("oc1:m1:"));
  EXPECT_EQ(sealed->find("文三路"), std::string::npos);
  auto opened = codec_->OpenText("idempotency:key_a:k1", *sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, R"({"detail":"文三路 1 号"})");
  EXPECT_FALSE(codec_->OpenText("idempotency:key_b:k1", *sealed).ok());
  EXPECT_EQ(*codec_->OpenText("x", "{\"plain\":1}"), "{\"plain\":1}");  // from before sealing
  ASSERT_TRUE(
      FileKeyProvider::RotateMaster(dir_.File("keyring.json"), Random::Secure(), kRotatedAt).ok());
  ASSERT_TRUE(keys_->ReloadIfChanged().ok());
  EXPECT_TRUE(codec_->OpenText("idempotency:key_a:k1", *sealed).ok());
}

// A stored request fingerprint must not confirm guesses about the body it was taken of.
TEST_F(FieldCryptoTest, KeyedDigestIsKeyedBoundToItsContextAndSurvivesRotation) {
  const std::string body = R"({"customer":{"phone":"13812345678"}})";
  auto digest = codec_->KeyedDigest("request", body);
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_TRUE(digest->starts_with("k1:")) << *digest;
  EXPECT_EQ(digest->size(), 3u + 64u);
  EXPECT_EQ(*codec_->KeyedDigest("request", body), *digest);
  EXPECT_NE(*codec_->KeyedDigest("request", body + " "), *digest);
  EXPECT_NE(*codec_->KeyedDigest("other", body), *digest);
  EXPECT_EQ(digest->find(Sha256Hex(body)), std::string::npos) << "an unkeyed hash confirms guesses";
  ASSERT_TRUE(
      FileKeyProvider::RotateMaster(dir_.File("keyring.json"), Random::Secure(), kRotatedAt).ok());
  ASSERT_TRUE(keys_->ReloadIfChanged().ok());
  EXPECT_EQ(*codec_->KeyedDigest("request", body), *digest) << "rotation must not move it";
  ScopedTempDir other_dir;
  auto other_keys = FileKeyProvider::OpenOrCreate(other_dir.File("k.json"), Random::Secure());
  ASSERT_TRUE(other_keys.ok());
  EnvelopePiiCodec other(**other_keys, Random::Secure());
  EXPECT_NE(*other.KeyedDigest("request", body), *digest);
}

TEST_F(FieldCryptoTest, PhoneIndexIsKeyedNormalizedAndSurvivesRotation) {
  std::string index = codec_->PhoneIndex("13812345678");
  EXPECT_EQ(index.size(), 64u);
  EXPECT_EQ(codec_->PhoneIndex("+86 138-1234-5678"), index);
  EXPECT_EQ(codec_->PhoneIndex("8613812345678"), index);
  EXPECT_NE(codec_->PhoneIndex("13812345679"), index);
  EXPECT_EQ(codec_->PhoneIndex(""), "");
  EXPECT_EQ(codec_->PhoneIndex("no digits"), "");
  EXPECT_NE(index, Sha256Hex("13812345678")) << "an unkeyed hash could be brute-forced";
  ASSERT_TRUE(
      FileKeyProvider::RotateMaster(dir_.File("keyring.json"), Random::Secure(), kRotatedAt).ok());
  ASSERT_TRUE(keys_->ReloadIfChanged().ok());
  EXPECT_EQ(codec_->PhoneIndex("13812345678"), index) << "rotation must not move the index";
  // Another keyring indexes differently.
  ScopedTempDir other_dir;
  auto other_keys = FileKeyProvider::OpenOrCreate(other_dir.File("k.json"), Random::Secure());
  ASSERT_TRUE(other_keys.ok());
  EnvelopePiiCodec other(**other_keys, Random::Secure());
  EXPECT_NE(other.PhoneIndex("13812345678"), index);
}

}  // namespace
}  // namespace oc::privacy
