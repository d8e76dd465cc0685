//! The `ferrocast` binary: parse the command line, load configuration, start logging, run one
//! role until SIGINT or SIGTERM.

mod config;
mod drain;
mod roles;
mod sample_configs;
mod telemetry;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use toml::{Table, Value};

/// Self-hosted live streaming: RTMP in, HLS and HTTP-FLV out.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "FERROCAST_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Everything in one process, no Redis or S3 needed.
    Dev {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// RTMP ingest address (default 0.0.0.0:1935).
        #[arg(long)]
        rtmp_listen: Option<SocketAddr>,
        /// HTTP address for HLS and HTTP-FLV (default 0.0.0.0:8080).
        #[arg(long)]
        http_listen: Option<SocketAddr>,
        /// Data directory (default ./ferrocast-data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Control plane: stream keys, authorization, placement, admin API.
    Control {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// RTMP ingest, HLS packaging to S3 + Redis, relay to edges.
    Origin {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Stateless HLS and HTTP-FLV delivery.
    Edge {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Drains the ferrocast process on this host and waits until it has exited (a preStop hook).
    Drain {
        /// The process's ops URL.
        #[arg(long, default_value = "http://127.0.0.1:9101")]
        ops_url: String,
        /// Give up waiting after this long.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
}

impl Role {
    fn name(&self) -> &'static str {
        match self {
            Role::Dev { .. } => "dev",
            Role::Control { .. } => "control",
            Role::Origin { .. } => "origin",
            Role::Edge { .. } => "edge",
            Role::Drain { .. } => "drain",
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // object_store's S3 client uses rustls with the ring provider, which must be chosen once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let runtime = tokio::runtime::Runtime::new()?;
    let _telemetry = {
        let _inside = runtime.enter();
        telemetry::init(cli.log_json, cli.role.name())?
    };
    if !matches!(cli.role, Role::Drain { .. }) {
        roles::ops::install_recorder()?;
        roles::ops::raise_open_file_limit();
    }
    match cli.role {
        Role::Dev {
            config,
            rtmp_listen,
            http_listen,
            data_dir,
        } => {
            let mut flags = Table::new();
            if let Some(addr) = rtmp_listen {
                flags.insert("rtmp_listen".into(), Value::String(addr.to_string()));
            }
            if let Some(addr) = http_listen {
                flags.insert("http_listen".into(), Value::String(addr.to_string()));
            }
            if let Some(dir) = data_dir {
                flags.insert("data_dir".into(), Value::String(dir.display().to_string()));
            }
            let dev_config: roles::dev::DevConfig = config::load(config.as_deref(), &env, flags)?;
            runtime.block_on(async { roles::dev::run(dev_config, shutdown_on_signal()).await })
        }
        Role::Control { config } => {
            let role_config: roles::control::ControlRoleConfig =
                config::load(config.as_deref(), &env, Table::new())?;
            runtime.block_on(async { roles::control::run(role_config, shutdown_on_signal()).await })
        }
        Role::Origin { config } => {
            let role_config: roles::origin::OriginRoleConfig =
                config::load(config.as_deref(), &env, Table::new())?;
            runtime.block_on(async { roles::origin::run(role_config, shutdown_on_signal()).await })
        }
        Role::Edge { config } => {
            let role_config: roles::edge::EdgeRoleConfig =
                config::load(config.as_deref(), &env, Table::new())?;
            runtime.block_on(async { roles::edge::run(role_config, shutdown_on_signal()).await })
        }
        Role::Drain { ops_url, timeout } => runtime.block_on(drain::run(&ops_url, timeout)),
    }
}

/// A token cancelled by the first SIGINT or SIGTERM; a second signal exits at once.
fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        cancel.cancel();
        wait_for_signal().await;
        std::process::exit(130);
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
