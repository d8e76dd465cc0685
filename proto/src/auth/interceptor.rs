//! The credential on the wire: a client interceptor that attaches a node's credential to every
//! call, and a server interceptor that verifies it and records who is calling.

use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::{Request, Status};

use super::{ClusterSecret, NodeCredential, NodeIdentity, Rejection, Role};

const AUTHORIZATION: &str = "authorization";

/// Attaches the credential to every call of a client built `with_interceptor(channel, credential)`.
impl Interceptor for NodeCredential {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert(AUTHORIZATION, self.header().clone());
        Ok(request)
    }
}

/// The server side: refuses a call without a credential of this cluster (`UNAUTHENTICATED`,
/// before any handler runs) and leaves the caller's [`NodeIdentity`] in the request's
/// extensions for [`caller`].
#[derive(Debug, Clone)]
pub struct Verifier {
    secret: Arc<ClusterSecret>,
}

impl Verifier {
    /// A verifier of credentials made with `secret`.
    pub fn new(secret: ClusterSecret) -> Self {
        Self {
            secret: Arc::new(secret),
        }
    }
}

impl Interceptor for Verifier {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let verdict = match request.metadata().get(AUTHORIZATION) {
            None => Err(Rejection::Missing),
            Some(value) => value
                .to_str()
                .map_err(|_| Rejection::Malformed)
                .and_then(|presented| self.secret.verify(presented)),
        };
        // Handlers never see the credential, so none can log it by mistake.
        request.metadata_mut().remove(AUTHORIZATION);
        match verdict {
            Ok(identity) => {
                request.extensions_mut().insert(identity);
                Ok(request)
            }
            Err(rejection) => {
                // Debug only: anyone who reaches the port can cause this, as often as they like.
                tracing::debug!(peer = ?request.remote_addr(), %rejection, "grpc call refused");
                Err(Status::unauthenticated(rejection.to_string()))
            }
        }
    }
}

/// The verified caller of a request that passed a [`Verifier`]. A service mounted without
/// one fails closed: `UNAUTHENTICATED`.
pub fn caller<T>(request: &Request<T>) -> Result<NodeIdentity, Status> {
    request
        .extensions()
        .get::<NodeIdentity>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated(Rejection::Missing.to_string()))
}

impl NodeIdentity {
    /// `PERMISSION_DENIED` unless the caller's role is one of `allowed`; `call` names the
    /// method in the message.
    pub fn require(&self, allowed: &[Role], call: &str) -> Result<(), Status> {
        if allowed.contains(&self.role) {
            return Ok(());
        }
        Err(Status::permission_denied(format!(
            "an {} may not call {call}",
            self.role
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use tonic::Code;

    use super::*;

    const SECRET: &str = "fedcba9876543210fedcba9876543210";

    fn verifier() -> Verifier {
        Verifier::new(ClusterSecret::new(SECRET).unwrap())
    }

    #[test]
    fn a_verified_call_carries_its_caller_but_not_its_credential() {
        let mut credential = ClusterSecret::new(SECRET)
            .unwrap()
            .credential(Role::Edge, "edge-1")
            .unwrap();
        let sent = credential.call(Request::new(())).unwrap();
        let received = verifier().call(sent).unwrap();
        assert!(received.metadata().get(AUTHORIZATION).is_none());
        let identity = caller(&received).unwrap();
        assert_eq!(identity, *credential.identity());
        assert!(identity.require(&[Role::Origin, Role::Edge], "X").is_ok());
        let denied = identity.require(&[Role::Origin], "EndPublish").unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        assert_eq!(denied.message(), "an edge may not call EndPublish");
    }

    #[test]
    fn calls_without_a_valid_credential_are_unauthenticated() {
        let missing = verifier().call(Request::new(())).unwrap_err();
        assert_eq!(missing.code(), Code::Unauthenticated);
        let mut wrong = ClusterSecret::new(&SECRET.repeat(2))
            .unwrap()
            .credential(Role::Origin, "origin-1")
            .unwrap();
        let forged = verifier()
            .call(wrong.call(Request::new(())).unwrap())
            .unwrap_err();
        assert_eq!(forged.code(), Code::Unauthenticated);
        assert_eq!(
            caller(&Request::new(())).unwrap_err().code(),
            Code::Unauthenticated
        );
    }
}
