#include "privacy/field_crypto.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "core/files.h"
#include "core/json.h"
#include "privacy/hashing.h"

namespace oc::privacy {
namespace {

namespace bj = boost::json;

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr int kSealedVersion = 1;

void AppendBase64(std::string* out, const unsigned char* data, size_t len) {
  size_t start = out->size();
  out->resize(start + 4 * ((len + 2) / 3));
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out->data()) + start, data,
                          static_cast<int>(len));
  out->resize(start + static_cast<size_t>(n));
}

std::string Base64(const unsigned char* data, size_t len) {
  std::string out;
  AppendBase64(&out, data, len);
  return out;
}

Result<std::string> Unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return Status::IOError("bad base64 length");
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return Status::IOError("bad base64");
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// OpenSSL 3 looks an algorithm up in its provider registry (locks included) every time a
// context is initialised with EVP_aes_256_gcm(); fetching once avoids that on every field.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

// One reusable context per thread: contexts are not thread-safe, and allocating one per
// operation showed in profiles.
struct CipherCtx {
  EVP_CIPHER_CTX* ctx;
  CipherCtx() {
    static thread_local struct Owned {
      EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
      ~Owned() { EVP_CIPHER_CTX_free(ctx); }
    } owned;
    ctx = owned.ctx;
    if (ctx != nullptr) EVP_CIPHER_CTX_reset(ctx);
  }
};

// Seals values under one key with this thread's cipher context: the first value sets up the key
// (and its AES key schedule), every later one only sets its nonce, which OpenSSL allows with a
// NULL cipher and key. One sealer at a time per thread (they share the context).
class GcmSealer {
 public:
  explicit GcmSealer(const unsigned char* key) : key_(key) {}

  // Appends nonce || ciphertext || tag to `out`, with the caller's nonce. Nonces must never
  // repeat under one key.
  Status Seal(const unsigned char* nonce, std::string_view plaintext, std::string_view aad,
              std::string* out) {
    size_t start = out->size();
    out->resize(start + kNonceBytes + plaintext.size() + kTagBytes);
    auto* dst = reinterpret_cast<unsigned char*>(out->data()) + start;
    std::memcpy(dst, nonce, kNonceBytes);
    int len = 0;
    auto* ct = dst + kNonceBytes;
    bool ok =
        c_.ctx != nullptr &&
        (keyed_ ? EVP_EncryptInit_ex(c_.ctx, nullptr, nullptr, nullptr, dst)
                : EVP_EncryptInit_ex(c_.ctx, Aes256Gcm(), nullptr, key_, dst)) == 1 &&
        EVP_EncryptUpdate(c_.ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) == 1 &&
        EVP_EncryptUpdate(c_.ctx, ct, &len,
                          reinterpret_cast<const unsigned char*>(plaintext.data()),
                          static_cast<int>(plaintext.size())) == 1 &&
        EVP_EncryptFinal_ex(c_.ctx, ct + len, &len) == 1 &&
        EVP_CIPHER_CTX_ctrl(c_.ctx, EVP_CTRL_GCM_GET_TAG, kTagBytes, ct + plaintext.size()) == 1;
    if (!ok) {
      keyed_ = false;
      return Status::Internal("AES-256-GCM encryption failed");
    }
    keyed_ = true;
    return Status::Ok();
  }

 private:
  CipherCtx c_;
  const unsigned char* key_;
  bool keyed_ = false;
};

// Fails (IOError) when the tag does not verify: wrong key, wrong row/field, or tampering.
Result<std::string> GcmOpen(const unsigned char* key, std::string_view sealed,
                            std::string_view aad) {
  if (sealed.size() < kNonceBytes + kTagBytes) return Status::IOError("sealed value too short");
  auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  size_t ct_len = sealed.size() - kNonceBytes - kTagBytes;
  std::string out(ct_len, '\0');
  CipherCtx c;
  int len = 0;
  bool ok =
      c.ctx != nullptr && EVP_DecryptInit_ex(c.ctx, Aes256Gcm(), nullptr, key, in) == 1 &&
      EVP_DecryptUpdate(c.ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(c.ctx, reinterpret_cast<unsigned char*>(out.data()), &len, in + kNonceBytes,
                        static_cast<int>(ct_len)) == 1 &&
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, kTagBytes,
                          const_cast<unsigned char*>(in + kNonceBytes + ct_len)) == 1 &&
      EVP_DecryptFinal_ex(c.ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status::IOError("personal data failed authentication (wrong key, row or field)");
  }
  return out;
}

