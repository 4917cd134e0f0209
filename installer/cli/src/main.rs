use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tappaas_installer::Cli::parse();
    match tappaas_installer::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
