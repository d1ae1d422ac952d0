//! keyport: a self-hosted credential vault for AI agents. `main` only parses the command
//! line and dispatches; see `cli/`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    keyport::cli::run(keyport::cli::Cli::parse())
}
