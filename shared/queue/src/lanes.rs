//! FIFO lanes (ARCHITECTURE invariant 7), written once for the router Lambda's SQS batches and
//! the local runner's inbound queue: a batch is split into lanes by message group (one contact's
//! events), the lanes run side by side, and within a lane the events are applied one at a time,
//! in order, stopping at the first failure so that nothing overtakes it. What happens to the
//! failed event and those held behind it is the caller's (SQS: reported failed; the runner: put
//! back).

use std::collections::HashMap;
use std::future::Future;

/// Splits `items` into lanes by `group`: lanes in the order of their first item, items within a
/// lane in batch order.
pub fn into_lanes<T>(
    items: impl IntoIterator<Item = T>,
    group: impl Fn(&T) -> Option<&str>,
) -> Vec<Vec<T>> {
    let mut lanes: Vec<Vec<T>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for item in items {
        let at = match group(&item) {
            Some(g) => index.get(g).copied(),
            None => None,
        };
        match at {
            Some(i) => lanes[i].push(item),
            None => {
                if let Some(g) = group(&item) {
                    index.insert(g.to_owned(), lanes.len());
                }
                lanes.push(vec![item]);
            }
        }
    }
    lanes
}

/// Applies a lane's items in order. `Err((i, e))`: item `i` failed with `e`; it was the last one
/// tried (items `..i` were applied, `i + 1..` are held behind it).
pub async fn in_order<'a, T, E, F, Fut>(lane: &'a [T], mut apply: F) -> Result<(), (usize, E)>
where
    F: FnMut(&'a T) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    for (i, item) in lane.iter().enumerate() {
        apply(item).await.map_err(|e| (i, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_keep_first_appearance_and_batch_order_and_ungrouped_items_stand_alone() {
        let items = [
            ("a", Some("g1")),
            ("b", Some("g2")),
            ("c", None),
            ("d", Some("g1")),
            ("e", None),
            ("f", Some("g2")),
        ];
        let lanes = into_lanes(items, |(_, g)| *g);
        let names: Vec<Vec<&str>> = lanes
            .iter()
            .map(|l| l.iter().map(|(n, _)| *n).collect())
            .collect();
        assert_eq!(
            names,
            [vec!["a", "d"], vec!["b", "f"], vec!["c"], vec!["e"]]
        );
    }

    #[tokio::test]
    async fn a_lane_stops_at_its_first_failure() {
        let lane = [1, 2, 3, 4];
        let mut tried = Vec::new();
        let result = in_order(&lane, |n| {
            tried.push(*n);
            let n = *n;
            async move { if n == 2 { Err("two") } else { Ok(()) } }
        })
        .await;
        assert_eq!(result, Err((1, "two")));
        assert_eq!(tried, [1, 2], "nothing overtakes the failed item");
        assert_eq!(
            in_order(&lane, |_| async { Ok::<(), ()>(()) }).await,
            Ok(())
        );
    }
}