void Wipe(std::string& s) { OPENSSL_cleanse(s.data(), s.size()); }

std::string DekAad(std::string_view order_id, std::string_view master_id) {
  return "oc:dek:v1:" + std::string(order_id) + ":" + std::string(master_id);
}

std::string FieldAad(std::string_view order_id, std::string_view field) {
  return "oc:pii:v1:" + std::string(order_id) + ":" + std::string(field);
}

Status WriteNewKeyring(const std::string& path, Random& random) {
  SecretKey master;
  master.id = "m1";
  random.Fill(master.bytes, kKeyBytes);
  unsigned char index_key[kKeyBytes];
  random.Fill(index_key, kKeyBytes);
  bj::object doc;
  doc["version"] = 1;
  doc["active"] = master.id;
  doc["masters"] = bj::object{{master.id, Base64(master.bytes, kKeyBytes)}};
  doc["index_key"] = Base64(index_key, kKeyBytes);
  OPENSSL_cleanse(index_key, sizeof index_key);
  std::string text = bj::serialize(doc);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    Wipe(text);
    return Status::IOError("create keyring " + path + ": " + std::strerror(errno));
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  Wipe(text);
  if (!ok) return Status::IOError("write keyring " + path + ": " + std::strerror(errno));
  // The file's data is on the disk; its name must be too, before anything is sealed under it.
  return SyncParentDir(path);
}

}  // namespace

SecretKey::SecretKey(const SecretKey& other) : id(other.id) {
  std::memcpy(bytes, other.bytes, kKeyBytes);
}
SecretKey& SecretKey::operator=(const SecretKey& other) {
  id = other.id;
  std::memcpy(bytes, other.bytes, kKeyBytes);
  return *this;
}
SecretKey::~SecretKey() { OPENSSL_cleanse(bytes, kKeyBytes); }

namespace {

Result<SecretKey> KeyFromBase64(std::string_view id, std::string_view b64) {
  OC_ASSIGN_OR_RETURN(std::string raw, Unbase64(b64));
  if (raw.size() != kKeyBytes) {
    Wipe(raw);
    return Status::IOError("keyring: key " + std::string(id) + " is not 256 bits");
  }
  SecretKey k;
  k.id = std::string(id);
  std::memcpy(k.bytes, raw.data(), kKeyBytes);
  Wipe(raw);
  return k;
}

// Replaces the keyring atomically: a complete new file (0600, fsync'd) renamed over the old one,
// then the directory fsync'd, so a crash leaves either the old keyring or the new one.
Status ReplaceKeyringFile(const std::string& path, std::string text) {
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a stale one may have looser permissions; O_EXCL gets 0600 for sure
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    Wipe(text);
    return Status::IOError("create " + tmp + ": " + std::strerror(errno));
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  Wipe(text);
  if (!ok) return Status::IOError("write " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IOError("rename " + tmp + ": " + std::strerror(errno));
  }
  return SyncParentDir(path);
}

}  // namespace

