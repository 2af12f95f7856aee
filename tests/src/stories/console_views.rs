//! Issue 16's console cases, on every deployment: TPL-2's 250 template names counted per
//! WhatsApp Business Account (case 6), the queue position a contact shows (AUTO-4, case 8), and
//! the referral of WIN-3 shown by the console (case 13).

use super::*;

/// A second business number of the stories' account.
const SECOND: &str = "106540352242923";

fn template(name: &str) -> Value {
    json!({"name": name, "language": "en_US", "category": "UTILITY", "body": "Your order shipped."})
}

async fn create<D: Deployment>(d: &D, number: &str, name: &str) -> Reply {
    d.console(
        "POST",
        &format!("/v1/numbers/{number}/templates"),
        ADMIN,
        Some(template(name)),
    )
    .await
}

/// Creates a template on `number` and submits it for the account (which links the number to it).
async fn create_and_submit<D: Deployment>(d: &D, number: &str, name: &str) {
    let created = create(d, number, name).await;
    assert_eq!(created.status, 201, "{}", created.body);
    ok(
        d,
        "POST",
        &format!("/v1/numbers/{number}/templates/{name}/en_US/submit"),
        ADMIN,
        Some(json!({"waba_id": webhooks::WABA})),
    )
    .await;
}

/// TPL-2 (issue 16, case 6): at most 250 template names per account, not per number. Two numbers
/// of one account: the first holds 248 names, the second 1; the second accepts the account's
/// 250th name and refuses the 251st (422 `catalogue_full`) though it holds only two itself, and
/// so does the first; a name the account already has (on the other number) is no new name.
pub async fn tpl_2_template_names_are_counted_per_account<D: Deployment>(d: &D) {
    create_and_submit(d, NUMBER, "first_number_0").await;
    create_and_submit(d, SECOND, "second_number_0").await;
    for i in 1..248 {
        let created = create(d, NUMBER, &format!("first_number_{i}")).await;
        assert_eq!(created.status, 201, "{i}: {}", created.body);
    }
    let created = create(d, SECOND, "second_number_1").await;
    assert_eq!(created.status, 201, "the account's 250th: {}", created.body);
    let full = create(d, SECOND, "second_number_2").await;
    assert_eq!(refused(&full, 422), "catalogue_full", "{}", full.body);
    let full = create(d, NUMBER, "first_number_248").await;
    assert_eq!(refused(&full, 422), "catalogue_full", "{}", full.body);
    let shared = create(d, SECOND, "first_number_7").await;
    assert_eq!(shared.status, 201, "a name of the account: {}", shared.body);
    let listed = ok(
        d,
        "GET",
        "/v1/numbers/106540352242923/templates",
        ADMIN,
        None,
    )
    .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
}

/// AUTO-4 (issue 16, case 8): `GET …/contacts/{c}` shows where a queued conversation stands now,
/// as the queue list does, not the position it joined with. No agent is online: two customers
/// queue (1 and 2); ana claims the first by hand (AUTO-5); the second is now first, on the contact
/// and in the queue list alike.
pub async fn auto_4_contact_shows_its_current_queue_position<D: Deployment>(d: &D) {
    const FIRST: &str = "4915100160001";
    const SECOND: &str = "4915100160002";
    ok(
        d,
        "PUT",
        "/v1/agents/ana",
        ADMIN,
        Some(json!({"capacity": 2, "online": false})),
    )
    .await;
    says(d, FIRST, "Hello?", None).await;
    d.advance(0).await;
    says(d, SECOND, "Anyone there?", None).await;
    d.advance(0).await;
    let position = |c: &Value| c["conversation"]["queue_position"].clone();
    assert_eq!(position(&detail(d, FIRST).await), 1);
    assert_eq!(position(&detail(d, SECOND).await), 2);

    ok(d, "POST", &contact_path(FIRST, "/claim"), ANA, None).await;
    d.advance(0).await;
    let (_, _, handler, agent) = conversation(d, FIRST).await;
    assert_eq!((handler.as_str(), agent.as_deref()), ("agent", Some("ana")));
    let second = detail(d, SECOND).await;
    assert_eq!(second["conversation"]["handler"], "unassigned", "{second}");
    assert_eq!(position(&second), 1, "AUTO-4: the position now: {second}");
    let queue = queue_list(d).await;
    assert_eq!(queue["items"][0]["contact"], SECOND, "{queue}");
    assert_eq!(queue["items"][0]["queue_position"], 1, "{queue}");
}

/// WIN-3 (issue 16, case 13): a customer's first message from a click-to-WhatsApp ad carries
/// Meta's `referral`; the console shows it on the contact, on its conversation (source, id, link,
/// headline, click id) and on the message's log entry (as Meta sent it).
pub async fn win_3_referral_shown_on_contact_conversation_and_log<D: Deployment>(d: &D) {
    const FROM_AD: &str = "4915100160003";
    let id = wamid();
    let at = d.now().await;
    post(
        d,
        &webhooks::text_from_ad(FROM_AD, &id, at, "Tell me about the sale"),
    )
    .await;
    d.advance(0).await;
    let contact = detail(d, FROM_AD).await;
    let expected = json!({
        "source_type": "ad",
        "source_id": "300000000000001",
        "source_url": "https://fb.me/e2e-ad",
        "headline": "Chat with us",
        "ctwa_clid": "E2E_CTWA_CLID_0001",
    });
    assert_eq!(
        contact["referral"], expected,
        "WIN-3 on the contact: {contact}"
    );
    assert_eq!(
        contact["conversation"]["referral"], expected,
        "WIN-3 on the conversation: {contact}"
    );
    let entry = log(d, FROM_AD)
        .await
        .into_iter()
        .find(|i| i["kind"] == "inbound" && i["message"] == id.as_str())
        .expect("the customer's message in the log");
    let referral = &entry["body"]["referral"];
    assert_eq!(
        referral["source_type"], "ad",
        "WIN-3 on the log entry: {entry}"
    );
    assert_eq!(referral["headline"], "Chat with us", "{entry}");
    assert_eq!(referral["ctwa_clid"], "E2E_CTWA_CLID_0001", "{entry}");
    assert_eq!(referral["body"], "Spring sale", "{entry}");
    assert_eq!(entry["body"]["body"], "Tell me about the sale", "{entry}");
}
