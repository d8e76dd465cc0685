//! `ferrocast-loadtest`: publishers and viewers at scale against any RTMP/HLS/HTTP-FLV server.
//!
//! Flags are checked into a [`plan::Plan`] before any traffic (loopback targets only), the
//! run happens on a small tokio runtime, and the summary goes to stderr as text and to
//! `--json` as JSON.

mod cli;
mod clip;
mod errors;
mod flv;
mod gate;
mod hls_viewer;
mod http;
mod ll_playlist;
mod ll_viewer;
mod plan;
mod player;
mod playlist;
mod progress;
mod publisher;
mod report;
mod rtmp;
mod run;
mod sei;
mod stats;
mod summary;
mod target;
mod video;
mod watch;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run_cli(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ferrocast-loadtest: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run_cli(cli: &cli::Cli) -> anyhow::Result<()> {
    let plan = plan::build(cli)?;
    let runtime = if plan.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(plan.threads)
            .enable_all()
            .build()
    }
    .context("starting the runtime")?;
    let roles = progress::Roles {
        publishers: plan.publishers.len(),
        flv: plan.flv.len(),
        hls: plan.hls.len(),
        rtmp: plan.rtmp.len(),
        ll: plan.ll.len(),
    };
    let visible = !cli.quiet && std::io::stderr().is_terminal();
    let progress = progress::Progress::new(visible, plan.duration, roles);
    let summary = runtime.block_on(run::run(plan, progress));
    // Tasks still blocked in a write are not waited for.
    runtime.shutdown_background();

    if !cli.quiet {
        eprint!("{}", report::render(&summary));
    }
    let json = serde_json::to_string_pretty(&summary).context("encoding the summary")?;
    for destination in &cli.json {
        if destination == "-" {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{json}").context("writing the summary to stdout")?;
        } else {
            std::fs::write(destination, format!("{json}\n"))
                .with_context(|| format!("writing {destination}"))?;
        }
    }
    Ok(())
}
