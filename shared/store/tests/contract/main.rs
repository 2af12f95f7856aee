//! The contract suite: written once (`suite.rs`), run against both adapters. The DynamoDB half
//! needs moto (`AWS_ENDPOINT_URL` or `SWITCHBOARD_MOTO_URL`); it panics when neither is set, it
//! never skips. `scripts/test` starts moto and sets both.

mod adapters;
mod calls;
mod harness;
mod sending;
mod suite;

macro_rules! contract {
    ($adapter:ident, $make:path, [$($test:ident),* $(,)?]) => {
        mod $adapter {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    crate::suite::$test($make().await).await
                }
            )*
        }
    };
}

macro_rules! contract_suite {
    ($adapter:ident, $make:path) => {
        contract!(
            $adapter,
            $make,
            [
                commit_then_load_round_trips,
                duplicate_event_changes_nothing,
                expired_dedup_marker_no_longer_blocks,
                two_concurrent_writers_exactly_one_wins,
                agent_capacity_never_exceeded_under_20_concurrent_assignments,
                capacity_operations_are_keyed,
                auto_5_taking_by_hand_counts_over_the_limit,
                claiming_the_queue_head_is_atomic_and_keyed,
                expired_outreach_is_ignored_on_read,
                statuses_are_monotonic_in_any_order,
                send_claims_are_idempotent,
                outbound_log_lists_a_contacts_sends_with_delivery_state,
                queue_is_first_in_first_out,
                search_filters_scope_status_and_text,
                search_pages_newest_first,
                message_log_pages_newest_first,
                outbox_lists_and_marks_done,
                profile_survives_commits,
                corrupt_state_is_a_typed_error_naming_the_key,
                settings_and_templates_round_trip,
                ledger_adds_per_day_and_category,
                campaign_hopper_counts_follow_rows,
                campaign_definition_writes_are_versioned,
                desk_1_numbers_lists_every_number_with_settings,
                desk_2_summary_carries_the_whatsapp_name_unread_and_waiting,
            ]
        );
    };
}

contract_suite!(sqlite, crate::harness::sqlite);
contract_suite!(dynamo, crate::harness::dynamo);
