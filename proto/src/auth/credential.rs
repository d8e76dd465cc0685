//! The credential itself, without I/O: a secret long enough to resist guessing, the tag over a
//! node's role and id, and the parsing of a presented credential in bounded work.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tonic::metadata::AsciiMetadataValue;

type Tag = Hmac<Sha256>;

/// Fewest characters a cluster secret may have (surrounding whitespace not counted).
pub const MIN_SECRET_CHARS: usize = 32;
/// Longest node id a credential carries; the same bound control puts on every id.
pub const MAX_NODE_ID_BYTES: usize = 128;

const SCHEME: &str = "Bearer ";
const VERSION: &str = "v1";
/// Binds tags to this one use: an HMAC of the same bytes made for anything else with the same
/// secret is no credential.
const DOMAIN: &[u8] = b"ferrocast-node-credential-v1";
const TAG_BYTES: usize = 32;
/// Longest credential worth parsing: scheme, version, the longest role, the longest node id,
/// the hex tag and three dots. Anything longer is refused before any work.
const MAX_CREDENTIAL_LEN: usize =
    SCHEME.len() + VERSION.len() + "origin".len() + MAX_NODE_ID_BYTES + 2 * TAG_BYTES + 3;

/// What a node does in the cluster, as its credential says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Takes RTMP publishes and serves the relay.
    Origin,
    /// Serves viewers; pulls live streams from origins.
    Edge,
}

impl Role {
    /// The role's name in credentials and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Origin => "origin",
            Role::Edge => "edge",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "origin" => Some(Role::Origin),
            "edge" => Some(Role::Edge),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is calling: the role and node id a verified credential names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeIdentity {
    /// The caller's role.
    pub role: Role,
    /// The caller's node id.
    pub node_id: String,
}

/// Why a cluster secret is refused at start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No secret was configured.
    #[error(
        "cluster_secret is not set: control, origins and edges need the same secret of at least \
         {MIN_SECRET_CHARS} characters (FERROCAST_CLUSTER_SECRET; make one with `openssl rand -hex 32`)"
    )]
    Missing,
    /// The secret is too short to resist guessing.
    #[error(
        "cluster_secret has {chars} characters; it needs at least {MIN_SECRET_CHARS} \
         (make one with `openssl rand -hex 32`)"
    )]
    TooShort {
        /// How many characters it has.
        chars: usize,
    },
}

/// Why no credential can be made for a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The node id cannot travel in a credential.
    #[error(
        "node_id {node_id:?} cannot be carried by a cluster credential: use 1 to \
         {MAX_NODE_ID_BYTES} ASCII letters, digits, '.', '_' or '-'"
    )]
    NodeId {
        /// The node id as configured.
        node_id: String,
    },
}

/// Why a presented credential is refused. Never carries what was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The call carries no credential.
    #[error("no cluster credential")]
    Missing,
    /// The credential is not in the expected form.
    #[error("malformed cluster credential")]
    Malformed,
    /// The credential's tag was not made with this cluster's secret.
    #[error("cluster credential not issued by this cluster")]
    Forged,
}

/// The cluster secret, keyed once into HMAC-SHA256. `Debug` never shows it.
#[derive(Clone)]
pub struct ClusterSecret {
    keyed: Tag,
}

