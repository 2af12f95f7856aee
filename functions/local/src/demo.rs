//! `switchboard demo`: a short story played through the running engine, explained step by step.
//!
//! It starts the runner on a temporary database with the test clock and the recording sink (no
//! Meta account needed), and drives it only from outside, as Meta and an agent would: signed
//! webhooks to `POST /webhook`, console calls to `/v1`, and `POST /dev/clock` to let hours and
//! days pass. What it prints comes from what the engine did (the sink's sends and the console's
//! view of the contact), not from a script of expected answers; it exits non-zero if a step did
//! not happen.

use crate::config::{Agent, Desk, Number, Settings, Token};
use crate::engine::Graph;
use crate::{Running, start};
use rules::templates::{Button, Template, TemplateCategory, TemplateStatus};
use rules::{BusinessNumberId, NumberSettings, TemplateName};
use serde_json::{Value, json};
use std::process::ExitCode;

mod media;

const NUMBER: &str = "106540352242922";
const WABA: &str = "102290129340398";
const CUSTOMER: &str = "4915112345678";
const ADMIN: &str = "demo-admin-token";
const ANA: &str = "demo-ana-token";
const SECRET: &str = "demo-app-secret";
const STEPS: usize = 8;

fn desk() -> Result<Desk, String> {
    let settings: NumberSettings = serde_json::from_value(json!({
        "number": NUMBER,
        "recipe": {
            "id": "support",
            "start": "menu",
            "steps": [{
                "id": "menu",
                "text": "Thanks for your interest! What would you like to do?",
                "buttons": [
                    {"title": "See the offer", "next": {"then": "complete"}},
                    {"title": "Talk to a person", "next": {"then": "hand_off"}}
                ]
            }]
        },
        "reminder": {"after": 600, "content": {"type": "text", "body": "Sorry for the wait, an agent will answer you shortly."}},
        "auto_close_after": 7200,
        "csat": {"question": "How did we do?"},
        "expired_outreach_text": "That offer has ended, but we are happy to help: just write to us."
    }))
    .map_err(|e| e.to_string())?;
    let mut offer = Template::new(
        TemplateName::new("spring_sale").map_err(|e| e.to_string())?,
        "en_US",
        TemplateCategory::Marketing,
        "Spring sale: 20% off everything this week. Interested?",
    );
    offer.buttons = vec![
        Button::QuickReply {
            text: "Yes, tell me more".into(),
        },
        Button::QuickReply {
            text: "No thanks".into(),
        },
    ];
    offer.status = TemplateStatus::Approved;
    let number = BusinessNumberId::new(NUMBER).map_err(|e| e.to_string())?;
    let token = |agent: &str, role: &str, token: &str| -> Result<Token, String> {
        Ok(Token {
            agent: rules::AgentId::new(agent).map_err(|e| e.to_string())?,
            role: role.into(),
            token: token.into(),
        })
    };
    Ok(Desk {
        numbers: vec![Number {
            waba_id: WABA.into(),
            display_phone_number: Some("+1 555 010 4477".into()),
            settings,
        }],
        agents: vec![Agent {
            id: rules::AgentId::new("ana").map_err(|e| e.to_string())?,
            capacity: 3,
            online: true,
        }],
        templates: vec![(number, offer)],
        tokens: vec![token("admin", "admin", ADMIN)?, token("ana", "agent", ANA)?],
        rates: None,
    })
}

