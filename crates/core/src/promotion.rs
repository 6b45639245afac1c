//! Promotions: promo codes a buyer types and campaigns that run on their own for a
//! festival (Chinese New Year, Golden Week, New Year), and the one pricing rule every
//! channel applies — web, app, partner and counter all price an item through [`price_item`].
//!
//! The rule: an item gets at most one promotion, the one that leaves the buyer the lowest
//! price among the campaigns running for its plan and channel and the buyer's code (when it
//! applies). Codes and campaigns never stack. A discount never takes a price below zero;
//! a percentage discount is rounded down to whole minor units (the buyer never pays a
//! fraction more than the advertised percentage leaves).

use crate::money::{Currency, Money};
use crate::plan::{CHANNELS, Localized, Plan};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// A promo code as a buyer types it: 3 to 32 letters, digits or `-`, compared without case
/// (stored upper-case; spaces around it are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PromoCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    #[error("a promo code is 3 to 32 letters, digits or '-', got {0:?}")]
    BadCode(String),
    #[error("a percentage discount is 1 to 100, got {0}")]
    BadPercent(i64),
    #[error("a fixed discount must be more than zero")]
    BadFixed,
    #[error("the promotion must end after it starts")]
    BadWindow,
    #[error("unknown channel {0:?}: use web, app, partner or counter")]
    BadChannel(String),
    #[error("a limit must be at least 1, got {0}")]
    BadLimit(i64),
    #[error("a promotion needs a name")]
    NoName,
    #[error("is too long: at most {} characters", crate::ids::patterns::MAX_CHARS)]
    CodeTooLong,
}