impl ClusterSecret {
    /// The secret as configured; surrounding whitespace is ignored (a Secret written from a
    /// file often ends with a newline), and at least [`MIN_SECRET_CHARS`] characters must
    /// remain.
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        let secret = secret.trim();
        let chars = secret.chars().count();
        if chars == 0 {
            return Err(SecretError::Missing);
        }
        if chars < MIN_SECRET_CHARS {
            return Err(SecretError::TooShort { chars });
        }
        let keyed =
            Tag::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
        Ok(Self { keyed })
    }

    /// The credential of node `node_id` in `role`.
    pub fn credential(&self, role: Role, node_id: &str) -> Result<NodeCredential, CredentialError> {
        if !is_valid_node_id(node_id) {
            return Err(CredentialError::NodeId {
                node_id: node_id.to_owned(),
            });
        }
        let tag = hex::encode(self.tag(role, node_id).finalize().into_bytes());
        let text = format!("{SCHEME}{VERSION}.{role}.{node_id}.{tag}");
        let mut header = AsciiMetadataValue::try_from(text)
            .expect("visible ASCII only: a checked node id, a role name and hex");
        // Keeps it out of HPACK's dynamic table and out of the header's Debug output.
        header.set_sensitive(true);
        Ok(NodeCredential {
            identity: NodeIdentity {
                role,
                node_id: node_id.to_owned(),
            },
            header,
        })
    }

    /// The identity `presented` (an `authorization` value) proves, if this secret made it.
    /// The tag is compared in constant time.
    pub fn verify(&self, presented: &str) -> Result<NodeIdentity, Rejection> {
        if presented.len() > MAX_CREDENTIAL_LEN {
            return Err(Rejection::Malformed);
        }
        let body = presented
            .strip_prefix(SCHEME)
            .and_then(|rest| rest.strip_prefix(VERSION))
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or(Rejection::Malformed)?;
        // The role has no dot and the tag is hex, so a node id may contain dots.
        let (claim, tag_hex) = body.rsplit_once('.').ok_or(Rejection::Malformed)?;
        let (role, node_id) = claim.split_once('.').ok_or(Rejection::Malformed)?;
        let role = Role::parse(role).ok_or(Rejection::Malformed)?;
        if !is_valid_node_id(node_id) {
            return Err(Rejection::Malformed);
        }
        let mut tag = [0u8; TAG_BYTES];
        hex::decode_to_slice(tag_hex, &mut tag).map_err(|_| Rejection::Malformed)?;
        self.tag(role, node_id)
            .verify_slice(&tag)
            .map_err(|_| Rejection::Forged)?;
        Ok(NodeIdentity {
            role,
            node_id: node_id.to_owned(),
        })
    }

    /// The MAC over the domain, the role and the node id, with NUL separators (neither the
    /// role nor a valid node id contains one, so the encoding is unambiguous).
    fn tag(&self, role: Role, node_id: &str) -> Tag {
        let mut mac = self.keyed.clone();
        mac.update(DOMAIN);
        mac.update(&[0]);
        mac.update(role.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(node_id.as_bytes());
        mac
    }
}

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterSecret(<redacted>)")
    }
}

/// A node's own credential, ready to attach to calls. `Debug` shows the identity only.
#[derive(Clone)]
pub struct NodeCredential {
    identity: NodeIdentity,
    header: AsciiMetadataValue,
}

impl NodeCredential {
    /// The role and node id this credential proves.
    pub fn identity(&self) -> &NodeIdentity {
        &self.identity
    }

    /// The `authorization` value.
    pub(super) fn header(&self) -> &AsciiMetadataValue {
        &self.header
    }
}

