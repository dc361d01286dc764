//! `scimctl`: parses the command line, runs one command against the identity
//! service and maps the outcome to an exit code (0 ok, 1 failed, 2 usage error,
//! the last one from clap).

use std::error::Error as _;
use std::io::{ErrorKind, Write as _};
use std::process::ExitCode;

use scimctl::{Cli, CliError, Parser as _};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    let outcome = scimctl::run(cli, &mut stdout).await;
    let outcome = outcome.and_then(|()| stdout.flush().map_err(CliError::from));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        // `scimctl token list t | head -1`: the reader left, nothing to report.
        Err(CliError::Io(e)) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = format!("error: {e}");
            let mut last = String::new();
            let mut source = e.source();
            while let Some(cause) = source {
                // Transport errors repeat themselves down the chain; say each thing once.
                let text = cause.to_string();
                if text != last {
                    message.push_str(": ");
                    message.push_str(&text);
                }
                last = text;
                source = cause.source();
            }
            // Nothing better to do if stderr is gone too.
            let _ = writeln!(std::io::stderr(), "{message}");
            ExitCode::FAILURE
        }
    }
}
