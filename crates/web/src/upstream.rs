//! The supplier's part of paid orders (plans the business resells): due jobs are claimed,
//! the supplier is asked to top up the line's own ICCID with the plan's package (the
//! order's id is the transaction id, so asking again is the same top-up), and its answer
//! applied: confirmed -> quota granted and the order fulfilled; refused -> the money back
//! ([`refuse`], the one place that does it); no answer -> asked again after a backoff.
//!
//! A line is linked to its profile at the supplier the first time, by looking its ICCID
//! up there; a line the supplier does not know is a refusal. Usage the supplier reports
//! for linked lines is drawn from their buckets by [`sync_usage`].

use crate::AppState;
use simrenew_esim::upstream::{Upstream, UpstreamError};
use simrenew_store::upstream::{Refunded, UpstreamJob};
use std::sync::Arc;

/// How long one call may hold a job before another server may take it.
const LEASE_SECS: i64 = 120;

fn adapter<'a>(s: &'a AppState, name: &str) -> Option<&'a Arc<dyn Upstream>> {
    s.config.upstream.iter().find(|u| u.name() == name)
}

/// Works through the jobs due at `at` (now, but for tests); how many were settled (done
/// or refused).
pub async fn run_due(s: &AppState, at: time::OffsetDateTime) -> usize {
    let jobs = match s.store.claim_upstream_jobs(at, 20, LEASE_SECS).await {
        Ok(j) => j,
        Err(e) => {
            tracing::warn!(error = %e, "upstream jobs");
            return 0;
        }
    };
    let mut settled = 0;
    for job in jobs {
        match run_one(s, &job).await {
            Ok(true) => settled += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(order = %job.order_id, error = %e, "upstream job"),
        }
    }
    settled
}

/// One job: true when it ended (done or refused), false when it is to be asked again.
async fn run_one(s: &AppState, job: &UpstreamJob) -> Result<bool, simrenew_store::StoreError> {
    let Some(supplier) = adapter(s, &job.supplier.adapter) else {
        // Configured off since the order was paid: keep it until it is on again.
        s.store
            .retry_upstream(
                &job.order_id,
                job.attempts,
                "the supplier is not configured",
            )
            .await?;
        return Ok(false);
    };
    let asked = async {
        if job.profile_ref.is_none() {
            match supplier.profile_by_iccid(&job.iccid).await? {
                Some(p) => {
                    s.store
                        .link_upstream_profile(
                            &job.line_id,
                            supplier.name(),
                            &p.profile_ref,
                            p.used_bytes,
                        )
                        .await
                        .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
                }
                None => {
                    return Err(UpstreamError::Refused {
                        code: "unknown-iccid".into(),
                        message: format!("the supplier has no profile with ICCID {}", job.iccid),
                    });
                }
            }
        }
        supplier
            .top_up(&job.order_id, &job.iccid, &job.supplier.package_code)
            .await
    };
    match asked.await {
        Ok(done) => {
            tracing::info!(order = %job.order_id, iccid = %done.iccid, "topped up by the supplier");
            s.store.complete_upstream(&job.order_id).await?;
            Ok(true)
        }
        Err(UpstreamError::Refused { code, message }) => {
            refuse(s, &job.order_id, &format!("{code}: {message}")).await?;
            Ok(true)
        }
        Err(e) => {
            s.store
                .retry_upstream(&job.order_id, job.attempts, &e.to_string())
                .await?;
            Ok(false)
        }
    }
}

/// The one place an order the supplier refused gets its money back: the store marks it
/// refunded and returns balance or deposit money in the same transaction; a provider's
/// payment gets a refund recorded pending in that transaction, asked of the provider now
/// (a refund it cannot make at once, or one a crash kept us from asking, stays pending and
/// is asked again every minute, as every refund is).
pub async fn refuse(
    s: &AppState,
    order_id: &str,
    reason: &str,
) -> Result<(), simrenew_store::StoreError> {
    match s.store.refuse_upstream(order_id, reason).await? {
        Refunded::InLedger | Refunded::Already => Ok(()),
        Refunded::Provider(refund) => {
            match crate::payments::ask_refund(
                &s.store,
                &s.config.providers,
                s.config.vat_code,
                &refund,
            )
            .await
            {
                Ok(_) => Ok(()),
                Err(crate::payments::RefundError::Store(e)) => Err(e),
                Err(e) => {
                    tracing::warn!(order = order_id, refund = %refund.id, error = %e, "refund of a refused upstream order");
                    Ok(())
                }
            }
        }
    }
}

/// Reads the supplier's usage of every linked line and draws what is new from the
/// lines' buckets; the bytes drawn in all.
pub async fn sync_usage(s: &AppState) -> u64 {
    let mut drawn = 0;
    for supplier in &s.config.upstream {
        let linked = match s.store.upstream_profiles(supplier.name()).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "upstream profiles");
                continue;
            }
        };
        let refs: Vec<String> = linked.iter().map(|l| l.profile_ref.clone()).collect();
        if refs.is_empty() {
            continue;
        }
        let usage = match supplier.usage(&refs).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(supplier = supplier.name(), error = %e, "upstream usage");
                continue;
            }
        };
        for u in usage {
            let Some(line) = linked.iter().find(|l| l.profile_ref == u.profile_ref) else {
                continue;
            };
            match s
                .store
                .record_upstream_usage(&line.line_id, u.used_bytes)
                .await
            {
                Ok(n) => drawn += n,
                Err(e) => tracing::warn!(line = %line.line_id, error = %e, "upstream usage"),
            }
        }
    }
    drawn
}

/// Runs the jobs every `every` and the usage every ten times that, for `serve`.
pub fn spawn(s: AppState, every: std::time::Duration) {
    if s.config.upstream.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            run_due(&s, time::OffsetDateTime::now_utc()).await;
            if n.is_multiple_of(10) {
                sync_usage(&s).await;
            }
            n += 1;
        }
    });
}