impl fmt::Debug for NodeCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeCredential")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// Node ids that fit a credential: they also fit logs, Redis keys and HTTP headers as they are.
fn is_valid_node_id(node_id: &str) -> bool {
    !node_id.is_empty()
        && node_id.len() <= MAX_NODE_ID_BYTES
        && node_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn presented(credential: &NodeCredential) -> String {
        credential.header().to_str().unwrap().to_owned()
    }

    #[test]
    fn a_credential_proves_its_role_and_node_id() {
        let secret = ClusterSecret::new(SECRET).unwrap();
        let credential = secret.credential(Role::Origin, "origin-7.zone-a").unwrap();
        let text = presented(&credential);
        assert!(
            text.starts_with("Bearer v1.origin.origin-7.zone-a."),
            "{text}"
        );
        let identity = secret.verify(&text).unwrap();
        assert_eq!(identity, *credential.identity());
        assert_eq!(identity.node_id, "origin-7.zone-a");
        // Another process with the same secret (whitespace around it ignored) agrees.
        let same = ClusterSecret::new(&format!("  {SECRET}\n")).unwrap();
        assert_eq!(same.verify(&text).unwrap(), identity);
    }

    #[test]
    fn another_secret_or_a_changed_claim_is_forged() {
        let secret = ClusterSecret::new(SECRET).unwrap();
        let other = ClusterSecret::new(&format!("{SECRET}!")).unwrap();
        let text = presented(&other.credential(Role::Origin, "origin-1").unwrap());
        assert_eq!(secret.verify(&text), Err(Rejection::Forged));

        let mine = presented(&secret.credential(Role::Edge, "edge-1").unwrap());
        let as_origin = mine.replacen(".edge.", ".origin.", 1);
        assert_eq!(secret.verify(&as_origin), Err(Rejection::Forged));
        let as_other_node = mine.replacen("edge-1", "edge-2", 1);
        assert_eq!(secret.verify(&as_other_node), Err(Rejection::Forged));
    }

    #[test]
    fn malformed_credentials_are_refused_without_echoing_them() {
        let secret = ClusterSecret::new(SECRET).unwrap();
        let good = presented(&secret.credential(Role::Edge, "edge-1").unwrap());
        let tag = good.rsplit_once('.').unwrap().1;
        let cases = [
            String::new(),
            "Bearer".into(),
            good.replacen("Bearer ", "Basic ", 1),
            good.replacen("v1.", "v2.", 1),
            format!("Bearer v1.control.node.{tag}"),
            format!("Bearer v1.edge..{tag}"),
            format!("Bearer v1.edge.bad/id.{tag}"),
            format!("Bearer v1.edge.edge-1.{}", &tag[1..]),
            format!("Bearer v1.edge.edge-1.{}zz", &tag[2..]),
            format!("Bearer v1.edge.{}.{tag}", "e".repeat(MAX_NODE_ID_BYTES + 1)),
            format!("{good}{}", "0".repeat(10_000)),
        ];
        for case in cases {
            let refused = secret.verify(&case).unwrap_err();
            assert_eq!(refused, Rejection::Malformed, "{case:.80}");
            assert!(!refused.to_string().contains(tag));
        }
    }

    #[test]
    fn short_or_missing_secrets_are_refused_with_a_clear_message() {
        assert_eq!(ClusterSecret::new("").unwrap_err(), SecretError::Missing);
        assert_eq!(ClusterSecret::new(" \n").unwrap_err(), SecretError::Missing);
        let short = ClusterSecret::new(&SECRET[..31]).unwrap_err();
        assert_eq!(short, SecretError::TooShort { chars: 31 });
        let message = short.to_string();
        assert!(message.contains("at least 32"), "{message}");
        assert!(!message.contains(&SECRET[..31]), "{message}");
        ClusterSecret::new(SECRET).unwrap();
    }

    #[test]
    fn node_ids_must_fit_a_header() {
        let secret = ClusterSecret::new(SECRET).unwrap();
        for bad in [
            "",
            "has space",
            "ünicode",
            "a/b",
            &"x".repeat(MAX_NODE_ID_BYTES + 1),
        ] {
            assert!(secret.credential(Role::Origin, bad).is_err(), "{bad:?}");
        }
        let longest = "x".repeat(MAX_NODE_ID_BYTES);
        let credential = secret.credential(Role::Origin, &longest).unwrap();
        assert!(secret.verify(&presented(&credential)).is_ok());
    }

    #[test]
    fn debug_shows_no_secret_and_no_tag() {
        let secret = ClusterSecret::new(SECRET).unwrap();
        let credential = secret.credential(Role::Origin, "origin-1").unwrap();
        let tag = presented(&credential)
            .rsplit_once('.')
            .unwrap()
            .1
            .to_owned();
        let shown = format!("{secret:?} {credential:?}");
        assert!(!shown.contains(SECRET) && !shown.contains(&tag), "{shown}");
        assert!(shown.contains("origin-1"), "{shown}");
    }
}
