//! Settlement reports as each provider publishes them, read into
//! [`simrenew_core::reconcile::ReportLine`]s. Columns are found by their published
//! names (in each language the provider writes them), so a report with columns added or
//! moved still reads; a missing column or an unreadable amount is an error naming the
//! line and the column.
//!
//! - YooKassa: the payment and refund reports of the merchant profile (CSV, `;`,
//!   UTF-8, RFC 4180): `Идентификатор платежа`/`Payment ID`, `Сумма платежа`/`Payment
//!   amount`, `Валюта платежа`/`Payment currency`, `Сумма с учетом комиссии`/`Amount
//!   excluding commission` (the fee is the difference); refunds: `Идентификатор
//!   возврата`/`Refund ID`, `Сумма возврата`/`Refund amount`.
//! - Stripe: the itemized balance change report (`balance_change_from_activity.itemized`):
//!   `reporting_category` (`charge`, `refund`), `gross`, `fee`, `currency`, `source_id`
//!   (the refund's `re_…`) and the metadata column `payment_metadata[attempt_id]` (our
//!   attempt id, set on every payment intent).
//! - Alipay: the trade bill (账单, `alipay.data.dataservice.bill.downloadurl.query`,
//!   type `trade`), GBK, `#` comment lines around the detail (业务明细): `商户订单号`,
//!   `业务类型` (交易/退款), `订单金额（元）`, `商家实收（元）`, `服务费（元）`,
//!   `退款批次号/请求号`.
//! - WeChat Pay: the trade bill (`GET /v3/bill/tradebill`), every value prefixed with a
//!   backquote, the detail ending at the summary header `总交易单数`: `商户订单号`,
//!   `交易状态` (SUCCESS/REFUND), `货币种类`, `订单金额`, `商户退款单号`, `退款金额`, `手续费`.
//! - PayPal: the activity download (CSV): `Type`, `Status`, `Currency`, `Gross`, `Fee`,
//!   `Transaction ID`, `Custom Number` (our attempt id, sent as `custom_id`); only
//!   `Completed` lines count.

use simrenew_core::reconcile::{Entry, ReportLine};
use simrenew_core::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error(
        "unknown provider {0:?}: reports are read for yookassa, stripe, alipay, wechatpay, paypal"
    )]
    UnknownProvider(String),
    #[error("no header line with the column {0:?}: is this the provider's report?")]
    NoHeader(&'static str),
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
}

/// One row, its cells found by column name.
struct Row<'a> {
    line: usize,
    header: &'a [String],
    cells: Vec<String>,
}

impl Row<'_> {
    fn get(&self, names: &[&str]) -> Option<&str> {
        let i = self
            .header
            .iter()
            .position(|h| names.contains(&h.as_str()))?;
        self.cells.get(i).map(String::as_str)
    }
    fn need(&self, names: &[&str]) -> Result<&str, ReportError> {
        self.get(names)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| self.err(format!("no value in column {}", names[0])))
    }
    fn err(&self, reason: String) -> ReportError {
        ReportError::Line {
            line: self.line,
            reason,
        }
    }
    /// A decimal amount in the column (sign dropped, thousands separators removed).
    fn amount(&self, names: &[&str], currency: Currency) -> Result<Money, ReportError> {
        let raw = self.need(names)?;
        let clean: String = raw
            .chars()
            .filter(|c| !matches!(c, ',' | ' ' | '\u{a0}' | '-' | '+'))
            .collect();
        // WeChat Pay writes fees to five decimals: rounded half up to the fen.
        let rounded = match clean.split_once('.') {
            Some((whole, frac)) if frac.len() > 2 && frac.chars().all(|c| c.is_ascii_digit()) => {
                let up = frac.as_bytes()[2] >= b'5';
                let cents = format!("{whole}{}", &frac[..2]).parse::<i64>().ok();
                cents.map(|c| Money::new(c + i64::from(up), currency))
            }
            _ => None,
        };
        rounded
            .map(Ok)
            .unwrap_or_else(|| Money::parse_major(&clean, currency))
            .map_err(|_| self.err(format!("{raw:?} in column {} is not an amount", names[0])))
    }
    /// An amount in a column that may be absent or empty.
    fn optional_amount(
        &self,
        names: &[&str],
        currency: Currency,
    ) -> Result<Option<Money>, ReportError> {
        match self.get(names).filter(|v| !v.is_empty()) {
            Some(_) => self.amount(names, currency).map(Some),
            None => Ok(None),
        }
    }
    fn currency(&self, names: &[&str]) -> Result<Currency, ReportError> {
        let raw = self.need(names)?;
        raw.to_uppercase()
            .parse()
            .map_err(|_| self.err(format!("{raw:?} is not a currency we sell in")))
    }
}

