//! [`SendingStore`] on SQLite: versioned items use the `version` column; every multi-item write
//! is one writer job (one savepoint), so it is as atomic as the DynamoDB transaction.

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

/// The row's version: items written by this module always carry one; 0 for one without.
fn version_of(row: &Row) -> u64 {
    row.version.map_or(0, |v| v as u64)
}

fn get_versioned<T: DeserializeOwned>(c: &Connection, key: &Key) -> Result<Option<(T, u64)>> {
    match get_row(c, key)? {
        Some(row) => {
            let value = decode(&key.pk, &key.sk, row.data.as_deref())?;
            Ok(Some((value, version_of(&row))))
        }
        None => Ok(None),
    }
}

/// Whether the item's version is still `expected` (`None`: it must not exist).
fn version_matches(c: &Connection, key: &Key, expected: Option<u64>) -> Result<bool> {
    let current = get_row(c, key)?;
    Ok(match (current, expected) {
        (None, None) => true,
        (Some(row), Some(v)) => version_of(&row) == v,
        _ => false,
    })
}

fn write_versioned<T: Serialize>(c: &Connection, key: &Key, value: &T, version: u64) -> Result<()> {
    let data = encode(value)?;
    c.prepare_cached(
        "INSERT INTO items (pk, sk, data, version) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (pk, sk) DO UPDATE SET data = excluded.data, version = excluded.version",
    )
    .and_then(|mut s| s.execute(params![key.pk, key.sk, data, version as i64]))
    .map_err(sql_error("put"))?;
    Ok(())
}

fn ledger_add_sync(c: &Connection, line: &LedgerAddition, side: LedgerSide) -> Result<()> {
    let key = keys::ledger(&line.number, line.day, &line.category, &line.charge);
    let mut item = get_item::<LedgerLine>(c, &key)?.unwrap_or_else(|| LedgerLine {
        number: Some(line.number.clone()),
        day: line.day.to_string(),
        category: line.category.clone(),
        charge: line.charge.clone(),
        ..LedgerLine::default()
    });
    match side {
        LedgerSide::Predicted => {
            item.predicted_count += 1;
            item.predicted_micros += line.micros;
        }
        LedgerSide::Reported => {
            item.reported_count += 1;
            item.reported_micros += line.micros;
        }
    }
    put_item(c, &key, &item, None)
}

fn accepted_sync(c: &Connection, a: &AcceptedSend) -> Result<bool> {
    let record_key = skeys::send_record(&a.record.key);
    if !version_matches(c, &record_key, Some(a.expected_version))? {
        return Ok(false);
    }
    write_versioned(c, &record_key, &a.record, a.expected_version + 1)?;
    let wamid = &a.message.wamid;
    // The claim item `outbound_by_key` reads.
    let claim_key = keys::outbound_by_key(&a.record.key);
    let mut claim = get_item::<OutboundKeyItem>(c, &claim_key)?.unwrap_or(OutboundKeyItem {
        idempotency_key: a.record.key.clone(),
        number: a.record.number.clone(),
        contact: a.record.contact.clone(),
        claimed_at: a.message.sent_at,
        wamid: None,
    });
    claim.wamid = Some(wamid.clone());
    put_item(c, &claim_key, &claim, None)?;
    // The status item (statuses may have arrived first: keep what they set).
    let status_key = keys::outbound_by_wamid(wamid);
    let mut message = get_item::<OutboundMessage>(c, &status_key)?.unwrap_or_default();
    message.wamid = Some(wamid.clone());
    message.idempotency_key = Some(a.record.key.clone());
    message.number = Some(a.record.number.clone());
    message.contact = Some(a.record.contact.clone());
    message.sent_at.get_or_insert(a.message.sent_at);
    put_item(c, &status_key, &message, None)?;
    put_item(c, &skeys::sent_message(wamid), &a.message, None)?;
    if let Some(line) = &a.predicted {
        ledger_add_sync(c, line, LedgerSide::Predicted)?;
    }
    if let Some(outreach) = &a.outreach {
        put_outreach_sync(c, &a.record.number, &a.record.contact, outreach)?;
    }
    // BILL-5: the conversation the send opened joins the recipient's history; the version moves
    // so that a send which read the history before this write reads it again.
    if let Some(opened) = &a.opened {
        let key = skeys::recipient(&a.record.number, &a.record.contact);
        let (mut recipient, version) = versioned_or_default::<RecipientRecord>(c, &key)?;
        recipient.billing.conversations.push(*opened);
        write_versioned(c, &key, &recipient, version.unwrap_or(0) + 1)?;
    }
    Ok(true)
}

