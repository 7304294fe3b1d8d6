//! The store contract as executable checks. Each check uses its own subject names (prefixed by a
//! per-run tag) so it can run against a shared, non-empty database.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Deleted, NewSchema, Registered, Store, SubjectState};
use crate::compat::Level;

fn tag() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "contract-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn schema(text: &str) -> NewSchema<'_> {
    NewSchema {
        canonical: text,
        compact: text,
    }
}

fn accept(_: &SubjectState<'_>) -> Vec<String> {
    Vec::new()
}

fn created(outcome: Registered) -> super::Version {
    match outcome {
        Registered::Created(version) => version,
        other => panic!("expected a new version, got {other:?}"),
    }
}

/// Run every check.
pub async fn run_all<S: Store>(store: &S) {
    ids_are_global_and_registration_idempotent(store).await;
    rejected_registration_changes_nothing(store).await;
    soft_and_hard_delete(store).await;
    levels(store).await;
}

pub async fn ids_are_global_and_registration_idempotent<S: Store>(store: &S) {
    let t = tag();
    let (a, b) = (format!("{t}-a"), format!("{t}-b"));
    let text = format!(r#"{{"type":"fixed","name":"F","size":{}}}"#, t.len());
    let first = created(
        store
            .register(&a, schema(&text), accept)
            .await
            .expect("register"),
    );
    assert_eq!(first.version, 1);
    let again = store.register(&a, schema(&text), |_| vec!["must not be called".into()]);
    match again.await.expect("register again") {
        Registered::Existing(v) => assert_eq!((v.id, v.version), (first.id, 1)),
        other => panic!("re-registering must return the existing version, got {other:?}"),
    }
    let elsewhere = created(
        store
            .register(&b, schema(&text), accept)
            .await
            .expect("register b"),
    );
    assert_eq!(
        elsewhere.id, first.id,
        "same schema, other subject: same id"
    );
    let other_text = format!(r#"{{"type":"fixed","name":"G","size":{}}}"#, t.len());
    let second = created(
        store
            .register(&a, schema(&other_text), accept)
            .await
            .expect("v2"),
    );
    assert_ne!(second.id, first.id);
    assert_eq!(second.version, 2);
    let stored = store
        .schema_by_id(first.id)
        .await
        .expect("by id")
        .expect("exists");
    assert_eq!(stored.schema, text);
    let usages = store
        .usages(first.id, Deleted::Exclude)
        .await
        .expect("usages");
    assert!(usages.contains(&(a.clone(), 1)) && usages.contains(&(b.clone(), 1)));
    let subjects = store.subjects(Deleted::Exclude).await.expect("subjects");
    assert!(subjects.contains(&a) && subjects.contains(&b));
}

pub async fn rejected_registration_changes_nothing<S: Store>(store: &S) {
    let subject = tag();
    let text = format!(
        r#"{{"type":"enum","name":"E","symbols":["{}"]}}"#,
        subject.len()
    );
    created(
        store
            .register(&subject, schema(&text), accept)
            .await
            .expect("v1"),
    );
    let other = format!(
        r#"{{"type":"enum","name":"E2","symbols":["{}"]}}"#,
        subject.len()
    );
    let outcome = store
        .register(&subject, schema(&other), |state| {
            assert_eq!(state.versions.len(), 1);
            assert_eq!(state.level(), Level::Backward);
            vec!["no".into()]
        })
        .await
        .expect("register");
    assert_eq!(outcome, Registered::Rejected(vec!["no".into()]));
    assert_eq!(
        store
            .versions(&subject, Deleted::Include)
            .await
            .expect("versions")
            .len(),
        1
    );
}

pub async fn soft_and_hard_delete<S: Store>(store: &S) {
    let subject = tag();
    for i in 0..3 {
        let text = format!(r#"{{"type":"record","name":"R{i}","fields":[]}}"#);
        created(
            store
                .register(&subject, schema(&text), accept)
                .await
                .expect("register"),
        );
    }
    assert_eq!(
        store.soft_delete(&subject, Some(2)).await.expect("soft"),
        vec![2]
    );
    assert_eq!(
        store.soft_delete(&subject, Some(2)).await.expect("soft"),
        Vec::<i32>::new()
    );
    let live: Vec<i32> = store
        .versions(&subject, Deleted::Exclude)
        .await
        .expect("live")
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(live, vec![1, 3]);
    // Purge leaves live versions alone.
    assert_eq!(store.purge(&subject, None).await.expect("purge"), vec![2]);
    assert_eq!(
        store.purge(&subject, Some(1)).await.expect("purge"),
        Vec::<i32>::new()
    );
    // Re-registering a soft-deleted schema makes a new version with the same id.
    let v1 = store
        .versions(&subject, Deleted::Include)
        .await
        .expect("all")[0]
        .clone();
    assert_eq!(
        store.soft_delete(&subject, None).await.expect("soft all"),
        vec![1, 3]
    );
    assert!(!store
        .subjects(Deleted::Exclude)
        .await
        .expect("s")
        .contains(&subject));
    assert!(store
        .subjects(Deleted::Include)
        .await
        .expect("s")
        .contains(&subject));
    let r0 = r#"{"type":"record","name":"R0","fields":[]}"#;
    let revived = created(
        store
            .register(&subject, schema(r0), accept)
            .await
            .expect("revive"),
    );
    assert_eq!((revived.id, revived.version), (v1.id, 4));
    store.soft_delete(&subject, None).await.expect("soft");
    assert_eq!(
        store.purge(&subject, None).await.expect("purge"),
        vec![1, 3, 4]
    );
    assert!(!store
        .subjects(Deleted::Include)
        .await
        .expect("s")
        .contains(&subject));
    // The id outlives its versions: old data stays decodable.
    assert!(store.schema_by_id(v1.id).await.expect("by id").is_some());
}

pub async fn levels<S: Store>(store: &S) {
    let subject = tag();
    assert_eq!(store.level(Some(&subject)).await.expect("level"), None);
    store
        .set_level(Some(&subject), Level::Full)
        .await
        .expect("set");
    store
        .set_level(Some(&subject), Level::None)
        .await
        .expect("overwrite");
    assert_eq!(
        store.level(Some(&subject)).await.expect("level"),
        Some(Level::None)
    );
    let text = format!(r#"{{"type":"record","name":"L","fields":[],"doc":"{subject}"}}"#);
    store
        .register(&subject, schema(&text), |state| {
            assert_eq!(state.level(), Level::None);
            Vec::new()
        })
        .await
        .expect("register");
    assert_eq!(
        store.clear_level(Some(&subject)).await.expect("clear"),
        Some(Level::None)
    );
    assert_eq!(
        store.clear_level(Some(&subject)).await.expect("clear"),
        None
    );
}

/// Many tasks register the same new schema under several subjects at once: one id, one version
/// per subject.
pub async fn concurrent_registrations_agree<S: Store>(store: Arc<S>) {
    let t = tag();
    let text = Arc::new(format!(
        r#"{{"type":"record","name":"C","doc":"{t}","fields":[]}}"#
    ));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (store, text, subject) = (store.clone(), text.clone(), format!("{t}-{}", i % 4));
        tasks.push(tokio::spawn(async move {
            match store
                .register(&subject, schema(&text), accept)
                .await
                .expect("register")
            {
                Registered::Created(v) | Registered::Existing(v) => (subject, v.id, v.version),
                Registered::Rejected(m) => panic!("unexpected rejection {m:?}"),
            }
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    let id = results[0].1;
    assert!(
        results.iter().all(|(_, i, v)| *i == id && *v == 1),
        "{results:?}"
    );
    for i in 0..4 {
        let versions = store
            .versions(&format!("{t}-{i}"), Deleted::Include)
            .await
            .expect("v");
        assert_eq!(versions.len(), 1, "one version per subject");
    }
}
