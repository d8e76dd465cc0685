//! The `ferrocast` binary: parse the command line, load configuration, start logging, run one
//! role until SIGINT or SIGTERM.

mod config;
mod roles;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    // object_store's S3 client uses rustls with the ring provider, which must be chosen once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let runtime = tokio::runtime::Runtime::new()?;
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
    }
}

fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
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
