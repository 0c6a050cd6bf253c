#include "store/sqlite_db.h"

namespace oc::store {
namespace {

// SQLite's memory statistics take a process-wide mutex on every allocation and free it makes
// (about a hundred per created order) and nothing here reads them. The setting only takes
// before SQLite initialises, so it is made once, before the first connection opens.
void DisableMemoryStatistics() {
  static const int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)rc;  // SQLITE_MISUSE if something initialised SQLite first: statistics then stay on
}

}  // namespace

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  if (rc == SQLITE_CONSTRAINT) {
    return Status::Conflict("constraint", sqlite3_errmsg(db));
  }
  return Status::IOError(std::string("sqlite step: ") + sqlite3_errmsg(db));
}

Status Statement::Run() {
  OC_ASSIGN_OR_RETURN(bool row, Step());
  if (row) return Status::Internal("statement returned a row where none was expected");
  return Status::Ok();
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool read_only,
                                                     int busy_timeout_ms) {
  DisableMemoryStatistics();
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;  // each connection is used by one thread at a time
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IOError("open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, busy_timeout_ms);
  sqlite3_extended_result_codes(db, 0);
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status Connection::Exec(std::string_view sql) {
  std::string owned(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, owned.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    if (rc == SQLITE_BUSY) return Status::Unavailable("database is busy: " + msg);
    return Status::IOError("sqlite: " + msg);
  }
  return Status::Ok();
}

Result<Statement> Connection::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Statement(it->second);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    return Error("prepare");
  }
  cache_.emplace(sql, stmt);
  return Statement(stmt);
}

Status Connection::Error(std::string_view what) const {
  return Status::IOError(std::string(what) + ": " + sqlite3_errmsg(db_));
}

}  // namespace oc::store
