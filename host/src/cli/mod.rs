//! The `agora` command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat};
use crate::identity::service as identity;
use crate::server;
use crate::state::App;
use crate::wallet::check;

mod publish;

#[derive(Parser)]
#[command(name = "agora", version, about = "Agora: the agent runtime platform host")]
pub struct Cli {
    /// TOML config file (overrides environment variables).
    #[arg(long, global = true, env = "AGORA_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, global = true)]
    listen: Option<String>,
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite://FILE or postgres://...
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    log_json: bool,
    /// Any setting, by its name in the config file: `--set exec_fuel=1000000`; repeat for more.
    #[arg(long = "set", global = true, value_name = "NAME=VALUE")]
    set: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Operator tasks.
    #[command(subcommand)]
    Admin(Admin),
    /// Print the version.
    Version,
    /// Create an Ed25519 signing key for publishing components (kept if it exists).
    Keygen {
        /// Where to keep it (default: AGORA_SIGNING_KEY_FILE or ~/.config/agora/signing-key).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Replace an existing key.
        #[arg(long)]
        force: bool,
    },
    /// Sign and upload a component to the server at AGORA_URL with AGORA_API_KEY.
    Publish {
        file: PathBuf,
        /// agent, skill, handler or policy.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "0.1.0")]
        version: String,
        #[arg(long)]
        description: Option<String>,
        /// A capability to grant: `kv`, `skills`, `marketplace`, `llm`, `messaging` or `http=HOST[,HOST...]`; repeat for more.
        #[arg(long = "grant")]
        grants: Vec<String>,
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Upload without a signature (only if the server allows it).
        #[arg(long)]
        unsigned: bool,
        #[arg(long, env = "AGORA_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long, env = "AGORA_API_KEY", hide_env_values = true)]
        api_key: String,
    },
}

#[derive(Subcommand)]
enum Admin {
    /// Create an operator key and print it (shown once).
    CreateOperatorKey {
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// Verify the ledger; exits non-zero if anything is wrong.
    LedgerCheck,
}

impl Cli {
    fn config(&self) -> anyhow::Result<Config> {
        let mut flags = Vec::new();
        for set in &self.set {
            let (name, value) = set.split_once('=').context("--set takes NAME=VALUE")?;
            flags.push((name.trim().to_string(), value.to_string()));
        }
        let named = [
            ("listen", self.listen.clone()),
            ("data_dir", self.data_dir.as_ref().map(|d| d.display().to_string())),
            ("database_url", self.database_url.clone()),
            ("log_format", self.log_json.then(|| "json".to_string())),
        ];
        flags.extend(named.into_iter().filter_map(|(name, value)| value.map(|v| (name.to_string(), v))));
        Config::load(|name| std::env::var(name).ok(), self.config.as_deref(), &flags)
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{},sqlx=warn", config.server.log_level)));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.server.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

/// Makes glibc's allocator hand large blocks (component uploads, compiled artifacts) back to
/// the system when they are freed. By default it raises its mmap threshold to the largest
/// block freed so far (up to 32 MiB), after which such blocks come from the heap and their
/// memory stays with the process for good.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called once, before any thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("agora {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        Command::Keygen { key_file, force } => {
            let path = key_file.unwrap_or_else(publish::default_key_file);
            println!("{}", serde_json::to_string_pretty(&publish::keygen(&path, force)?)?);
            return Ok(());
        }
        Command::Publish { file, kind, name, version, description, grants, key_file, unsigned, url, api_key } => {
            let args = publish::PublishArgs {
                file,
                kind,
                name,
                version,
                description,
                grants,
                key_file: key_file.unwrap_or_else(publish::default_key_file),
                unsigned,
            };
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let published = runtime.block_on(publish::publish(&url, &api_key, args))?;
            println!("{}", serde_json::to_string_pretty(&published)?);
            return Ok(());
        }
        _ => {}
    }
    let config = cli.config()?;
    init_logging(&config);
    // Wakeups from outside the workers (the SQLite thread, database sockets) are looked at
    // every 7 tasks instead of every 61: a write waiting on its statement's answer holds the
    // one writer meanwhile, so that latency is every other writer's too.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().event_interval(7).global_queue_interval(7).build()?;
    runtime.block_on(async move {
        let app = App::open(config).await?;
        match cli.command {
            Command::Serve => {
                if let Some(key) = identity::ensure_operator_key(&app.db, &app.config.access.operator_key).await? {
                    println!("operator key (shown once, store it): {key}");
                }
                server::serve(app).await
            }
            Command::Migrate => {
                println!("migrations applied");
                Ok(())
            }
            Command::Admin(Admin::CreateOperatorKey { name }) => {
                let key = identity::create_operator_key(&app.db, &name).await.context("storing the key")?;
                println!("{}", key.key);
                Ok(())
            }
            Command::Admin(Admin::LedgerCheck) => {
                let report = check::check(&app.db).await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                if report.ok {
                    Ok(())
                } else {
                    anyhow::bail!("the ledger check found {} problem(s)", report.problems.len())
                }
            }
            Command::Version | Command::Keygen { .. } | Command::Publish { .. } => unreachable!("handled above"),
        }
    })
}
