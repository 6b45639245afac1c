//! The JSON shapes of the API (`/api/v1`), with their OpenAPI schemas. The store's types
//! stay free of HTTP concerns; these translate them, and nothing more.

use serde::{Deserialize, Serialize};
use simrenew_core::{Locale, Money, Plan, StartMode};
use simrenew_store::lines::{BucketRow, LineDetail, PeriodRow};
use simrenew_store::orders::{Order, PricedItem, Quote};
use time::OffsetDateTime;
use utoipa::ToSchema;

pub fn ts(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An amount of money: integer minor units (kopecks, fen, cents) and the currency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct MoneyDto {
    #[schema(example = 75000)]
    pub minor: i64,
    #[schema(example = "RUB")]
    pub currency: String,
    /// The same amount in major units, for display (`750.00`).
    #[schema(example = "750.00")]
    pub amount: String,
}

impl From<Money> for MoneyDto {
    fn from(m: Money) -> Self {
        Self {
            minor: m.minor,
            currency: m.currency.code().to_string(),
            amount: m.major_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DataDto {
    /// bytes or unlimited
    #[serde(rename = "type")]
    pub type_: String,
    /// The allowance, or for unlimited plans the fair-use amount at full speed.
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValidityDto {
    /// day, week, month, year or days
    pub unit: String,
    /// 1, or the number of days for `days`
    pub count: i64,
    /// Nominal length in days, for comparisons (a month counts 30).
    pub nominal_days: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanDto {
    #[schema(example = "mts-month-30gb")]
    pub id: String,
    /// mts, beeline, megafon or t2
    pub operator: String,
    pub operator_name: String,
    /// base or addon
    pub kind: String,
    /// The name in the requested language.
    pub name: String,
    /// The name in every language (en, ru, zh-CN).
    pub names: std::collections::BTreeMap<String, String>,
    pub validity: ValidityDto,
    pub data: DataDto,
    /// Prices in every currency the plan is sold in.
    pub prices: Vec<MoneyDto>,
    /// The price in the requested currency, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<MoneyDto>,
    pub renewable: bool,
    pub channels: Vec<String>,
    /// A campaign running now that lowers `price` for app buyers (only when a currency
    /// was asked for); the order prices it the same way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<OfferDto>,
}

/// A running campaign's price for a plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferDto {
    pub promotion_id: String,
    /// The campaign's name in the requested language.
    pub name: String,
    /// What the buyer pays while it runs.
    pub price: MoneyDto,
    /// The catalog's price.
    pub list_price: MoneyDto,
    pub ends_at: String,
}

impl PlanDto {
    /// `new` with the campaign that prices it on `channel` at `at`, when one does.
    pub fn offered(
        p: &Plan,
        lang: Locale,
        currency: Option<simrenew_core::Currency>,
        campaigns: &[simrenew_core::promotion::Promotion],
        channel: &str,
        at: OffsetDateTime,
    ) -> Self {
        let mut dto = Self::new(p, lang, currency);
        let priced = currency
            .and_then(|c| simrenew_core::promotion::price_item(p, c, channel, at, campaigns, None));
        if let Some(q) = priced
            && let Some(c) = q.promotion
        {
            dto.offer = Some(OfferDto {
                promotion_id: c.id.clone(),
                name: c.names.get(lang).to_string(),
                price: q.price.into(),
                list_price: q.list.into(),
                ends_at: ts(c.ends_at),
            });
        }
        dto
    }

    pub fn new(p: &Plan, lang: Locale, currency: Option<simrenew_core::Currency>) -> Self {
        Self {
            id: p.id.clone(),
            operator: p.operator.code().into(),
            operator_name: p.operator.name(lang).into(),
            kind: p.kind.code().into(),
            name: p.names.get(lang).to_string(),
            names: p
                .names
                .0
                .iter()
                .map(|(l, n)| (l.tag().to_string(), n.clone()))
                .collect(),
            validity: ValidityDto {
                unit: p.validity.unit().into(),
                count: p.validity.count(),
                nominal_days: p.validity.nominal_days(),
            },
            data: DataDto {
                type_: if p.data.is_unlimited() {
                    "unlimited".into()
                } else {
                    "bytes".into()
                },
                bytes: p.data.bucket_bytes(),
            },
            prices: p
                .prices
                .iter()
                .map(|(c, m)| Money::new(*m, *c).into())
                .collect(),
            price: currency.and_then(|c| p.price(c)).map(Into::into),
            renewable: p.renewable,
            channels: p.channels.clone(),
            offer: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanList {
    pub plans: Vec<PlanDto>,
}

/// A line as the caller may see it: the owner's view, or the public one.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LineView {
    Owner(Box<LineOwnerView>),
    Public(LinePublic),
}

/// What anyone may see of a line: enough to pay for it, nothing private.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinePublic {
    /// The number, partly hidden (`+7 916 ***-**-67`).
    pub msisdn_masked: String,
    pub operator: String,
    pub operator_name: String,
    /// physical or esim
    pub kind: String,
    /// active or suspended
    pub status: String,
    /// false for this view; the owner's view has the balance and data.
    pub owner_view: bool,
}

impl LinePublic {
    /// What anyone may see of a line.
    pub fn new(line: &simrenew_store::lines::Line, lang: Locale) -> Self {
        Self {
            msisdn_masked: mask(line),
            operator: line.operator.code().into(),
            operator_name: line.operator.name(lang).into(),
            kind: line.kind.clone(),
            status: line.status.clone(),
            owner_view: false,
        }
    }
}

/// A number as a stranger may see it: `+7 916 ***-**-67`.
pub fn mask(line: &simrenew_store::lines::Line) -> String {
    let d = line.msisdn.display();
    let n = d.len();
    if n > 8 && d.starts_with("+7 ") {
        format!("{}***-**-{}", &d[..7], &d[n - 2..])
    } else {
        let e = line.msisdn.e164();
        format!(
            "{}****{}",
            &e[..e.len().min(4)],
            &e[e.len().saturating_sub(2)..]
        )
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PeriodDto {
    pub plan_id: String,
    pub start: String,
    pub end: String,
    /// current or queued
    pub state: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BucketDto {
    pub id: String,
    pub plan_id: Option<String>,
    /// base or addon
    pub kind: String,
    pub initial_bytes: u64,
    pub remaining_bytes: u64,
    pub unlimited: bool,
    pub valid_from: String,
    pub valid_until: String,
    /// live now, or queued (starts later)
    pub live: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DataLeftDto {
    /// Sum of the live buckets.
    pub bytes: u64,
    /// When the newest usage report counted in it happened; usage figures lag, so this
    /// may be earlier than the time of the request. Null when no usage was ever reported.
    pub as_of: Option<String>,
}

/// What the signed-in owner sees of a line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineOwnerView {
    pub id: String,
    pub msisdn: String,
    pub msisdn_display: String,
    pub iccid: String,
    pub operator: String,
    pub operator_name: String,
    pub kind: String,
    pub status: String,
    pub auto_renew: bool,
    pub owner_view: bool,
    pub balance: MoneyDto,
    /// The balance is exact as of this instant.
    pub balance_as_of: String,
    /// The current plan, if a period is running.
    pub current_plan: Option<String>,
    pub period_end: Option<String>,
    pub periods: Vec<PeriodDto>,
    pub buckets: Vec<BucketDto>,
    pub data_left: DataLeftDto,
    /// For an eSIM line whose profile simrenew manages: where the profile is.
    pub esim: Option<EsimDto>,
}

/// An eSIM profile's state, as the SM-DP+ last reported it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EsimDto {
    pub iccid: String,
    /// available, allocated, released, downloaded, installed, enabled, disabled,
    /// deleted, error or cancelled
    pub state: String,
    /// When the profile entered this state.
    pub state_as_of: String,
    /// The install page of the order it was released for (QR code, links, codes).
    pub install_url: Option<String>,
    /// How many times it was reissued.
    pub reissues: i64,
}

impl EsimDto {
    pub fn new(p: &simrenew_store::esim::Profile, public_url: &str) -> Self {
        Self {
            iccid: p.iccid.clone(),
            state: p.state.code().into(),
            state_as_of: ts(p.state_at),
            install_url: p
                .order_id
                .as_ref()
                .map(|o| format!("{}/orders/{o}/esim", public_url.trim_end_matches('/'))),
            reissues: p.reissues,
        }
    }
}

impl LineOwnerView {
    pub fn new(d: &LineDetail, lang: Locale) -> Self {
        let now = d.as_of;
        let current = d.current_period();
        let period = |p: &PeriodRow| PeriodDto {
            plan_id: p.plan_id.clone(),
            start: ts(p.start),
            end: ts(p.end),
            state: if p.start <= now {
                "current".into()
            } else {
                "queued".into()
            },
        };
        let bucket = |b: &BucketRow| BucketDto {
            id: b.id.clone(),
            plan_id: b.plan_id.clone(),
            kind: b.kind.clone(),
            initial_bytes: b.initial_bytes,
            remaining_bytes: b.remaining_bytes,
            unlimited: b.unlimited,
            valid_from: ts(b.valid_from),
            valid_until: ts(b.valid_until),
            live: b.valid_from <= now,
        };
        let l = &d.line;
        Self {
            id: l.id.clone(),
            msisdn: l.msisdn.e164(),
            msisdn_display: l.msisdn.display(),
            iccid: l.iccid.to_string(),
            operator: l.operator.code().into(),
            operator_name: l.operator.name(lang).into(),
            kind: l.kind.clone(),
            status: l.status.clone(),
            auto_renew: l.auto_renew,
            owner_view: true,
            balance: d.balance.into(),
            balance_as_of: ts(d.as_of),
            current_plan: current.map(|p| p.plan_id.clone()),
            period_end: d.periods.iter().map(|p| p.end).max().map(ts),
            periods: d.periods.iter().map(period).collect(),
            buckets: d.buckets.iter().map(bucket).collect(),
            data_left: DataLeftDto {
                bytes: d.data_left_bytes(),
                as_of: l.usage_as_of.map(ts),
            },
            esim: None,
        }
    }
}

/// One item of an order request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ItemInput {
    /// Renew the line with a base plan.
    Renew {
        #[schema(min_length = 1)]
        plan_id: String,
        /// queued (default: after the current and queued periods) or now
        #[serde(default)]
        start: StartInput,
    },
    /// Extra data until the end of the current period.
    Addon {
        #[schema(min_length = 1)]
        plan_id: String,
    },
    /// Money onto the line's balance, in the order's currency (minor units), converted
    /// to the line's currency at the configured rate.
    Topup {
        #[schema(minimum = 1, maximum = 100000000)]
        #[serde(deserialize_with = "whole::i64")]
        amount_minor: i64,
    },
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StartInput {
    #[default]
    Queued,
    Now,
}

impl From<StartInput> for StartMode {
    fn from(s: StartInput) -> Self {
        match s {
            StartInput::Queued => StartMode::Queued,
            StartInput::Now => StartMode::Now,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayWith {
    /// The line's own balance (owner only): the order is fulfilled at once.
    Balance,
}

/// An order or a quote request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "line": "+7 916 123-45-61",
    "items": [{"type": "renew", "plan_id": "mts-month-30gb", "start": "queued"}],
    "currency": "RUB",
    "pay_with": "balance"
}))]
pub struct OrderInput {
    /// The line's phone number or ICCID, in any usual form (`8 916 123-45-67`, `+7…`, ICCID with spaces or a trailing F).
    #[schema(example = "+7 916 123-45-61", pattern = "LINE")]
    pub line: String,
    #[schema(min_items = 1, max_items = 10)]
    pub items: Vec<ItemInput>,
    /// The buyer's currency (RUB, CNY, USD, EUR); the line's when absent.
    #[serde(default)]
    #[schema(pattern = "^(RUB|CNY|USD|EUR)$")]
    pub currency: Option<String>,
    /// How to pay now; absent: the order waits in pending_payment for a payment.
    #[serde(default)]
    pub pay_with: Option<PayWith>,
    /// A promo code (3 to 32 letters, digits or `-`, any case). A promotion prices each
    /// item at most once: the lowest of the code and any running campaign, never both.
    #[serde(default)]
    #[schema(example = "WELCOME10", pattern = "PROMO_CODE")]
    pub promo_code: Option<String>,
}

/// Paying with a provider.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// One of the order's payment methods (`yookassa:bank_card`, `alipay:qr`…).
    #[schema(example = "yookassa:bank_card", max_length = 64)]
    pub method: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"method": "balance"}))]
pub struct PayInput {
    pub method: PayWith,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemDto {
    pub position: i64,
    /// renew, addon or topup
    #[serde(rename = "type")]
    pub type_: String,
    pub plan_id: Option<String>,
    /// queued or now (renewals)
    pub start: Option<String>,
    pub price: MoneyDto,
    /// The catalog's price before a promotion; equal to `price` without one.
    pub list_price: MoneyDto,
    /// The promotion (promo code or campaign) that priced the item, if any.
    pub promotion_id: Option<String>,
    /// Top-ups: what the balance receives, and the exchange rate used.
    pub credit: Option<MoneyDto>,
    pub fx_rate: Option<String>,
    /// Start of the period or bucket granted (quotes: if paid now; orders: once fulfilled).
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub data_bytes: Option<u64>,
}

impl From<&PricedItem> for ItemDto {
    fn from(i: &PricedItem) -> Self {
        Self {
            position: 0,
            type_: i.kind.clone(),
            plan_id: i.plan.as_ref().map(|p| p.id.clone()),
            start: i.start_mode.map(|s| s.code().into()),
            price: i.price.into(),
            list_price: i.list_price.into(),
            promotion_id: i.promotion.as_ref().map(|p| p.id.clone()),
            credit: i.credit.map(Into::into),
            fx_rate: i.fx_rate.map(|r| r.decimal()),
            valid_from: i.valid_from.map(ts),
            valid_until: i.valid_until.map(ts),
            data_bytes: i.data_bytes,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuoteDto {
    pub currency: String,
    pub items: Vec<ItemDto>,
    pub total: MoneyDto,
    /// The instant the dates were computed for; paying later recomputes them.
    pub as_of: String,
}

impl From<&Quote> for QuoteDto {
    fn from(q: &Quote) -> Self {
        Self {
            currency: q.currency.code().into(),
            items: q
                .items
                .iter()
                .enumerate()
                .map(|(n, i)| ItemDto {
                    position: n as i64,
                    ..i.into()
                })
                .collect(),
            total: q.total.into(),
            as_of: ts(q.as_of),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderDto {
    pub id: String,
    /// pending_payment, paid, fulfilled, cancelled or refunded
    pub status: String,
    /// web, app, partner or counter
    pub channel: String,
    pub msisdn: String,
    pub total: MoneyDto,
    pub payment_method: Option<String>,
    pub created_at: String,
    pub paid_at: Option<String>,
    pub fulfilled_at: Option<String>,
    pub items: Vec<ItemDto>,
}

impl From<&Order> for OrderDto {
    fn from(o: &Order) -> Self {
        Self {
            id: o.id.clone(),
            status: o.status.code().into(),
            channel: o.channel.clone(),
            msisdn: format!("+{}", o.msisdn),
            total: o.total.into(),
            payment_method: o.payment_method.clone(),
            created_at: ts(o.created_at),
            paid_at: o.paid_at.map(ts),
            fulfilled_at: o.fulfilled_at.map(ts),
            items: o
                .items
                .iter()
                .map(|i| ItemDto {
                    position: i.position,
                    type_: i.kind.clone(),
                    plan_id: i.plan_id.clone(),
                    start: i.start_mode.map(|s| s.code().into()),
                    price: i.price.into(),
                    list_price: i.list_price.into(),
                    promotion_id: i.promotion_id.clone(),
                    credit: i.credit.map(Into::into),
                    fx_rate: i.fx_rate.clone(),
                    valid_from: i.valid_from.map(ts),
                    valid_until: i.valid_until.map(ts),
                    data_bytes: i.data_bytes,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderList {
    pub orders: Vec<OrderDto>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageEventInput {
    /// Unique per event at its source; a repeated id with the same content is ignored.
    #[schema(min_length = 1, max_length = 200)]
    pub event_id: String,
    /// The line's number or ICCID.
    #[schema(pattern = "LINE")]
    pub line: String,
    /// Octets used (uplink + downlink).
    #[serde(deserialize_with = "whole::u64")]
    pub bytes: u64,
    /// When the usage happened (RFC 3339); now when absent.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub occurred_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"events": [{
    "event_id": "gw1-2026-12-06-000123",
    "line": "+7 916 123-45-61",
    "bytes": 10_485_760,
    "occurred_at": "2026-12-06T10:00:00Z"
}]}))]
pub struct UsageReport {
    #[schema(min_items = 1, max_items = 1000)]
    pub events: Vec<UsageEventInput>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageResultDto {
    pub event_id: String,
    /// false when the event had been recorded before
    pub recorded: bool,
    pub drawn_bytes: u64,
    /// Bytes no live bucket could cover.
    pub overage_bytes: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageReportResult {
    pub results: Vec<UsageResultDto>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageEventDto {
    pub event_id: String,
    pub bytes: u64,
    pub overage_bytes: u64,
    pub occurred_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageList {
    pub events: Vec<UsageEventDto>,
}

impl UsageList {
    /// From the store's (event id, bytes, overage, occurred at), newest first.
    pub fn new(events: Vec<(String, u64, u64, OffsetDateTime)>) -> Self {
        Self {
            events: events
                .into_iter()
                .map(|(event_id, bytes, overage_bytes, at)| UsageEventDto {
                    event_id,
                    bytes,
                    overage_bytes,
                    occurred_at: ts(at),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpInput {
    #[schema(format = Email)]
    pub email: String,
    /// At least 8 characters.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    /// en, ru or zh-CN
    #[serde(default)]
    #[schema(pattern = "^(en|ru|zh-CN)$")]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInInput {
    pub email: String,
    /// No password longer than 256 characters is ever taken.
    #[schema(max_length = 256)]
    pub password: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserDto {
    pub id: String,
    pub email: String,
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionDto {
    /// Send as `Authorization: Bearer <token>`. Shown once.
    pub token: String,
    pub expires_in_days: i64,
    pub user: UserDto,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeDto {
    pub user: UserDto,
    pub lines: Vec<LineOwnerView>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachLineInput {
    /// The line's number or ICCID.
    #[schema(pattern = "LINE")]
    pub line: String,
    /// The PUK printed on the card's holder: proof that you hold the card.
    #[schema(pattern = "^[0-9][0-9 ]{6,14}[0-9]$")]
    pub puk: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// Integer fields of request bodies, read as their documents' `"type": "integer"` says:
/// JSON has one kind of number, and JSON Schema 2020-12 (Validation §6.1.1) counts any
/// number with a zero fractional part as an integer, so `250.0` is 250 (some clients'
/// JSON writers put the `.0` there). A number with a decimal point or exponent is read as
/// a double, correctly rounded (serde_json's `float_roundtrip`), as validators read it: a
/// fraction is refused, and so is a whole number beyond 2^53 written that way, whose
/// double may no longer be the number sent.
pub mod whole {
    use serde::Deserializer;
    use serde::de::{Error, Unexpected, Visitor};
    use std::fmt;

    /// The largest whole number every floating-point reading keeps exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;

    struct Whole;

    impl Visitor<'_> for Whole {
        type Value = i128;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a whole number")
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<i128, E> {
            Ok(v.into())
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<i128, E> {
            Ok(v.into())
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<i128, E> {
            if v.fract() != 0.0 || !v.is_finite() || v.abs() > EXACT {
                return Err(E::invalid_type(Unexpected::Float(v), &self));
            }
            // Exact: |v| ≤ 2^53 and whole.
            #[allow(clippy::cast_possible_truncation)]
            Ok(v as i128)
        }
    }

    fn read<'de, D: Deserializer<'de>, T: TryFrom<i128>>(
        d: D,
        range: &'static str,
    ) -> Result<T, D::Error> {
        let n = d.deserialize_any(Whole)?;
        T::try_from(n)
            .map_err(|_| D::Error::invalid_value(Unexpected::Other(&format!("`{n}`")), &range))
    }

    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        read(d, "a whole number of at most 19 digits")
    }

    pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        read(d, "a whole number from 0")
    }
}

#[cfg(test)]
mod tests {
    use super::ItemInput;
    use proptest::prelude::*;

    fn topup(amount: &str) -> Result<i64, String> {
        let body = format!(r#"{{"type": "topup", "amount_minor": {amount}}}"#);
        match serde_json::from_str::<ItemInput>(&body).map_err(|e| e.to_string())? {
            ItemInput::Topup { amount_minor } => Ok(amount_minor),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn whole_numbers_are_read_with_or_without_a_decimal_point() {
        assert_eq!(topup("250"), Ok(250));
        assert_eq!(topup("250.0"), Ok(250));
        assert_eq!(topup("2.5e2"), Ok(250));
        assert_eq!(topup("-3.0"), Ok(-3), "its range is the route's to check");
        let half = topup("250.5").unwrap_err();
        assert!(half.contains("expected a whole number"), "{half}");
        // Past 2^53 a decimal point means a value that may have been rounded on the way.
        assert!(topup("9007199254740994.0").is_err());
        assert_eq!(topup("9007199254740994"), Ok(9_007_199_254_740_994));
        assert!(topup("9223372036854775808").is_err(), "beyond i64");
        let event = |bytes: &str| {
            serde_json::from_str::<super::UsageEventInput>(&format!(
                r#"{{"event_id": "e", "line": "+79161234561", "bytes": {bytes}}}"#
            ))
            .map(|e| e.bytes)
            .map_err(|e| e.to_string())
        };
        assert_eq!(event("1048576.0"), Ok(1_048_576));
        assert_eq!(event("18446744073709551615"), Ok(u64::MAX));
        let negative = event("-1").unwrap_err();
        assert!(negative.contains("a whole number from 0"), "{negative}");
        assert!(
            event("\"5\"").is_err(),
            "a number as a string is not a number"
        );
    }

    proptest! {
        #[test]
        fn any_exact_whole_number_reads_the_same_either_way(n in -(1i64 << 53)..=(1i64 << 53)) {
            prop_assert_eq!(topup(&n.to_string()), Ok(n));
            prop_assert_eq!(topup(&format!("{n}.0")), Ok(n));
        }

        #[test]
        fn a_fraction_is_never_taken(n in -1.0e12f64..1.0e12, frac in 0.001f64..0.999) {
            let v = n.trunc() + frac.copysign(n);
            prop_assume!(v.fract() != 0.0);
            let text = format!("{v:?}");
            prop_assert!(topup(&text).is_err(), "{} was taken", text);
        }
    }
}
