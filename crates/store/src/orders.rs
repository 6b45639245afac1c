//! Orders: quoting, creating, paying and fulfilling renewals, add-ons and top-ups.
//!
//! One order is one transaction from payment to fulfilment: the line is locked, the
//! order moves pending_payment -> fulfilled by a conditional update (so it can happen
//! once only, whatever the retries), the money moves as balanced postings, the periods and
//! buckets are written with a unique (order, item) key, and the side effects an order has
//! (a partner's webhook event, an eSIM's install mail) are queued in the same transaction.
//! Nothing is reviewed by hand.

use crate::db::{Store, from_unix, new_id, now};
use crate::error::{Result, StoreError};
use crate::idempotency::{Idem, remember};
use crate::ledger::{TransferMeta, apply_transfer};
use crate::lines::{Line, lock_line, lock_line_ref, periods_of};
use crate::sql::{Row, Tx};
use simrenew_core::ledger::accounts;
use simrenew_core::promotion::{PromoCode, Promotion, check_code, price_item, with_wholesale};
use simrenew_core::renewal::{check_plan_for_line, plan_addon, plan_renewal};
use simrenew_core::{
    Currency, FxRate, LineRef, Money, OrderStatus, Period, Plan, StartMode, Transfer,
};
use time::OffsetDateTime;

/// The most items one order may hold, and the largest single top-up (minor units).
pub const MAX_ITEMS: usize = 10;
pub const MAX_TOPUP_MINOR: i64 = 100_000_000;

/// One thing a buyer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemRequest {
    Renew {
        plan_id: String,
        start: StartMode,
    },
    AddOn {
        plan_id: String,
    },
    /// Adds money to the line's balance: the buyer pays `amount_minor` in the order's
    /// currency, converted to the line's currency at the configured rate.
    TopUp {
        amount_minor: i64,
    },
}

/// How an order is to be paid at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payment {
    /// From the line's own balance, by its signed-in owner; fulfilled at once.
    Balance,
    /// Later, with money from outside (a payment provider or cash); waits in pending_payment.
    External,
    /// From a prepaid deposit in the ledger (a partner's, `partner:<id>:<currency>`);
    /// fulfilled at once, refused when the deposit is short.
    Deposit(String),
}

#[derive(Debug, Clone)]
pub struct OrderRequest {
    pub line: LineRef,
    pub items: Vec<ItemRequest>,
    /// The buyer's currency; the line's when absent.
    pub currency: Option<Currency>,
    /// web, app, partner or counter
    pub channel: String,
    /// The signed-in user, if any.
    pub buyer: Option<String>,
    pub payment: Payment,
    /// A promo code the buyer typed; refused with the reason when it prices nothing.
    pub promo_code: Option<PromoCode>,
}

impl OrderRequest {
    /// Who a promotion's per-customer limit counts: the signed-in buyer, else the line.
    fn customer(&self, line_id: &str) -> String {
        match &self.buyer {
            Some(b) => format!("user:{b}"),
            None => format!("line:{line_id}"),
        }
    }
}

/// What an item would bring if paid now (quote) or brought (fulfilled order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedItem {
    /// renew, addon or topup
    pub kind: String,
    pub plan: Option<Plan>,
    pub start_mode: Option<StartMode>,
    pub price: Money,
    /// The catalog's price before a promotion (equal to `price` without one).
    pub list_price: Money,
    /// The promotion that priced it, by the one rule of `simrenew_core::promotion`.
    pub promotion: Option<Promotion>,
    pub valid_from: Option<OffsetDateTime>,
    pub valid_until: Option<OffsetDateTime>,
    pub data_bytes: Option<u64>,
    pub credit: Option<Money>,
    pub fx_rate: Option<FxRate>,
    /// The outside supplier that fulfils its plan, read with the plan when it was priced.
    pub supplier: Option<crate::upstream::Supplier>,
}

#[derive(Debug, Clone)]
pub struct Quote {
    pub line: Line,
    pub currency: Currency,
    pub items: Vec<PricedItem>,
    pub total: Money,
    /// The instant the dates were computed for; a later payment recomputes them.
    pub as_of: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub position: i64,
    pub kind: String,
    pub plan_id: Option<String>,
    pub start_mode: Option<StartMode>,
    pub price: Money,
    /// The catalog's price when the order was placed (equal to `price` without a promotion).
    pub list_price: Money,
    pub promotion_id: Option<String>,
    pub credit: Option<Money>,
    pub fx_rate: Option<String>,
    pub valid_from: Option<OffsetDateTime>,
    pub valid_until: Option<OffsetDateTime>,
    pub data_bytes: Option<u64>,
    /// The plan as it was when the order was placed: what payment fulfils and what the
    /// receipt names, whatever the catalog says now. None for top-ups, and for items
    /// stored before plans were kept with their orders.
    pub terms: Option<Plan>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub line_id: String,
    pub msisdn: String,
    pub channel: String,
    pub status: OrderStatus,
    pub buyer_id: Option<String>,
    pub total: Money,
    pub payment_method: Option<String>,
    pub created_at: OffsetDateTime,
    pub paid_at: Option<OffsetDateTime>,
    pub fulfilled_at: Option<OffsetDateTime>,
    pub items: Vec<OrderItem>,
}

