//! The `grantlog` command line: parse arguments, run, map to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    grantlog::cli::main()
}
