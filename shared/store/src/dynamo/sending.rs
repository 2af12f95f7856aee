//! [`SendingStore`] on DynamoDB: versioned items carry a numeric `version` attribute and every
//! conditional write checks it; writes of several items are one `TransactWriteItems`.

use super::*;
use crate::sending::keys as skeys;
use crate::sending::{
    AcceptedSend, BeginCall, CallBegun, CampaignSending, LedgerAddition, NumberAccount,
    NumberCampaignItem, NumberLink, NumberPacingRecord, PacingWrite, ParkReason, ParkedSend,
    RecipientRecord, ReportedItem, SendContext, SendContextQuery, SendRecord, SendingStore,
    SentMessage,
};
use rules::ContactState;
use rules::billing::ReportedPricing;

const VERSION: &str = "version";

fn version_of(item: &Item) -> u64 {
    match item.get(VERSION) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

/// The condition that the item's version is still `expected` (`None`: it does not exist).
fn version_condition(expected: Option<u64>) -> Condition<'static> {
    match expected {
        None => (
            "attribute_not_exists(#pk)",
            names(&[("#pk", "pk")]),
            HashMap::new(),
        ),
        Some(v) => (
            "#ver = :ver",
            names(&[("#ver", VERSION)]),
            values(vec![(":ver", n(v as i64))]),
        ),
    }
}

fn versioned_item<T: Serialize>(key: &Key, body: &T, version: u64) -> Result<Item> {
    let mut item = item_of(key, body)?;
    item.insert(VERSION.to_owned(), n(version as i64));
    Ok(item)
}

/// Whether a cancelled transaction failed on a condition (a stale version): a value, not a fault.
fn condition_failed(codes: &[String]) -> bool {
    codes.iter().any(|c| c == CONDITION_FAILED)
}

/// A versioned item of a batch read: the value and its version.
fn versioned_of<T: DeserializeOwned>(item: Option<Item>) -> Result<Option<(T, u64)>> {
    match item {
        Some(item) => {
            let version = version_of(&item);
            Ok(Some((parse(item)?, version)))
        }
        None => Ok(None),
    }
}

/// The contact's state as `load_contact` reads it: absent when never committed (a state item the
/// console created holds no version) or past its `expires_at`.
fn contact_state_of(item: Option<Item>, now: Timestamp) -> Result<Option<Versioned<ContactState>>> {
    let Some(item) = item else { return Ok(None) };
    let expired = match item.get(TTL_ATTRIBUTE) {
        Some(AttributeValue::N(at)) => at.parse::<i64>().is_ok_and(|at| at <= now.unix()),
        _ => false,
    };
    if expired {
        return Ok(None);
    }
    let (pk, sk) = key_of(&item);
    let state: StateItem = parse(item)?;
    match state.version {
        Some(version) => {
            let value = state
                .state
                .ok_or_else(|| StoreError::corrupt(&pk, &sk, "versioned item without state"))?;
            Ok(Some(Versioned { version, value }))
        }
        None => Ok(None),
    }
}

impl DynamoStore {
    /// The pacing puts of a [`PacingWrite`], each conditional on its version read.
    fn pacing_ops(&self, w: &PacingWrite) -> Result<Vec<TransactWriteItem>> {
        let mut ops = Vec::new();
        if let Some((number, record, expected)) = &w.number {
            ops.push(self.versioned_put(&skeys::number_pacing(number), record, *expected)?);
        }
        if let Some((number, contact, record, expected)) = &w.recipient {
            ops.push(self.versioned_put(&skeys::recipient(number, contact), record, *expected)?);
        }
        Ok(ops)
    }

