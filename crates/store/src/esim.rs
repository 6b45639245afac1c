//! The eSIM profile inventory: import, counts, allocation (never the same profile twice,
//! even with several servers), and state changes by the rules of
//! `simrenew_core::esim::ProfileState`, each recorded.

use crate::db::{Backend, Store, new_id, now};
use crate::error::{Result, StoreError};
use crate::sql::Row;
use simrenew_core::esim::ProfileState;
use simrenew_core::{Iccid, Operator};
use time::OffsetDateTime;

/// A profile in the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub iccid: String,
    pub operator: String,
    pub profile_type: String,
    pub state: ProfileState,
    pub eid: Option<String>,
    pub matching_id: Option<String>,
    pub smdp_address: Option<String>,
    pub order_id: Option<String>,
    pub reissues: i64,
    pub last_error: Option<String>,
    /// When it entered its state.
    pub state_at: OffsetDateTime,
    /// The phone's IMEI, when the buyer gave it or the SM-DP+ reported it.
    pub imei: Option<String>,
    /// The code the phone must be given at download, when the operator uses one; shown
    /// to the buyer apart from the activation code.
    pub confirmation_code: Option<String>,
    /// Where the install mail goes, and in which language.
    pub notify_email: Option<String>,
    pub notify_locale: Option<String>,
}

/// Who a profile is reserved for: the phone (EID binds the profile to it; IMEI is
/// recorded) and where to send the install mail.
#[derive(Debug, Clone, Copy, Default)]
pub struct Holder<'a> {
    pub eid: Option<&'a str>,
    pub imei: Option<&'a str>,
    pub email: Option<&'a str>,
    pub locale: Option<&'a str>,
}

const COLUMNS: &str = "iccid, operator, profile_type, state, eid, matching_id, smdp_address, order_id, reissues, last_error, state_at, imei, confirmation_code, notify_email, notify_locale";

fn profile(r: &Row) -> Result<Profile> {
    let iccid: String = r.try_get("iccid")?;
    let state: String = r.try_get("state")?;
    Ok(Profile {
        state: ProfileState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("profile {iccid}: state {state}")))?,
        operator: r.try_get("operator")?,
        profile_type: r.try_get("profile_type")?,
        eid: r.try_get("eid")?,
        matching_id: r.try_get("matching_id")?,
        smdp_address: r.try_get("smdp_address")?,
        order_id: r.try_get("order_id")?,
        reissues: r.try_get("reissues")?,
        last_error: r.try_get("last_error")?,
        state_at: crate::db::from_unix(r.try_get("state_at")?),
        imei: r.try_get("imei")?,
        confirmation_code: r.try_get("confirmation_code")?,
        notify_email: r.try_get("notify_email")?,
        notify_locale: r.try_get("notify_locale")?,
        iccid,
    })
}

impl Store {
    /// Adds profiles of `profile_type` (from the SM-DP+'s batch) as available; ICCIDs
    /// already known are left alone. (added, already there).
    pub async fn import_profiles(
        &self,
        operator: Operator,
        profile_type: &str,
        iccids: &[Iccid],
    ) -> Result<(usize, usize)> {
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        let mut added = 0;
        for i in iccids {
            let done = crate::sql::query("INSERT INTO esim_profiles (iccid, operator, profile_type, state, state_at, created_at) VALUES ($1, $2, $3, 'available', $4, $4) ON CONFLICT (iccid) DO NOTHING")
                .bind(i.as_str())
                .bind(operator.code())
                .bind(profile_type)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            added += done.rows_affected() as usize;
        }
        tx.commit().await?;
        Ok((added, iccids.len() - added))
    }

