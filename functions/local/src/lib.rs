//! # The one-process runner
//!
//! `switchboard serve` runs every function of the AWS deployment in one process on the embedded
//! SQLite store (see [`engine`] for what stands in for what); `switchboard demo` plays a scripted
//! story through it ([`demo`]). The cores are the Lambdas' own: the ingest webhook, the router,
//! the sender and the console's router; only the wiring differs.
//!
//! - [`config`]: environment variables and the TOML desk file, read once;
//! - [`start`]: opens the store, writes the desk into it, starts the engine and the HTTP server;
//! - [`Running::shutdown`]: stops taking requests, lets the consumers finish what they hold,
//!   and returns; what is still queued stays in the file for the next start.

pub mod clock;
pub mod config;
pub mod demo;
pub mod desk;
pub mod engine;
pub mod http;
pub mod media;
pub mod timers;
pub use deliverer as webhooks;

pub use clock::EngineClock;
pub use config::{ConfigError, Desk, Settings};
pub use engine::{Engine, Graph};

use console::{Console, SubmitterTwin};
use rules::outreach::OutreachKey;
use std::net::SocketAddr;
use std::sync::Arc;
use store::{AgentStore, LedgerStore, SendingStore, SettingsStore, SqliteStore, TemplateStore};
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("store {path}: {source}")]
    Store {
        path: String,
        source: store::StoreError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("Graph API client: {0}")]
    Graph(String),
}

/// A started runner.
pub struct Running {
    /// The address it listens on (the configured one; port 0 picks a free port).
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    consumers: tokio::task::JoinHandle<()>,
    deliverer: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops cleanly: the HTTP server stops taking requests (answering those in progress), the
    /// consumers finish the messages they hold, and the store's last writes are committed.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        let _ = self.consumers.await;
        let _ = self.deliverer.await;
    }

    /// Whether the HTTP server has stopped (for any reason).
    pub fn is_finished(&self) -> bool {
        self.server.is_finished()
    }
}

/// Starts the runner with `settings`.
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    start_with_clock(settings, EngineClock::new()).await
}

