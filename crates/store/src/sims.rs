//! Physical SIM cards at the counter: stock imported with their numbers (the lines exist,
//! unissued), and handed out to a person whose identity document and phone's IMEI are
//! recorded as the law requires for a foreign customer — never past the legal maximum
//! of numbers per person, checked in the issuing transaction. Audited.

use crate::db::{Backend, Store, new_id, now};
use crate::error::{Result, StoreError};
use crate::lines::NewLine;
use simrenew_core::{Currency, Iccid, Msisdn, Operator};

/// The person a SIM is handed to, as their identity document names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderDoc {
    /// passport, residence_permit or other
    pub doc_type: String,
    /// The issuing country, ISO 3166-1 alpha-2 (CN, RU…).
    pub doc_country: String,
    /// As printed; kept upper-case without spaces or dashes.
    pub doc_number: String,
    pub full_name: String,
}

impl HolderDoc {
    /// Checks and normalizes the fields, each refused by name.
    pub fn checked(&self) -> Result<HolderDoc> {
        let doc_type = self.doc_type.trim().to_string();
        if !matches!(doc_type.as_str(), "passport" | "residence_permit" | "other") {
            return Err(StoreError::invalid(
                "doc_type",
                "passport, residence_permit or other",
            ));
        }
        let doc_country = self.doc_country.trim().to_uppercase();
        if doc_country.len() != 2 || !doc_country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(StoreError::invalid(
                "doc_country",
                "two letters (ISO 3166-1), CN or RU",
            ));
        }
        let doc_number: String = self
            .doc_number
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_uppercase();
        if !(4..=20).contains(&doc_number.len())
            || !doc_number.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(StoreError::invalid(
                "doc_number",
                "4 to 20 letters and digits",
            ));
        }
        let full_name = self.full_name.trim().to_string();
        if full_name.is_empty() || full_name.chars().count() > 200 {
            return Err(StoreError::invalid(
                "full_name",
                "as in the document, 1 to 200 characters",
            ));
        }
        Ok(HolderDoc {
            doc_type,
            doc_country,
            doc_number,
            full_name,
        })
    }
}

/// A SIM handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub line_id: String,
    pub iccid: String,
    pub msisdn: String,
    /// Numbers this person holds from us now, this one included.
    pub held: i64,
}

impl Store {
    /// Adds physical SIM cards of `operator` to the shelf: each `(ICCID, number)` becomes
    /// a line (unissued) in stock. (added, already there).
    pub async fn import_sim_stock(
        &self,
        operator: Operator,
        currency: Currency,
        rows: &[(Iccid, Msisdn)],
    ) -> Result<(usize, usize)> {
        let (mut added, mut known) = (0, 0);
        for (iccid, msisdn) in rows {
            if self
                .find_line(&simrenew_core::LineRef::Iccid(iccid.clone()))
                .await
                .is_ok()
            {
                known += 1;
                continue;
            }
            self.create_line(&NewLine {
                operator,
                kind: "physical".into(),
                iccid: iccid.clone(),
                imsi: None,
                msisdn: msisdn.clone(),
                puk: None,
                currency,
            })
            .await?;
            crate::sql::query(
                "INSERT INTO sim_stock (iccid, operator, state) VALUES ($1, $2, 'available')",
            )
            .bind(iccid.as_str())
            .bind(operator.code())
            .execute(&self.write)
            .await?;
            added += 1;
        }
        Ok((added, known))
    }