impl Store {
    /// Replaces the exchange rates used for top-ups paid in another currency.
    pub fn with_fx_rates(mut self, rates: Vec<FxRate>) -> Self {
        self.fx = std::sync::Arc::from(rates);
        self
    }

    fn fx_rate(&self, from: Currency, to: Currency) -> Result<FxRate> {
        if from == to {
            return Ok(FxRate::identity(from));
        }
        self.fx
            .iter()
            .find(|r| r.from == from && r.to == to)
            .copied()
            .ok_or(StoreError::NoFxRate { from, to })
    }

    /// The price and dates of `req` if it were paid now. Changes nothing.
    pub async fn quote(&self, req: &OrderRequest) -> Result<Quote> {
        let line = self.find_line(&req.line).await?;
        let at = now();
        let mut conn = self.read.acquire().await?;
        let periods = periods_of(&mut conn, &line.id, at).await?;
        let (currency, items, total) = self.price(&mut conn, req, &line, &periods, at).await?;
        Ok(Quote {
            line,
            currency,
            items,
            total,
            as_of: at,
        })
    }

    /// Checks and prices every item against the line's periods at `at`, the way
    /// fulfilment will grant them; each renewal queues after the ones before it.
    async fn price(
        &self,
        conn: &mut crate::sql::Conn,
        req: &OrderRequest,
        line: &Line,
        periods: &[crate::lines::PeriodRow],
        at: OffsetDateTime,
    ) -> Result<(Currency, Vec<PricedItem>, Money)> {
        if line.is_suspended() {
            return Err(StoreError::LineSuspended);
        }
        if req.items.is_empty() || req.items.len() > MAX_ITEMS {
            return Err(StoreError::invalid(
                "items",
                format!("an order holds 1 to {MAX_ITEMS} items"),
            ));
        }
        let currency = match (&req.payment, req.currency) {
            (Payment::Balance, Some(c)) if c != line.currency => {
                return Err(StoreError::BalanceCurrency {
                    line: line.currency,
                    asked: c,
                });
            }
            (_, c) => c.unwrap_or(line.currency),
        };
        let mut grants = Grants::new(periods, at);
        let promotions = crate::promotions::pricing_promotions(
            conn,
            at,
            req.promo_code.as_ref(),
            &req.customer(&line.id),
        )
        .await?;
        // A partner paying from its deposit pays its wholesale price where that is lower.
        let wholesale = match &req.payment {
            Payment::Deposit(account) => match crate::partners::partner_of_deposit(account) {
                Some(partner) => crate::partners::wholesale_in(conn, partner, currency).await?,
                None => Default::default(),
            },
            _ => Default::default(),
        };
        let mut out = Vec::with_capacity(req.items.len());
        let mut total = Money::zero(currency);
        for (i, item) in req.items.iter().enumerate() {
            let field = |f: &str| format!("items[{i}].{f}");
            let priced = match item {
                ItemRequest::Renew { plan_id, .. } | ItemRequest::AddOn { plan_id } => {
                    let (kind, start_mode) = match item {
                        ItemRequest::Renew { start, .. } => ("renew", Some(*start)),
                        _ => ("addon", None),
                    };
                    let (plan, supplier) =
                        crate::catalog::plan_and_supplier_in(conn, plan_id).await?;
                    check_plan_for_line(&plan, line.operator, &req.channel)?;
                    let retail = price_item(
                        &plan,
                        currency,
                        &req.channel,
                        at,
                        &promotions,
                        req.promo_code.as_ref(),
                    );
                    let priced = with_wholesale(retail, wholesale.get(&plan.id).copied())
                        .ok_or_else(|| StoreError::CurrencyNotOffered {
                            plan: plan.id.clone(),
                            currency,
                        })?;
                    let promotion = priced.promotion.cloned();
                    let (valid_from, valid_until, bytes) = grants.grant(kind, &plan, start_mode)?;
                    PricedItem {
                        kind: kind.into(),
                        start_mode,
                        price: priced.price,
                        list_price: priced.list,
                        promotion,
                        valid_from: Some(valid_from),
                        valid_until: Some(valid_until),
                        data_bytes: Some(bytes),
                        credit: None,
                        fx_rate: None,
                        plan: Some(plan),
                        supplier,
                    }
                }
                ItemRequest::TopUp { amount_minor } => {
                    let amount = &Money::new(*amount_minor, currency);
                    if req.payment == Payment::Balance {
                        return Err(StoreError::invalid(
                            &field("type"),
                            "a top-up cannot be paid from the balance it tops up",
                        ));
                    }
                    if amount.minor <= 0 || amount.minor > MAX_TOPUP_MINOR {
                        return Err(StoreError::invalid(
                            &field("amount_minor"),
                            format!(
                                "must be more than 0 and at most {}",
                                Money::new(MAX_TOPUP_MINOR, currency)
                            ),
                        ));
                    }
                    let rate = self.fx_rate(currency, line.currency)?;
                    let credit = rate.convert(*amount)?;
                    if credit.minor <= 0 {
                        return Err(StoreError::invalid(
                            &field("amount_minor"),
                            "too small to credit anything after conversion",
                        ));
                    }
                    PricedItem {
                        kind: "topup".into(),
                        plan: None,
                        start_mode: None,
                        price: *amount,
                        list_price: *amount,
                        promotion: None,
                        valid_from: None,
                        valid_until: None,
                        data_bytes: None,
                        credit: Some(credit),
                        fx_rate: (rate.from != rate.to).then_some(rate),
                        supplier: None,
                    }
                }
            };
            total = total.checked_add(priced.price)?;
            out.push(priced);
        }
        if let Some(code) = &req.promo_code {
            let plans: Vec<&Plan> = out.iter().filter_map(|i| i.plan.as_ref()).collect();
            check_code(code, &plans, currency, &req.channel, at, &promotions).map_err(
                |refusal| StoreError::PromoCode {
                    code: code.to_string(),
                    refusal,
                },
            )?;
        }
        Ok((currency, out, total))
    }

