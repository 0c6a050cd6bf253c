#include "cli/orderctl.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/data_dir.h"
#include "cli/demo.h"
#include "core/clock.h"
#include "core/ids.h"
#include "privacy/audit.h"
#include "privacy/key_issuer.h"
#include "store/store.h"

namespace oc::cli {
namespace {

constexpr int64_t kDemoOrdersDefault = 300;

int Fail(const Status& s) {
  std::cerr << "orderctl: " << s.ToString() << "\n";
  return 1;
}

Result<OpenedStore> OpenStore(const DataDir& dir) {
  return OpenDataDirStore(dir, /*read_connections=*/1);
}

// Records what an operator did from the command line (actor "orderctl", as the local admin).
Status AuditLocal(const DataDir& dir, store::Store& store, std::string action, std::string detail) {
  IdGenerator ids(Clock::System(), Random::Secure());
  privacy::AuditCheckpoint checkpoint(dir.AuditCheckpointPath());
  privacy::AuditLog log(store, ids, Clock::System(), checkpoint);
  store::AuditRecord e;
  e.actor = "orderctl";
  e.role = "admin";
  e.ip = "local";
  e.action = std::move(action);
  e.detail = std::move(detail);
  e.outcome = "ok";
  return log.AppendAndWait(std::move(e));
}

int KeysCreate(const DataDir& dir, const privacy::KeyRequest& request) {
  auto store = OpenStore(dir);
  if (!store.ok()) return Fail(store.status());
  IdGenerator ids(Clock::System(), Random::Secure());
  auto issued =
      privacy::IssueApiKey(*store->store, ids, Random::Secure(), Clock::System(), request);
  if (!issued.ok()) return Fail(issued.status());
  Status audited =
      AuditLocal(dir, *store->store, "keys.create",
                 "key " + std::string(issued->at("id").as_string()) + " role " + request.role);
  if (!audited.ok()) return Fail(audited);
  std::cout << boost::json::serialize(*issued) << std::endl;
  return 0;
}

// Adds a master key and makes it active. New data keys are wrapped under it at once (a running
// orderd reloads the keyring within a second) and orderd re-wraps the existing ones in the
// background; the old master keys stay, so nothing becomes unreadable.
int KeysRotateMaster(const DataDir& dir) {
  auto store = OpenStore(dir);  // creates the keyring on a fresh data dir
  if (!store.ok()) return Fail(store.status());
  std::string previous = store->keys->active_id();
  auto active = privacy::FileKeyProvider::RotateMaster(dir.KeyringPath(), Random::Secure(),
                                                       Clock::System().NowUnixMs());
  if (!active.ok()) return Fail(active.status());
  Status audited = AuditLocal(dir, *store->store, "keys.rotate_master",
                              "active master key " + previous + " -> " + *active);
  if (!audited.ok()) return Fail(audited);
  boost::json::object out{{"active", *active}, {"previous", previous}};
  std::cout << boost::json::serialize(out) << std::endl;
  std::cerr << "orderd re-wraps existing data keys in the background; its log reports progress\n";
  return 0;
}

// Removes an old master key from the keyring for good, once nothing names it: after a rotation
// orderd re-wraps every order's data key and reseals every other sealed value under the active
// key (its log reports the passes). Until then the key stays, and this says what still uses it.
int KeysRetireMaster(const DataDir& dir, const std::string& id, int64_t min_active_minutes) {
  auto store = OpenStore(dir);
  if (!store.ok()) return Fail(store.status());
  Status retired = privacy::FileKeyProvider::RetireMaster(
      dir.KeyringPath(), id, Clock::System().NowUnixMs(), min_active_minutes * 60'000,
      [&](std::string_view key) -> Status {
        OC_ASSIGN_OR_RETURN(auto counts, store->store->CountSealedUnder(key));
        std::string uses;
        for (const auto& [place, n] : counts) {
          if (n > 0) uses += (uses.empty() ? "" : ", ") + std::to_string(n) + " " + place;
        }
        if (uses.empty()) return Status::Ok();
        return Status::Conflict("master_key_in_use",
                                "master key " + std::string(key) + " still seals " + uses +
                                    "; orderd moves them to the active key in the background "
                                    "(see its log), try again after");
      });
  if (!retired.ok()) return Fail(retired);
  Status audited =
      AuditLocal(dir, *store->store, "keys.retire_master", "master key " + id + " retired");
  if (!audited.ok()) return Fail(audited);
  boost::json::object out{{"retired", id}, {"active", store->keys->active_id()}};
  std::cout << boost::json::serialize(out) << std::endl;
  std::cerr << "backups of the database taken before the rotation still name " << id
            << " and can no longer be opened; restore them only with a keyring copy from that "
               "time\n";
  return 0;
}

int AuditVerify(const DataDir& dir) {
  auto store = OpenStore(dir);
  if (!store.ok()) return Fail(store.status());
  privacy::AuditCheckpoint checkpoint(dir.AuditCheckpointPath());
  auto verdict = privacy::VerifyAuditChain(*store->store, checkpoint);
  if (!verdict.ok()) return Fail(verdict.status());
  if (verdict->ok) {
    std::cout << "ok" << std::endl;
    std::cerr << verdict->entries << " entries verified; checkpointed head at entry "
              << verdict->checkpoint_seq << "\n";
    return 0;
  }
  std::cout << "FAILED at entry " << verdict->first_bad_seq
            << (verdict->first_bad_id.empty() ? "" : " (" + verdict->first_bad_id + ")") << ": "
            << verdict->problem << std::endl;
  std::cerr << verdict->entries << " entries verified before it\n";
  return 1;
}

int Demo(const DataDir& dir, int64_t orders) {
  // The demo goes through an in-process writer; a running orderd owns the writer role.
  auto lock = DataDirLock::Acquire(dir);
  if (!lock.ok()) {
    return Fail(Status::Conflict(
        "data_dir_locked", "orderd is running on " + dir.root +
                               "; stop it, load the demo, then start it again (scripts/run.sh "
                               "does this for you)"));
  }
  auto store = OpenStore(dir);
  if (!store.ok()) return Fail(store.status());
  IdGenerator ids(Clock::System(), Random::Secure());
  auto writer = orders::OrderWriter::Start(*store->store, Clock::System(), ids);
  if (!writer.ok()) return Fail(writer.status());
  std::cerr << "loading " << orders << " demo orders into " << dir.DatabasePath() << "\n";
  auto report = LoadDemo(**writer, orders, [](int64_t done, int64_t total) {
    std::cerr << "  " << done << "/" << total << " orders\n";
  });
  (*writer)->Stop();
  if (!report.ok()) return Fail(report.status());
  boost::json::object out{{"orders_created", report->orders_created},
                          {"orders_existing", report->orders_existing},
                          {"transitions", report->transitions}};
  std::cout << boost::json::serialize(out) << std::endl;
  return 0;
}

}  // namespace

int RunOrderctl(int argc, char** argv) {
  CLI::App app{"orderctl: the OrderCenter command line"};
  app.require_subcommand(1);
  std::string data_dir;
  app.add_option("--data-dir", data_dir, "the directory orderd serves")->required();
  std::string keyring;
  app.add_option("--keyring", keyring,
                 "the keyring file, if not DATA_DIR/keyring.json (the same one orderd uses)")
      ->envname("ORDERCENTER_KEYRING");

  auto* keys = app.add_subcommand("keys", "manage API keys");
  keys->require_subcommand(1);
  auto* create = keys->add_subcommand("create", "create an API key and print it once");
  privacy::KeyRequest request;
  create
      ->add_option("--role", request.role,
                   "admin | channel | customer_service | warehouse | finance | operations")
      ->required();
  create->add_option("--name", request.name, "a label for the key's holder");
  create->add_option("--channel", request.channel, "the channel a channel key acts for");

  auto* rotate = keys->add_subcommand(
      "rotate-master",
      "add a master key, make it active; orderd re-wraps data keys in the background");

  auto* retire = keys->add_subcommand(
      "retire-master", "remove an old master key for good, once no stored value names it");
  std::string retire_id;
  retire->add_option("--id", retire_id, "the master key to retire (m1, m2, ...)")->required();
  int64_t min_active_minutes = 60;
  retire
      ->add_option("--min-active-minutes", min_active_minutes,
                   "how long the active key must have been active (processes that read the "
                   "keyring before may still seal under the old one)")
      ->check(CLI::Range(privacy::kRetireActiveMinMs / 60'000, int64_t{525'600}));

  auto* demo = app.add_subcommand("demo", "load the demo data set");
  int64_t demo_orders = kDemoOrdersDefault;
  demo->add_option("--orders", demo_orders, "how many demo orders")->check(CLI::Range(1, 100000));

  auto* audit = app.add_subcommand("audit", "the tamper-evident audit log");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand("verify", "check the hash chain; prints ok, exits 0");

  CLI11_PARSE(app, argc, argv);
  auto dir = PrepareDataDir(data_dir, keyring);
  if (!dir.ok()) return Fail(dir.status());
  if (verify->parsed()) return AuditVerify(*dir);
  if (rotate->parsed()) return KeysRotateMaster(*dir);
  if (retire->parsed()) return KeysRetireMaster(*dir, retire_id, min_active_minutes);
  if (create->parsed()) return KeysCreate(*dir, request);
  if (demo->parsed()) return Demo(*dir, demo_orders);
  return Fail(Status::InvalidArgument("no command given"));
}

}  // namespace oc::cli
