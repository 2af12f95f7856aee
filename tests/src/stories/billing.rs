//! BILL-6 (issue 16, cases 2 and 3): the rate table is configuration, every predicted line says
//! charged or free and why, and inside a free entry point window the category is
//! `referral_conversion`.

use super::*;

const CUSTOMER: &str = "4915100060001";
const FROM_AD: &str = "4915100060002";

/// An admin sets the rate table (`PUT /v1/rates`); a customer writes and is answered free-form
/// (free: service window), sent a utility template inside the window (free: utility in the
/// window) and a marketing template (charged, priced for the +49 market); a customer from a
/// click-to-WhatsApp ad is answered (the free entry point window opens) and sent a marketing
/// template inside it (free: `referral_conversion`). Meta's statuses report the same; the cost
/// report shows predicted against reported per day, category and charge, priced by the table.
///
/// Proves BILL-6 (the rate table as configuration, charged or free and why,
/// `referral_conversion` in the FEP window), BILL-2 and BILL-3 on the deployment.
pub async fn bill_6_rates_and_charged_or_free_lines<D: Deployment>(d: &D) {
    settings(d, json!({})).await;
    agent(d, "ana", 5).await;
    let rates = json!({
        "currency": "USD",
        "source": "test prices",
        "rates": [
            {"category": "marketing", "market": "49", "effective_from": "2025-07-01", "micros": 136500},
            {"category": "marketing", "market": "*", "effective_from": "2025-07-01", "micros": 50000},
            {"category": "utility", "market": "*", "effective_from": "2025-07-01", "micros": 5000}
        ]
    });
    let refused_for_agent = d
        .console("PUT", "/v1/rates", ANA, Some(rates.clone()))
        .await;
    assert_eq!(refused_for_agent.status, 403, "{}", refused_for_agent.body);
    assert_eq!(
        ok(d, "PUT", "/v1/rates", ADMIN, Some(rates.clone())).await,
        rates
    );
    assert_eq!(ok(d, "GET", "/v1/rates", ADMIN, None).await, rates);
    for (name, category) in [("promo", "MARKETING"), ("order_update", "UTILITY")] {
        approved_template(
            d,
            json!({"name": name, "language": "en_US", "category": category,
                    "body": "Hello from the shop.", "recontact": false}),
        )
        .await;
    }
    let t0 = d.now().await;
    says(d, CUSTOMER, "Is my order on its way?", None).await;
    d.advance(0).await;
    for body in [
        json!({"text": "Yes, it left this morning."}),
        json!({"template": {"name": "order_update", "language": "en_US"}}),
        json!({"template": {"name": "promo", "language": "en_US"}}),
    ] {
        ok(
            d,
            "POST",
            &contact_path(CUSTOMER, "/messages"),
            ANA,
            Some(body),
        )
        .await;
        d.advance(10).await;
    }
    post(
        d,
        &webhooks::text_from_ad(FROM_AD, &wamid(), d.now().await, "Tell me about the sale"),
    )
    .await;
    d.advance(0).await;
    for body in [
        json!({"text": "20% off all week."}),
        json!({"template": {"name": "promo", "language": "en_US"}}),
    ] {
        ok(
            d,
            "POST",
            &contact_path(FROM_AD, "/messages"),
            ANA,
            Some(body),
        )
        .await;
        d.advance(10).await;
    }
    assert_eq!(
        shown_to(d, CUSTOMER),
        [
            "Yes, it left this morning.",
            "template:order_update",
            "template:promo"
        ]
    );
    assert_eq!(
        shown_to(d, FROM_AD),
        ["20% off all week.", "template:promo"]
    );

    // Meta's statuses, as it prices these messages (per-message pricing).
    let at = d.now().await;
    let reports = [
        (CUSTOMER, 0, ("service", false, "free_customer_service")),
        (CUSTOMER, 1, ("utility", false, "free_customer_service")),
        (CUSTOMER, 2, ("marketing", true, "regular")),
        (
            FROM_AD,
            0,
            ("referral_conversion", false, "free_entry_point"),
        ),
        (
            FROM_AD,
            1,
            ("referral_conversion", false, "free_entry_point"),
        ),
    ];
    for (to, i, pricing) in reports {
        let wamid = wamid_of(&sent_to(d, to)[i]);
        post(d, &webhooks::status_priced(&wamid, to, at, pricing)).await;
    }
    d.advance(0).await;

    let day = window::day_of(d.now().await);
    let costs = ok(
        d,
        "GET",
        &number_path(&format!("/costs?from={}&to={day}", window::day_of(t0))),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(costs["currency"], "USD", "{costs}");
    let mut lines: Vec<(String, String, i64, i64, i64, i64)> = costs["lines"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|l| {
            (
                l["category"].as_str().unwrap_or("").to_owned(),
                l["charge"].as_str().unwrap_or("").to_owned(),
                l["predicted_count"].as_i64().unwrap_or(-1),
                l["predicted_micros"].as_i64().unwrap_or(-1),
                l["reported_count"].as_i64().unwrap_or(-1),
                l["reported_micros"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    lines.sort();
    let line = |c: &str, charge: &str, p: i64, pm: i64, r: i64, rm: i64| {
        (c.to_owned(), charge.to_owned(), p, pm, r, rm)
    };
    assert_eq!(
        lines,
        vec![
            line("marketing", "charged", 1, 136_500, 1, 136_500),
            line("referral_conversion", "free_entry_point", 2, 0, 2, 0),
            line("service", "free_service_window", 1, 0, 1, 0),
            line("utility", "free_utility_in_service_window", 1, 0, 1, 0),
        ],
        "{costs}"
    );
    assert_eq!(costs["charges"]["charged"]["predicted_micros"], 136_500);
    assert_eq!(costs["total"]["predicted_count"], 5);
    assert_eq!(costs["total"]["reported_count"], 5);
}
