//! The public keys that sign playback tokens, as control hands them to edges. Only public
//! keys ever leave control; the private half is shown once to the operator who made it.

/// One current signing key: its `kid` and its public key as a JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicSigningKey {
    /// The `kid` a token's header names.
    pub kid: String,
    /// The public key as JWK JSON (`kty` EC, `crv` P-256, `x`, `y`): parsed by the verifier,
    /// which refuses any other kind of key.
    pub jwk: String,
    /// When it was made, Unix milliseconds.
    pub created_at_ms: u64,
}

/// A stream as a viewer's request needs it: which stream the playback id names, and whether
/// its playback needs a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybackStream {
    /// The stream's internal id.
    pub stream_id: ferrocast_base::StreamId,
    /// Public, or signed.
    pub policy: ferrocast_base::PlaybackPolicy,
    /// How far back its live playlist reaches (DVR); zero is off.
    pub dvr_window: std::time::Duration,
}