    /// How many profiles each operator has in each state.
    pub async fn profile_counts(&self) -> Result<Vec<(String, ProfileState, i64)>> {
        let rows = crate::sql::query("SELECT operator, state, CAST(COUNT(*) AS BIGINT) AS n FROM esim_profiles GROUP BY operator, state ORDER BY operator, state")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("state")?;
                Ok((
                    r.try_get("operator")?,
                    ProfileState::parse(&s)
                        .ok_or_else(|| StoreError::Corrupt(format!("profile state {s}")))?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }

    pub async fn esim_profile(&self, iccid: &str) -> Result<Profile> {
        let sql = format!("SELECT {COLUMNS} FROM esim_profiles WHERE iccid = $1");
        let r = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(iccid)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| StoreError::invalid("iccid", format!("no eSIM profile {iccid}")))?;
        profile(&r)
    }

    /// Adds new eSIM lines to the inventory: for each (ICCID, number) of the batch a line
    /// (nobody's yet) and its profile, available. Known ICCIDs are left alone.
    pub async fn import_esim_lines(
        &self,
        operator: Operator,
        profile_type: &str,
        rows: &[(Iccid, simrenew_core::Msisdn)],
    ) -> Result<(usize, usize)> {
        let mut added = 0;
        for (iccid, msisdn) in rows {
            if self.profile_of_line(iccid.as_str()).await?.is_some() {
                continue;
            }
            match self
                .create_line(&crate::lines::NewLine {
                    operator,
                    kind: "esim".into(),
                    iccid: iccid.clone(),
                    imsi: None,
                    msisdn: msisdn.clone(),
                    puk: None,
                    currency: simrenew_core::Currency::Rub,
                })
                .await
            {
                Ok(_) => {}
                // The line exists already (a demo line, an earlier import): stock its profile.
                Err(e) if e.is_unique_violation() => {}
                Err(e) => return Err(e),
            }
            added += self
                .import_profiles(operator, profile_type, std::slice::from_ref(iccid))
                .await?
                .0;
        }
        Ok((added, rows.len() - added))
    }

    /// Ties a profile reserved for a purchase to the order that pays for it (once).
    pub async fn bind_profile_order(&self, iccid: &str, order_id: &str) -> Result<bool> {
        let done = crate::sql::query("UPDATE esim_profiles SET order_id = $1 WHERE iccid = $2 AND state = 'allocated' AND order_id IS NULL")
            .bind(order_id)
            .bind(iccid)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Orders that paid for a reserved eSIM whose profile is not released yet (the
    /// buyer never came back to the order page: an API client, a closed tab).
    pub async fn paid_unreleased_esims(&self, limit: i64) -> Result<Vec<String>> {
        let sql = format!("SELECT o.id FROM {PAID_UNRELEASED} ORDER BY o.fulfilled_at LIMIT $1");
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| r.try_get("id")).collect()
    }

    /// A new eSIM's number is held for its buyer `older_than_secs` (the API's
    /// `reserved_until`), and longer only while a payment for it is under way (an attempt
    /// opened within that time and not yet answered). After that, a reservation nobody
    /// paid for goes back to the inventory and the unpaid orders placed for it since it
    /// was made are cancelled (their promotions given back), each number in one
    /// transaction that holds its line's lock, so a payment settling at that moment
    /// either fulfils its order first (the number stays) or finds it cancelled and is
    /// held for refund, never taking money for a number given to someone else. A
    /// profile paid for (its order fulfilled, whether or not it is bound yet), or being
    /// reissued for a fulfilled order, is never taken back. How many went back.
    pub async fn expire_reservations(&self, older_than_secs: i64) -> Result<u64> {
        let cutoff = now().unix_timestamp() - older_than_secs;
        let sql = format!(
            "SELECT p.iccid, p.state_at, l.id AS line_id FROM esim_profiles p JOIN lines l ON l.iccid = p.iccid WHERE {UNPAID_RESERVATION} ORDER BY p.state_at LIMIT 200"
        );
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(cutoff)
            .fetch_all(&self.read)
            .await?;
        let give_back = format!(
            "UPDATE esim_profiles SET {BACK_IN_STOCK}, state_at = $2 WHERE iccid = $3 AND EXISTS (SELECT 1 FROM esim_profiles p JOIN lines l ON l.iccid = p.iccid WHERE p.iccid = esim_profiles.iccid AND {UNPAID_RESERVATION})"
        );
        let mut given = 0;
        for r in &rows {
            let iccid: String = r.try_get("iccid")?;
            let line_id: String = r.try_get("line_id")?;
            let reserved_at: i64 = r.try_get("state_at")?;
            let at = now().unix_timestamp();
            let mut tx = self.write.begin().await?;
            // Settlement takes this lock too: it and this wait for each other.
            crate::lines::lock_line(&mut tx, &line_id).await?;
            let moved = crate::sql::query(sqlx::AssertSqlSafe(give_back.as_str()))
                .bind(cutoff)
                .bind(at)
                .bind(&iccid)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved == 0 {
                // Paid for, or a payment opened, since it was picked.
                continue;
            }
            let cancelled = crate::sql::query("UPDATE orders SET status = 'cancelled' WHERE line_id = $1 AND status = 'pending_payment' AND created_at >= $2 RETURNING id")
                .bind(&line_id)
                .bind(reserved_at)
                .fetch_all(&mut *tx)
                .await?;
            for o in &cancelled {
                let order_id: String = o.try_get("id")?;
                crate::promotions::give_back(&mut tx, &order_id).await?;
            }
            record(
                &mut tx,
                &iccid,
                ProfileState::Allocated,
                ProfileState::Available,
                Some("reservation expired"),
                at,
            )
            .await?;
            tx.commit().await?;
            given += 1;
        }
        Ok(given)
    }

    /// Gives back a number reserved for a purchase that did not go on (its order could
    /// not be made), forgetting who it was reserved for; nothing when an order took it
    /// meanwhile. Whether it went back.
    pub async fn cancel_reservation(&self, iccid: &str) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let moved = restock(
            &mut tx,
            iccid,
            ProfileState::Allocated,
            None,
            "reservation cancelled",
        )
        .await?;
        tx.commit().await?;
        Ok(moved)
    }

    /// A profile of a refunded order that the SM-DP+ has cancelled goes back in stock
    /// (its buyer's phone, address and order forgotten). Whether it moved: not when a
    /// phone downloaded it meanwhile, or it is back already.
    pub async fn take_back_profile(&self, take: &TakeBack) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let moved = restock(
            &mut tx,
            &take.iccid,
            ProfileState::Released,
            Some(&take.order_id),
            "order refunded; cancelled at the SM-DP+",
        )
        .await?;
        tx.commit().await?;
        Ok(moved)
    }

