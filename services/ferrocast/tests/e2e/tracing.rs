//! OTLP trace export: `ferrocast dev` with `OTEL_EXPORTER_OTLP_ENDPOINT` set sends its spans to
//! a small OTLP gRPC receiver started here, with connection and stream fields on them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tonic::{Request, Response, Status};

use crate::support::http::{get, get_text};
use crate::support::media::{finish, publish_live};
use crate::support::server::dev;
use crate::support::wait_for;

/// One received span: its name, its attributes and its service's name.
#[derive(Debug, Clone)]
struct ReceivedSpan {
    service: String,
    name: String,
    attributes: Vec<(String, String)>,
}

#[derive(Default, Clone)]
struct Receiver {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

fn text(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(other) => format!("{other:?}"),
                None => String::new(),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans
                .resource
                .map(|r| text(&r.attributes))
                .unwrap_or_default();
            let service = resource
                .iter()
                .find(|(key, _)| key == "service.name")
                .map(|(_, value)| value.clone())
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(ReceivedSpan {
                        service: service.clone(),
                        name: span.name.clone(),
                        attributes: text(&span.attributes),
                    });
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

impl ReceivedSpan {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[test]
fn spans_reach_an_otlp_receiver() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = Receiver::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let service = TraceServiceServer::new(receiver.clone());
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let server = dev().start_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ]);
    assert_eq!(get(&format!("{}/readyz", server.ops_url)).status, 200);
    let publisher = publish_live(&server.publish_url, 5);
    wait_for("a playlist", Duration::from_secs(20), || {
        get_text(&server.hls_url)
    });
    let (published, errors) = finish(publisher);
    assert!(published, "{errors}");

    let spans = wait_for(
        "rtmp, uploader and http spans",
        Duration::from_secs(15),
        || {
            let spans = receiver.spans.lock().unwrap().clone();
            let has = |name: &str| spans.iter().any(|span| span.name == name);
            (has("rtmp") && has("uploader") && has("http")).then_some(spans)
        },
    );
    assert!(
        spans.iter().all(|span| span.service == "ferrocast-dev"),
        "{spans:?}"
    );
    let stream_id = server.stream_key.split('_').nth(1).unwrap();
    let rtmp = spans.iter().find(|span| span.name == "rtmp").unwrap();
    assert_eq!(rtmp.attribute("stream_id"), Some(stream_id), "{rtmp:?}");
    assert!(
        rtmp.attribute("peer")
            .is_some_and(|peer| peer.starts_with("127.0.0.1:")),
        "{rtmp:?}"
    );
    let served_playlist = |span: &ReceivedSpan| {
        span.attribute("route") == Some("hls_playlist") && span.attribute("status") == Some("200")
    };
    assert!(spans.iter().any(served_playlist), "{spans:?}");
    assert!(
        !spans.iter().any(|span| span
            .attributes
            .iter()
            .any(|(_, v)| v.contains(&server.stream_key))),
        "a span carries the stream key"
    );
}