    /// The lines handed to people whose name holds `name` (any case, spaces collapsed;
    /// at least 2 letters), by name then number, at most `limit`: the counter's box.
    pub async fn lines_of_holders_named(
        &self,
        name: &str,
        limit: i64,
    ) -> Result<Vec<crate::lines::Line>> {
        let key = name_key(name);
        if key.chars().filter(|c| c.is_alphabetic()).count() < 2 {
            return Ok(Vec::new());
        }
        let escaped = key
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let cols = crate::lines::LINE_COLUMNS
            .split(", ")
            .map(|c| format!("l.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols} FROM holders h JOIN sim_stock s ON s.holder_id = h.id JOIN lines l ON l.iccid = s.iccid
             WHERE h.name_key LIKE $1 ESCAPE '\\' ORDER BY h.full_name, l.msisdn LIMIT $2"
        );
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(format!("%{escaped}%"))
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(crate::lines::line_from_row).collect()
    }

    /// SIMs on the shelf per operator: (operator, available).
    pub async fn sim_stock_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = crate::sql::query("SELECT operator, CAST(COUNT(*) AS BIGINT) AS n FROM sim_stock WHERE state = 'available' GROUP BY operator ORDER BY operator")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("operator")?, r.try_get("n")?)))
            .collect()
    }

    /// Hands a SIM of `operator` from the shelf to the person of `doc` (recorded, or
    /// found by the same document), with the phone's IMEI, by `clerk`: refused when the
    /// person already holds `max_per_person` numbers from us, or none is left. One
    /// transaction; two clerks never hand out the same card.
    pub async fn issue_sim(
        &self,
        clerk: &str,
        operator: Operator,
        doc: &HolderDoc,
        imei: &simrenew_core::Imei,
        max_per_person: i64,
    ) -> Result<Issued> {
        let doc = doc.checked()?;
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        crate::sql::query("INSERT INTO holders (id, doc_type, doc_country, doc_number, full_name, created_at, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (doc_type, doc_country, doc_number) DO NOTHING")
            .bind(new_id())
            .bind(&doc.doc_type)
            .bind(&doc.doc_country)
            .bind(&doc.doc_number)
            .bind(&doc.full_name)
            .bind(at)
            .bind(name_key(&doc.full_name))
            .execute(&mut *tx)
            .await?;
        let holder: String = crate::sql::query_scalar(
            "SELECT id FROM holders WHERE doc_type = $1 AND doc_country = $2 AND doc_number = $3",
        )
        .bind(&doc.doc_type)
        .bind(&doc.doc_country)
        .bind(&doc.doc_number)
        .fetch_one(&mut *tx)
        .await?;
        // The person's row, locked (PostgreSQL) so two counters cannot both hand out
        // the last number they may hold.
        if self.backend() == Backend::Postgres {
            crate::sql::query("SELECT id FROM holders WHERE id = $1 FOR UPDATE")
                .bind(&holder)
                .execute(&mut *tx)
                .await?;
        }
        let held: i64 = crate::sql::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM sim_stock WHERE holder_id = $1 AND state = 'issued'")
            .bind(&holder)
            .fetch_one(&mut *tx)
            .await?;
        if held >= max_per_person {
            return Err(StoreError::invalid(
                "doc_number",
                format!(
                    "this person holds {held} numbers already, the legal maximum is {max_per_person}"
                ),
            ));
        }
        let pick = match self.backend() {
            Backend::Postgres => {
                "SELECT iccid FROM sim_stock WHERE operator = $5 AND state = 'available' ORDER BY iccid LIMIT 1 FOR UPDATE SKIP LOCKED"
            }
            Backend::Sqlite => {
                "SELECT iccid FROM sim_stock WHERE operator = $5 AND state = 'available' ORDER BY iccid LIMIT 1"
            }
        };
        let sql = format!(
            "UPDATE sim_stock SET state = 'issued', holder_id = $1, imei = $2, issued_by = $3, issued_at = $4 WHERE state = 'available' AND iccid = ({pick}) RETURNING iccid"
        );
        let iccid: Option<String> = crate::sql::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&holder)
            .bind(imei.as_str())
            .bind(clerk)
            .bind(at)
            .bind(operator.code())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(iccid) = iccid else {
            return Err(StoreError::invalid(
                "operator",
                format!("no {} SIM card is left on the shelf", operator.code()),
            ));
        };
        let row = crate::sql::query("SELECT id, msisdn FROM lines WHERE iccid = $1")
            .bind(&iccid)
            .fetch_one(&mut *tx)
            .await?;
        let issued = Issued {
            line_id: row.try_get("id")?,
            msisdn: row.try_get("msisdn")?,
            iccid,
            held: held + 1,
        };
        crate::staff::audit_change(
            &mut tx,
            clerk,
            "counter.sim_issued",
            Some(&format!("line:{}", issued.line_id)),
            None,
            Some(
                &serde_json::json!({
                    "iccid": issued.iccid,
                    "doc": format!("{} {} {}", doc.doc_type, doc.doc_country, doc.doc_number),
                    "imei": imei.as_str(),
                    "held": issued.held,
                })
                .to_string(),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(issued)
    }
}

/// A name as the counter's search compares it: lower case (every script), runs of spaces
/// as one.
fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