/// Plays the story; the exit code says whether every step happened. With `serve`, the runner
/// then stays up on that address with a few more customers waiting, so the desk (`/`) can be
/// clicked through, until Ctrl-C.
pub async fn run(serve: Option<std::net::SocketAddr>) -> ExitCode {
    match play(serve).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\ndemo stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Demo {
    running: Running,
    http: reqwest::Client,
    base: String,
    seen_sends: usize,
    step: usize,
    wamids: u32,
}

async fn play(serve: Option<std::net::SocketAddr>) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("switchboard-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let settings = Settings {
        addr: match serve {
            Some(addr) => addr,
            None => "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        },
        db: dir.join("demo.db"),
        app_secret: SECRET.into(),
        verify_token: "demo-verify-token".into(),
        access_token: None,
        graph_url: sender::config::DEFAULT_GRAPH_URL.into(),
        graph_version: sender::config::DEFAULT_GRAPH_VERSION.into(),
        outreach_key: crate::config::derive_outreach_key(SECRET),
        test_clock: true,
        engine_threads: 1,
        desk: desk()?,
    };
    println!("Switchboard demo: one business number, one agent (Ana), one customer (Kim).");
    println!(
        "Everything runs in this process on a temporary SQLite database ({}).",
        dir.display()
    );
    println!(
        "Nothing reaches Meta: sends go to a recording sink; the clock is a test clock moved on purpose.\n"
    );
    let running = start(settings).await.map_err(|e| e.to_string())?;
    // The demo plays Meta's media endpoints too, so Kim's photo can be fetched (MEDIA-1).
    let _meta_media = media::serve_meta_media(&running, &dir.join("demo.db")).await?;
    let mut demo = Demo {
        base: format!("http://{}", running.addr),
        running,
        http: loopback_client()?,
        seen_sends: 0,
        step: 0,
        wamids: 0,
    };
    let mut result = demo.story().await;
    if result.is_ok() && serve.is_some() {
        result = demo.keep_serving().await;
    }
    demo.running.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

impl Demo {
    async fn story(&mut self) -> Result<(), String> {
        // 1. A campaign sends the offer.
        self.progress("An admin starts a campaign that sends the 'spring_sale' template to Kim");
        let now = self.now().await?;
        self.console(
            "POST",
            &format!("/v1/numbers/{NUMBER}/campaigns"),
            ADMIN,
            json!({
                "id": "spring", "name": "Spring sale", "template": "spring_sale", "language": "en_US",
                "starts_at": now, "ends_at": now + 90 * 86_400, "response_timeout": 2 * 86_400,
                "handoff": {"to": "bot", "recipe": null}
            }),
            201,
        )
        .await?;
        self.upload_list().await?;
        self.console(
            "POST",
            &format!("/v1/numbers/{NUMBER}/campaigns/spring/start"),
            ADMIN,
            json!({}),
            202,
        )
        .await?;
        self.advance(0).await?;
        let template = self.expect_sends(1).await?;
        let offer_wamid = template[0]
            .wamid
            .clone()
            .ok_or("the campaign's template was not accepted")?;
        let payloads = payloads(&template[0].message.content);
        let yes = payloads
            .first()
            .cloned()
            .ok_or("the template carries no signed button payload")?;
        println!("    the template's buttons carry signed outreach payloads (OUT-8)");

        // 2. Kim answers the campaign: the bot takes over.
        self.progress("Kim presses 'Yes, tell me more' on the campaign message");
        let press = self.message(json!({
            "context": {"from": "15550104477", "id": offer_wamid.as_str()},
            "type": "button",
            "button": {"payload": yes, "text": "Yes, tell me more"}
        }));
        self.webhook(press).await?;
        self.advance(0).await?;
        self.expect_sends(1).await?;
        self.contact("the campaign answer is recorded and the bot recipe greets Kim")
            .await?;

        // 3. The bot hands off to an agent.
        self.progress("Kim presses 'Talk to a person' in the bot's menu");
        let handoff = self.message(json!({
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "bot.menu.1", "title": "Talk to a person"}}
        }));
        self.webhook(handoff).await?;
        self.advance(0).await?;
        let summary = self.contact("the bot hands off").await?;
        if summary["assignee"] != "ana" {
            return Err(format!(
                "expected Ana to be assigned, the console says {summary}"
            ));
        }

        // 4. The agent stays silent: the reminder.
        self.progress("Kim sends a photo and asks a question; Ana does not answer for 10 minutes");
        self.customer_photo().await?;
        let question = self
            .message(json!({"type": "text", "text": {"body": "Is the discount valid for shoes?"}}));
        self.webhook(question).await?;
        self.advance(0).await?;
        self.advance(10 * 60).await?;
        self.expect_sends(1).await?;
        println!("    AUTO-6: the no-reply reminder went to Kim, once for this unanswered stretch");

        // 5. Ana answers; Kim goes quiet; the conversation auto-closes and the survey goes out.
        self.progress(
            "Ana answers from the console and sends the catalogue as a PDF; then Kim stays quiet for 2 hours (the auto-close time)",
        );
        self.console(
            "POST",
            &format!("/v1/numbers/{NUMBER}/contacts/{CUSTOMER}/messages"),
            ANA,
            json!({"text": "Yes, shoes are included!"}),
            202,
        )
        .await?;
        self.advance(0).await?;
        self.expect_sends(1).await?;
        self.agent_pdf().await?;
        self.advance(2 * 3600 + 60).await?;
        self.expect_sends(1).await?;
        let summary = self
            .contact("AUTO-7 closed the conversation; AUTO-9 sent the survey")
            .await?;
        if summary["status"] != "closed" {
            return Err(format!("expected the conversation closed, got {summary}"));
        }

        // 6. The survey answer.
        self.progress("Kim answers the survey with 'Satisfied'");
        let csat = self.message(json!({
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "csat.3", "title": "Satisfied"}}
        }));
        self.webhook(csat).await?;
        self.advance(0).await?;
        let notices = self.notices().await?;
        if !notices.iter().any(|n| n["notice"] == "csat_answered") {
            return Err(format!("no CSAT answer in the log: {notices:?}"));
        }
        let summary = self
            .contact("the score is recorded against the closed conversation; nothing reopens")
            .await?;
        if summary["status"] != "closed" {
            return Err(format!(
                "the survey answer reopened the conversation: {summary}"
            ));
        }

        // 7. Time passes: the outreach expires.
        self.progress("31 days later, Kim presses the old campaign button again");
        self.advance(31 * 86_400).await?;
        self.seen_sends = self.sends().len();
        let late = self.message(json!({
            "context": {"from": "15550104477", "id": offer_wamid.as_str()},
            "type": "button",
            "button": {"payload": payloads[0].clone(), "text": "Yes, tell me more"}
        }));
        self.webhook(late).await?;
        self.advance(0).await?;
        self.expect_sends(1).await?;
        println!(
            "    OUT-EXP: outreach older than 30 days is expired; the number's text answers instead of the old flow"
        );

        // 8. Where the money went.
        self.progress("The admin reads the cost report");
        let today = self.now().await?;
        let costs = self
            .console(
                "GET",
                &format!(
                    "/v1/numbers/{NUMBER}/costs?from={}&to={}",
                    date(today - 40 * 86_400),
                    date(today)
                ),
                ADMIN,
                Value::Null,
                200,
            )
            .await?;
        let categories = costs["categories"].as_object().cloned().unwrap_or_default();
        if categories.is_empty() {
            return Err(format!("the cost report is empty: {costs}"));
        }
        for (category, figures) in categories {
            println!(
                "    BILL-3: {category}: {} message(s) predicted, predicted cost {} micro-dollars, {} reported by Meta so far",
                figures["predicted_count"], figures["predicted_micros"], figures["reported_count"]
            );
        }
        println!(
            "    (costs are 0 here: the demo configures no rate table; service messages are free anyway)"
        );
        println!(
            "\nDone: {} messages went out, every one decided by the rules crate and sent through the sender's checks.",
            self.sends().len()
        );
        println!(
            "Run it yourself: `switchboard serve` (README: configuration), then point Meta's webhook at /webhook."
        );
        Ok(())
    }

    /// `demo --serve`: more customers write (three are handed to Ana, the fourth waits in the
    /// queue), then the desk stays open until Ctrl-C.
    async fn keep_serving(&mut self) -> Result<(), String> {
        let customers = [
            (
                "4915100000001",
                "Jana Novák",
                "Can I change my delivery address?",
            ),
            (
                "4915100000002",
                "Omar Haddad",
                "The app does not accept my card",
            ),
            ("4915100000003", "Mia Chen", "Do you ship to Austria?"),
            ("4915100000004", "Lee Park", "Is the spring sale still on?"),
        ];
        for (contact, name, text) in customers {
            for content in [
                json!({"type": "text", "text": {"body": text}}),
                json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "bot.menu.1", "title": "Talk to a person"}}}),
            ] {
                self.wamids += 1;
                let message = json!({
                    "from": contact,
                    "id": format!("wamid.DEMO{:04}", self.wamids),
                    "timestamp": self.now().await?.to_string(),
                });
                let mut message = message;
                if let (Some(m), Some(c)) = (message.as_object_mut(), content.as_object()) {
                    m.extend(c.clone());
                }
                self.webhook_from(message, contact, name).await?;
                self.advance(0).await?;
            }
        }
        println!("\nThe desk is open: {}/", self.base);
        println!("  sign in as the agent Ana with the token  {ANA}");
        println!("  or as the admin with the token           {ADMIN}");
        println!(
            "  Kim's story is in Mine / Closed; three customers are Ana's, one waits in the queue."
        );
        println!(
            "  The test clock is on: POST {}/dev/clock {{\"advance_seconds\": 90000}} closes the windows.",
            self.base
        );
        println!("Ctrl-C stops (the temporary database is removed).");
        let _ = tokio::signal::ctrl_c().await;
        Ok(())
    }

    fn progress(&mut self, what: &str) {
        self.step += 1;
        let done = "#".repeat(self.step);
        let left = ".".repeat(STEPS.saturating_sub(self.step));
        println!("\n[{done}{left}] {}/{STEPS} {what}", self.step);
    }

    fn sends(&self) -> Vec<sender::graph::Request> {
        match self.running.engine.sender.graph() {
            Graph::Sink(sink) => sink.requests(),
            Graph::Cloud(_) => Vec::new(),
        }
    }

    /// The sends since the last look; fails unless there are at least `at_least`.
    async fn expect_sends(
        &mut self,
        at_least: usize,
    ) -> Result<Vec<sender::graph::Request>, String> {
        let all = self.sends();
        let new: Vec<_> = all[self.seen_sends.min(all.len())..].to_vec();
        self.seen_sends = all.len();
        for r in &new {
            println!("    Switchboard sent: {}", describe(&r.message.content));
        }
        if new.len() < at_least {
            return Err(format!("expected a send, saw {}", new.len()));
        }
        Ok(new)
    }

    async fn now(&self) -> Result<i64, String> {
        let r = self.call("GET", "/dev/clock", None, Value::Null).await?;
        r.1["now"].as_i64().ok_or_else(|| "no time".to_owned())
    }

    async fn advance(&mut self, seconds: u64) -> Result<(), String> {
        let (status, body) = self
            .call(
                "POST",
                "/dev/clock",
                None,
                json!({"advance_seconds": seconds}),
            )
            .await?;
        if status != 200 || body["settled"] != true {
            return Err(format!("the engine did not settle: {status} {body}"));
        }
        if seconds > 0 {
            println!("    ... the test clock moves {}", span(seconds));
        }
        Ok(())
    }

    async fn contact(&self, what: &str) -> Result<Value, String> {
        let summary = self
            .console(
                "GET",
                &format!("/v1/numbers/{NUMBER}/contacts/{CUSTOMER}"),
                ADMIN,
                Value::Null,
                200,
            )
            .await?;
        let assignee = match summary["assignee"].as_str() {
            Some(agent) => agent,
            None if summary["status"] == "open" => "the bot or the queue",
            None => "nobody",
        };
        println!(
            "    {what} (conversation {}, handled by {assignee})",
            summary["status"].as_str().unwrap_or("?")
        );
        Ok(summary)
    }

    async fn notices(&self) -> Result<Vec<Value>, String> {
        let log = self
            .console(
                "GET",
                &format!("/v1/numbers/{NUMBER}/contacts/{CUSTOMER}/messages"),
                ADMIN,
                Value::Null,
                200,
            )
            .await?;
        Ok(log["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["kind"] == "notice")
            .map(|i| i["notice"].clone())
            .collect())
    }

    async fn upload_list(&self) -> Result<(), String> {
        let url = format!(
            "{}/v1/numbers/{NUMBER}/campaigns/spring/lists?list=customers",
            self.base
        );
        let r = self
            .http
            .post(url)
            .bearer_auth(ADMIN)
            .header("content-type", "text/csv")
            .body(format!("phone,first_name\n+{CUSTOMER},Kim\n"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(format!("list upload: {status} {text}"));
        }
        Ok(())
    }

    async fn console(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Value,
        expect: u16,
    ) -> Result<Value, String> {
        let (status, body) = self.call(method, path, Some(token), body).await?;
        if status != expect {
            return Err(format!(
                "{method} {path}: expected {expect}, got {status} {body}"
            ));
        }
        Ok(body)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Result<(u16, Value), String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if !body.is_null() {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let r = request.send().await.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let text = r.text().await.map_err(|e| e.to_string())?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// One customer message as Meta's webhook carries it.
    fn message(&mut self, content: Value) -> Value {
        self.wamids += 1;
        let mut message = json!({
            "from": CUSTOMER,
            "id": format!("wamid.DEMO{:04}", self.wamids),
            "timestamp": "0",
        });
        if let (Some(m), Some(c)) = (message.as_object_mut(), content.as_object()) {
            m.extend(c.clone());
        }
        message
    }

    async fn webhook(&self, mut message: Value) -> Result<(), String> {
        message["timestamp"] = Value::String(self.now().await?.to_string());
        self.webhook_from(message, CUSTOMER, "Kim").await
    }

    async fn webhook_from(&self, message: Value, contact: &str, name: &str) -> Result<(), String> {
        let (body, signature) = signed_message(SECRET, NUMBER, contact, name, message);
        let r = self
            .http
            .post(format!("{}/webhook", self.base))
            .header("content-type", "application/json")
            .header(whatsapp::signature::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() != 200 {
            return Err(format!("webhook answered {}", r.status()));
        }
        println!("    Meta -> POST /webhook (signed): 200, queued");
        Ok(())
    }
}

/// One customer message (`from` `contact`, WhatsApp name `name`) to business number `number`, as
/// Meta's webhook carries it: the body and its `X-Hub-Signature-256` under the app secret.
pub fn signed_message(
    secret: &str,
    number: &str,
    contact: &str,
    name: &str,
    message: Value,
) -> (String, String) {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550104477", "phone_number_id": number},
            "contacts": [{"profile": {"name": name}, "wa_id": contact}],
            "messages": [message]
        }}]}]
    })
    .to_string();
    let signature = whatsapp::signature::sign(
        &whatsapp::AppSecret::new(secret.as_bytes().to_vec()),
        body.as_bytes(),
    );
    (body, signature)
}

