// orderctl: the OrderCenter command line. Wiring only; the commands live in src/cli.
#include "cli/orderctl.h"

int main(int argc, char** argv) { return oc::cli::RunOrderctl(argc, argv); }
