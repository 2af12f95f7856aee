//! `switchboard`: the one-process runner. `serve` runs the engine; `demo` plays the scripted
//! story on a temporary database. Configuration: environment variables and the TOML desk file
//! (see `switchboard_local::config`).

use std::process::ExitCode;
use switchboard_local::{Settings, start};

const USAGE: &str = "usage: switchboard <command>

commands:
  serve   run every function in this process on the embedded store
          (env: SWITCHBOARD_ADDR, SWITCHBOARD_DB, SWITCHBOARD_CONFIG, SWITCHBOARD_TEST_CLOCK,
           WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN, WHATSAPP_ACCESS_TOKEN, WHATSAPP_GRAPH_URL)
          options: --addr HOST:PORT, --port PORT, --db PATH, --config FILE (override the env)
  demo    play a short scripted story on a temporary database and explain each step
          options: --serve (then keep the desk open at http://127.0.0.1:3000/ until Ctrl-C),
                   --port PORT (with --serve)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("switchboard: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.first().map(String::as_str) {
        Some("serve") => runtime.block_on(serve(&args[1..])),
        Some("demo") => match demo_options(&args[1..]) {
            Ok(serve) => runtime.block_on(switchboard_local::demo::run(serve)),
            Err(e) => {
                eprintln!("switchboard demo: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// `demo [--serve] [--port PORT]`: where to keep serving after the story, if at all.
fn demo_options(args: &[String]) -> Result<Option<std::net::SocketAddr>, String> {
    let mut serve = false;
    let mut port: u16 = 3000;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--serve" => serve = true,
            "--port" => {
                let value = it.next().ok_or("--port needs a value")?;
                port = value
                    .parse()
                    .map_err(|_| format!("--port: {value} is not a port number"))?;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(serve.then(|| std::net::SocketAddr::from(([127, 0, 0, 1], port))))
}

/// The environment, with the command line's options on top.
fn overrides(args: &[String]) -> Result<Vec<(&'static str, String)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let name = match flag.as_str() {
            "--addr" => "SWITCHBOARD_ADDR",
            "--db" => "SWITCHBOARD_DB",
            "--config" => "SWITCHBOARD_CONFIG",
            "--port" => "--port",
            other => return Err(format!("unknown option {other}")),
        };
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .clone();
        match name {
            "--port" => out.push(("SWITCHBOARD_ADDR", format!("127.0.0.1:{value}"))),
            _ => out.push((name, value)),
        }
    }
    Ok(out)
}

async fn serve(args: &[String]) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let overrides = match overrides(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("switchboard serve: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let settings = Settings::from_lookup(|name| {
        overrides
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    });
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switchboard serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    let running = match start(settings).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("switchboard serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "switchboard: webhook at http://{0}/webhook, console at http://{0}/v1 (Ctrl-C stops)",
        running.addr
    );
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("switchboard: stopping; finishing the messages in hand");
    running.shutdown().await;
    eprintln!("switchboard: stopped; anything still queued is kept for the next start");
    ExitCode::SUCCESS
}
