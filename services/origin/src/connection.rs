//! One RTMP connection on the origin: the protocol yields events, this module decides.

use std::net::SocketAddr;

use ferrocast_base::StreamId;
use ferrocast_control_client::{AuthError, PublishGrant};
use ferrocast_rtmp::{Connection, Event, Metadata, RtmpError};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::play::{self, PlayRequest};
use crate::publish::PublishSession;
use crate::{OriginConfig, OriginDeps, metrics};

/// How a drain reaches a connection.
pub struct Stop {
    /// Cancelled when the drain starts: new publishes are refused.
    pub draining: CancellationToken,
    /// Cancelled at the drain deadline: a running publish ends, and with it its players.
    pub close: CancellationToken,
}

/// Serves one connection until it ends. Errors end only this connection.
pub async fn serve(
    socket: TcpStream,
    peer: SocketAddr,
    config: &OriginConfig,
    deps: &OriginDeps,
    stop: &Stop,
) {
    let _open = metrics::CONNECTIONS.enter();
    let span = tracing::info_span!("rtmp", %peer, stream_id = tracing::field::Empty);
    async move {
        match handle(socket, config, deps, stop).await {
            Ok(()) => tracing::info!("rtmp connection closed"),
            Err(error) => {
                metrics::connection_failed(&error);
                tracing::warn!(%error, "rtmp connection ended by error");
            }
        }
    }
    .instrument(span)
    .await;
}

async fn handle(
    socket: TcpStream,
    config: &OriginConfig,
    deps: &OriginDeps,
    stop: &Stop,
) -> Result<(), RtmpError> {
    // The steps that hold much on their way (the handshake's buffers, a publish's start, a
    // play) are boxed: a connection's task is as large as its largest step for its whole
    // life, and players are many.
    let handshake = Connection::handshake(socket, config.rtmp.limits());
    let mut connection = Box::new(Box::pin(handshake).await?);

    let mut metadata: Option<Metadata> = None;
    // Boxed: players and refused publishers never need one, and its room would be theirs too.
    let mut publish: Option<Box<PublishSession>> = None;
    // Cancelled when a newer session owns the stream (here, or elsewhere: this one is fenced).
    let mut taken_over = CancellationToken::new();
    let outcome = loop {
        let next = tokio::select! {
            next = connection.next_event() => next,
            () = taken_over.cancelled(), if publish.is_some() => {
                tracing::info!("closing publish: a newer session owns the stream");
                break Ok(());
            }
            () = stop.close.cancelled(), if publish.is_some() => {
                tracing::info!("closing publish: origin draining");
                let why = "origin is draining, reconnect to publish elsewhere";
                break connection.end_publish(why).await;
            }
        };
        let event = match next {
            Ok(Some(event)) => event,
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        };
        let step = match event {
            Event::PublishRequested {
                request_id,
                app,
                key,
            } => {
                let request = PublishRequest {
                    request_id,
                    app: &app,
                    key: &key,
                };
                let started = if stop.draining.is_cancelled() {
                    refuse_draining(&mut connection, request_id).await
                } else {
                    let context = PublishContext {
                        config,
                        deps,
                        metadata: &metadata,
                        shutdown: &stop.draining,
                    };
                    Box::pin(on_publish(&mut connection, request, context)).await
                };
                match started {
                    Ok(Some(session)) => {
                        taken_over = session.taken_over();
                        publish = Some(session);
                        Ok(())
                    }
                    Ok(None) => break Ok(()),
                    Err(error) => Err(error),
                }
            }
            Event::Metadata(update) => {
                if let Some(session) = publish.as_mut() {
                    session.on_metadata(&update);
                }
                metadata = Some(update);
                Ok(())
            }
            Event::Audio { timestamp_ms, data } => {
                if let Some(session) = publish.as_mut() {
                    session.on_audio(timestamp_ms, &data);
                }
                Ok(())
            }
            Event::Video { timestamp_ms, data } => {
                if let Some(session) = publish.as_mut() {
                    session.on_video(timestamp_ms, &data);
                }
                Ok(())
            }
            Event::PublishFinished => break Ok(()),
            Event::PlayRequested {
                request_id,
                app,
                key,
                stream_id,
            } => {
                if publish.is_some() {
                    let why = "this connection is publishing";
                    connection
                        .reject_play(stream_id, "NetStream.Play.Failed", why)
                        .await
                } else {
                    // The connection becomes a player until it ends.
                    let request = PlayRequest {
                        request_id,
                        app: &app,
                        key: &key,
                        stream_id,
                    };
                    let limits = config.viewers.clone();
                    let play = play::serve(connection, request, config, deps, limits);
                    break Box::pin(play).await;
                }
            }
            // A play that never started.
            Event::PlayFinished => Ok(()),
        };
        if let Err(error) = step {
            break Err(error);
        }
    };
    if let Some(session) = publish {
        session.finish();
    }
    outcome
}

