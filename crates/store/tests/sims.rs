//! Physical SIMs at the counter on SQLite and PostgreSQL: the stock, a SIM handed to a
//! foreign customer with their document and IMEI recorded, the legal maximum of numbers
//! per person, and an empty shelf.

use simrenew_core::{Currency, Iccid, Imei, Msisdn, Operator};
use simrenew_store::StoreError;
use simrenew_store::sims::HolderDoc;
use simrenew_store::testing;

fn iccid(n: u64) -> Iccid {
    let p = format!("897019911{n:010}");
    Iccid::parse(&format!("{p}{}", simrenew_core::ids::luhn_check_digit(&p))).unwrap()
}

fn passport(number: &str) -> HolderDoc {
    HolderDoc {
        doc_type: "passport".into(),
        doc_country: "cn".into(),
        doc_number: number.into(),
        full_name: "ZHANG Wei".into(),
    }
}

#[tokio::test]
async fn sims_go_to_people_with_their_document_never_past_the_legal_maximum() {
    let imei = Imei::parse("356938035643809").unwrap();
    for db in testing::all().await {
        let s = &db.store;
        let rows: Vec<_> = (0..3)
            .map(|i| (iccid(i), Msisdn::parse(&format!("+7916700000{i}")).unwrap()))
            .collect();
        assert_eq!(
            s.import_sim_stock(Operator::Mts, Currency::Rub, &rows)
                .await
                .unwrap(),
            (3, 0)
        );
        assert_eq!(
            s.import_sim_stock(Operator::Mts, Currency::Rub, &rows[..1])
                .await
                .unwrap(),
            (0, 1)
        );
        assert_eq!(
            s.sim_stock_counts().await.unwrap(),
            [("mts".to_string(), 3)]
        );
        // A document that is not one: said by field, nothing handed out.
        let mut bad = passport("E1");
        bad.doc_country = "China".into();
        assert!(matches!(
            s.issue_sim("staff:anna", Operator::Mts, &bad, &imei, 2).await,
            Err(StoreError::Invalid { field, .. }) if field == "doc_country"
        ));
        // Two for Zhang Wei (the number typed with spaces the second time), then no more.
        let first = s
            .issue_sim(
                "staff:anna",
                Operator::Mts,
                &passport("E1234 5678"),
                &imei,
                2,
            )
            .await
            .unwrap();
        assert_eq!(first.held, 1, "{}", db.name);
        let second = s
            .issue_sim(
                "staff:anna",
                Operator::Mts,
                &passport("e12345678"),
                &imei,
                2,
            )
            .await
            .unwrap();
        assert_eq!(second.held, 2);
        assert_ne!(first.iccid, second.iccid);
        let third = s
            .issue_sim(
                "staff:boris",
                Operator::Mts,
                &passport("E-12345678"),
                &imei,
                2,
            )
            .await;
        assert!(
            matches!(&third, Err(StoreError::Invalid { field, reason }) if field == "doc_number" && reason.contains("maximum is 2")),
            "{third:?}"
        );
        // Someone else gets the last one; then the shelf is empty.
        let other = s
            .issue_sim(
                "staff:boris",
                Operator::Mts,
                &passport("G7654321"),
                &imei,
                2,
            )
            .await
            .unwrap();
        assert_eq!(other.held, 1);
        assert!(matches!(
            s.issue_sim("staff:boris", Operator::Mts, &passport("H1111111"), &imei, 2).await,
            Err(StoreError::Invalid { field, .. }) if field == "operator"
        ));
        assert_eq!(
            s.sim_stock_counts().await.unwrap(),
            Vec::<(String, i64)>::new()
        );
        // The issued line is a line like any other, ready to renew.
        let line = s.line(&first.line_id).await.unwrap();
        assert_eq!(line.iccid.as_str(), first.iccid);
        let log = s.audit_entries(10, Some("staff:anna")).await.unwrap();
        assert_eq!(
            log.iter()
                .filter(|e| e.action == "counter.sim_issued")
                .count(),
            2
        );
        assert!(
            log[0]
                .after
                .as_deref()
                .unwrap()
                .contains("passport CN E12345678")
        );
    }
}
