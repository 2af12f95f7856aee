//! Events out on the AWS path, on moto (EVT-4, EVT-5): the Lambda handlers of the stories'
//! deployment ([`AwsPath`]), the table's stream as moto records it fed to the projector's
//! handler, and the deliverer Lambda's pass ([`deliverer::deliver_due`], the code its schedule
//! runs) POSTing to receivers on loopback. Every delivery is verified with the Standard Webhooks
//! reference library. Needs moto (`./scripts/test -p switchboard-tests --test events_aws`).

use serde_json::{Value, json};
use std::collections::BTreeMap;
use switchboard_tests::aws::AwsPath;
use switchboard_tests::webhooks::{self, NUMBER};
use switchboard_tests::{Deployment, Reply};
use testkit::events_out::{receiver, verify_with_reference_library};

const ADMIN: &str = "admin-token";
const ANA: &str = "ana-token";
const CUSTOMER: &str = "4915100000777";

/// What runs on AWS after the commits: the stream's records through the projector, then one
/// deliverer pass.
async fn project_and_deliver(d: &AwsPath) {
    d.project_events().await;
    d.deliver_webhooks(d.now().await).await;
}

/// Event ids per lane (number#contact), first arrival order, duplicates dropped.
fn lanes(events: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut lanes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in events {
        let ids = lanes
            .entry(format!("{}#{}", e["number"], e["contact"]))
            .or_default();
        let id = e["id"].as_str().unwrap().to_owned();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    lanes
}

async fn ok(reply: Reply, status: u16) -> Value {
    assert_eq!(reply.status, status, "{}", reply.body);
    reply.body
}

// EVT-5 and EVT-4 on the AWS path: the external bot hears the customer's message from the
// deliverer, answers and hands off to Ana through /v1/integration/… (the route past the JWT
// authorizer) with its integration token; a second receiver gets every event of the story,
// signature verified, in the feed's order per conversation.
#[tokio::test]
async fn evt_5_an_external_bot_answers_through_v1_and_hands_off_to_an_agent_on_the_aws_path() {
    let d = AwsPath::start().await;
    d.enable_event_stream().await;
    // Receivers on loopback (the stack itself allows https to public addresses only).
    console::api::webhooks::allow_loopback_targets(true);
    let (all, bot) = (receiver().await, receiver().await);

    switchboard_tests::stories::agent(&d, "ana", 3).await;
    let settings_path = format!("/v1/numbers/{NUMBER}/settings");
    let mut settings = ok(d.console("GET", &settings_path, ADMIN, None).await, 200).await;
    settings["recipe"] = Value::Null;
    settings["external_bot"] = json!({"id": "crm-bot"});
    ok(
        d.console("PUT", &settings_path, ADMIN, Some(settings))
            .await,
        200,
    )
    .await;
    let all_hook = ok(
        d.console(
            "POST",
            "/v1/webhooks",
            ADMIN,
            Some(json!({"url": all.url, "numbers": [NUMBER]})),
        )
        .await,
        201,
    )
    .await;
    let bot_hook = ok(
        d.console(
            "POST",
            "/v1/webhooks",
            ADMIN,
            Some(json!({"url": bot.url, "numbers": [NUMBER], "bot": "crm-bot"})),
        )
        .await,
        201,
    )
    .await;
    let created = ok(
        d.console(
            "POST",
            "/v1/integrations",
            ADMIN,
            Some(json!({"name": "CRM bot", "numbers": [NUMBER]})),
        )
        .await,
        201,
    )
    .await;
    let token = created["token"].as_str().unwrap();

    let at = d.now().await;
    assert_eq!(
        d.webhook(&webhooks::text(
            CUSTOMER,
            "wamid.AWSBOT1",
            at,
            "hello",
            None
        ))
        .await,
        200
    );
    d.advance(0).await;
    project_and_deliver(&d).await;
    let to_bot = bot.events();
    assert_eq!(to_bot.len(), 1, "{to_bot:?}");
    assert_eq!(to_bot[0]["type"], "message.received");
    assert_eq!(to_bot[0]["data"]["bot"], "crm-bot");
    let secret = bot_hook["secret"].as_str().unwrap();
    assert_eq!(verify_with_reference_library(secret, &bot.deliveries()), 1);

    // The bot works through the integration route: a person's token does not pass there.
    let contact = format!("/v1/integration/numbers/{NUMBER}/contacts/{CUSTOMER}");
    assert_eq!(
        d.console("GET", &format!("{contact}/messages"), ANA, None)
            .await
            .status,
        401
    );
    let log = ok(
        d.console("GET", &format!("{contact}/messages"), token, None)
            .await,
        200,
    )
    .await;
    assert!(log.to_string().contains("hello"), "{log}");
    ok(
        d.console(
            "POST",
            &format!("{contact}/messages"),
            token,
            Some(json!({"text": "Hi, I am the CRM's assistant."})),
        )
        .await,
        202,
    )
    .await;
    d.advance(0).await;
    ok(
        d.console(
            "POST",
            &format!("{contact}/handoff"),
            token,
            Some(json!({"to": "ana"})),
        )
        .await,
        202,
    )
    .await;
    d.advance(0).await;
    let detail = ok(
        d.console(
            "GET",
            &format!("/v1/numbers/{NUMBER}/contacts/{CUSTOMER}"),
            ADMIN,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(detail["assignee"], "ana", "{detail}");
    let sent = switchboard_tests::stories::sent_to(&d, CUSTOMER);
    assert!(
        sent.iter()
            .any(|r| r.body.to_string().contains("CRM's assistant")),
        "the bot's answer reached the Graph API: {sent:?}"
    );

    // Ana's conversation now: the bot hears nothing more; the other receiver gets everything.
    let at = d.now().await;
    d.webhook(&webhooks::text(
        CUSTOMER,
        "wamid.AWSBOT2",
        at,
        "thanks",
        None,
    ))
    .await;
    d.advance(0).await;
    project_and_deliver(&d).await;
    assert_eq!(bot.events().len(), 1);
    let feed: Vec<Value> = {
        let page = ok(
            d.console(
                "GET",
                &format!("/v1/events?number={NUMBER}&limit=500"),
                ADMIN,
                None,
            )
            .await,
            200,
        )
        .await;
        page["events"].as_array().unwrap().clone()
    };
    let delivered = all.events();
    let types: Vec<&str> = delivered
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    for wanted in [
        "message.received",
        "conversation.opened",
        "message.sent",
        "conversation.handed_off",
        "conversation.assigned",
    ] {
        assert!(types.contains(&wanted), "{wanted} in {types:?}");
    }
    assert_eq!(
        lanes(&delivered),
        lanes(&feed),
        "every event, in order per lane"
    );
    let secret = all_hook["secret"].as_str().unwrap();
    assert_eq!(
        verify_with_reference_library(secret, &all.deliveries()),
        delivered.len()
    );
}