/// A publish command as the connection received it.
struct PublishRequest<'a> {
    request_id: u32,
    app: &'a str,
    key: &'a str,
}

/// What starting a publish needs besides the request.
struct PublishContext<'a> {
    config: &'a OriginConfig,
    deps: &'a OriginDeps,
    metadata: &'a Option<Metadata>,
    shutdown: &'a CancellationToken,
}

/// Refuses a publish that arrives while the origin drains; the encoder retries and the load
/// balancer, seeing this origin unready, sends it to another.
async fn refuse_draining(
    connection: &mut Connection,
    request_id: u32,
) -> Result<Option<Box<PublishSession>>, RtmpError> {
    metrics::publish_refused("draining");
    tracing::info!("publish refused: origin draining");
    let why = "origin is draining, reconnect to publish elsewhere";
    connection
        .reject(request_id, "NetStream.Publish.Failed", why)
        .await?;
    Ok(None)
}

/// Authorizes and starts a publish. `Ok(None)` means it was refused and the connection ends.
async fn on_publish(
    connection: &mut Connection,
    request: PublishRequest<'_>,
    context: PublishContext<'_>,
) -> Result<Option<Box<PublishSession>>, RtmpError> {
    let PublishContext {
        config,
        deps,
        metadata,
        shutdown,
    } = context;
    let PublishRequest {
        request_id,
        app,
        key,
    } = request;
    let grant = match authorize(app, key, config, deps).await {
        Ok(grant) => grant,
        Err(refusal) => {
            metrics::publish_refused(refusal.reason());
            // The stream id only: the app and stream name may hold the key.
            let stream_id = refusal.stream_id().map_or("unknown", StreamId::as_str);
            tracing::warn!(stream_id, reason = refusal.reason(), "publish refused");
            let code = refusal_code(&refusal);
            connection
                .reject(request_id, code, &refusal.to_string())
                .await?;
            return Ok(None);
        }
    };
    tracing::Span::current().record("stream_id", grant.stream_id.as_str());
    let starting = PublishSession::start(grant.clone(), config, deps, metadata.as_ref(), shutdown);
    let session = match starting.await {
        Ok(session) => session,
        Err(error) => {
            metrics::publish_refused("storage_unavailable");
            tracing::error!(%error, "publish refused: index unavailable");
            deps.authorizer.release(&grant).await;
            let why = "stream storage unavailable, try again";
            connection
                .reject(request_id, "NetStream.Publish.Failed", why)
                .await?;
            return Ok(None);
        }
    };
    if let Err(error) = connection.accept(request_id).await {
        // The session started: it must end, or the stream stays live here (issue 11, item 7).
        session.finish();
        return Err(error);
    }
    metrics::publish_started();
    tracing::info!(epoch = grant.epoch.get(), playback_id = %grant.playback_id, "publish started");
    Ok(Some(Box::new(session)))
}

async fn authorize(
    app: &str,
    key: &str,
    config: &OriginConfig,
    deps: &OriginDeps,
) -> Result<PublishGrant, AuthError> {
    let deadline = config.authorize_timeout;
    match timeout(deadline, deps.authorizer.authorize(app, key)).await {
        Ok(result) => result,
        Err(_) => Err(AuthError::unavailable(format!(
            "no answer within {deadline:?}"
        ))),
    }
}

fn refusal_code(refusal: &AuthError) -> &'static str {
    match refusal {
        AuthError::AlreadyLive { .. } => "NetStream.Publish.BadName",
        AuthError::Unavailable(_) => "NetStream.Publish.Failed",
        _ => "NetStream.Publish.Denied",
    }
}
