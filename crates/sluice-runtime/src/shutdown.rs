//! Stop requests: Ctrl-C and SIGTERM set a flag the pipeline polls; a
//! second Ctrl-C exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Installs handlers on a background thread and returns the flag they set.
pub fn install() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let spawned = std::thread::Builder::new()
        .name("sluice-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                #[cfg(unix)]
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(s) => s,
                        Err(_) => return,
                    };
                loop {
                    #[cfg(unix)]
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                    #[cfg(not(unix))]
                    let _ = tokio::signal::ctrl_c().await;
                    if f.swap(true, Ordering::SeqCst) {
                        tracing::warn!("second stop request: exiting now");
                        std::process::exit(130);
                    }
                    tracing::info!(
                        "stop requested: finishing what is complete (Ctrl-C again to exit at once)"
                    );
                }
            });
        });
    if spawned.is_err() {
        tracing::warn!("cannot install signal handlers");
    }
    flag
}