    /// The key's claim and the contact's outbound-log pointer, as updates that keep whatever
    /// exists (`if_not_exists` per attribute): in a transaction a failing condition would cancel
    /// everything, and an existing claim (first caller wins) is simply kept.
    fn claim_ops(
        &self,
        record: &SendRecord,
        claimed_at: Timestamp,
        body: Option<String>,
    ) -> Result<Vec<TransactWriteItem>> {
        let claim = self.update_op(
            &keys::outbound_by_key(&record.key),
            "SET #k = if_not_exists(#k, :k), #n = if_not_exists(#n, :n), \
             #c = if_not_exists(#c, :c), #t = if_not_exists(#t, :t)"
                .to_owned(),
            None,
            names(&[
                ("#k", "idempotency_key"),
                ("#n", "number"),
                ("#c", "contact"),
                ("#t", "claimed_at"),
            ]),
            values(vec![
                (":k", s(&record.key)),
                (":n", s(record.number.as_str())),
                (":c", s(record.contact.as_str())),
                (":t", n(claimed_at.unix())),
            ]),
        )?;
        let mut set = vec!["#k = if_not_exists(#k, :k)", "#t = if_not_exists(#t, :t)"];
        let mut attr_names = vec![("#k", "idempotency_key"), ("#t", "claimed_at")];
        let mut vals = vec![(":k", s(&record.key)), (":t", n(claimed_at.unix()))];
        if let Some(body) = body {
            set.push("#b = if_not_exists(#b, :b)");
            attr_names.push(("#b", "body"));
            vals.push((":b", s(body)));
        }
        let pointer = self.update_op(
            &keys::outbound_pointer(&record.number, &record.contact, claimed_at, &record.key),
            format!("SET {}", set.join(", ")),
            None,
            names(&attr_names),
            values(vals),
        )?;
        Ok(vec![claim, pointer])
    }

    async fn get_versioned<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        key: &Key,
    ) -> Result<Option<(T, u64)>> {
        match self.get(operation, key).await? {
            Some(item) => {
                let version = version_of(&item);
                Ok(Some((parse(item)?, version)))
            }
            None => Ok(None),
        }
    }

    /// A conditional put of a versioned item, as one transaction item.
    fn versioned_put<T: Serialize>(
        &self,
        key: &Key,
        body: &T,
        expected: Option<u64>,
    ) -> Result<TransactWriteItem> {
        self.put_op(
            versioned_item(key, body, expected.unwrap_or(0) + 1)?,
            Some(version_condition(expected)),
        )
    }

    fn ledger_op(&self, line: &LedgerAddition, side: LedgerSide) -> Result<TransactWriteItem> {
        let (count_attr, micros_attr) = match side {
            LedgerSide::Predicted => ("predicted_count", "predicted_micros"),
            LedgerSide::Reported => ("reported_count", "reported_micros"),
        };
        self.update_op(
            &keys::ledger(&line.number, line.day, &line.category, &line.charge),
            "SET #n = :n, #d = :d, #c = :c, #h = :h ADD #k :k, #m :m".to_owned(),
            None,
            names(&[
                ("#n", "number"),
                ("#d", "day"),
                ("#c", "category"),
                ("#h", "charge"),
                ("#k", count_attr),
                ("#m", micros_attr),
            ]),
            values(vec![
                (":n", s(line.number.as_str())),
                (":d", s(line.day.to_string())),
                (":c", s(&line.category)),
                (":h", s(&line.charge)),
                (":k", n(1)),
                (":m", n(line.micros)),
            ]),
        )
    }
}

impl SendingStore for DynamoStore {
    async fn send_record(&self, key: &str) -> Result<Option<Versioned<SendRecord>>> {
        Ok(self
            .get_versioned::<SendRecord>("send_record", &skeys::send_record(key))
            .await?
            .map(|(value, version)| Versioned { version, value }))
    }