    /// A line's eSIM profile (its ICCID is the line's), if the inventory has it.
    pub async fn profile_of_line(&self, line_iccid: &str) -> Result<Option<Profile>> {
        let sql = format!("SELECT {COLUMNS} FROM esim_profiles WHERE iccid = $1");
        crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(line_iccid)
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(profile)
            .transpose()
    }

    /// The profile an order took, if any.
    pub async fn profile_of_order(&self, order_id: &str) -> Result<Option<Profile>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM esim_profiles WHERE order_id = $1 ORDER BY CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END, state_at DESC LIMIT 1"
        );
        crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(order_id)
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(profile)
            .transpose()
    }

    /// Takes an available profile of `operator`'s `profile_type` for `order_id`, bound to
    /// `eid` when given: one statement, so two buyers (or two servers) never get the same
    /// profile; `NoProfileLeft` when none is free.
    pub async fn allocate_profile(
        &self,
        operator: Operator,
        profile_type: &str,
        order_id: Option<&str>,
        eid: Option<&str>,
    ) -> Result<Profile> {
        let holder = Holder {
            eid,
            ..Default::default()
        };
        self.allocate_profile_for(operator, profile_type, order_id, &holder)
            .await
    }

    /// [`Store::allocate_profile`] for a holder: the phone and where the install mail
    /// goes are kept with the reservation.
    pub async fn allocate_profile_for(
        &self,
        operator: Operator,
        profile_type: &str,
        order_id: Option<&str>,
        holder: &Holder<'_>,
    ) -> Result<Profile> {
        let pick = match self.backend() {
            // Concurrent allocations skip each other's row instead of waiting for it.
            Backend::Postgres => {
                "SELECT iccid FROM esim_profiles WHERE operator = $4 AND profile_type = $5 AND state = 'available' ORDER BY iccid LIMIT 1 FOR UPDATE SKIP LOCKED"
            }
            // One writer: the pick and the update cannot interleave.
            Backend::Sqlite => {
                "SELECT iccid FROM esim_profiles WHERE operator = $4 AND profile_type = $5 AND state = 'available' ORDER BY iccid LIMIT 1"
            }
        };
        let sql = format!(
            "UPDATE esim_profiles SET state = 'allocated', order_id = $1, eid = $2, state_at = $3, imei = $6, notify_email = $7, notify_locale = $8, confirmation_code = NULL WHERE state = 'available' AND iccid = ({pick}) RETURNING {COLUMNS}"
        );
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(order_id)
            .bind(holder.eid)
            .bind(at)
            .bind(operator.code())
            .bind(profile_type)
            .bind(holder.imei)
            .bind(holder.email)
            .bind(holder.locale)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::NoProfileLeft {
                operator: operator.code().to_string(),
                profile_type: profile_type.to_string(),
            });
        };
        let p = profile(&row)?;
        record(
            &mut tx,
            &p.iccid,
            ProfileState::Available,
            ProfileState::Allocated,
            Some(order_id.unwrap_or("reserved for a purchase")),
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Takes the right to order an allocated profile at the SM-DP+ for `secs`: true for
    /// one caller at a time (two servers, or the payment notification and the buyer's
    /// page at once, never both call downloadOrder); the lease ends with the profile's
    /// next change, or when its time is up (a caller that died).
    pub async fn lease_release(&self, iccid: &str, secs: i64) -> Result<bool> {
        let at = now().unix_timestamp();
        let done = crate::sql::query("UPDATE esim_profiles SET release_lease_until = $1 WHERE iccid = $2 AND state = 'allocated' AND (release_lease_until IS NULL OR release_lease_until <= $3)")
            .bind(at + secs)
            .bind(iccid)
            .bind(at)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a release's lease early (the SM-DP+ could not be reached: the next caller
    /// may try at once).
    pub async fn end_release_lease(&self, iccid: &str) -> Result<()> {
        crate::sql::query("UPDATE esim_profiles SET release_lease_until = NULL WHERE iccid = $1")
            .bind(iccid)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Moves a profile to `to` if the rules allow it from where it is (a notification
    /// late or repeated changes nothing and says so: `Ok(false)`); `details` such as the
    /// matching ID come with the change. Recorded in `esim_events`.
    pub async fn set_profile_state(
        &self,
        iccid: &str,
        to: ProfileState,
        change: &ProfileChange<'_>,
    ) -> Result<bool> {
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        let sql = format!("SELECT {COLUMNS} FROM esim_profiles WHERE iccid = $1");
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(iccid)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::invalid("iccid", format!("no eSIM profile {iccid}")))?;
        let p = profile(&row)?;
        if !p.state.can_become(to) {
            return Ok(false);
        }
        // Conditional on the state read: a concurrent change makes this one do nothing.
        // Back to allocated (a reissue), the old confirmation code goes with the old order;
        // any change ends a release's lease.
        let done = crate::sql::query("UPDATE esim_profiles SET release_lease_until = NULL, state = $1, state_at = $2, matching_id = COALESCE($3, matching_id), smdp_address = COALESCE($4, smdp_address), eid = COALESCE($5, eid), imei = COALESCE($6, imei), last_error = $7, reissues = reissues + $8, confirmation_code = CASE WHEN $1 = 'allocated' THEN NULL ELSE COALESCE($11, confirmation_code) END WHERE iccid = $9 AND state = $10")
            .bind(to.code())
            .bind(at)
            .bind(change.matching_id)
            .bind(change.smdp_address)
            .bind(change.eid)
            .bind(change.imei)
            .bind(change.error)
            .bind(i64::from(change.reissue))
            .bind(iccid)
            .bind(p.state.code())
            .bind(change.confirmation_code)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        record(&mut tx, iccid, p.state, to, change.detail, at).await?;
        // The mail the change causes (the install mail on release) leaves with it.
        for (topic, m) in change.messages {
            crate::outbox::queue_message(&mut tx, topic, m).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A profile's recorded changes, oldest first: (from, to, detail, at).
    pub async fn profile_history(
        &self,
        iccid: &str,
    ) -> Result<Vec<(String, String, Option<String>, OffsetDateTime)>> {
        let rows = crate::sql::query("SELECT from_state, to_state, detail, at FROM esim_events WHERE iccid = $1 ORDER BY at, id")
            .bind(iccid)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("from_state")?,
                    r.try_get("to_state")?,
                    r.try_get("detail")?,
                    crate::db::from_unix(r.try_get("at")?),
                ))
            })
            .collect()
    }
}

