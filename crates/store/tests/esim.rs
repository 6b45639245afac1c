//! The eSIM inventory on both databases: import, counts, allocation that never hands out
//! a profile twice (concurrent buyers of the last ones), state changes by the rules.

use simrenew_core::esim::ProfileState;
use simrenew_core::ids::luhn_check_digit;
use simrenew_core::{Currency, Iccid, Operator, StartMode};
use simrenew_store::esim::ProfileChange;
use simrenew_store::{StoreError, testing};

fn iccids(n: usize) -> Vec<Iccid> {
    (0..n)
        .map(|i| {
            let payload = format!("897019900{:010}", 1000 + i);
            Iccid::parse(&format!("{payload}{}", luhn_check_digit(&payload))).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn import_count_and_allocate_each_profile_once_even_at_once() {
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let order = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        let batch = iccids(3);
        assert_eq!(
            s.import_profiles(Operator::Mts, "mts-travel", &batch)
                .await
                .unwrap(),
            (3, 0)
        );
        assert_eq!(
            s.import_profiles(Operator::Mts, "mts-travel", &batch[..1])
                .await
                .unwrap(),
            (0, 1)
        );
        assert_eq!(
            s.profile_counts().await.unwrap(),
            [("mts".to_string(), ProfileState::Available, 3)]
        );
        // Five buyers at once for three profiles: three distinct profiles, two refusals.
        let tries = (0..5).map(|_| {
            let (s, id) = (s.clone(), order.id.clone());
            tokio::spawn(async move {
                s.allocate_profile(Operator::Mts, "mts-travel", Some(&id), None)
                    .await
            })
        });
        let mut got = Vec::new();
        let mut none_left = 0;
        for t in futures::future::join_all(tries).await {
            match t.unwrap() {
                Ok(p) => got.push(p.iccid),
                Err(StoreError::NoProfileLeft { .. }) => none_left += 1,
                Err(e) => panic!("{}: {e}", db.name),
            }
        }
        got.sort();
        got.dedup();
        assert_eq!((got.len(), none_left), (3, 2), "{}", db.name);
        assert_eq!(
            s.profile_counts().await.unwrap(),
            [("mts".to_string(), ProfileState::Allocated, 3)]
        );
    }
}

#[tokio::test]
async fn a_profile_moves_forward_by_the_rules_and_each_change_is_recorded() {
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let order = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        s.import_profiles(Operator::Beeline, "beeline-travel", &iccids(1))
            .await
            .unwrap();
        let eid = "89049032123451234512345678901235";
        let p = s
            .allocate_profile(
                Operator::Beeline,
                "beeline-travel",
                Some(&order.id),
                Some(eid),
            )
            .await
            .unwrap();
        assert_eq!(
            (p.state, p.eid.as_deref()),
            (ProfileState::Allocated, Some(eid))
        );
        let released = ProfileChange {
            matching_id: Some("ABCDE-12345"),
            smdp_address: Some("smdp.example.com"),
            detail: Some("confirmOrder"),
            ..Default::default()
        };
        assert!(
            s.set_profile_state(&p.iccid, ProfileState::Released, &released)
                .await
                .unwrap()
        );
        // A progress notification skipping "downloaded" (lost), then a late one: ignored.
        let point = |d| ProfileChange {
            detail: Some(d),
            ..Default::default()
        };
        assert!(
            s.set_profile_state(&p.iccid, ProfileState::Installed, &point("4"))
                .await
                .unwrap()
        );
        assert!(
            !s.set_profile_state(&p.iccid, ProfileState::Downloaded, &point("3"))
                .await
                .unwrap()
        );
        assert!(
            !s.set_profile_state(&p.iccid, ProfileState::Released, &point("back"))
                .await
                .unwrap()
        );
        let now = s.esim_profile(&p.iccid).await.unwrap();
        assert_eq!(now.state, ProfileState::Installed);
        assert_eq!(now.matching_id.as_deref(), Some("ABCDE-12345"));
        let history: Vec<(String, String)> = s
            .profile_history(&p.iccid)
            .await
            .unwrap()
            .into_iter()
            .map(|(f, t, _, _)| (f, t))
            .collect();
        assert_eq!(
            history,
            [
                ("available".into(), "allocated".into()),
                ("allocated".into(), "released".into()),
                ("released".into(), "installed".into()),
            ],
            "{}",
            db.name
        );
    }
}