Result<FileKeyProvider::Contents> FileKeyProvider::Read(const std::string& path, struct stat* st) {
  if (::stat(path.c_str(), st) != 0) {
    return Status::IOError("stat " + path + ": " + std::strerror(errno));
  }
  if ((st->st_mode & 077) != 0) {
    return Status::IOError("keyring " + path + " is readable by others; chmod 600 it");
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  bj::error_code ec;
  bj::value doc = bj::parse(text, ec);
  Wipe(text);
  if (ec || !doc.is_object()) return Status::IOError("keyring " + path + " is not valid JSON");
  const auto& obj = doc.get_object();
  auto active = obj.find("active");
  auto masters = obj.find("masters");
  auto index = obj.find("index_key");
  if (active == obj.end() || !active->value().is_string() || masters == obj.end() ||
      !masters->value().is_object() || index == obj.end() || !index->value().is_string()) {
    return Status::IOError("keyring " + path + " lacks 'active', 'masters' or 'index_key'");
  }
  Contents c;
  c.active = std::string(active->value().get_string());
  bool has_active = false;
  for (const auto& kv : masters->value().get_object()) {
    if (!kv.value().is_string()) return Status::IOError("keyring: bad master key entry");
    OC_ASSIGN_OR_RETURN(SecretKey k, KeyFromBase64(kv.key(), kv.value().get_string()));
    has_active = has_active || k.id == c.active;
    c.masters.push_back(k);
  }
  if (!has_active) return Status::IOError("keyring: the active master key is missing");
  if (auto at = obj.find("activated_at_ms"); at != obj.end() && at->value().is_int64()) {
    c.activated_at_ms = at->value().get_int64();
  }
  if (auto r = obj.find("retired"); r != obj.end() && r->value().is_array()) {
    for (const auto& id : r->value().get_array()) {
      if (!id.is_string()) return Status::IOError("keyring: bad retired key entry");
      c.retired.emplace_back(id.get_string());
    }
  }
  OC_ASSIGN_OR_RETURN(c.index_key, KeyFromBase64("index_key", index->value().get_string()));
  return c;
}

Result<std::unique_ptr<FileKeyProvider>> FileKeyProvider::OpenOrCreate(const std::string& path,
                                                                       Random& random) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::IOError("stat " + path + ": " + std::strerror(errno));
    OC_RETURN_IF_ERROR(WriteNewKeyring(path, random));
  }
  auto provider = std::unique_ptr<FileKeyProvider>(new FileKeyProvider());
  provider->path_ = path;
  OC_ASSIGN_OR_RETURN(provider->keys_, Read(path, &st));
  provider->mtime_ = st.st_mtim;
  provider->inode_ = st.st_ino;
  return provider;
}

namespace {

// Holds an flock on the lock file beside the keyring: one change at a time, even from two shells.
class KeyringLock {
 public:
  static Result<KeyringLock> Take(const std::string& keyring_path) {
    std::string lock_path = keyring_path + ".lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IOError("open " + lock_path + ": " + std::strerror(errno));
    KeyringLock lock(fd);
    if (::flock(fd, LOCK_EX) != 0) {
      return Status::IOError("lock " + lock_path + ": " + std::strerror(errno));
    }
    return lock;
  }
  KeyringLock(KeyringLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  KeyringLock& operator=(KeyringLock&&) = delete;
  ~KeyringLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
  }

 private:
  explicit KeyringLock(int fd) : fd_(fd) {}
  int fd_;
};

int KeyNumber(std::string_view id) {
  return id.size() > 1 && id[0] == 'm' ? std::atoi(std::string(id.substr(1)).c_str()) : 0;
}

}  // namespace

Status FileKeyProvider::Write(const std::string& path, const Contents& c) {
  bj::object masters;
  for (const auto& k : c.masters) masters[k.id] = Base64(k.bytes, kKeyBytes);
  bj::object doc{{"version", 1},
                 {"active", c.active},
                 {"masters", std::move(masters)},
                 {"index_key", Base64(c.index_key.bytes, kKeyBytes)}};
  if (c.activated_at_ms) doc["activated_at_ms"] = *c.activated_at_ms;
  if (!c.retired.empty()) {
    bj::array retired;
    for (const auto& id : c.retired) retired.emplace_back(id);
    doc["retired"] = std::move(retired);
  }
  std::string text = bj::serialize(doc);
  // The serialized document held every key in base64: wipe the DOM's copies too.
  for (auto& kv : doc.at("masters").as_object()) {
    bj::string& v = kv.value().as_string();
    OPENSSL_cleanse(v.data(), v.size());
  }
  bj::string& idx = doc.at("index_key").as_string();
  OPENSSL_cleanse(idx.data(), idx.size());
  return ReplaceKeyringFile(path, std::move(text));
}

