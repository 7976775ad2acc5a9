//! `hookflash bridge --config FILE`: the daemon.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use hookflash_bridge::Bridge;
use hookflash_bridge::config::Config;

/// The bridge's arguments.
#[derive(Debug, Args)]
pub(crate) struct BridgeArgs {
    /// The TOML configuration file.
    #[arg(long, short)]
    config: PathBuf,
    /// Only check the configuration and exit.
    #[arg(long)]
    check: bool,
}

/// Runs the bridge until Ctrl-C (or SIGTERM).
pub(crate) fn bridge(args: &BridgeArgs) -> Result<bool, String> {
    // Every configuration error is reported before anything starts.
    let cfg = Config::load(&args.config).map_err(|e| e.to_string())?;
    if args.check {
        println!(
            "{}: ok ({} links, {} tokens, {} webhooks)",
            args.config.display(),
            cfg.links.len(),
            cfg.tokens.len(),
            cfg.webhooks.len()
        );
        return Ok(true);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let backend = hookflash_bridge::open_links(&cfg).map_err(|e| e.to_string())?;
        let bridge = Bridge::start(&cfg, Arc::new(backend))
            .await
            .map_err(|e| format!("cannot start the bridge on {}: {e}", cfg.http.listen))?;
        let scheme = if cfg.http.tls.is_some() {
            "https"
        } else {
            "http"
        };
        println!(
            "hookflash bridge listening on {scheme}://{}",
            bridge.local_addr()
        );
        wait_for_stop().await;
        bridge.shutdown().await;
        Ok(true)
    })
}

/// Waits for Ctrl-C or, on Unix, SIGTERM.
pub(crate) async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
