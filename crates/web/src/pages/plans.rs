//! The plans page: every operator's plans, filtered by operator, period, data and price,
//! compared by price per GB and per day, in the reader's currency. Also the plan card
//! that the renewal page shows.

use super::i18n::Tr;
use super::{Ctx, render};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use simrenew_core::promotion::{Promotion, price_item};
use simrenew_core::{Currency, DataAllowance, Money, Operator, Plan, PlanKind, Validity};
use simrenew_store::catalog::PlanFilter;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new().route("/plans", get(plans_page))
}

const GB: u64 = 1 << 30;

/// Plan names in one language, by plan id; an id no longer in the catalog shows as is.
pub struct PlanNames {
    plans: Vec<Plan>,
    locale: simrenew_core::Locale,
}

impl PlanNames {
    pub fn new(plans: Vec<Plan>, locale: simrenew_core::Locale) -> Self {
        Self { plans, locale }
    }
    pub fn name(&self, id: &str) -> String {
        self.plans
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| id.to_string(), |p| p.names.get(self.locale).to_string())
    }
    /// An order item's plan by the name it was sold under (the catalog may have renamed
    /// or retired it since).
    pub fn item(&self, item: &simrenew_store::orders::OrderItem) -> String {
        match (&item.terms, &item.plan_id) {
            (Some(t), _) => t.names.get(self.locale).to_string(),
            (None, Some(id)) => self.name(id),
            (None, None) => item.kind.clone(),
        }
    }
}

/// A plan as a buyer reads it, in their language and currency.
pub struct PlanCard {
    pub id: String,
    pub name: String,
    pub operator: String,
    pub addon: bool,
    pub validity: String,
    pub data: String,
    pub price: String,
    /// The price in the reader's currency, or in the plan's first currency when the plan
    /// is not sold in the reader's.
    pub price_money: Money,
    pub per_gb: String,
    pub per_day: String,
    /// The catalog's price, struck through, while a campaign lowers it; else empty.
    pub was: String,
    /// The running campaign that prices it ("Chinese New Year, until 12 Feb"); else empty.
    pub promo: String,
    /// Filled by the renewal page: when this plan would start and end.
    pub when: String,
    pub checked: bool,
}

/// The price of `plan` for a reader who chose `currency`: that currency when the plan is
/// sold in it, else roubles (every plan has a rouble price), else its first price.
pub fn price_for(plan: &Plan, currency: Currency) -> Option<Money> {
    plan.price(currency)
        .or_else(|| plan.price(Currency::Rub))
        .or_else(|| plan.prices.iter().next().map(|(c, m)| Money::new(*m, *c)))
}

pub fn validity_text(t: &Tr, v: Validity) -> String {
    match v {
        Validity::Day => t.t("validity-day"),
        Validity::Week => t.t("validity-week"),
        Validity::Month => t.t("validity-month"),
        Validity::Year => t.t("validity-year"),
        Validity::Days(n) => t.n("days", i64::from(n)),
    }
}

pub fn data_text(t: &Tr, d: DataAllowance) -> String {
    match d {
        DataAllowance::Bytes { bytes } => t.bytes(bytes),
        DataAllowance::Unlimited { fair_use_bytes } => {
            t.s("data-unlimited", "fair", &t.bytes(fair_use_bytes))
        }
    }
}