Result<std::string> FileKeyProvider::RotateMaster(const std::string& path, Random& random,
                                                  int64_t now_ms) {
  OC_ASSIGN_OR_RETURN(KeyringLock lock, KeyringLock::Take(path));
  struct stat st {};
  OC_ASSIGN_OR_RETURN(Contents c, Read(path, &st));
  int next = 0;
  for (const auto& k : c.masters) next = std::max(next, KeyNumber(k.id));
  for (const auto& id : c.retired) next = std::max(next, KeyNumber(id));
  SecretKey fresh;
  fresh.id = "m" + std::to_string(next + 1);
  random.Fill(fresh.bytes, kKeyBytes);
  c.masters.push_back(fresh);
  c.active = fresh.id;
  c.activated_at_ms = now_ms;
  OC_RETURN_IF_ERROR(Write(path, c));
  return fresh.id;
}

Status FileKeyProvider::RetireMaster(const std::string& path, std::string_view id, int64_t now_ms,
                                     int64_t min_active_ms,
                                     const std::function<Status(std::string_view id)>& still_used) {
  OC_ASSIGN_OR_RETURN(KeyringLock lock, KeyringLock::Take(path));
  struct stat st {};
  OC_ASSIGN_OR_RETURN(Contents c, Read(path, &st));
  auto it = std::find_if(c.masters.begin(), c.masters.end(),
                         [&](const SecretKey& k) { return k.id == id; });
  if (it == c.masters.end()) {
    return Status::NotFound("no master key '" + std::string(id) + "' in the keyring");
  }
  if (c.active == id) {
    return Status::Conflict("master_key_active",
                            "master key " + std::string(id) + " is the active one; rotate first");
  }
  // Keyrings rotated before the activation time was kept: the file's own time stands for it.
  int64_t activated = c.activated_at_ms.value_or(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000);
  min_active_ms = std::max(min_active_ms, kRetireActiveMinMs);
  if (now_ms - activated < min_active_ms) {
    return Status::Conflict("master_key_recent",
                            "master key " + c.active + " became active " +
                                std::to_string((now_ms - activated) / 1000) + " s ago; wait " +
                                std::to_string(min_active_ms / 60000) +
                                " min so that nothing still seals under " + std::string(id));
  }
  OC_RETURN_IF_ERROR(still_used(id));
  c.masters.erase(it);
  c.retired.emplace_back(id);
  c.activated_at_ms = activated;  // the rewrite below must not look like a fresh rotation
  return Write(path, c);
}

Result<bool> FileKeyProvider::ReloadIfChanged() {
  // One reload at a time, so a slower reader can never install older contents over newer.
  std::lock_guard reloading(reload_mu_);
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    return Status::IOError("stat " + path_ + ": " + std::strerror(errno));
  }
  {
    std::shared_lock lock(mu_);
    if (st.st_ino == inode_ && st.st_mtim.tv_sec == mtime_.tv_sec &&
        st.st_mtim.tv_nsec == mtime_.tv_nsec) {
      return false;
    }
  }
  OC_ASSIGN_OR_RETURN(Contents fresh, Read(path_, &st));
  std::unique_lock lock(mu_);
  // Never forget a master key this process has used unless it was retired: data wrapped under
  // it must stay readable even if someone edits a key out of the file.
  for (const auto& old : keys_.masters) {
    bool kept =
        std::find(fresh.retired.begin(), fresh.retired.end(), old.id) != fresh.retired.end();
    for (const auto& k : fresh.masters) kept = kept || k.id == old.id;
    if (!kept) fresh.masters.push_back(old);
  }
  keys_ = std::move(fresh);
  mtime_ = st.st_mtim;
  inode_ = st.st_ino;
  return true;
}

std::string FileKeyProvider::active_id() const {
  std::shared_lock lock(mu_);
  return keys_.active;
}

Result<SecretKey> FileKeyProvider::ActiveMasterKey() {
  std::shared_lock lock(mu_);
  for (const auto& k : keys_.masters) {
    if (k.id == keys_.active) return k;
  }
  return Status::IOError("the active master key is not in the keyring");
}

