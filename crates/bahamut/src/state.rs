//! What a running server shares with its connections, health checks and push sessions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::connection::{ConnectionLimits, ConnectionWatch};
use crate::meta::RouteInfo;
use crate::options::Options;
use crate::typed::ErasedProcessor;

/// The state of a running server.
pub(crate) struct ServerState {
    pub options: Options,
    pub processors: elemental::NameMap<Arc<dyn ErasedProcessor>>,
    pub healthy: AtomicBool,
    pub push: Option<Arc<crate::push::PushRuntime>>,
    pub limits: Arc<ConnectionLimits>,
    /// The open connections' timeouts and shutdown signal.
    pub watch: Arc<ConnectionWatch>,
    /// The TLS configuration in use, when TLS is on.
    pub tls: Option<Arc<crate::tls::TlsState>>,
    pub routes: BTreeMap<String, Vec<RouteInfo>>,
    pub versions: BTreeMap<String, String>,
    /// `/_meta/openapi`, encoded once.
    pub openapi: Option<Vec<u8>>,
}
