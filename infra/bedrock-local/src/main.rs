//! The `bedrock-local` binary: parse flags, bind, announce the address, serve.

use std::io::Write;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = bedrock_local::Config::parse();
    let host = config.host.clone();
    let result = bedrock_local::run(config, |addr| {
        // The first stdout line is the contract with whoever spawned us.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{host}:{}", addr.port());
        let _ = out.flush();
    })
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bedrock-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
