//! `sluice alerts` and `sluice dashboards`: monitoring generated from a
//! domain's configuration.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use sluice_runtime::monitor;

use crate::Cli;

/// Arguments of `sluice alerts`.
#[derive(Args, Debug)]
pub struct AlertsArgs {
    /// Domain.
    #[arg(long)]
    pub domain: String,
    /// Write the rules file here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `sluice dashboards`.
#[derive(Args, Debug)]
pub struct DashboardsArgs {
    /// Domain.
    #[arg(long)]
    pub domain: String,
    /// Output directory: `dashboards/*.json` and `provisioning/{datasources,dashboards}/sluice.yaml`.
    #[arg(long)]
    pub out: PathBuf,
    /// Prometheus URL for the data source.
    #[arg(long, default_value = "http://127.0.0.1:9090")]
    pub prometheus_url: String,
}

/// Runs `sluice alerts`.
pub fn alerts(cli: &Cli, args: &AlertsArgs) -> anyhow::Result<()> {
    let cfg = super::load(cli, std::slice::from_ref(&args.domain))?;
    cfg.domain(&args.domain).context("domain not loaded")?;
    let rules = monitor::alert_rules(&args.domain);
    match &args.out {
        Some(p) => std::fs::write(p, rules).with_context(|| format!("cannot write {p:?}"))?,
        None => print!("{rules}"),
    }
    Ok(())
}

/// Runs `sluice dashboards`.
pub fn dashboards(cli: &Cli, args: &DashboardsArgs) -> anyhow::Result<()> {
    let cfg = super::load(cli, std::slice::from_ref(&args.domain))?;
    let d = cfg.domain(&args.domain).context("domain not loaded")?;
    let built = sluice_runtime::plan::build(d, &cfg.platform.engine, &[])?;
    let ch = &cfg.platform.sinks.clickhouse;
    // secrets stay out of generated files: a secret URL or user falls back
    // to the defaults (edit the data source afterwards)
    let url = ch
        .url
        .plain()
        .unwrap_or_else(|| "http://127.0.0.1:8123".into());
    let host_port = url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(8123)),
        None => (host_port.clone(), 8123),
    };
    let user = ch.user.plain().unwrap_or_else(|| "default".into());
    let dash_dir = args.out.join("dashboards");
    let ds_dir = args.out.join("provisioning/datasources");
    let prov_dir = args.out.join("provisioning/dashboards");
    for dir in [&dash_dir, &ds_dir, &prov_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {dir:?}"))?;
    }
    let pipeline = monitor::pipeline_dashboard(&args.domain);
    let business = monitor::business_dashboard(&args.domain, &ch.database, &built.tables);
    let write = |path: PathBuf, text: String| {
        std::fs::write(&path, text).with_context(|| format!("cannot write {path:?}"))
    };
    write(
        dash_dir.join(format!("sluice-{}-pipeline.json", args.domain)),
        serde_json::to_string_pretty(&pipeline)? + "\n",
    )?;
    write(
        dash_dir.join(format!("sluice-{}-business.json", args.domain)),
        serde_json::to_string_pretty(&business)? + "\n",
    )?;
    write(
        ds_dir.join("sluice.yaml"),
        monitor::datasources_yaml(&args.prometheus_url, &host, port, &ch.database, &user),
    )?;
    let abs = std::fs::canonicalize(&dash_dir).unwrap_or(dash_dir.clone());
    write(
        prov_dir.join("sluice.yaml"),
        monitor::dashboards_provider_yaml(&abs.to_string_lossy()),
    )?;
    eprintln!(
        "wrote 2 dashboards and Grafana provisioning to {:?} (point Grafana's provisioning path at {:?})",
        args.out,
        args.out.join("provisioning")
    );
    Ok(())
}