fn reported_sync(
    c: &Connection,
    wamid: &MessageId,
    reported: &ReportedPricing,
    line: &LedgerAddition,
) -> Result<bool> {
    let key = skeys::reported_pricing(wamid);
    if get_row(c, &key)?.is_some() {
        return Ok(false);
    }
    let item = ReportedItem {
        reported: *reported,
        line: line.clone(),
    };
    put_item(c, &key, &item, None)?;
    ledger_add_sync(c, line, LedgerSide::Reported)?;
    Ok(true)
}

/// Whether every pacing record of the write is still at its version read.
fn pacing_current(c: &Connection, w: &PacingWrite) -> Result<bool> {
    if let Some((number, _, expected)) = &w.number
        && !version_matches(c, &skeys::number_pacing(number), *expected)?
    {
        return Ok(false);
    }
    if let Some((number, contact, _, expected)) = &w.recipient
        && !version_matches(c, &skeys::recipient(number, contact), *expected)?
    {
        return Ok(false);
    }
    Ok(true)
}

fn pacing_sync(c: &Connection, w: &PacingWrite) -> Result<bool> {
    if !pacing_current(c, w)? {
        return Ok(false);
    }
    write_pacing(c, w)?;
    Ok(true)
}

fn write_pacing(c: &Connection, w: &PacingWrite) -> Result<()> {
    if let Some((number, record, expected)) = &w.number {
        write_versioned(
            c,
            &skeys::number_pacing(number),
            record,
            expected.unwrap_or(0) + 1,
        )?;
    }
    if let Some((number, contact, record, expected)) = &w.recipient {
        write_versioned(
            c,
            &skeys::recipient(number, contact),
            record,
            expected.unwrap_or(0) + 1,
        )?;
    }
    Ok(())
}

/// A versioned item read as (value, version), or the default with no version.
fn versioned_or_default<T: DeserializeOwned + Default>(
    c: &Connection,
    key: &Key,
) -> Result<(T, Option<u64>)> {
    Ok(match get_versioned(c, key)? {
        Some((value, version)) => (value, Some(version)),
        None => (T::default(), None),
    })
}

/// The contact's state as `load_contact` reads it (live, committed: it has a version).
fn contact_state_sync(
    c: &Connection,
    key: &Key,
    now: Timestamp,
) -> Result<Option<Versioned<ContactState>>> {
    let Some(row) = get_row(c, key)? else {
        return Ok(None);
    };
    let Some(version) = row.version.filter(|_| row.live(Some(now))) else {
        return Ok(None);
    };
    let item: StateItem = decode(&key.pk, &key.sk, row.data.as_deref())?;
    let value = item
        .state
        .ok_or_else(|| StoreError::corrupt(&key.pk, &key.sk, "versioned item without state"))?;
    Ok(Some(Versioned {
        version: version as u64,
        value,
    }))
}

fn send_context_sync(c: &Connection, q: &SendContextQuery) -> Result<SendContext> {
    let record = get_versioned::<SendRecord>(c, &skeys::send_record(&q.key))?
        .map(|(value, version)| Versioned { version, value });
    let claimed_at = get_item::<OutboundKeyItem>(c, &keys::outbound_by_key(&q.key))?
        .map(|claim| claim.claimed_at);
    let settings = if q.settings {
        get_item::<SettingsItem>(c, &keys::settings(&q.number))?.map(|i| i.settings)
    } else {
        None
    };
    let template = match &q.template {
        Some((name, language)) => {
            get_item::<TemplateItem>(c, &keys::template(&q.number, name, language))?
                .map(|i| i.template)
        }
        None => None,
    };
    Ok(SendContext {
        record,
        claimed_at,
        number_pacing: versioned_or_default(c, &skeys::number_pacing(&q.number))?,
        recipient: versioned_or_default(c, &skeys::recipient(&q.number, &q.contact))?,
        contact: contact_state_sync(c, &keys::state(&q.number, &q.contact), q.now)?,
        settings,
        template,
        rates: get_item::<RatesItem>(c, &keys::rates())?.map(|i| i.table),
    })
}