/// A header and the rows under it (with their line numbers).
type Table = (Vec<String>, Vec<(usize, Vec<String>)>);

/// The rows after the header line (the first line that has `key` among its cells).
fn rows(
    text: &str,
    delimiter: u8,
    key: &'static str,
    stop: Option<&str>,
) -> Result<Table, ReportError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let clean = |s: &str| s.trim().trim_start_matches('`').trim().to_string();
    let mut header: Option<Vec<String>> = None;
    let mut out = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| ReportError::Line {
            line: e.position().map_or(0, |p| p.line() as usize),
            reason: "not CSV".into(),
        })?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let cells: Vec<String> = rec.iter().map(clean).collect();
        if stop.is_some_and(|s| cells.first().is_some_and(|c| c.starts_with(s))) {
            break;
        }
        match &header {
            None if cells.iter().any(|c| c == key) => header = Some(cells),
            None => {}
            Some(_) if cells.iter().all(String::is_empty) => {}
            Some(_) => out.push((line, cells)),
        }
    }
    Ok((header.ok_or(ReportError::NoHeader(key))?, out))
}

/// Reads `provider`'s report.
pub fn parse(provider: &str, bytes: &[u8]) -> Result<Vec<ReportLine>, ReportError> {
    let utf8;
    let text: &str = if provider == "alipay" {
        // Alipay's bills are GBK (a UTF-8 file reads the same: ASCII is common to both,
        // and a BOM is honoured).
        utf8 = encoding_rs::GBK.decode(bytes).0.into_owned();
        &utf8
    } else {
        utf8 = String::from_utf8_lossy(bytes).into_owned();
        utf8.trim_start_matches('\u{feff}')
    };
    match provider {
        "yookassa" => yookassa(text),
        "stripe" => stripe(text),
        "alipay" => alipay(text),
        "wechatpay" => wechatpay(text),
        "paypal" => paypal(text),
        other => Err(ReportError::UnknownProvider(other.to_string())),
    }
}