Result<SecretKey> FileKeyProvider::MasterKey(std::string_view id) {
  {
    std::shared_lock lock(mu_);
    for (const auto& k : keys_.masters) {
      if (k.id == id) return k;
    }
  }
  // Data sealed by another process after a rotation this one has not seen yet.
  OC_ASSIGN_OR_RETURN(bool reloaded, ReloadIfChanged());
  if (reloaded) {
    std::shared_lock lock(mu_);
    for (const auto& k : keys_.masters) {
      if (k.id == id) return k;
    }
  }
  return Status::IOError("master key '" + std::string(id) + "' is not in the keyring");
}

Result<SecretKey> FileKeyProvider::IndexKey() {
  std::shared_lock lock(mu_);
  return keys_.index_key;
}

std::string NormalizePhone(std::string_view phone) {
  std::string digits;
  for (char c : phone) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  if (digits.size() == 13 && digits.starts_with("86")) digits.erase(0, 2);
  return digits;
}

Result<std::string> EnvelopePiiCodec::Seal(const Order& order) {
  if (order.id.empty()) return Status::Internal("sealing personal data of an order without id");
  OC_ASSIGN_OR_RETURN(SecretKey master, keys_.ActiveMasterKey());
  // One draw of randomness per order: the data key and the nonce that wraps it.
  unsigned char fresh[kKeyBytes + kNonceBytes];
  random_.Fill(fresh, sizeof fresh);
  SecretKey dek;
  std::memcpy(dek.bytes, fresh, kKeyBytes);
  std::string_view dek_view(reinterpret_cast<const char*>(dek.bytes), kKeyBytes);
  std::string wrapped;
  Status wrap = GcmSealer(master.bytes)
                    .Seal(fresh + kKeyBytes, dek_view, DekAad(order.id, master.id), &wrapped);
  OPENSSL_cleanse(fresh, sizeof fresh);
  OC_RETURN_IF_ERROR(wrap);
  // The document bj::serialize made of {"v","mk","dek","f":{field: base64}}, written directly:
  // this runs for every created order. Base64 needs no escaping; the master key id is quoted.
  std::string doc;
  doc.reserve(256 + 2 * (order.customer.name.size() + order.customer.phone.size() +
                         order.shipping_address.detail.size()));
  doc += "{\"v\":";
  doc += std::to_string(kSealedVersion);
  doc += ",\"mk\":";
  json::AppendQuoted(&doc, master.id);
  doc += ",\"dek\":\"";
  AppendBase64(&doc, reinterpret_cast<const unsigned char*>(wrapped.data()), wrapped.size());
  doc += "\",\"f\":{";
  // The data key is fresh and used for this order's fields only, so counting nonces never
  // repeat a (key, nonce) pair.
  unsigned char field_nonce[kNonceBytes] = {};
  GcmSealer sealer(dek.bytes);
  std::string ct;
  bool first = true;
  auto seal_field = [&](const char* name, std::string_view value) -> Status {
    ++field_nonce[kNonceBytes - 1];
    ct.clear();
    OC_RETURN_IF_ERROR(sealer.Seal(field_nonce, value, FieldAad(order.id, name), &ct));
    if (!first) doc += ',';
    first = false;
    doc += '"';
    doc += name;
    doc += "\":\"";
    AppendBase64(&doc, reinterpret_cast<const unsigned char*>(ct.data()), ct.size());
    doc += '"';
    return Status::Ok();
  };
  OC_RETURN_IF_ERROR(seal_field("name", order.customer.name));
  OC_RETURN_IF_ERROR(seal_field("phone", order.customer.phone));
  if (order.customer.id_number)
    OC_RETURN_IF_ERROR(seal_field("id_number", *order.customer.id_number));
  OC_RETURN_IF_ERROR(seal_field("detail", order.shipping_address.detail));
  if (order.invoice) {
    OC_RETURN_IF_ERROR(seal_field("invoice_title", order.invoice->title));
    OC_RETURN_IF_ERROR(seal_field("invoice_tax_id", order.invoice->tax_id));
  }
  doc += "}}";
  return doc;
}

