// Small file-system steps that durability depends on, shared by the modules that create files
// (the keyring, the audit checkpoint, the data directory).
#pragma once

#include <string>

#include "core/status.h"

namespace oc {

// fsyncs the directory holding `path` (`path` itself need not exist). A file's data can be on
// the disk while its name is not: after creating or renaming a file, this is what makes the
// name survive a power cut. An IOError names the directory and the errno.
Status SyncParentDir(const std::string& path);

}  // namespace oc