    async fn put_send_record(
        &self,
        record: &SendRecord,
        expected: Option<u64>,
    ) -> Result<Option<u64>> {
        let key = skeys::send_record(&record.key);
        let (expr, attr_names, attr_values) = version_condition(expected);
        let version = expected.unwrap_or(0) + 1;
        let result = self
            .client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(versioned_item(&key, record, version)?))
            .condition_expression(expr)
            .set_expression_attribute_names(Some(attr_names))
            .set_expression_attribute_values((!attr_values.is_empty()).then_some(attr_values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(version)),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(sdk_error("put_send_record", e)),
        }
    }

    async fn send_context(&self, q: &SendContextQuery) -> Result<SendContext> {
        let record_key = skeys::send_record(&q.key);
        let claim_key = keys::outbound_by_key(&q.key);
        let number_key = skeys::number_pacing(&q.number);
        let recipient_key = skeys::recipient(&q.number, &q.contact);
        let state_key = keys::state(&q.number, &q.contact);
        let settings_key = q.settings.then(|| keys::settings(&q.number));
        let template_key = q
            .template
            .as_ref()
            .map(|(name, language)| keys::template(&q.number, name, language));
        let rates_key = keys::rates();
        let mut wanted = vec![
            record_key.clone(),
            claim_key.clone(),
            number_key.clone(),
            recipient_key.clone(),
            state_key.clone(),
            rates_key.clone(),
        ];
        wanted.extend(settings_key.iter().cloned());
        wanted.extend(template_key.iter().cloned());
        let mut found = self.batch_get("send_context", &wanted).await?;
        let mut take = |key: &Key| found.remove(&(key.pk.clone(), key.sk.clone()));
        let record = versioned_of::<SendRecord>(take(&record_key))?
            .map(|(value, version)| Versioned { version, value });
        let claimed_at = take(&claim_key)
            .map(parse::<OutboundKeyItem>)
            .transpose()?
            .map(|c| c.claimed_at);
        let number_pacing = match versioned_of(take(&number_key))? {
            Some((value, version)) => (value, Some(version)),
            None => (NumberPacingRecord::default(), None),
        };
        let recipient = match versioned_of(take(&recipient_key))? {
            Some((value, version)) => (value, Some(version)),
            None => (RecipientRecord::default(), None),
        };
        let contact = contact_state_of(take(&state_key), q.now)?;
        let settings = match &settings_key {
            Some(key) => take(key)
                .map(parse::<SettingsItem>)
                .transpose()?
                .map(|i| i.settings),
            None => None,
        };
        let template = match &template_key {
            Some(key) => take(key)
                .map(parse::<TemplateItem>)
                .transpose()?
                .map(|i| i.template),
            None => None,
        };
        let rates = take(&rates_key)
            .map(parse::<RatesItem>)
            .transpose()?
            .map(|i| i.table);
        Ok(SendContext {
            record,
            claimed_at,
            number_pacing,
            recipient,
            contact,
            settings,
            template,
            rates,
        })
    }

    async fn begin_call(&self, call: &BeginCall) -> Result<CallBegun> {
        let record_key = skeys::send_record(&call.record.key);
        let mut ops = vec![self.versioned_put(&record_key, &call.record, call.expected)?];
        if let Some(claim) = &call.claim {
            ops.extend(self.claim_ops(
                &call.record,
                claim.claimed_at,
                claim.body.as_ref().map(json_text),
            )?);
        }
        ops.extend(self.pacing_ops(&call.pacing)?);
        match self.transact("begin_call", ops).await? {
            Ok(()) => Ok(CallBegun::Begun {
                version: call.expected.unwrap_or(0) + 1,
            }),
            // The reasons come in the order of the operations: the record's first.
            Err(codes) if codes.first().is_some_and(|c| c == CONDITION_FAILED) => {
                Ok(CallBegun::RecordChanged)
            }
            Err(codes) if condition_failed(&codes) => Ok(CallBegun::PacingChanged),
            Err(codes) => Err(StoreError::Backend {
                operation: "begin_call",
                message: format!("transaction cancelled: {codes:?}"),
            }),
        }
    }

    async fn record_accepted(&self, a: &AcceptedSend) -> Result<bool> {
        let wamid = &a.message.wamid;
        let mut ops = vec![self.versioned_put(
            &skeys::send_record(&a.record.key),
            &a.record,
            Some(a.expected_version),
        )?];
        // The claim item `outbound_by_key` reads.
        ops.push(
            self.update_op(
                &keys::outbound_by_key(&a.record.key),
                "SET #w = :w, #k = if_not_exists(#k, :k), #n = if_not_exists(#n, :n), \
             #c = if_not_exists(#c, :c), #t = if_not_exists(#t, :t)"
                    .to_owned(),
                None,
                names(&[
                    ("#w", "wamid"),
                    ("#k", "idempotency_key"),
                    ("#n", "number"),
                    ("#c", "contact"),
                    ("#t", "claimed_at"),
                ]),
                values(vec![
                    (":w", s(wamid.as_str())),
                    (":k", s(&a.record.key)),
                    (":n", s(a.record.number.as_str())),
                    (":c", s(a.record.contact.as_str())),
                    (":t", n(a.message.sent_at.unix())),
                ]),
            )?,
        );
        // The status item (statuses may have arrived first: keep what they set).
        ops.push(self.update_op(
            &keys::outbound_by_wamid(wamid),
            "SET #w = :w, #k = :k, #n = :n, #c = :c, #t = if_not_exists(#t, :t)".to_owned(),
            None,
            names(&[
                ("#w", "wamid"),
                ("#k", "idempotency_key"),
                ("#n", "number"),
                ("#c", "contact"),
                ("#t", "sent_at"),
            ]),
            values(vec![
                (":w", s(wamid.as_str())),
                (":k", s(&a.record.key)),
                (":n", s(a.record.number.as_str())),
                (":c", s(a.record.contact.as_str())),
                (":t", n(a.message.sent_at.unix())),
            ]),
        )?);
        ops.push(self.put_op(item_of(&skeys::sent_message(wamid), &a.message)?, None)?);
        if let Some(line) = &a.predicted {
            ops.push(self.ledger_op(line, LedgerSide::Predicted)?);
        }
        if let Some(outreach) = &a.outreach {
            let item = OutreachItem {
                record: outreach.record.clone(),
                expires_at: outreach.expires_at,
            };
            ops.push(self.put_op(
                item_of(
                    &keys::outreach(&a.record.number, &a.record.contact, &outreach.record.id),
                    &item,
                )?,
                None,
            )?);
        }
        // BILL-5: the conversation the send opened joins the recipient's history; the version
        // moves so that a send which read the history before this write reads it again.
        if let Some(opened) = &a.opened {
            ops.push(self.update_op(
                &skeys::recipient(&a.record.number, &a.record.contact),
                "SET #b = list_append(if_not_exists(#b, :empty), :new) ADD #ver :one".to_owned(),
                None,
                names(&[("#b", "billing"), ("#ver", VERSION)]),
                values(vec![
                    (":empty", AttributeValue::L(Vec::new())),
                    (":new", AttributeValue::L(vec![av(opened)?])),
                    (":one", n(1)),
                ]),
            )?);
        }
        match self.transact("record_accepted", ops).await? {
            Ok(()) => Ok(true),
            Err(codes) if condition_failed(&codes) => Ok(false),
            Err(codes) => Err(StoreError::Backend {
                operation: "record_accepted",
                message: format!("transaction cancelled: {codes:?}"),
            }),
        }
    }

    async fn sent_message(&self, wamid: &MessageId) -> Result<Option<SentMessage>> {
        self.get_typed("sent_message", &skeys::sent_message(wamid))
            .await
    }

    async fn record_reported_pricing(
        &self,
        wamid: &MessageId,
        reported: &ReportedPricing,
        line: &LedgerAddition,
    ) -> Result<bool> {
        let item = ReportedItem {
            reported: *reported,
            line: line.clone(),
        };
        let ops = vec![
            self.put_op(
                item_of(&skeys::reported_pricing(wamid), &item)?,
                Some(version_condition(None)),
            )?,
            self.ledger_op(line, LedgerSide::Reported)?,
        ];
        match self.transact("record_reported_pricing", ops).await? {
            Ok(()) => Ok(true),
            Err(codes) if condition_failed(&codes) => Ok(false),
            Err(codes) => Err(StoreError::Backend {
                operation: "record_reported_pricing",
                message: format!("transaction cancelled: {codes:?}"),
            }),
        }
    }

    async fn number_pacing(
        &self,
        number: &BusinessNumberId,
    ) -> Result<(NumberPacingRecord, Option<u64>)> {
        Ok(
            match self
                .get_versioned("number_pacing", &skeys::number_pacing(number))
                .await?
            {
                Some((record, version)) => (record, Some(version)),
                None => (NumberPacingRecord::default(), None),
            },
        )
    }

    async fn recipient(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> Result<(RecipientRecord, Option<u64>)> {
        Ok(
            match self
                .get_versioned("recipient", &skeys::recipient(number, contact))
                .await?
            {
                Some((record, version)) => (record, Some(version)),
                None => (RecipientRecord::default(), None),
            },
        )
    }

    async fn put_pacing(&self, w: &PacingWrite) -> Result<bool> {
        let ops = self.pacing_ops(w)?;
        if ops.is_empty() {
            return Ok(true);
        }
        match self.transact("put_pacing", ops).await? {
            Ok(()) => Ok(true),
            Err(codes) if condition_failed(&codes) => Ok(false),
            Err(codes) => Err(StoreError::Backend {
                operation: "put_pacing",
                message: format!("transaction cancelled: {codes:?}"),
            }),
        }
    }

    async fn park(
        &self,
        number: &BusinessNumberId,
        on: &ParkReason,
        parked: &ParkedSend,
    ) -> Result<()> {
        let key = skeys::parked(number, &on.slot(), &parked.key);
        let result = self
            .client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(item_of(&key, parked)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(sdk_error("park", e)),
        }
    }

    async fn parked(
        &self,
        number: &BusinessNumberId,
        on: &ParkReason,
        limit: u32,
    ) -> Result<Vec<ParkedSend>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(skeys::parked_pk(number, &on.slot())))
            .limit(limit.clamp(1, i32::MAX as u32) as i32);
        let (items, _) = self.query_until("parked", query, limit as usize).await?;
        items.into_iter().take(limit as usize).map(parse).collect()
    }

    async fn unpark(&self, number: &BusinessNumberId, on: &ParkReason, key: &str) -> Result<bool> {
        let result = self
            .client
            .delete_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key_item(&skeys::parked(number, &on.slot(), key))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error("unpark", e)),
        }
    }

    async fn link_number(&self, waba: &str, link: &NumberLink) -> Result<()> {
        let mut names = names(&[("#n", "number")]);
        let mut values = values(vec![(":n", s(link.number.as_str()))]);
        // A link that learnt the display number keeps it.
        let expression = match &link.display_phone_number {
            Some(display) => {
                names.insert("#d".into(), "display_phone_number".into());
                values.insert(":d".into(), s(display));
                "SET #n = :n, #d = :d"
            }
            None => "SET #n = :n",
        };
        // The link and the way back from the number (TPL-2), in one call.
        let items = vec![
            self.update_op(
                &skeys::account_number(waba, &link.number),
                expression.to_owned(),
                None,
                names,
                values,
            )?,
            self.put_op(
                item_of(
                    &skeys::number_account(&link.number),
                    &NumberAccount {
                        waba: waba.to_owned(),
                    },
                )?,
                None,
            )?,
        ];
        self.transact("link_number", items)
            .await?
            .map_err(|codes| StoreError::Backend {
                operation: "link_number",
                message: format!("cancelled: {codes:?}"),
            })
    }

    async fn number_account(&self, number: &BusinessNumberId) -> Result<Option<String>> {
        Ok(self
            .get("number_account", &skeys::number_account(number))
            .await?
            .map(parse::<NumberAccount>)
            .transpose()?
            .map(|a| a.waba))
    }

    async fn account_numbers(&self, waba: &str) -> Result<Vec<NumberLink>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(skeys::account_pk(waba)));
        let (items, _) = self
            .query_until("account_numbers", query, usize::MAX)
            .await?;
        items.into_iter().map(parse).collect()
    }

    async fn link_campaign(&self, number: &BusinessNumberId, campaign: &CampaignId) -> Result<()> {
        self.put(
            "link_campaign",
            &skeys::number_campaign(number, campaign),
            &NumberCampaignItem {
                campaign: campaign.clone(),
            },
        )
        .await
    }

    async fn number_campaigns(&self, number: &BusinessNumberId) -> Result<Vec<CampaignId>> {
        let query = self
            .query()
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :p)")
            .set_expression_attribute_names(Some(names(&[("#pk", "pk"), ("#sk", "sk")])))
            .set_expression_attribute_values(Some(values(vec![
                (":pk", s(format!("N#{number}"))),
                (":p", s(skeys::NUMBER_CAMPAIGN_PREFIX)),
            ])));
        let (items, _) = self
            .query_until("number_campaigns", query, usize::MAX)
            .await?;
        items
            .into_iter()
            .map(|i| parse::<NumberCampaignItem>(i).map(|c| c.campaign))
            .collect()
    }

    async fn campaign_row(
        &self,
        campaign: &CampaignId,
        contact: &ContactKey,
    ) -> Result<Option<CampaignRow>> {
        let key = keys::campaign_row(campaign, contact);
        match self
            .get_typed::<CampaignRowItem>("campaign_row", &key)
            .await?
        {
            Some(row) => Ok(Some(CampaignRow {
                data: parse_json_text(&key.pk, &key.sk, &row.data)?,
                contact: row.contact,
                stage: row.stage,
            })),
            None => Ok(None),
        }
    }

    async fn campaign_sending(
        &self,
        campaign: &CampaignId,
    ) -> Result<(CampaignSending, Option<u64>)> {
        Ok(
            match self
                .get_versioned("campaign_sending", &skeys::campaign_sending(campaign))
                .await?
            {
                Some((s, v)) => (s, Some(v)),
                None => (CampaignSending::default(), None),
            },
        )
    }

    async fn put_campaign_sending(
        &self,
        campaign: &CampaignId,
        sending: &CampaignSending,
        expected: Option<u64>,
    ) -> Result<bool> {
        let op = self.versioned_put(&skeys::campaign_sending(campaign), sending, expected)?;
        match self.transact("put_campaign_sending", vec![op]).await? {
            Ok(()) => Ok(true),
            Err(codes) if condition_failed(&codes) => Ok(false),
            Err(codes) => Err(StoreError::Backend {
                operation: "put_campaign_sending",
                message: format!("transaction cancelled: {codes:?}"),
            }),
        }
    }
}