Status EnvelopePiiCodec::Open(std::string_view sealed, Order* order) {
  bj::error_code ec;
  bj::value v = bj::parse(sealed, ec);
  if (ec || !v.is_object())
    return Status::IOError("order " + order->id + ": unreadable sealed data");
  const auto& doc = v.get_object();
  auto get = [&](const bj::object& o, const char* k) -> const bj::string* {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? &it->value().get_string() : nullptr;
  };
  const bj::string* mk = get(doc, "mk");
  const bj::string* dek_b64 = get(doc, "dek");
  auto f = doc.find("f");
  if (mk == nullptr || dek_b64 == nullptr || f == doc.end() || !f->value().is_object()) {
    return Status::IOError("order " + order->id + ": malformed sealed data");
  }
  OC_ASSIGN_OR_RETURN(SecretKey master, keys_.MasterKey(*mk));
  OC_ASSIGN_OR_RETURN(std::string wrapped, Unbase64(*dek_b64));
  OC_ASSIGN_OR_RETURN(std::string dek_raw, GcmOpen(master.bytes, wrapped, DekAad(order->id, *mk)));
  if (dek_raw.size() != kKeyBytes) return Status::IOError("bad data key size");
  SecretKey dek;
  std::memcpy(dek.bytes, dek_raw.data(), kKeyBytes);
  Wipe(dek_raw);
  const auto& fields = f->value().get_object();
  auto open_field = [&](const char* name) -> Result<std::optional<std::string>> {
    const bj::string* b64 = get(fields, name);
    if (b64 == nullptr) return std::optional<std::string>();
    OC_ASSIGN_OR_RETURN(std::string ct, Unbase64(*b64));
    OC_ASSIGN_OR_RETURN(std::string pt, GcmOpen(dek.bytes, ct, FieldAad(order->id, name)));
    return std::optional<std::string>(std::move(pt));
  };
  OC_ASSIGN_OR_RETURN(auto name, open_field("name"));
  OC_ASSIGN_OR_RETURN(auto phone, open_field("phone"));
  OC_ASSIGN_OR_RETURN(auto id_number, open_field("id_number"));
  OC_ASSIGN_OR_RETURN(auto detail, open_field("detail"));
  OC_ASSIGN_OR_RETURN(auto invoice_title, open_field("invoice_title"));
  OC_ASSIGN_OR_RETURN(auto invoice_tax_id, open_field("invoice_tax_id"));
  order->customer.name = name.value_or("");
  order->customer.phone = phone.value_or("");
  order->customer.id_number = std::move(id_number);
  order->shipping_address.detail = detail.value_or("");
  if (invoice_title) {
    order->invoice = Invoice{std::move(*invoice_title), invoice_tax_id.value_or("")};
  }
  return Status::Ok();
}

std::string EnvelopePiiCodec::PhoneIndex(std::string_view phone) {
  std::string digits = NormalizePhone(phone);
  if (digits.empty()) return "";
  auto key = keys_.IndexKey();
  if (!key.ok()) return "";
  std::string_view key_view(reinterpret_cast<const char*>(key->bytes), kKeyBytes);
  std::string index = HmacSha256Hex(key_view, "oc:phone:v1:" + digits);
  Wipe(digits);
  return index;
}

Result<std::string> EnvelopePiiCodec::KeyedDigest(std::string_view context, std::string_view text) {
  OC_ASSIGN_OR_RETURN(SecretKey key, keys_.IndexKey());
  std::string_view key_view(reinterpret_cast<const char*>(key.bytes), kKeyBytes);
  std::string message = "oc:digest:v1:" + std::string(context) + ":";
  message.append(text);
  std::string digest = "k1:" + HmacSha256Hex(key_view, message);
  Wipe(message);
  return digest;
}

Result<std::string> EnvelopePiiCodec::SealText(std::string_view context, std::string_view text) {
  OC_ASSIGN_OR_RETURN(SecretKey master, keys_.ActiveMasterKey());
  unsigned char nonce[kNonceBytes];
  random_.Fill(nonce, kNonceBytes);
  std::string ct;
  OC_RETURN_IF_ERROR(
      GcmSealer(master.bytes)
          .Seal(nonce, text, "oc:text:v1:" + std::string(context) + ":" + master.id, &ct));
  std::string out = "oc1:" + master.id + ":";
  AppendBase64(&out, reinterpret_cast<const unsigned char*>(ct.data()), ct.size());
  return out;
}