    /// Takes an order. Paid from the balance, it is fulfilled in the same transaction or
    /// not created at all (402 with the amount missing); otherwise it waits for payment.
    pub async fn create_order(
        &self,
        req: &OrderRequest,
        idem: Option<&Idem<'_, Order>>,
    ) -> Result<Order> {
        let mut tx = self.write.begin().await?;
        let line = lock_line_ref(&mut tx, &req.line).await?;
        if req.payment == Payment::Balance && (req.buyer.is_none() || line.owner_id != req.buyer) {
            return Err(StoreError::NotOwner);
        }
        let order = self.create_order_in(&mut tx, line, req, idem).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// [`Store::create_order`] for a partner paying from its deposit: the order and, when
    /// the partner has a webhook, its `order.fulfilled` event, in one transaction.
    pub async fn create_partner_order(
        &self,
        partner: &crate::partners::Partner,
        req: &OrderRequest,
        idem: Option<&Idem<'_, Order>>,
    ) -> Result<Order> {
        let mut tx = self.write.begin().await?;
        let line = lock_line_ref(&mut tx, &req.line).await?;
        let order = self.create_order_in(&mut tx, line, req, idem).await?;
        // An order an upstream supplier fulfils raises its event when the supplier is done.
        if partner.webhook_url.is_some() && order.status == OrderStatus::Fulfilled {
            crate::partners::queue_event(&mut tx, &partner.id, "order.fulfilled", &order).await?;
        }
        tx.commit().await?;
        Ok(order)
    }

    /// Several partner orders at once, each with its own idempotency claim. All or
    /// nothing: one transaction, the first refusal undoes them all (its index and error
    /// returned). Otherwise each is its own transaction and its own result.
    pub async fn create_partner_orders(
        &self,
        partner: &crate::partners::Partner,
        items: &[(OrderRequest, Idem<'_, Order>)],
        all_or_nothing: bool,
    ) -> Vec<Result<Order>> {
        if !all_or_nothing {
            let mut out = Vec::with_capacity(items.len());
            for (req, idem) in items {
                out.push(self.create_partner_order(partner, req, Some(idem)).await);
            }
            return out;
        }
        let attempt = async {
            let mut tx = self.write.begin().await.map_err(|e| (0, e))?;
            let mut placed = Vec::with_capacity(items.len());
            for (i, (req, idem)) in items.iter().enumerate() {
                let line = lock_line_ref(&mut tx, &req.line)
                    .await
                    .map_err(|e| (i, e))?;
                let order = self
                    .create_order_in(&mut tx, line, req, Some(idem))
                    .await
                    .map_err(|e| (i, e))?;
                if partner.webhook_url.is_some() && order.status == OrderStatus::Fulfilled {
                    crate::partners::queue_event(&mut tx, &partner.id, "order.fulfilled", &order)
                        .await
                        .map_err(|e| (i, e))?;
                }
                placed.push(order);
            }
            tx.commit().await.map_err(|e| (0, e))?;
            Ok::<_, (usize, StoreError)>(placed)
        };
        match attempt.await {
            Ok(placed) => placed.into_iter().map(Ok).collect(),
            Err((failed, e)) => {
                let mut e = Some(e);
                (0..items.len())
                    .map(|i| {
                        Err(match e.take_if(|_| i == failed) {
                            Some(e) => e,
                            None => StoreError::NotPlaced,
                        })
                    })
                    .collect()
            }
        }
    }

    /// The body of [`Store::create_order`] inside the caller's transaction, on the line
    /// it has locked.
    async fn create_order_in(
        &self,
        tx: &mut Tx,
        line: Line,
        req: &OrderRequest,
        idem: Option<&Idem<'_, Order>>,
    ) -> Result<Order> {
        let at = now();
        let ts = at.unix_timestamp();
        let tx = &mut *tx;
        if line.kind == "esim" {
            crate::esim::check_sold(tx, line.iccid.as_str()).await?;
        }
        let periods = periods_of(&mut *tx, &line.id, at).await?;
        let (currency, items, total) = self.price(&mut *tx, req, &line, &periods, at).await?;
        let found = items.iter().filter_map(|i| i.supplier.clone()).next_back();
        let upstream = crate::upstream::one_supplier(found, items.len(), true)?;
        if upstream.is_some() {
            crate::upstream::check_line_for_supplier(tx, &line).await?;
        }
        let source = match &req.payment {
            Payment::Balance => Some(Source::Balance),
            Payment::Deposit(account) => Some(Source::Account(account)),
            Payment::External => None,
        };
        let pay_now = source.is_some();
        let id = new_id();
        // Paid now, it is fulfilled now, unless a supplier fulfils it (then it is paid and
        // waits for the supplier's answer).
        let fulfil_now = pay_now && upstream.is_none();
        let status = match (pay_now, fulfil_now) {
            (true, true) => OrderStatus::Fulfilled,
            (true, false) => OrderStatus::Paid,
            _ => OrderStatus::PendingPayment,
        };
        let order_row = crate::sql::query(
            "INSERT INTO orders (id, line_id, channel, status, buyer_id, currency, total_minor, payment_method, created_at, paid_at, fulfilled_at, partner_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&id)
        .bind(&line.id)
        .bind(&req.channel)
        .bind(status.code())
        .bind(req.buyer.clone())
        .bind(currency.code())
        .bind(total.minor)
        .bind(source.map(|s| s.method()))
        .bind(ts)
        .bind(pay_now.then_some(ts))
        .bind(fulfil_now.then_some(ts))
        .bind(match &req.payment {
            Payment::Deposit(account) => crate::partners::partner_of_deposit(account),
            _ => None,
        });
        // Items carry their grants only once fulfilled; a pending order's are computed at payment.
        let shown: Vec<OrderItem> = items
            .iter()
            .enumerate()
            .map(|(pos, it)| order_item(pos as i64, it, fulfil_now))
            .collect();
        let mut rows = vec![order_row];
        rows.extend(item_inserts(&id, &shown)?);
        crate::sql::execute_all(tx, rows).await?;
        let mut redeemed: Vec<&str> = Vec::new();
        for p in items.iter().filter_map(|i| i.promotion.as_ref()) {
            if !redeemed.contains(&p.id.as_str()) {
                crate::promotions::redeem(tx, p, &id, &req.customer(&line.id)).await?;
                redeemed.push(&p.id);
            }
        }
        if let Some(source) = source {
            charge(tx, &id, &line, &items, source, at).await?;
            match &upstream {
                Some(supplier) => crate::upstream::queue_job(tx, &id, supplier, at).await?,
                None => grant(tx, &id, &line, &items, at).await?,
            }
        }
        let order = Order {
            id,
            line_id: line.id.clone(),
            msisdn: line.msisdn.as_str().to_string(),
            channel: req.channel.clone(),
            status,
            buyer_id: req.buyer.clone(),
            total,
            payment_method: source.map(|s| s.method()),
            created_at: at,
            paid_at: pay_now.then_some(at),
            fulfilled_at: fulfil_now.then_some(at),
            items: shown,
        };
        remember(tx, idem, &order).await?;
        Ok(order)
    }

    /// Pays a pending order from the line's balance (its owner only) and fulfils it.
    pub async fn pay_from_balance(
        &self,
        order_id: &str,
        buyer: &str,
        idem: Option<&Idem<'_, Order>>,
    ) -> Result<Order> {
        let order = self.order(order_id).await?;
        let line = self.line(&order.line_id).await?;
        if line.owner_id.as_deref() != Some(buyer) {
            return Err(StoreError::NotOwner);
        }
        if order.total.currency != line.currency {
            return Err(StoreError::BalanceCurrency {
                line: line.currency,
                asked: order.total.currency,
            });
        }
        if order.items.iter().any(|i| i.kind == "topup") {
            return Err(StoreError::invalid(
                "items",
                "a top-up cannot be paid from the balance it tops up",
            ));
        }
        self.settle(order_id, Source::Balance, idem).await
    }

    /// Settles a pending order with money that came from outside (a verified payment or
    /// cash); `method` names it (yookassa, alipay, cash…). Used by the payment adapters.
    pub async fn settle_external(
        &self,
        order_id: &str,
        method: &str,
        idem: Option<&Idem<'_, Order>>,
    ) -> Result<Order> {
        self.settle(order_id, Source::External(method), idem).await
    }

    /// Pending -> fulfilled for an order placed earlier: the status moves first by a
    /// conditional update (so it happens once), then the grants are computed for now, on
    /// the line's periods read under its lock, and applied.
    async fn settle(
        &self,
        order_id: &str,
        source: Source<'_>,
        idem: Option<&Idem<'_, Order>>,
    ) -> Result<Order> {
        let line_id = self.order(order_id).await?.line_id;
        let mut tx = self.write.begin().await?;
        let order = settle_in(&mut tx, order_id, &line_id, source).await?;
        remember(&mut tx, idem, &order).await?;
        tx.commit().await?;
        Ok(order)
    }

    pub async fn order(&self, id: &str) -> Result<Order> {
        let mut conn = self.read.acquire().await?;
        load_order(&mut conn, id).await
    }

    /// A line's orders, newest first.
    pub async fn orders_of_line(&self, line_id: &str, limit: i64) -> Result<Vec<Order>> {
        let ids: Vec<String> = crate::sql::query(
            "SELECT id FROM orders WHERE line_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(line_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
        let mut conn = self.read.acquire().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(load_order(&mut conn, &id).await?);
        }
        Ok(out)
    }

    /// Cancels orders left unpaid: in `pending_payment` since before `cutoff`, with no
    /// payment attempt started since then (an attempt in progress keeps its order). Each
    /// is its own transaction: the status moves by a conditional update (a payment that
    /// settles first wins), and the promotions it used are given back, so abandoned
    /// checkouts do not use up a limited code. A provider that reports a payment for a
    /// cancelled order later has it held for a refund (`payment_succeeded`). How many.
    pub async fn cancel_unpaid_orders(&self, cutoff: OffsetDateTime) -> Result<u64> {
        const STALE: &str = "status = 'pending_payment' AND created_at < $1
             AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = orders.id
                             AND p.status IN ('created', 'pending') AND p.created_at >= $1)";
        let cutoff = cutoff.unix_timestamp();
        let sql = format!("SELECT id FROM orders WHERE {STALE} ORDER BY created_at LIMIT 500");
        let ids: Vec<String> = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(cutoff)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let cancel = format!("UPDATE orders SET status = 'cancelled' WHERE id = $2 AND {STALE}");
        let mut cancelled = 0;
        for id in ids {
            let mut tx = self.write.begin().await?;
            let moved = crate::sql::query(sqlx::AssertSqlSafe(cancel.as_str()))
                .bind(cutoff)
                .bind(&id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved == 0 {
                continue;
            }
            crate::promotions::give_back(&mut tx, &id).await?;
            tx.commit().await?;
            cancelled += 1;
        }
        Ok(cancelled)
    }

    /// How many orders are in each status (for /metrics).
    pub async fn order_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = crate::sql::query(
            "SELECT status, CAST(COUNT(*) AS BIGINT) AS n FROM orders GROUP BY status",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }
}

/// The periods of a line at `at`, growing as an order's renewals are granted so each
/// queues after the one before it: the one place the renewal rules are applied to an
/// order, whether it is priced now or settled later.
struct Grants {
    at: OffsetDateTime,
    spans: Vec<Period>,
}

impl Grants {
    fn new(periods: &[crate::lines::PeriodRow], at: OffsetDateTime) -> Self {
        Self {
            at,
            spans: periods.iter().map(crate::lines::PeriodRow::span).collect(),
        }
    }

    /// What a `renew` (from `start`) or an `addon` with `plan` grants: valid from, valid
    /// until, bytes.
    fn grant(
        &mut self,
        kind: &str,
        plan: &Plan,
        start: Option<StartMode>,
    ) -> Result<(OffsetDateTime, OffsetDateTime, u64)> {
        if kind == "renew" {
            let g = plan_renewal(self.at, &self.spans, plan, start.unwrap_or_default())?;
            self.spans.push(g.period);
            Ok((g.period.start, g.period.end, g.bytes))
        } else {
            let g = plan_addon(self.at, &self.spans, plan)?;
            Ok((g.valid_from, g.valid_until, g.bytes))
        }
    }
}

/// Pending -> fulfilled inside the caller's transaction (see `Store::settle`): used by
/// payments, whose own state moves in the same transaction.
pub(crate) async fn settle_in(
    tx: &mut Tx,
    order_id: &str,
    line_id: &str,
    source: Source<'_>,
) -> Result<Order> {
    let at = now();
    let ts = at.unix_timestamp();
    let line = lock_line(&mut *tx, line_id).await?;
    if line.is_suspended() {
        return Err(StoreError::LineSuspended);
    }
    let done = crate::sql::query(
        "UPDATE orders SET status = 'fulfilled', paid_at = $1, fulfilled_at = $1, payment_method = $2
         WHERE id = $3 AND status = 'pending_payment'",
    )
    .bind(ts)
    .bind(source.method())
    .bind(order_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        let status: String = crate::sql::query("SELECT status FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| StoreError::OrderNotFound(order_id.to_string()))?
            .try_get("status")?;
        return Err(StoreError::OrderNotPending(
            status.parse().map_err(StoreError::Corrupt)?,
        ));
    }
    let mut order = load_order(&mut *tx, order_id).await?;
    let plan_ids: Vec<Option<&str>> = order.items.iter().map(|i| i.plan_id.as_deref()).collect();
    // Placed before its plan was resold from a supplier, a mixed order stays ours.
    if let Some(supplier) = crate::upstream::supplier_of(tx, &plan_ids, false).await? {
        crate::sql::query("UPDATE orders SET status = 'paid', fulfilled_at = NULL WHERE id = $1")
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
        order.status = OrderStatus::Paid;
        order.fulfilled_at = None;
        let priced: Vec<PricedItem> = order.items.iter().map(PricedItem::as_paid).collect();
        charge(tx, order_id, &line, &priced, source, at).await?;
        crate::upstream::queue_job(tx, order_id, &supplier, at).await?;
        return Ok(order);
    }
    let priced = grant_items(tx, &mut order, &line.id, at).await?;
    charge(tx, order_id, &line, &priced, source, at).await?;
    grant(tx, order_id, &line, &priced, at).await?;
    Ok(order)
}

/// The grants of an order's items for `at`, on the line's periods read under its lock,
/// written to the items (and to `order`): what settling a payment and a supplier's
/// confirmation both do.
pub(crate) async fn grant_items(
    tx: &mut Tx,
    order: &mut Order,
    line_id: &str,
    at: OffsetDateTime,
) -> Result<Vec<PricedItem>> {
    let order_id = order.id.clone();
    let mut grants = Grants::new(&periods_of(&mut *tx, line_id, at).await?, at);
    let mut priced = Vec::with_capacity(order.items.len());
    for item in &order.items {
        // The terms the buyer was quoted and agreed to; a catalog edit or a retired plan
        // since then changes nothing of this order.
        let plan = match (&item.terms, &item.plan_id) {
            (Some(terms), _) => Some(terms.clone()),
            (None, Some(id)) => Some(crate::catalog::any_plan_in(&mut *tx, id).await?),
            (None, None) => None,
        };
        let (valid_from, valid_until, data_bytes) = match (item.kind.as_str(), &plan) {
            ("topup", None) => (None, None, None),
            (kind @ ("renew" | "addon"), Some(p)) => {
                let (from, until, bytes) = grants.grant(kind, p, item.start_mode)?;
                (Some(from), Some(until), Some(bytes))
            }
            (kind, _) => {
                return Err(StoreError::Corrupt(format!(
                    "order {order_id}: item {kind} without its plan"
                )));
            }
        };
        priced.push(PricedItem {
            kind: item.kind.clone(),
            plan,
            start_mode: item.start_mode,
            price: item.price,
            list_price: item.list_price,
            promotion: None,
            valid_from,
            valid_until,
            data_bytes,
            credit: item.credit,
            fx_rate: None,
            supplier: None,
        });
    }
    for (shown, p) in order.items.iter_mut().zip(&priced) {
        shown.valid_from = p.valid_from;
        shown.valid_until = p.valid_until;
        shown.data_bytes = p.data_bytes;
        if p.kind != "topup" {
            crate::sql::query("UPDATE order_items SET valid_from = $1, valid_until = $2, data_bytes = $3 WHERE order_id = $4 AND position = $5")
                .bind(p.valid_from.map(|t| t.unix_timestamp()))
                .bind(p.valid_until.map(|t| t.unix_timestamp()))
                .bind(p.data_bytes.map(|b| b as i64))
                .bind(&order_id)
                .bind(shown.position)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(priced)
}

#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    Balance,
    External(&'a str),
    /// A prepaid deposit account of the ledger.
    Account(&'a str),
}

impl Source<'_> {
    fn method(&self) -> String {
        match self {
            Self::Balance => "balance".into(),
            Self::External(m) => (*m).to_string(),
            Self::Account(_) => "deposit".into(),
        }
    }
}

impl PricedItem {
    /// What a stored item charges (its price, or its credit for a top-up): all that
    /// [`charge`] reads, for an order whose quota a supplier grants.
    fn as_paid(item: &OrderItem) -> Self {
        Self {
            kind: item.kind.clone(),
            plan: None,
            start_mode: item.start_mode,
            price: item.price,
            list_price: item.list_price,
            promotion: None,
            valid_from: None,
            valid_until: None,
            data_bytes: None,
            credit: item.credit,
            fx_rate: None,
            supplier: None,
        }
    }
}

/// The stored form of a priced item; grants only when `granted`.
fn order_item(position: i64, it: &PricedItem, granted: bool) -> OrderItem {
    OrderItem {
        position,
        kind: it.kind.clone(),
        plan_id: it.plan.as_ref().map(|p| p.id.clone()),
        start_mode: it.start_mode,
        price: it.price,
        list_price: it.list_price,
        promotion_id: it.promotion.as_ref().map(|p| p.id.clone()),
        credit: it.credit,
        fx_rate: it.fx_rate.map(|r| r.decimal()),
        valid_from: it.valid_from.filter(|_| granted),
        valid_until: it.valid_until.filter(|_| granted),
        data_bytes: it.data_bytes.filter(|_| granted),
        terms: it.plan.clone(),
    }
}

/// The inserts of an order's items.
fn item_inserts(order_id: &str, items: &[OrderItem]) -> Result<Vec<crate::sql::Query>> {
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        out.push(crate::sql::query(
            "INSERT INTO order_items (order_id, position, kind, plan_id, start_mode, price_minor, credit_minor, credit_currency, fx_rate, valid_from, valid_until, data_bytes, list_minor, promotion_id, plan_terms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(order_id)
        .bind(it.position)
        .bind(&it.kind)
        .bind(it.plan_id.clone())
        .bind(it.start_mode.map(|s| s.code().to_string()))
        .bind(it.price.minor)
        .bind(it.credit.map(|c| c.minor))
        .bind(it.credit.map(|c| c.currency.code().to_string()))
        .bind(it.fx_rate.clone())
        .bind(it.valid_from.map(|t| t.unix_timestamp()))
        .bind(it.valid_until.map(|t| t.unix_timestamp()))
        .bind(it.data_bytes.map(|b| b as i64))
        .bind(it.list_price.minor)
        .bind(it.promotion_id.clone())
        .bind(
            it.terms
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        ));
    }
    Ok(out)
}

/// The money of a paid order: one sale transfer for the plans, one per top-up. Refused
/// whole (nothing written, the caller rolls back) when a balance or deposit is short.
async fn charge(
    tx: &mut Tx,
    order_id: &str,
    line: &Line,
    items: &[PricedItem],
    source: Source<'_>,
    at: OffsetDateTime,
) -> Result<()> {
    let Some(first) = items.first() else {
        return Ok(());
    };
    let currency = first.price.currency;
    let from = match source {
        Source::Balance => line.account_id.clone(),
        Source::External(_) => accounts::world(currency),
        Source::Account(a) => a.to_string(),
    };
    let meta = TransferMeta {
        kind: "order",
        order_id: Some(order_id),
        memo: None,
        actor: None,
        at,
    };
    let sales = items
        .iter()
        .filter(|i| i.kind != "topup")
        .try_fold(Money::zero(currency), |acc, i| acc.checked_add(i.price))?;
    if sales.minor > 0 {
        let transfer = Transfer::pay(from.clone(), accounts::revenue(currency), sales)?;
        if let Err(o) = apply_transfer(tx, &transfer, &meta).await? {
            let missing = Money::new(sales.minor - o.available.minor, currency);
            return Err(StoreError::InsufficientBalance {
                needed: sales,
                available: o.available,
                missing,
            });
        }
    }
    for item in items {
        if item.kind == "topup" {
            let credit = item.credit.ok_or_else(|| {
                StoreError::Corrupt(format!("order {order_id}: top-up without credit"))
            })?;
            let transfer = if credit.currency == item.price.currency {
                Transfer::pay(from.clone(), line.account_id.clone(), credit)?
            } else {
                Transfer::exchange(from.clone(), line.account_id.clone(), item.price, credit)?
            };
            if let Err(o) = apply_transfer(tx, &transfer, &meta).await? {
                // Only a deposit can run short of a top-up it pays for.
                if matches!(source, Source::Account(_)) {
                    return Err(StoreError::InsufficientBalance {
                        needed: item.price,
                        available: o.available,
                        missing: Money::new(item.price.minor - o.available.minor, currency),
                    });
                }
                return Err(StoreError::Corrupt("a credit was refused".into()));
            }
        }
    }
    Ok(())
}

/// The quota of a fulfilled order: a period per renewal and a bucket per plan item (unique
/// per order item, so it cannot be granted twice).
pub(crate) async fn grant(
    tx: &mut Tx,
    order_id: &str,
    line: &Line,
    items: &[PricedItem],
    at: OffsetDateTime,
) -> Result<()> {
    let ts = at.unix_timestamp();
    let mut rows = Vec::with_capacity(2 * items.len());
    for (pos, item) in items.iter().enumerate() {
        if item.kind == "topup" {
            continue;
        }
        let (Some(plan), Some(from_t), Some(until), Some(bytes)) = (
            &item.plan,
            item.valid_from,
            item.valid_until,
            item.data_bytes,
        ) else {
            return Err(StoreError::Corrupt(format!(
                "order {order_id}: plan item without its grant"
            )));
        };
        if item.kind == "renew" {
            rows.push(crate::sql::query("INSERT INTO periods (id, line_id, plan_id, order_id, start_at, end_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(new_id())
                .bind(&line.id)
                .bind(&plan.id)
                .bind(order_id)
                .bind(from_t.unix_timestamp())
                .bind(until.unix_timestamp()));
        }
        let renew = item.kind == "renew";
        rows.push(crate::sql::query(
            "INSERT INTO buckets (id, line_id, plan_id, order_id, item_position, kind, initial_bytes, remaining_bytes, unlimited, priority, valid_from, valid_until, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11, $12)",
        )
        .bind(new_id())
        .bind(&line.id)
        .bind(&plan.id)
        .bind(order_id)
        .bind(pos as i64)
        .bind(if renew { "base" } else { "addon" })
        .bind(i64::try_from(bytes).map_err(|_| StoreError::Corrupt("bucket too large".into()))?)
        .bind(i64::from(plan.data.is_unlimited()))
        .bind(if renew { 0i64 } else { 1 })
        .bind(from_t.unix_timestamp())
        .bind(until.unix_timestamp())
        .bind(ts));
    }
    crate::sql::execute_all(tx, rows).await
}

pub(crate) async fn load_order(conn: &mut crate::sql::Conn, id: &str) -> Result<Order> {
    let row = crate::sql::query(
        "SELECT o.id, o.line_id, l.msisdn, o.channel, o.status, o.buyer_id, o.currency, o.total_minor, o.payment_method, o.created_at, o.paid_at, o.fulfilled_at
         FROM orders o JOIN lines l ON l.id = o.line_id WHERE o.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::OrderNotFound(id.to_string()))?;
    let currency: Currency = row.try_get::<String, _>("currency")?.parse()?;
    let items = crate::sql::query(
        "SELECT position, kind, plan_id, start_mode, price_minor, credit_minor, credit_currency, fx_rate, valid_from, valid_until, data_bytes, list_minor, promotion_id, plan_terms
         FROM order_items WHERE order_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let items = items
        .iter()
        .map(|r| item_from_row(r, currency))
        .collect::<Result<Vec<_>>>()?;
    Ok(Order {
        id: row.try_get("id")?,
        line_id: row.try_get("line_id")?,
        msisdn: row.try_get("msisdn")?,
        channel: row.try_get("channel")?,
        status: row
            .try_get::<String, _>("status")?
            .parse()
            .map_err(StoreError::Corrupt)?,
        buyer_id: row.try_get("buyer_id")?,
        total: Money::new(row.try_get("total_minor")?, currency),
        payment_method: row.try_get("payment_method")?,
        created_at: from_unix(row.try_get("created_at")?),
        paid_at: row.try_get::<Option<i64>, _>("paid_at")?.map(from_unix),
        fulfilled_at: row
            .try_get::<Option<i64>, _>("fulfilled_at")?
            .map(from_unix),
        items,
    })
}

fn item_from_row(r: &Row, currency: Currency) -> Result<OrderItem> {
    let credit = match (
        r.try_get::<Option<i64>, _>("credit_minor")?,
        r.try_get::<Option<String>, _>("credit_currency")?,
    ) {
        (Some(m), Some(c)) => Some(Money::new(m, c.parse()?)),
        _ => None,
    };
    Ok(OrderItem {
        position: r.try_get("position")?,
        kind: r.try_get("kind")?,
        plan_id: r.try_get("plan_id")?,
        start_mode: r
            .try_get::<Option<String>, _>("start_mode")?
            .map(|s| s.parse())
            .transpose()
            .map_err(StoreError::Corrupt)?,
        price: Money::new(r.try_get("price_minor")?, currency),
        list_price: Money::new(
            r.try_get::<Option<i64>, _>("list_minor")?
                .unwrap_or(r.try_get("price_minor")?),
            currency,
        ),
        promotion_id: r.try_get("promotion_id")?,
        credit,
        fx_rate: r.try_get("fx_rate")?,
        valid_from: r.try_get::<Option<i64>, _>("valid_from")?.map(from_unix),
        valid_until: r.try_get::<Option<i64>, _>("valid_until")?.map(from_unix),
        data_bytes: r.try_get::<Option<i64>, _>("data_bytes")?.map(|b| b as u64),
        terms: r
            .try_get::<Option<String>, _>("plan_terms")?
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("an order's plan terms: {e}")))?,
    })
}
