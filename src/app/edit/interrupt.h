// Ctrl-C / SIGTERM for batch runs: the first signal sets a flag the loop
// checks (stop submitting, cancel the rows in flight, write nothing partial,
// exit 130); a second one exits at once with 130.
#pragma once

namespace emu35::app::edit {

void install_interrupt_handlers();
bool interrupted();
int interrupt_signal();  // the signal that arrived first (0 if none)

}  // namespace emu35::app::edit
