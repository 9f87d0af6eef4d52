// `emu35 serve`: the HTTP side. Listens first, loads the model in the
// background, serves until SIGINT / SIGTERM. Returns the process exit code.
#pragma once
#include "app/serve/serve_options.h"

namespace emu35::app::serve {

// False when this binary was built without cpp-httplib.
bool http_server_available();
int run_server(const ServeOptions& opt);

}  // namespace emu35::app::serve
