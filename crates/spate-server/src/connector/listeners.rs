//! Listening sockets shared by the sources of one kind: one listener per address, requests
//! routed by a key (an HTTP path, a TCP context) to the endpoint of one stream.
//!
//! A listener stays open after its last route is dropped (answering "unknown" to requests):
//! closing is asynchronous, and an app redeployed at once must be able to take the port again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tokio::task::JoinHandle;

/// What a listener's task looks routes up in.
pub type Routes<E> = Arc<RwLock<HashMap<String, Arc<E>>>>;

/// The endpoint registered under `key`, if any.
pub fn route<E>(routes: &Routes<E>, key: &str) -> Option<Arc<E>> {
    routes
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(key)
        .cloned()
}

/// Every registered key (for messages).
pub fn keys<E>(routes: &Routes<E>) -> Vec<String> {
    let mut keys: Vec<String> = routes
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Names the stream an endpoint serves, for "already used by" messages.
pub trait Owner {
    fn owner(&self) -> String;
}

struct Listener<E> {
    routes: Routes<E>,
    local: SocketAddr,
    /// Runs until the node exits.
    _task: JoinHandle<()>,
}

/// The listeners of one source kind, by address.
pub struct Listeners<E> {
    listeners: Mutex<HashMap<SocketAddr, Listener<E>>>,
}

impl<E> Default for Listeners<E> {
    fn default() -> Self {
        Listeners {
            listeners: Mutex::new(HashMap::new()),
        }
    }
}

impl<E> std::fmt::Debug for Listeners<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listeners")
    }
}

/// A registered key; dropping it unregisters the key.
pub struct Route<E> {
    listeners: Arc<Listeners<E>>,
    bind: SocketAddr,
    /// The address actually bound (differs from the one asked for with port 0).
    pub addr: SocketAddr,
    key: String,
}

impl<E> Drop for Route<E> {
    fn drop(&mut self) {
        if let Some(listener) = self.listeners.lock().get(&self.bind) {
            listener
                .routes
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&self.key);
        }
    }
}

impl<E> Listeners<E> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Listener<E>>> {
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<E: Owner + Send + Sync + 'static> Listeners<E> {
    /// Routes `key` on `bind` to `endpoint`, starting a listener with `serve` (given the bound
    /// socket and the routes) if the address has none yet.
    pub fn register(
        self: &Arc<Self>,
        bind: SocketAddr,
        key: &str,
        endpoint: E,
        what: &str,
        serve: impl FnOnce(tokio::net::TcpListener, Routes<E>) -> JoinHandle<()>,
    ) -> Result<Route<E>, String> {
        let mut listeners = self.lock();
        let listener = match listeners.entry(bind) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let socket = std::net::TcpListener::bind(bind)
                    .map_err(|e| format!("cannot listen on {bind} for the {what}: {e}"))?;
                let local = socket.local_addr().map_err(|e| e.to_string())?;
                socket.set_nonblocking(true).map_err(|e| e.to_string())?;
                let socket =
                    tokio::net::TcpListener::from_std(socket).map_err(|e| e.to_string())?;
                let routes: Routes<E> = Arc::default();
                let task = serve(socket, routes.clone());
                e.insert(Listener {
                    routes,
                    local,
                    _task: task,
                })
            }
        };
        let mut routes = listener
            .routes
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(other) = routes.get(key) {
            return Err(format!(
                "{what}: '{key}' on {bind} is already used by {}",
                other.owner()
            ));
        }
        routes.insert(key.to_string(), Arc::new(endpoint));
        Ok(Route {
            listeners: self.clone(),
            bind,
            addr: listener.local,
            key: key.to_string(),
        })
    }
}