fn begin_call_sync(c: &Connection, call: &BeginCall) -> Result<CallBegun> {
    let record_key = skeys::send_record(&call.record.key);
    if !version_matches(c, &record_key, call.expected)? {
        return Ok(CallBegun::RecordChanged);
    }
    if !pacing_current(c, &call.pacing)? {
        return Ok(CallBegun::PacingChanged);
    }
    let version = call.expected.unwrap_or(0) + 1;
    write_versioned(c, &record_key, &call.record, version)?;
    if let Some(claim) = &call.claim {
        // First caller wins: an existing claim and pointer keep their time and body.
        let record = &call.record;
        let claim_key = keys::outbound_by_key(&record.key);
        if get_row(c, &claim_key)?.is_none() {
            let item = OutboundKeyItem {
                idempotency_key: record.key.clone(),
                number: record.number.clone(),
                contact: record.contact.clone(),
                claimed_at: claim.claimed_at,
                wamid: None,
            };
            put_item(c, &claim_key, &item, None)?;
        }
        let pointer_key = keys::outbound_pointer(
            &record.number,
            &record.contact,
            claim.claimed_at,
            &record.key,
        );
        let mut pointer =
            get_item::<OutboundPointerItem>(c, &pointer_key)?.unwrap_or(OutboundPointerItem {
                idempotency_key: record.key.clone(),
                claimed_at: claim.claimed_at,
                body: None,
            });
        if pointer.body.is_none() {
            pointer.body = claim.body.as_ref().map(json_text);
        }
        put_item(c, &pointer_key, &pointer, None)?;
    }
    write_pacing(c, &call.pacing)?;
    Ok(CallBegun::Begun { version })
}

/// The state of a key's send record, if any (the console's outbound log, SEND-5).
pub(crate) fn send_state(c: &Connection, key: &str) -> Result<Option<crate::SendState>> {
    Ok(get_versioned::<SendRecord>(c, &skeys::send_record(key))?.map(|(r, _)| r.state))
}

impl SendingStore for SqliteStore {
    async fn send_record(&self, key: &str) -> Result<Option<Versioned<SendRecord>>> {
        let key = skeys::send_record(key);
        self.read("send_record", move |c| {
            Ok(get_versioned::<SendRecord>(c, &key)?
                .map(|(value, version)| Versioned { version, value }))
        })
        .await
    }

    async fn put_send_record(
        &self,
        record: &SendRecord,
        expected: Option<u64>,
    ) -> Result<Option<u64>> {
        let record = record.clone();
        self.run("put_send_record", move |c| {
            let key = skeys::send_record(&record.key);
            if !version_matches(c, &key, expected)? {
                return Ok(None);
            }
            let version = expected.unwrap_or(0) + 1;
            write_versioned(c, &key, &record, version)?;
            Ok(Some(version))
        })
        .await
    }

    async fn send_context(&self, query: &SendContextQuery) -> Result<SendContext> {
        self.read("send_context", |c| send_context_sync(c, query))
            .await
    }

    async fn begin_call(&self, call: &BeginCall) -> Result<CallBegun> {
        let call = call.clone();
        self.run("begin_call", move |c| begin_call_sync(c, &call))
            .await
    }

    async fn record_accepted(&self, accepted: &AcceptedSend) -> Result<bool> {
        let accepted = accepted.clone();
        self.run("record_accepted", move |c| accepted_sync(c, &accepted))
            .await
    }

    async fn sent_message(&self, wamid: &MessageId) -> Result<Option<SentMessage>> {
        let key = skeys::sent_message(wamid);
        self.read("sent_message", move |c| get_item(c, &key)).await
    }

    async fn record_reported_pricing(
        &self,
        wamid: &MessageId,
        reported: &ReportedPricing,
        line: &LedgerAddition,
    ) -> Result<bool> {
        let (wamid, reported, line) = (wamid.clone(), *reported, line.clone());
        self.run("record_reported_pricing", move |c| {
            reported_sync(c, &wamid, &reported, &line)
        })
        .await
    }

    async fn number_pacing(
        &self,
        number: &BusinessNumberId,
    ) -> Result<(NumberPacingRecord, Option<u64>)> {
        let key = skeys::number_pacing(number);
        self.read("number_pacing", move |c| {
            Ok(match get_versioned(c, &key)? {
                Some((record, version)) => (record, Some(version)),
                None => (NumberPacingRecord::default(), None),
            })
        })
        .await
    }

    async fn recipient(
        &self,
        number: &BusinessNumberId,
        contact: &ContactKey,
    ) -> Result<(RecipientRecord, Option<u64>)> {
        let key = skeys::recipient(number, contact);
        self.read("recipient", move |c| {
            Ok(match get_versioned(c, &key)? {
                Some((record, version)) => (record, Some(version)),
                None => (RecipientRecord::default(), None),
            })
        })
        .await
    }

    async fn put_pacing(&self, write: &PacingWrite) -> Result<bool> {
        let write = write.clone();
        self.run("put_pacing", move |c| pacing_sync(c, &write))
            .await
    }