/// An HTTP client for the runner on loopback (plain HTTP; the TLS stack is configured only
/// because reqwest asks for one).
pub fn loopback_client() -> Result<reqwest::Client, String> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())
}

/// The OUT-8 payloads a message carries (button parameters of a template).
fn payloads(content: &rules::effect::OutboundContent) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.starts_with("sb1.") => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(
        &serde_json::to_value(content).unwrap_or(Value::Null),
        &mut out,
    );
    out
}

fn describe(content: &rules::effect::OutboundContent) -> String {
    let v = serde_json::to_value(content).unwrap_or(Value::Null);
    match v["type"].as_str() {
        Some("text") => format!("text \"{}\"", v["body"].as_str().unwrap_or("")),
        Some("buttons") => {
            let titles: Vec<&str> = v["buttons"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| b[1].as_str())
                .collect();
            format!(
                "\"{}\" with buttons [{}]",
                v["body"].as_str().unwrap_or(""),
                titles.join(" | ")
            )
        }
        Some("template") => format!("template '{}'", v["name"].as_str().unwrap_or("?")),
        Some(other) => other.to_owned(),
        None => "a message".to_owned(),
    }
}

fn span(seconds: u64) -> String {
    match seconds {
        s if s >= 86_400 => format!("{} days", s / 86_400),
        s if s >= 3600 => format!("{} hours", s / 3600),
        s => format!("{} minutes", s / 60),
    }
}

fn date(unix: i64) -> String {
    rules::Timestamp::from_unix(unix).date().to_string()
}