fn each(
    header: &[String],
    rows: Vec<(usize, Vec<String>)>,
    mut f: impl FnMut(&Row<'_>) -> Result<Option<ReportLine>, ReportError>,
) -> Result<Vec<ReportLine>, ReportError> {
    let mut out = Vec::new();
    for (line, cells) in rows {
        if let Some(l) = f(&Row {
            line,
            header,
            cells,
        })? {
            out.push(l);
        }
    }
    Ok(out)
}

fn yookassa(text: &str) -> Result<Vec<ReportLine>, ReportError> {
    const REFUND_ID: &[&str] = &["Идентификатор возврата", "Refund ID", "Refund identifier"];
    const PAYMENT_ID: &[&str] = &["Идентификатор платежа", "Payment ID", "Payment identifier"];
    let refunds = text
        .lines()
        .take(5)
        .any(|l| REFUND_ID.iter().any(|n| l.contains(n)));
    let key = if refunds { REFUND_ID } else { PAYMENT_ID };
    let (header, rows) = rows(text, b';', key[0], None)
        .or_else(|_| self::rows(text, b';', key[1], None))
        .or_else(|_| self::rows(text, b';', key[2], None))?;
    each(&header, rows, |r| {
        if refunds {
            let c = r.currency(&[
                "Валюта возврата",
                "Refund currency",
                "Валюта платежа",
                "Payment currency",
            ])?;
            return Ok(Some(ReportLine {
                line: r.line,
                reference: r.need(REFUND_ID)?.to_string(),
                entry: Entry::Refund,
                gross: r.amount(&["Сумма возврата", "Refund amount"], c)?,
                fee: None,
            }));
        }
        let c = r.currency(&["Валюта платежа", "Payment currency"])?;
        let gross = r.amount(&["Сумма платежа", "Payment amount"], c)?;
        let net_names = [
            "Сумма с учетом комиссии",
            "Сумма за вычетом комиссии",
            "Amount excluding commission",
            "Amount with commission deducted",
        ];
        let fee = match r.get(&net_names).filter(|v| !v.is_empty()) {
            Some(_) => Some(Money::new(gross.minor - r.amount(&net_names, c)?.minor, c)),
            None => None,
        };
        Ok(Some(ReportLine {
            line: r.line,
            reference: r.need(PAYMENT_ID)?.to_string(),
            entry: Entry::Payment,
            gross,
            fee,
        }))
    })
}

fn stripe(text: &str) -> Result<Vec<ReportLine>, ReportError> {
    let (header, rows) = rows(text, b',', "reporting_category", None)?;
    each(&header, rows, |r| {
        let entry = match r.need(&["reporting_category"])? {
            "charge" => Entry::Payment,
            "refund" => Entry::Refund,
            // Payouts, fees of the account, adjustments: not a payment of ours.
            _ => return Ok(None),
        };
        let c = r.currency(&["currency"])?;
        let reference = match entry {
            Entry::Payment => r.need(&["payment_metadata[attempt_id]"])?,
            Entry::Refund => r.need(&["source_id"])?,
        };
        Ok(Some(ReportLine {
            line: r.line,
            reference: reference.to_string(),
            entry,
            gross: r.amount(&["gross"], c)?,
            fee: r.optional_amount(&["fee"], c)?,
        }))
    })
}

fn alipay(text: &str) -> Result<Vec<ReportLine>, ReportError> {
    let (header, rows) = rows(text, b',', "商户订单号", None)?;
    each(&header, rows, |r| {
        let c = Currency::Cny;
        let fee = r.optional_amount(&["服务费（元）", "服务费(元)"], c)?;
        Ok(Some(match r.need(&["业务类型"])? {
            "交易" => ReportLine {
                line: r.line,
                reference: r.need(&["商户订单号"])?.to_string(),
                entry: Entry::Payment,
                gross: r.amount(&["订单金额（元）", "订单金额(元)"], c)?,
                fee,
            },
            "退款" => ReportLine {
                line: r.line,
                reference: r.need(&["退款批次号/请求号"])?.to_string(),
                entry: Entry::Refund,
                gross: r.amount(&["商家实收（元）", "商家实收(元)"], c)?,
                fee,
            },
            _ => return Ok(None),
        }))
    })
}

fn wechatpay(text: &str) -> Result<Vec<ReportLine>, ReportError> {
    let (header, rows) = rows(text, b',', "商户订单号", Some("总交易单数"))?;
    each(&header, rows, |r| {
        let c = r.currency(&["货币种类"])?;
        let fee = r.optional_amount(&["手续费"], c)?;
        Ok(Some(match r.need(&["交易状态"])? {
            "SUCCESS" => ReportLine {
                line: r.line,
                reference: r.need(&["商户订单号"])?.to_string(),
                entry: Entry::Payment,
                gross: r.amount(&["订单金额"], c)?,
                fee,
            },
            "REFUND" => ReportLine {
                line: r.line,
                reference: r.need(&["商户退款单号"])?.to_string(),
                entry: Entry::Refund,
                gross: r.amount(&["退款金额"], c)?,
                fee,
            },
            _ => return Ok(None),
        }))
    })
}

fn paypal(text: &str) -> Result<Vec<ReportLine>, ReportError> {
    let (header, rows) = rows(text, b',', "Transaction ID", None)?;
    each(&header, rows, |r| {
        if r.get(&["Status"]) != Some("Completed") {
            return Ok(None);
        }
        let c = r.currency(&["Currency"])?;
        let refund = r.need(&["Type"])?.contains("Refund");
        Ok(Some(ReportLine {
            line: r.line,
            reference: if refund {
                r.need(&["Transaction ID"])?
            } else {
                r.need(&["Custom Number"])?
            }
            .to_string(),
            entry: if refund {
                Entry::Refund
            } else {
                Entry::Payment
            },
            gross: r.amount(&["Gross"], c)?,
            fee: r.optional_amount(&["Fee"], c)?,
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(m: i64) -> Money {
        Money::new(m, Currency::Cny)
    }

    #[test]
    fn an_alipay_bill_in_gbk_with_its_comment_lines() {
        let text = "#支付宝交易记录明细查询\n#账号：[20881234567890120156]\n#起始日期：[2026年11月25日 00:00:00]   终止日期：[2026年11月26日 00:00:00]\n#-----------------------------------------业务明细列表----------------------------------------\n支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\n2026112522001400001\t,019a-attempt-1\t,交易,续费 MTS,2026-11-25 10:00:00,2026-11-25 10:00:05,,,,,buy***@example.com,60.00,60.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.36,0.00,\n2026112522001400001\t,019a-attempt-1\t,退款,续费 MTS,2026-11-25 11:00:00,2026-11-25 11:00:01,,,,,buy***@example.com,60.00,-10.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,019a-refund-1,0.06,0.00,\n#-----------------------------------------业务明细列表结束------------------------------------\n#交易合计：1笔，商家实收共60.00元\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let lines = parse("alipay", &gbk).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].reference, "019a-attempt-1");
        assert_eq!(
            (lines[0].entry, lines[0].gross, lines[0].fee),
            (Entry::Payment, cny(60_00), Some(cny(36)))
        );
        assert_eq!(
            (lines[1].reference.as_str(), lines[1].entry, lines[1].gross),
            ("019a-refund-1", Entry::Refund, cny(10_00))
        );
        assert_eq!(lines[0].line, 6);
    }

    #[test]
    fn a_wechat_bill_with_backquotes_and_its_summary() {
        let text = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n`2026-11-25 10:00:00,`wxd678efh567hg6787,`1900000109,`0,`,`4200002600000000000000000001,`019a-attempt-2,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`SUCCESS,`OTHERS,`CNY,`60.00,`0.00,`0,`0,`0.00,`0.00,`,`,`续费,`,`0.36000,`0.60%,`60.00,`0.00,`\n`2026-11-25 11:00:00,`wxd678efh567hg6787,`1900000109,`0,`,`4200002600000000000000000001,`019a-attempt-2,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000000000000000000000001,`019a-refund-2,`5.00,`0.00,`ORIGINAL,`SUCCESS,`续费,`,`-0.03000,`0.60%,`0.00,`5.00,`\n总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n`2,`60.00,`5.00,`0.00,`0.33000,`60.00,`5.00\n";
        let lines = parse("wechatpay", text.as_bytes()).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].reference.as_str(), lines[0].gross, lines[0].fee),
            ("019a-attempt-2", cny(60_00), Some(cny(36)))
        );
        assert_eq!(
            (lines[1].reference.as_str(), lines[1].entry, lines[1].gross),
            ("019a-refund-2", Entry::Refund, cny(5_00))
        );
    }

    #[test]
    fn yookassa_stripe_and_paypal_reports() {
        let yk = "\"Идентификатор платежа\";\"Сумма платежа\";\"Валюта платежа\";\"Сумма с учетом комиссии\";\"Дата платежа\"\n2e000001-000f-5000-9000-1b68e7b15f3f;750.00;RUB;723.75;25.11.2026 10:00:00\n";
        let l = parse("yookassa", yk.as_bytes()).unwrap();
        assert_eq!(l[0].gross, Money::new(750_00, Currency::Rub));
        assert_eq!(l[0].fee, Some(Money::new(26_25, Currency::Rub)));
        let st = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,payment_metadata[attempt_id]\ntxn_1,2026-11-25 10:00:00,usd,8.00,0.53,7.47,charge,ch_1,019a-attempt-3\ntxn_2,2026-11-25 10:00:00,usd,-1.00,0.00,-1.00,refund,re_1,\ntxn_3,2026-11-26 00:00:00,usd,-7.47,0.00,-7.47,payout,po_1,\n";
        let l = parse("stripe", st.as_bytes()).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(
            (l[1].reference.as_str(), l[1].gross),
            ("re_1", Money::new(1_00, Currency::Usd))
        );
        let pp = "\"Date\",\"Time\",\"TimeZone\",\"Name\",\"Type\",\"Status\",\"Currency\",\"Gross\",\"Fee\",\"Net\",\"Transaction ID\",\"Custom Number\"\n\"11/25/2026\",\"10:00:00\",\"UTC\",\"Buyer\",\"Express Checkout Payment\",\"Completed\",\"USD\",\"1,008.00\",\"-35.46\",\"972.54\",\"3C679366HH908993F\",\"019a-attempt-4\"\n\"11/25/2026\",\"10:00:00\",\"UTC\",\"Buyer\",\"Express Checkout Payment\",\"Pending\",\"USD\",\"8.00\",\"0.00\",\"8.00\",\"9X\",\"019a-attempt-5\"\n";
        let l = parse("paypal", pp.as_bytes()).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(
            (l[0].gross, l[0].fee),
            (
                Money::new(1008_00, Currency::Usd),
                Some(Money::new(35_46, Currency::Usd))
            )
        );
    }

    #[test]
    fn a_bad_report_names_the_line_and_column() {
        assert_eq!(
            parse("stripe", b"a,b\n1,2\n"),
            Err(ReportError::NoHeader("reporting_category"))
        );
        let bad = "reporting_category,currency,gross,payment_metadata[attempt_id]\ncharge,usd,eight,a-1\n";
        let e = parse("stripe", bad.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("gross"), "{e}");
        assert!(matches!(
            parse("mir", b""),
            Err(ReportError::UnknownProvider(_))
        ));
    }
}