/// Outbox topic: the eSIM of a wholly refunded order, released at the SM-DP+ and not
/// downloaded, to be cancelled there (ES2+ CancelOrder) and put back in stock.
pub const TAKE_BACK: &str = "esim_take_back";

/// An [`TAKE_BACK`] row's payload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TakeBack {
    pub iccid: String,
    pub order_id: String,
}

/// In a whole refund's transaction: the order's new eSIM, if no phone has it, goes back
/// to stock — at once when the SM-DP+ was never asked for it (allocated), through
/// [`TAKE_BACK`] when it is released there (the SM-DP+ must cancel it first, or a phone
/// could still download a number sold again). A profile a phone has downloaded stays
/// with the buyer.
pub(crate) async fn take_back_refunded(
    tx: &mut crate::sql::Tx,
    order_id: &str,
    at: i64,
) -> Result<()> {
    let row = crate::sql::query("SELECT iccid, state FROM esim_profiles WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(()) };
    let iccid: String = row.try_get("iccid")?;
    match row.try_get::<String, _>("state")?.as_str() {
        "allocated" => {
            restock(
                tx,
                &iccid,
                ProfileState::Allocated,
                Some(order_id),
                "order refunded",
            )
            .await?;
        }
        "released" => {
            let payload = serde_json::to_string(&TakeBack {
                iccid,
                order_id: order_id.to_string(),
            })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            crate::sql::query(
                "INSERT INTO outbox (topic, payload, created_at, available_at) VALUES ($1, $2, $3, $3)",
            )
            .bind(TAKE_BACK)
            .bind(payload)
            .bind(at)
            .execute(&mut **tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// Puts `iccid` back in stock when it is in state `from` and held for `order_id` (None:
/// for no order), recording `why`; whether it moved.
async fn restock(
    tx: &mut crate::sql::Tx,
    iccid: &str,
    from: ProfileState,
    order_id: Option<&str>,
    why: &str,
) -> Result<bool> {
    let at = now().unix_timestamp();
    let sql = format!(
        "UPDATE esim_profiles SET {BACK_IN_STOCK}, state_at = $1 WHERE iccid = $2 AND state = $3 AND order_id IS NOT DISTINCT FROM $4"
    );
    let moved = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(at)
        .bind(iccid)
        .bind(from.code())
        .bind(order_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if moved == 1 {
        record(tx, iccid, from, ProfileState::Available, Some(why), at).await?;
    }
    Ok(moved == 1)
}

/// The orders (`o`) that paid for a reserved eSIM (`p`) whose profile is not released
/// yet: a FROM … WHERE clause.
pub(crate) const PAID_UNRELEASED: &str =
    "esim_profiles p JOIN lines l ON l.iccid = p.iccid JOIN orders o ON o.line_id = l.id
    WHERE p.state = 'allocated' AND (p.order_id IS NULL OR p.order_id = o.id)
      AND o.status = 'fulfilled' AND o.fulfilled_at >= p.state_at";

/// A stocked eSIM's line takes orders only while its number is reserved for a buyer or
/// once it is sold: an order for a number still in stock (never reserved, or given back
/// when its reservation ended) would take money for a number nobody gets.
pub(crate) async fn check_sold(tx: &mut crate::sql::Tx, line_iccid: &str) -> Result<()> {
    let row = crate::sql::query("SELECT state FROM esim_profiles WHERE iccid = $1")
        .bind(line_iccid)
        .fetch_optional(&mut **tx)
        .await?;
    let state: Option<String> = row.map(|r| r.try_get("state")).transpose()?;
    if state.as_deref() == Some(ProfileState::Available.code()) {
        return Err(StoreError::NotSold);
    }
    Ok(())
}

/// A reserved profile back in stock: available, bound to no order, and who it was
/// reserved for (phone, mail address, language) forgotten.
const BACK_IN_STOCK: &str = "state = 'available', order_id = NULL, eid = NULL, imei = NULL, notify_email = NULL, notify_locale = NULL";

/// A reservation (profile `p`, line `l`) made before `$1` that nobody paid for: no
/// order placed for it (bound, or of its line since it was made) is paid, and no payment
/// attempt for an order of its line was opened since `$1`.
const UNPAID_RESERVATION: &str = "p.state = 'allocated' AND p.state_at <= $1
    AND (p.order_id IS NULL OR EXISTS (SELECT 1 FROM orders b WHERE b.id = p.order_id AND b.status IN ('pending_payment', 'cancelled')))
    AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.line_id = l.id AND o.status IN ('paid', 'fulfilled') AND COALESCE(o.fulfilled_at, o.paid_at) >= p.state_at)
    AND NOT EXISTS (SELECT 1 FROM orders o JOIN payments y ON y.order_id = o.id
                    WHERE o.line_id = l.id AND y.status IN ('created', 'pending') AND y.created_at >= $1)";

/// What comes with a state change.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProfileChange<'a> {
    pub matching_id: Option<&'a str>,
    pub smdp_address: Option<&'a str>,
    pub eid: Option<&'a str>,
    pub imei: Option<&'a str>,
    /// Why it failed (an Error state), for the buyer's page and support.
    pub error: Option<&'a str>,
    /// The change is a reissue (counted, limited per line by the caller).
    pub reissue: bool,
    /// Recorded with the change (the notification point, the order…).
    pub detail: Option<&'a str>,
    /// The confirmation code given to the SM-DP+ with the release.
    pub confirmation_code: Option<&'a str>,
    /// Messages to people queued in the change's transaction: (topic, message).
    pub messages: &'a [(&'a str, crate::outbox::Message)],
}

async fn record(
    tx: &mut crate::sql::Tx,
    iccid: &str,
    from: ProfileState,
    to: ProfileState,
    detail: Option<&str>,
    at: i64,
) -> Result<()> {
    crate::sql::query("INSERT INTO esim_events (id, iccid, from_state, to_state, detail, at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(new_id())
        .bind(iccid)
        .bind(from.code())
        .bind(to.code())
        .bind(detail)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
