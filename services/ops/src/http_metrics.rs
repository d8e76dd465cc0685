//! Request counts and durations for an axum router, by a bounded route label and status, and
//! a tracing span per request.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use tracing::Instrument;

/// Maps a request to its route label. Must return one of a fixed set of values, never
/// anything taken from the request (paths carry stream ids).
pub type RouteOf = fn(&Request) -> &'static str;

/// The metric names of one service's HTTP surface.
#[derive(Clone, Copy)]
pub struct HttpMetrics {
    /// Counter of answered requests, labelled `route` and `status`.
    pub requests: &'static str,
    /// Histogram of the time to response headers, labelled `route`.
    pub duration: &'static str,
    /// Turns a request into its route label.
    pub route_of: RouteOf,
}

impl HttpMetrics {
    /// Describes both metrics and registers `routes` at zero for the statuses a healthy
    /// service answers, so rates exist before the first request.
    pub fn describe(&self, routes: &[&'static str]) {
        metrics::describe_counter!(
            self.requests,
            "HTTP requests answered, by route and status."
        );
        metrics::describe_histogram!(
            self.duration,
            metrics::Unit::Seconds,
            "Time to response headers, by route."
        );
        for &route in routes {
            metrics::counter!(self.requests, "route" => route, "status" => "200").absolute(0);
        }
    }

    /// Counts one request answered outside the router (a connection taken from hyper),
    /// `elapsed` after it came in.
    pub fn record(&self, route: &'static str, status: u16, elapsed: std::time::Duration) {
        metrics::counter!(self.requests, "route" => route, "status" => status.to_string())
            .increment(1);
        metrics::histogram!(self.duration, "route" => route).record(elapsed.as_secs_f64());
    }

    /// Wraps `router` so every request it answers is counted, timed and traced.
    pub fn wrap<S: Clone + Send + Sync + 'static>(
        self,
        router: axum::Router<S>,
    ) -> axum::Router<S> {
        router.layer(middleware::from_fn_with_state(self, track))
    }
}

async fn track(State(names): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let route = (names.route_of)(&request);
    let span = tracing::info_span!(
        "http",
        method = %request.method(),
        route,
        status = tracing::field::Empty
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("status", status);
    names.record(route, status, started.elapsed());
    response
}