impl PlanCard {
    /// The card of `plan` for a reader of `currency` on `channel` at `at`, priced by the
    /// one pricing rule with the campaigns running (`simrenew_core::promotion`).
    pub fn new(t: &Tr, plan: &Plan, currency: Currency, offer: &Offer<'_>) -> Option<Self> {
        let list = price_for(plan, currency)?;
        let priced = price_item(
            plan,
            list.currency,
            offer.channel,
            offer.at,
            offer.campaigns,
            None,
        )?;
        let price = priced.price;
        let campaign = priced.promotion;
        let gb_tenths = plan.data.bucket_bytes() * 10 / GB;
        let per_gb = if gb_tenths == 0 {
            String::new()
        } else {
            t.s(
                "per-gb",
                "price",
                &t.money(Money::new(
                    (price.minor as i128 * 10 / gb_tenths as i128) as i64,
                    price.currency,
                )),
            )
        };
        let days = i64::from(plan.validity.nominal_days().max(1));
        Some(Self {
            id: plan.id.clone(),
            name: plan.names.get(t.locale).to_string(),
            operator: plan.operator.name(t.locale).to_string(),
            addon: plan.kind == PlanKind::AddOn,
            validity: if plan.kind == PlanKind::AddOn {
                t.t("addon-until-period-end")
            } else {
                validity_text(t, plan.validity)
            },
            data: data_text(t, plan.data),
            price: t.money(price),
            price_money: price,
            was: campaign.map(|_| t.money(list)).unwrap_or_default(),
            promo: campaign
                .map(|c| {
                    t.args(
                        "promo-until",
                        &[
                            ("name", c.names.get(t.locale).to_string().into()),
                            ("date", t.date(c.ends_at).into()),
                        ],
                    )
                })
                .unwrap_or_default(),
            per_gb,
            per_day: if plan.kind == PlanKind::AddOn {
                String::new()
            } else {
                t.s(
                    "per-day",
                    "price",
                    &t.money(Money::new(price.minor / days, price.currency)),
                )
            },
            when: String::new(),
            checked: false,
        })
    }
}

/// What prices plan cards besides the catalog: the campaigns running, on which channel, when.
pub struct Offer<'a> {
    pub campaigns: &'a [Promotion],
    pub channel: &'a str,
    pub at: time::OffsetDateTime,
}

#[derive(Template)]
#[template(path = "plans.html")]
struct PlansPage {
    ctx: Ctx,
    groups: Vec<(String, Vec<PlanCard>)>,
    operator: String,
    period: String,
    min_gb: String,
    max_price: String,
    count: usize,
}

impl PlansPage {
    fn sel(&self, field: &str, value: &str) -> bool {
        match field {
            "operator" => self.operator == value,
            "period" => self.period == value,
            "min_gb" => self.min_gb == value,
            _ => false,
        }
    }
}

async fn plans_page(
    State(s): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let (operator, period, min_gb, max_price) = (
        get("operator"),
        get("period"),
        get("min_gb"),
        get("max_price"),
    );
    let filter = PlanFilter {
        operator: operator.parse::<Operator>().ok(),
        period: ["day", "week", "month", "year", "days"]
            .contains(&period.as_str())
            .then(|| period.clone()),
        channel: Some("web".into()),
        min_data_bytes: min_gb.parse::<u64>().ok().map(|g| g.saturating_mul(GB)),
        ..PlanFilter::default()
    };
    let max_minor = simrenew_core::Money::parse_major(&max_price.replace(',', "."), ctx.currency)
        .ok()
        .map(|m| m.minor);
    let at = simrenew_store::db::now();
    let (plans, campaigns) =
        tokio::try_join!(s.store.list_plans(&filter), s.store.running_campaigns(at)).map_err(
            |e| {
                tracing::error!(error = %e, "plans");
                super::site::unavailable(&ctx)
            },
        )?;
    let offer = Offer {
        campaigns: &campaigns,
        channel: "web",
        at,
    };
    let mut groups: Vec<(String, Vec<PlanCard>)> = Vec::new();
    let mut count = 0;
    for op in Operator::ALL {
        let cards: Vec<PlanCard> = plans
            .iter()
            .filter(|p| p.operator == op)
            .filter_map(|p| PlanCard::new(&ctx.t, p, ctx.currency, &offer))
            .filter(|c| {
                max_minor.is_none_or(|m| {
                    c.price_money.currency != ctx.currency || c.price_money.minor <= m
                })
            })
            .collect();
        if !cards.is_empty() {
            count += cards.len();
            groups.push((op.name(ctx.t.locale).to_string(), cards));
        }
    }
    Ok(render(&PlansPage {
        ctx,
        groups,
        operator,
        period,
        min_gb,
        max_price,
        count,
    }))
}
