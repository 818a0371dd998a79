//! The token sent as `Authorization: Bearer <token>`: a fixed one, or one a [`TokenManager`]
//! issues and a [`RefreshingToken`] renews in the background.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use manipulate::BoxFuture;
use tokio::task::JoinHandle;

use crate::Error;

/// Issues tokens (from an identity provider, a file, a signing key...).
pub trait TokenManager: Send + Sync + 'static {
    /// A fresh token.
    fn issue(&self) -> BoxFuture<'_, Result<String, Error>>;
}

/// Where the client reads the token of each request.
#[derive(Clone, Default)]
pub(crate) enum TokenSource {
    /// No `Authorization` header.
    #[default]
    None,
    /// The same token for every request.
    Static(Arc<str>),
    /// The latest token of a refreshing manager.
    Refreshing(Arc<RefreshingToken>),
}

impl TokenSource {
    /// The token for the next request.
    pub(crate) fn current(&self) -> Option<String> {
        match self {
            Self::None => None,
            Self::Static(token) => Some(token.to_string()),
            Self::Refreshing(refreshing) => Some(refreshing.current()),
        }
    }
}

/// A token issued by a [`TokenManager`] and issued again every period; a failed refresh is
/// logged and the previous token kept until the next period. Dropping it stops the refresh.
pub struct RefreshingToken {
    token: Arc<RwLock<String>>,
    task: JoinHandle<()>,
}

impl RefreshingToken {
    /// Issues the first token (an error when the manager cannot), then refreshes it every
    /// `period` on the current tokio runtime.
    pub async fn start(
        manager: Arc<dyn TokenManager>,
        period: Duration,
    ) -> Result<Arc<Self>, Error> {
        let first = manager.issue().await?;
        let token = Arc::new(RwLock::new(first));
        let shared = token.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match manager.issue().await {
                    Ok(fresh) => {
                        if let Ok(mut current) = shared.write() {
                            *current = fresh;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "token refresh failed; keeping the previous token")
                    }
                }
            }
        });
        Ok(Arc::new(Self { token, task }))
    }

    /// The latest token.
    pub fn current(&self) -> String {
        self.token.read().map(|t| t.clone()).unwrap_or_default()
    }
}

impl Drop for RefreshingToken {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    struct Counting(AtomicU32);

    impl TokenManager for Counting {
        fn issue(&self) -> BoxFuture<'_, Result<String, Error>> {
            Box::pin(async move {
                let n = self.0.fetch_add(1, Ordering::SeqCst);
                if n == 2 {
                    return Err(Error::Token("provider down".into()));
                }
                Ok(format!("token-{n}"))
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_token_is_renewed_each_period_and_kept_on_failure() {
        let manager = Arc::new(Counting(AtomicU32::new(0)));
        let token = RefreshingToken::start(manager, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(token.current(), "token-0");
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(token.current(), "token-1");
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            token.current(),
            "token-1",
            "a failed refresh keeps the token"
        );
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(token.current(), "token-3");
    }
}