impl PromoCode {
    pub fn parse(s: &str) -> Result<Self, PromotionError> {
        let t = s.trim();
        let ok = (3..=32).contains(&t.len())
            && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if ok {
            Ok(Self(t.to_ascii_uppercase()))
        } else {
            Err(PromotionError::BadCode(s.chars().take(40).collect()))
        }
    }
    /// A code as an order's field takes it (`ids::patterns::PROMO_CODE`): empty or only
    /// whitespace means none; at most `ids::patterns::MAX_CHARS` characters in all.
    pub fn typed(s: &str) -> Result<Option<Self>, PromotionError> {
        if s.chars().count() > crate::ids::patterns::MAX_CHARS {
            return Err(PromotionError::CodeTooLong);
        }
        if s.trim().is_empty() {
            return Ok(None);
        }
        Self::parse(s).map(Some)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PromoCode {
    type Err = PromotionError;
    fn from_str(s: &str) -> Result<Self, PromotionError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for PromoCode {
    type Error = PromotionError;
    fn try_from(s: String) -> Result<Self, PromotionError> {
        Self::parse(&s)
    }
}

impl From<PromoCode> for String {
    fn from(c: PromoCode) -> String {
        c.0
    }
}

impl fmt::Display for PromoCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How much a promotion takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Discount {
    /// 1 to 100 percent of the price.
    Percent { percent: u8 },
    /// A fixed amount off; applies only to prices in its currency.
    Fixed { amount: Money },
}

impl Discount {
    pub fn percent(p: i64) -> Result<Self, PromotionError> {
        match u8::try_from(p) {
            Ok(percent @ 1..=100) => Ok(Self::Percent { percent }),
            _ => Err(PromotionError::BadPercent(p)),
        }
    }
    pub fn fixed(amount: Money) -> Result<Self, PromotionError> {
        if amount.minor > 0 {
            Ok(Self::Fixed { amount })
        } else {
            Err(PromotionError::BadFixed)
        }
    }

    /// What `price` costs with this discount, or `None` when it does not apply to that
    /// currency (a fixed discount in another one).
    pub fn apply(self, price: Money) -> Option<Money> {
        let off = match self {
            Self::Percent { percent } => {
                // i128: no overflow for any i64 price.
                (i128::from(price.minor) * i128::from(percent) / 100) as i64
            }
            Self::Fixed { amount } if amount.currency == price.currency => amount.minor,
            Self::Fixed { .. } => return None,
        };
        Some(Money::new(
            price.minor.saturating_sub(off).max(0),
            price.currency,
        ))
    }
}

/// A promotion: a code (`Some`) the buyer must type, or a campaign (`None`) that prices
/// every matching item while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    pub id: String,
    pub code: Option<PromoCode>,
    /// Shown to buyers beside the price ("Chinese New Year").
    pub names: Localized,
    pub discount: Discount,
    /// Runs during [starts_at, ends_at).
    pub starts_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    /// The plans it applies to; empty: every plan.
    pub plans: Vec<String>,
    /// The channels it applies to; empty: every channel.
    pub channels: Vec<String>,
    /// How many orders one customer may place with it; `None`: no limit.
    pub per_customer_limit: Option<u32>,
    /// How many orders may be placed with it in all; `None`: no limit.
    pub total_limit: Option<u32>,
}

impl Promotion {
    /// Checks what a back office enters: a name, a window that ends after it starts, known
    /// channels, limits of at least one.
    pub fn validate(&self) -> Result<(), PromotionError> {
        if self.names.0.values().all(|n| n.trim().is_empty()) {
            return Err(PromotionError::NoName);
        }
        if self.ends_at <= self.starts_at {
            return Err(PromotionError::BadWindow);
        }
        if let Some(c) = self
            .channels
            .iter()
            .find(|c| !CHANNELS.contains(&c.as_str()))
        {
            return Err(PromotionError::BadChannel(c.clone()));
        }
        for l in [self.per_customer_limit, self.total_limit]
            .into_iter()
            .flatten()
        {
            if l == 0 {
                return Err(PromotionError::BadLimit(0));
            }
        }
        match self.discount {
            Discount::Percent { percent } if !(1..=100).contains(&percent) => {
                Err(PromotionError::BadPercent(percent.into()))
            }
            Discount::Fixed { amount } if amount.minor <= 0 => Err(PromotionError::BadFixed),
            _ => Ok(()),
        }
    }

    pub fn is_running(&self, at: OffsetDateTime) -> bool {
        self.starts_at <= at && at < self.ends_at
    }

    /// Whether it prices `plan` sold on `channel` at `at` (ignoring limits, which the store
    /// counts).
    pub fn applies_to(&self, plan: &Plan, channel: &str, at: OffsetDateTime) -> bool {
        self.is_running(at)
            && (self.plans.is_empty() || self.plans.contains(&plan.id))
            && (self.channels.is_empty() || self.channels.iter().any(|c| c == channel))
    }
}

/// The price of one item after the pricing rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemPrice<'a> {
    /// The catalog's price.
    pub list: Money,
    /// What the buyer pays.
    pub price: Money,
    /// The promotion that made `price`, if any (one of those given).
    pub promotion: Option<&'a Promotion>,
}

/// Why a promo code the buyer typed did not price an item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeRefusal {
    #[error("no promotion has this code")]
    Unknown,
    #[error("this code is not valid now")]
    NotRunning,
    #[error("this code does not apply to this plan, channel or currency")]
    NotApplicable,
}

/// The one pricing rule: the lowest price among the list price, the running campaigns for
/// `plan` on `channel`, and the promotion of `code` when it applies. `promotions` may hold
/// anything (the store passes those that could run now); ties keep the earlier promotion,
/// and a code beats a campaign that gives the same price (the buyer asked for it).
pub fn price_item<'a>(
    plan: &Plan,
    currency: Currency,
    channel: &str,
    at: OffsetDateTime,
    promotions: &'a [Promotion],
    code: Option<&PromoCode>,
) -> Option<ItemPrice<'a>> {
    let list = plan.price(currency)?;
    let mut best = ItemPrice {
        list,
        price: list,
        promotion: None,
    };
    let mut consider = |p: &'a Promotion, wins_ties: bool| {
        if let Some(price) = p.discount.apply(list)
            && (price.minor < best.price.minor
                || (wins_ties && best.promotion.is_some() && price.minor == best.price.minor))
        {
            best = ItemPrice {
                list,
                price,
                promotion: Some(p),
            };
        }
    };
    for p in promotions.iter().filter(|p| p.code.is_none()) {
        if p.applies_to(plan, channel, at) {
            consider(p, false);
        }
    }
    if let Some(code) = code
        && let Some(p) = promotions.iter().find(|p| p.code.as_ref() == Some(code))
        && p.applies_to(plan, channel, at)
    {
        consider(p, true);
    }
    Some(best)
}

