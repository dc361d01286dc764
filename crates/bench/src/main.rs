//! `bench run [--quick]` (what `make bench` runs) and `bench stub-identity`
//! (the stub behind the bare-hop measurement, started by `bench run`).

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "SCIM provisioning load benchmark (loopback only)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the systems, run the workloads and write the report.
    Run(bench::run::RunArgs),
    /// Draw the charts of a results.json again.
    Render {
        #[arg(default_value = "bench/results.json")]
        results: std::path::PathBuf,
        #[arg(long, default_value = "bench")]
        out: std::path::PathBuf,
    },
    /// Serve the do-nothing identity stub (for the bare gateway hop).
    StubIdentity {
        #[arg(long)]
        listen: SocketAddr,
    },
}

#[tokio::main]
async fn main() -> Result<(), bench::Error> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            if !args.bins.join("gateway").exists() {
                eprintln!(
                    "bench: {} has no gateway binary (`make bench` builds it); our systems will fail",
                    args.bins.display()
                );
            }
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let out = args.out.clone();
            let report = bench::run::run(args, command).await?;
            println!("{}", report.markdown());
            eprintln!(
                "bench: done in {:.0} s; results in {}/results.md",
                report.seconds,
                out.display()
            );
        }
        Command::Render { results, out } => {
            let n = bench::report::Report::render(&results, &out)?;
            eprintln!("bench: {n} charts written to {}", out.display());
        }
        Command::StubIdentity { listen } => {
            if !listen.ip().is_loopback() {
                return Err("the stub listens on loopback only".into());
            }
            bench::stub::serve(listen).await?;
        }
    }
    Ok(())
}