Result<std::string> EnvelopePiiCodec::OpenText(std::string_view context, std::string_view stored) {
  if (!stored.starts_with("oc1:")) return std::string(stored);  // stored before sealing existed
  std::string_view rest = stored.substr(4);
  auto colon = rest.find(':');
  if (colon == std::string_view::npos) return Status::IOError("malformed sealed text");
  std::string_view mk = rest.substr(0, colon);
  OC_ASSIGN_OR_RETURN(SecretKey master, keys_.MasterKey(mk));
  OC_ASSIGN_OR_RETURN(std::string ct, Unbase64(rest.substr(colon + 1)));
  return GcmOpen(master.bytes, ct, "oc:text:v1:" + std::string(context) + ":" + std::string(mk));
}

Result<std::string> EnvelopePiiCodec::ActiveMasterId() {
  OC_ASSIGN_OR_RETURN(SecretKey active, keys_.ActiveMasterKey());
  return active.id;
}

Result<std::optional<std::string>> EnvelopePiiCodec::ResealText(std::string_view context,
                                                                std::string_view stored) {
  OC_ASSIGN_OR_RETURN(SecretKey active, keys_.ActiveMasterKey());
  if (stored.starts_with("oc1:" + active.id + ":")) return std::optional<std::string>();
  OC_ASSIGN_OR_RETURN(std::string text, OpenText(context, stored));
  Result<std::string> sealed = SealText(context, text);
  Wipe(text);
  OC_RETURN_IF_ERROR(sealed.status());
  return std::optional<std::string>(std::move(sealed).value());
}

Result<std::optional<std::string>> EnvelopePiiCodec::Rewrap(std::string_view order_id,
                                                            std::string_view sealed) {
  bj::error_code ec;
  bj::value v = bj::parse(sealed, ec);
  if (ec || !v.is_object())
    return Status::IOError("order " + std::string(order_id) + ": unreadable sealed data");
  bj::object& doc = v.get_object();
  const bj::value* mk = doc.if_contains("mk");
  const bj::value* dek_b64 = doc.if_contains("dek");
  if (mk == nullptr || !mk->is_string() || dek_b64 == nullptr || !dek_b64->is_string()) {
    return Status::IOError("order " + std::string(order_id) + ": malformed sealed data");
  }
  OC_ASSIGN_OR_RETURN(SecretKey active, keys_.ActiveMasterKey());
  if (mk->get_string() == active.id) return std::optional<std::string>();
  OC_ASSIGN_OR_RETURN(SecretKey old_master, keys_.MasterKey(mk->get_string()));
  OC_ASSIGN_OR_RETURN(std::string wrapped, Unbase64(dek_b64->get_string()));
  OC_ASSIGN_OR_RETURN(std::string dek_raw,
                      GcmOpen(old_master.bytes, wrapped, DekAad(order_id, old_master.id)));
  unsigned char nonce[kNonceBytes];
  random_.Fill(nonce, kNonceBytes);
  std::string rewrapped;
  Status s = GcmSealer(active.bytes).Seal(nonce, dek_raw, DekAad(order_id, active.id), &rewrapped);
  Wipe(dek_raw);
  OC_RETURN_IF_ERROR(s);
  doc["mk"] = active.id;
  doc["dek"] = Base64(reinterpret_cast<const unsigned char*>(rewrapped.data()), rewrapped.size());
  return std::optional<std::string>(bj::serialize(doc));
}

void WipePii(Order* order) {
  auto wipe = [](std::string& s) {
    Wipe(s);
    s.clear();
  };
  wipe(order->customer.name);
  wipe(order->customer.phone);
  if (order->customer.id_number) wipe(*order->customer.id_number);
  wipe(order->shipping_address.detail);
  if (order->invoice) {
    wipe(order->invoice->title);
    wipe(order->invoice->tax_id);
  }
}

}  // namespace oc::privacy
