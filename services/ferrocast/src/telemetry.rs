//! Logs and traces: `tracing` to stderr (text or JSON lines), and OTLP trace export over gRPC
//! when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set. The
//! exporter reads the other `OTEL_*` variables itself (service name, headers, batch sizes).

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the trace pipeline alive; dropping it flushes buffered spans.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("trace export shutdown: {error}");
        }
    }
}

/// Starts logging, and tracing export when configured. Must run inside the Tokio runtime.
pub fn init(json: bool, role: &str) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let provider = otlp_endpoint()
        .map(|endpoint| tracer_provider(&endpoint, role))
        .transpose()?;
    let otel = provider.as_ref().map(|provider| {
        let tracer = provider.tracer("ferrocast");
        tracing_opentelemetry::layer().with_tracer(tracer)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .context("installing the tracing subscriber")?;
    if provider.is_some() {
        tracing::info!("exporting traces over otlp");
    }
    Ok(Telemetry { provider })
}

/// The OTLP endpoint, unless tracing export is off (`OTEL_SDK_DISABLED=true` or
/// `OTEL_TRACES_EXPORTER=none`).
fn otlp_endpoint() -> Option<String> {
    let set = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let disabled = set("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true"));
    let no_exporter = set("OTEL_TRACES_EXPORTER").is_some_and(|value| value == "none");
    if disabled || no_exporter {
        return None;
    }
    set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

fn tracer_provider(endpoint: &str, role: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .context("building the otlp span exporter")?;
    // OTEL_SERVICE_NAME, when set, wins over this default.
    let service_name =
        std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| format!("ferrocast-{role}"));
    let resource = Resource::builder()
        .with_service_name(service_name)
        .with_attribute(opentelemetry::KeyValue::new(
            "ferrocast.role",
            role.to_owned(),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
