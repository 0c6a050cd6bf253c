// orderctl's commands, as a library so tests can drive them without a shell.
//   orderctl --data-dir DIR keys create --role ROLE [--name NAME] [--channel CH]
//   orderctl --data-dir DIR demo [--orders N]
// Output is machine-readable JSON on stdout; progress and errors go to stderr.
#pragma once

namespace oc::cli {

int RunOrderctl(int argc, char** argv);

}  // namespace oc::cli