/// Starts the runner on a given clock (tests start the test clock at a known instant).
pub async fn start_with_clock(
    settings: Settings,
    clock: EngineClock,
) -> Result<Running, StartError> {
    let store_error = |source| StartError::Store {
        path: settings.db.display().to_string(),
        source,
    };
    let store = SqliteStore::open(&settings.db).map_err(store_error)?;
    // The queues and timers in a file of their own, with their own writer: a webhook's
    // acknowledgement (one insert) never waits behind the engine's commits.
    let queue_file = queue_path(&settings.db);
    let queue_store = SqliteStore::open(&queue_file).map_err(|source| StartError::Store {
        path: queue_file.display().to_string(),
        source,
    })?;
    apply_desk(&store, &settings.desk)
        .await
        .map_err(store_error)?;
    let graph = match &settings.access_token {
        Some(token) => {
            let client = cloud_client(&settings, token)?;
            Graph::Cloud(sender::CloudGraph::new(client))
        }
        None => {
            let clock = clock.clone();
            Graph::Sink(sender::MemoryGraph::new(move || clock.now_ms()))
        }
    };
    let outreach_key = OutreachKey::new(settings.outreach_key.clone());
    let engine = Engine::open(
        store.clone(),
        &queue_store,
        clock.clone(),
        graph,
        outreach_key.clone(),
    )
    .await
    .map_err(store_error)?;

    let identity = Arc::new(settings.desk.identities());
    let media_identity: Arc<dyn console::Identify> = identity.clone();
    let console_app = match &settings.access_token {
        Some(token) => console::api::app_with_event_stream(Console {
            store: store.clone(),
            queue: engine.queue.clone(),
            submitter: console::submitter::GraphSubmitter::new(cloud_client(&settings, token)?),
            identity,
            clock: Arc::new(clock.clone()),
            outreach_key,
        }),
        None => console::api::app_with_event_stream(Console {
            store: store.clone(),
            queue: engine.queue.clone(),
            submitter: Arc::new(SubmitterTwin::new()),
            identity,
            clock: Arc::new(clock.clone()),
            outreach_key,
        }),
    };
    // Media (SPEC section 13): files in a folder beside the database, fetched when there is a
    // Graph API to fetch from; the console's media routes beside `/v1`.
    let media_folder = ::media::FolderStore::beside(&settings.db);
    let media_store = ::media::FolderStore::open(&media_folder)
        .map_err(|e| StartError::Graph(format!("media folder: {e}")))?;
    let uploader = match &settings.access_token {
        Some(token) => {
            let client = cloud_client(&settings, token)?;
            engine.enable_media_fetch(::media::Fetcher::new(client.clone(), media_store.clone()));
            console::media::MediaUploader::Cloud(client)
        }
        None => console::media::MediaUploader::Sink,
    };
    let console_app = console::media::routes(console::media::MediaApi {
        store: media_store,
        uploader,
        identity: media_identity,
        clock: Arc::new(clock.clone()),
        signer: ::media::links::LinkSigner::new(settings.app_secret.as_bytes()),
        console: console_app.clone(),
    })
    .merge(console_app);
    let webhook = ingest::Webhook {
        secret: whatsapp::AppSecret::new(settings.app_secret.clone().into_bytes()),
        verify_token: settings.verify_token.clone(),
    };
    let app = http::app(webhook, engine.clone(), console_app, settings.test_clock);

    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: settings.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: settings.addr,
        source,
    })?;
    let (stop, stopped) = watch::channel(false);
    // EVT-4: outgoing webhooks, delivered from the event log; receivers on 127.0.0.1 allowed.
    console::api::webhooks::allow_loopback_targets(true);
    let deliverer = {
        let clock = clock.clone();
        tokio::spawn(webhooks::run(
            store.clone(),
            move || ::timers::Clock::now(&clock),
            true,
            stopped.clone(),
        ))
    };
    let server = {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(%error, "HTTP server stopped");
            }
        })
    };
    // The engine runs on a runtime of its own (two threads by default), so that a burst of
    // routing and sending never starves the HTTP server's acknowledgements of CPU.
    let consumers = {
        let engine = engine.clone();
        let threads = settings.engine_threads;
        let (done, finished) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("switchboard-engine".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("engine")
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => runtime.block_on(engine.run(stopped)),
                    Err(error) => tracing::error!(%error, "engine runtime did not start"),
                }
                let _ = done.send(());
            })
            .map_err(|e| StartError::Graph(format!("engine thread: {e}")))?;
        tokio::spawn(async move {
            let _ = finished.await;
        })
    };
    tracing::info!(%addr, test_clock = settings.test_clock, sink = settings.access_token.is_none(), "switchboard serving");
    Ok(Running {
        addr,
        engine,
        stop,
        server,
        consumers,
        deliverer,
    })
}

/// The queue file beside the state file: `switchboard.db` → `switchboard.db-queue`.
pub fn queue_path(db: &std::path::Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-queue");
    name.into()
}

fn cloud_client(
    settings: &Settings,
    token: &str,
) -> Result<whatsapp::cloud::CloudClient, StartError> {
    use whatsapp::cloud::{AccessToken, CloudClient, CloudConfig};
    CloudClient::new(CloudConfig {
        graph_url: settings.graph_url.clone(),
        version: settings.graph_version.clone(),
        ..CloudConfig::new(AccessToken::new(token.to_owned()))
    })
    .map_err(|e| StartError::Graph(e.to_string()))
}

/// Writes the desk file's numbers, agents and templates into the store.
pub async fn apply_desk(store: &SqliteStore, desk: &Desk) -> store::Result<()> {
    for number in &desk.numbers {
        store.put_settings(&number.settings).await?;
        store
            .link_number(
                &number.waba_id,
                &store::sending::NumberLink {
                    number: number.settings.number.clone(),
                    display_phone_number: number.display_phone_number.clone(),
                },
            )
            .await?;
    }
    for agent in &desk.agents {
        store
            .put_agent(&agent.id, agent.capacity, agent.online)
            .await?;
    }
    for (number, template) in &desk.templates {
        store.put_template(number, template).await?;
    }
    // BILL-6: a desk file without `[rates]` keeps the table the console set.
    if let Some(rates) = &desk.rates {
        store.put_rates(rates).await?;
    }
    Ok(())
}