/// A reseller's price for an item: the lower of its wholesale price and the retail price
/// of [`price_item`] (a promotion included). A promotion that loses to the wholesale
/// price prices nothing (and is not used); a plan without a retail price in the currency
/// sells at the wholesale price alone. None when there is neither.
pub fn with_wholesale(
    retail: Option<ItemPrice<'_>>,
    wholesale: Option<Money>,
) -> Option<ItemPrice<'_>> {
    match (retail, wholesale) {
        (Some(r), Some(w)) if w.minor < r.price.minor => Some(ItemPrice {
            list: r.list,
            price: w,
            promotion: None,
        }),
        (None, Some(w)) => Some(ItemPrice {
            list: w,
            price: w,
            promotion: None,
        }),
        (retail, _) => retail,
    }
}

/// Whether `code` could price anything in `items` (plans of one order in `currency` on
/// `channel`): `Ok` when it applies to at least one, otherwise why not (a fixed discount
/// in another currency applies to nothing).
pub fn check_code(
    code: &PromoCode,
    items: &[&Plan],
    currency: Currency,
    channel: &str,
    at: OffsetDateTime,
    promotions: &[Promotion],
) -> Result<(), CodeRefusal> {
    let p = promotions
        .iter()
        .find(|p| p.code.as_ref() == Some(code))
        .ok_or(CodeRefusal::Unknown)?;
    if !p.is_running(at) {
        return Err(CodeRefusal::NotRunning);
    }
    let prices = |plan: &Plan| {
        plan.price(currency)
            .is_some_and(|list| p.discount.apply(list).is_some())
    };
    if items
        .iter()
        .any(|plan| p.applies_to(plan, channel, at) && prices(plan))
    {
        Ok(())
    } else {
        Err(CodeRefusal::NotApplicable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::Operator;
    use crate::period::Validity;
    use crate::plan::{DataAllowance, PlanKind};
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use time::macros::datetime;

    fn plan(id: &str, rub: i64) -> Plan {
        Plan {
            id: id.into(),
            operator: Operator::Mts,
            kind: PlanKind::Base,
            validity: Validity::Month,
            data: DataAllowance::Bytes { bytes: 1 << 30 },
            names: Localized::new("x", "x", "x"),
            prices: BTreeMap::from([(Currency::Rub, rub), (Currency::Cny, rub / 12)]),
            renewable: true,
            channels: CHANNELS.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn promo(id: &str, code: Option<&str>, discount: Discount) -> Promotion {
        Promotion {
            id: id.into(),
            code: code.map(|c| PromoCode::parse(c).unwrap()),
            names: Localized::new("Spring", "Весна", "春节"),
            discount,
            starts_at: datetime!(2027-01-28 0:00 UTC),
            ends_at: datetime!(2027-02-12 0:00 UTC),
            plans: vec![],
            channels: vec![],
            per_customer_limit: None,
            total_limit: None,
        }
    }

    const DURING: OffsetDateTime = datetime!(2027-02-01 12:00 UTC);

    #[test]
    fn codes_are_read_without_case_and_refused_when_odd() {
        assert_eq!(
            PromoCode::parse(" spring-27 ").unwrap().as_str(),
            "SPRING-27"
        );
        for bad in ["", "ab", "has space", "ünï", &"X".repeat(33), "a;b"] {
            assert!(PromoCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_campaign_prices_while_it_runs_and_not_after() {
        let p = plan("mts-month", 500_00);
        let promos = [promo("cny", None, Discount::percent(20).unwrap())];
        let during = price_item(&p, Currency::Rub, "web", DURING, &promos, None).unwrap();
        assert_eq!(during.price, Money::new(400_00, Currency::Rub));
        assert_eq!(during.promotion.map(|p| p.id.as_str()), Some("cny"));
        let after = price_item(&p, Currency::Rub, "web", promos[0].ends_at, &promos, None).unwrap();
        assert_eq!(after.price, after.list);
        assert_eq!(after.promotion, None);
    }

    #[test]
    fn the_lower_of_a_code_and_a_campaign_wins_and_they_never_stack() {
        let p = plan("mts-month", 500_00);
        let code = PromoCode::parse("SAVE100").unwrap();
        let promos = [
            promo("cny", None, Discount::percent(10).unwrap()),
            promo(
                "save",
                Some("SAVE100"),
                Discount::fixed(Money::new(100_00, Currency::Rub)).unwrap(),
            ),
        ];
        let with = price_item(&p, Currency::Rub, "web", DURING, &promos, Some(&code)).unwrap();
        assert_eq!(with.price.minor, 400_00);
        assert_eq!(with.promotion.map(|p| p.id.as_str()), Some("save"));
        // In yuan the fixed rouble discount does not apply: the campaign prices it.
        let cny = price_item(&p, Currency::Cny, "web", DURING, &promos, Some(&code)).unwrap();
        assert_eq!(cny.price.minor, 4166 - 416);
        assert_eq!(cny.promotion.map(|p| p.id.as_str()), Some("cny"));
    }

    #[test]
    fn a_reseller_pays_the_lower_of_its_wholesale_and_the_retail_price() {
        let p = plan("mts-month", 500_00);
        let rub = |m| Money::new(m, Currency::Rub);
        let promos = [promo("cny", None, Discount::percent(20).unwrap())];
        let retail = || price_item(&p, Currency::Rub, "partner", DURING, &promos, None);
        // 450 wholesale beats 500 list, but not the campaign's 400.
        let before = price_item(
            &p,
            Currency::Rub,
            "partner",
            promos[0].starts_at - time::Duration::DAY,
            &promos,
            None,
        );
        let w = with_wholesale(before, Some(rub(450_00))).unwrap();
        assert_eq!(
            (w.price, w.list, w.promotion),
            (rub(450_00), rub(500_00), None)
        );
        let c = with_wholesale(retail(), Some(rub(450_00))).unwrap();
        assert_eq!(c.price, rub(400_00));
        assert_eq!(c.promotion.map(|p| p.id.as_str()), Some("cny"));
        // Below the campaign the wholesale price wins and the campaign is not used.
        let w = with_wholesale(retail(), Some(rub(300_00))).unwrap();
        assert_eq!((w.price, w.promotion), (rub(300_00), None));
        // No retail price in the currency: the wholesale price alone; neither: nothing.
        let usd = Money::new(5_00, Currency::Usd);
        let alone = with_wholesale(None, Some(usd)).unwrap();
        assert_eq!((alone.price, alone.list), (usd, usd));
        assert_eq!(with_wholesale(None, None), None);
        assert_eq!(with_wholesale(retail(), None), retail());
    }

    #[test]
    fn plans_and_channels_narrow_a_promotion() {
        let p = plan("mts-month", 500_00);
        let mut only_counter = promo("c", None, Discount::percent(50).unwrap());
        only_counter.channels = vec!["counter".into()];
        let mut other_plan = promo("o", None, Discount::percent(50).unwrap());
        other_plan.plans = vec!["beeline-month".into()];
        let promos = [only_counter, other_plan];
        let web = price_item(&p, Currency::Rub, "web", DURING, &promos, None).unwrap();
        assert_eq!(web.promotion, None);
        let counter = price_item(&p, Currency::Rub, "counter", DURING, &promos, None).unwrap();
        assert_eq!(counter.price.minor, 250_00);
    }

    #[test]
    fn a_code_is_refused_for_what_it_cannot_price() {
        let p = plan("mts-month", 500_00);
        let mut later = promo("l", Some("LATER"), Discount::percent(5).unwrap());
        later.starts_at = datetime!(2027-03-01 0:00 UTC);
        later.ends_at = datetime!(2027-04-01 0:00 UTC);
        let mut narrow = promo("n", Some("NARROW"), Discount::percent(5).unwrap());
        narrow.plans = vec!["other".into()];
        let promos = [later, narrow];
        let check = |c: &str| {
            check_code(
                &PromoCode::parse(c).unwrap(),
                &[&p],
                Currency::Rub,
                "web",
                DURING,
                &promos,
            )
        };
        assert_eq!(check("NOPE"), Err(CodeRefusal::Unknown));
        assert_eq!(check("LATER"), Err(CodeRefusal::NotRunning));
        assert_eq!(check("NARROW"), Err(CodeRefusal::NotApplicable));
        let roubles_off = [promo(
            "f",
            Some("RUB100"),
            Discount::fixed(Money::new(100_00, Currency::Rub)).unwrap(),
        )];
        let code = PromoCode::parse("RUB100").unwrap();
        assert_eq!(
            check_code(&code, &[&p], Currency::Cny, "web", DURING, &roubles_off),
            Err(CodeRefusal::NotApplicable),
            "roubles off a price in yuan"
        );
    }

    #[test]
    fn a_promotion_is_checked_before_it_is_kept() {
        let mut p = promo("x", None, Discount::percent(10).unwrap());
        assert_eq!(p.validate(), Ok(()));
        p.channels = vec!["fax".into()];
        assert_eq!(p.validate(), Err(PromotionError::BadChannel("fax".into())));
        p.channels = vec![];
        p.ends_at = p.starts_at;
        assert_eq!(p.validate(), Err(PromotionError::BadWindow));
        assert_eq!(Discount::percent(0), Err(PromotionError::BadPercent(0)));
        assert_eq!(Discount::percent(101), Err(PromotionError::BadPercent(101)));
    }

    proptest! {
        /// Whatever promotions run, the price is never above the list price nor below
        /// zero, and it equals what the chosen promotion's discount makes of the list price.
        #[test]
        fn the_price_is_between_zero_and_the_list_price(
            list in 0i64..10_000_000_00,
            discounts in proptest::collection::vec((1i64..=100, 1i64..10_000_000_00, any::<bool>()), 0..5),
            with_code in any::<bool>(),
        ) {
            let p = plan("mts-month", list);
            let promos: Vec<Promotion> = discounts.iter().enumerate().map(|(i, (pct, fixed, is_pct))| {
                let d = if *is_pct { Discount::percent(*pct).unwrap() } else { Discount::fixed(Money::new(*fixed, Currency::Rub)).unwrap() };
                promo(&format!("p{i}"), (i == 0).then_some("CODE"), d)
            }).collect();
            let code = PromoCode::parse("CODE").unwrap();
            let got = price_item(&p, Currency::Rub, "web", DURING, &promos, with_code.then_some(&code)).unwrap();
            prop_assert!(got.price.minor >= 0 && got.price.minor <= list);
            match got.promotion {
                None => prop_assert_eq!(got.price.minor, list),
                Some(chosen) => {
                    prop_assert!(chosen.code.is_none() || with_code);
                    prop_assert_eq!(chosen.discount.apply(got.list), Some(got.price));
                    // No other eligible promotion gives less.
                    for other in &promos {
                        if other.code.is_none() || with_code {
                            prop_assert!(other.discount.apply(got.list).unwrap().minor >= got.price.minor);
                        }
                    }
                }
            }
        }

        #[test]
        fn any_text_as_a_code_never_panics(s in ".{0,40}") {
            if let Ok(c) = PromoCode::parse(&s) {
                prop_assert_eq!(PromoCode::parse(c.as_str()), Ok(c.clone()));
            }
        }
    }
}