    async fn park(
        &self,
        number: &BusinessNumberId,
        on: &ParkReason,
        parked: &ParkedSend,
    ) -> Result<()> {
        let key = skeys::parked(number, &on.slot(), &parked.key);
        let parked = parked.clone();
        self.run("park", move |c| {
            if get_row(c, &key)?.is_none() {
                put_item(c, &key, &parked, None)?;
            }
            Ok(())
        })
        .await
    }

    async fn parked(
        &self,
        number: &BusinessNumberId,
        on: &ParkReason,
        limit: u32,
    ) -> Result<Vec<ParkedSend>> {
        let pk = skeys::parked_pk(number, &on.slot());
        self.read("parked", move |c| {
            Ok(
                query_range::<ParkedSend>(c, &pk, "", "\u{10FFFF}", false, limit)?
                    .into_iter()
                    .map(|(_, p)| p)
                    .collect(),
            )
        })
        .await
    }

    async fn unpark(&self, number: &BusinessNumberId, on: &ParkReason, key: &str) -> Result<bool> {
        let key = skeys::parked(number, &on.slot(), key);
        self.run("unpark", move |c| delete_item(c, &key)).await
    }

    async fn link_number(&self, waba: &str, link: &NumberLink) -> Result<()> {
        let key = skeys::account_number(waba, &link.number);
        let back = skeys::number_account(&link.number);
        let waba = waba.to_owned();
        let link = link.clone();
        self.run("link_number", move |c| {
            let known = get_item::<NumberLink>(c, &key)?;
            // A link that learnt the display number keeps it.
            if known.as_ref() != Some(&link)
                && !(known.as_ref().is_some_and(|k| {
                    k.display_phone_number.is_some() && link.display_phone_number.is_none()
                }))
            {
                put_item(c, &key, &link, None)?;
            }
            // The way back from the number (TPL-2).
            put_item(c, &back, &NumberAccount { waba }, None)?;
            Ok(())
        })
        .await
    }

    async fn number_account(&self, number: &BusinessNumberId) -> Result<Option<String>> {
        let key = skeys::number_account(number);
        self.read("number_account", move |c| {
            Ok(get_item::<NumberAccount>(c, &key)?.map(|a| a.waba))
        })
        .await
    }

    async fn account_numbers(&self, waba: &str) -> Result<Vec<NumberLink>> {
        let pk = skeys::account_pk(waba);
        self.read("account_numbers", move |c| {
            Ok(
                query_range::<NumberLink>(c, &pk, "", "\u{10FFFF}", false, u32::MAX)?
                    .into_iter()
                    .map(|(_, l)| l)
                    .collect(),
            )
        })
        .await
    }

    async fn link_campaign(&self, number: &BusinessNumberId, campaign: &CampaignId) -> Result<()> {
        let key = skeys::number_campaign(number, campaign);
        let item = NumberCampaignItem {
            campaign: campaign.clone(),
        };
        self.run("link_campaign", move |c| put_item(c, &key, &item, None))
            .await
    }

    async fn number_campaigns(&self, number: &BusinessNumberId) -> Result<Vec<CampaignId>> {
        let pk = format!("N#{number}");
        self.read("number_campaigns", move |c| {
            let lo = skeys::NUMBER_CAMPAIGN_PREFIX;
            Ok(
                query_range::<NumberCampaignItem>(c, &pk, lo, &prefix_end(lo), false, u32::MAX)?
                    .into_iter()
                    .map(|(_, item)| item.campaign)
                    .collect(),
            )
        })
        .await
    }

    async fn campaign_row(
        &self,
        campaign: &CampaignId,
        contact: &ContactKey,
    ) -> Result<Option<CampaignRow>> {
        let key = keys::campaign_row(campaign, contact);
        self.read("campaign_row", move |c| {
            match get_item::<CampaignRowItem>(c, &key)? {
                Some(item) => campaign_row(&key.pk, &key.sk, item).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn campaign_sending(
        &self,
        campaign: &CampaignId,
    ) -> Result<(CampaignSending, Option<u64>)> {
        let key = skeys::campaign_sending(campaign);
        self.read("campaign_sending", move |c| {
            Ok(match get_versioned(c, &key)? {
                Some((s, v)) => (s, Some(v)),
                None => (CampaignSending::default(), None),
            })
        })
        .await
    }

    async fn put_campaign_sending(
        &self,
        campaign: &CampaignId,
        sending: &CampaignSending,
        expected: Option<u64>,
    ) -> Result<bool> {
        let key = skeys::campaign_sending(campaign);
        let sending = sending.clone();
        self.run("put_campaign_sending", move |c| {
            if !version_matches(c, &key, expected)? {
                return Ok(false);
            }
            write_versioned(c, &key, &sending, expected.unwrap_or(0) + 1)?;
            Ok(true)
        })
        .await
    }
}
