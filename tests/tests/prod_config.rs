//! The production description in kafka/prod/ and kafka/generated/, checked by parsing: it is
//! never run here (the local platform starts its own loopback variant), so these checks are what
//! keeps it honest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use vygoda_common::acl::{AclTable, CLUSTERS};
use vygoda_tests::repo_root;
use vygoda_tools::acl::AclRender;
use vygoda_tools::topics::TopicTable;

const NODES: [u32; 3] = [1, 2, 3];

/// A Java .properties file: `key=value`, `key: value` or `key value`; `#`/`!` comments;
/// a line ending in an odd number of backslashes continues on the next one.
fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        let trailing = line.chars().rev().take_while(|&c| c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        let (key, value) = split_entry(&logical);
        out.insert(unescape(key), unescape(value));
        logical.clear();
    }
    out
}

fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '=' | ':' | ' ' | '\t' if !escaped => {
                let rest = line[i..].trim_start_matches([' ', '\t']);
                let rest = rest
                    .strip_prefix(['=', ':'])
                    .unwrap_or(rest)
                    .trim_start_matches([' ', '\t']);
                return (&line[..i], rest);
            }
            _ => escaped = false,
        }
    }
    (line, "")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn prod_dir() -> PathBuf {
    repo_root().join("kafka/prod")
}

fn load(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_properties(&text)
}

fn node(cluster: &str, n: u32) -> BTreeMap<String, String> {
    load(
        &prod_dir()
            .join(cluster)
            .join(format!("server-{n}.properties")),
    )
}

#[test]
fn properties_parser_handles_the_java_syntax() {
    let p = parse_properties(
        "# comment\n! also\na=1\nb : 2\nc 3\nd=x\\\n   y\ne=with\\=equals\n  f = spaced \n",
    );
    assert_eq!(p["a"], "1");
    assert_eq!(p["b"], "2");
    assert_eq!(p["c"], "3");
    assert_eq!(p["d"], "xy");
    assert_eq!(p["e"], "with=equals");
    assert_eq!(p["f"], "spaced ");
    assert_eq!(p.len(), 6);
}

#[test]
fn every_node_of_a_cluster_agrees_on_id_and_quorum() {
    let mut ids = BTreeSet::new();
    for cluster in CLUSTERS {
        let shared = load(&prod_dir().join(cluster).join("cluster.properties"));
        let id = &shared["cluster.id"];
        // kafka-storage.sh wants a base64url UUID: 22 characters.
        assert_eq!(id.len(), 22, "{cluster}: cluster.id {id}");
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(ids.insert(id.clone()), "both clusters have cluster.id {id}");

        let voters = node(cluster, 1)["controller.quorum.voters"].clone();
        let mut bootstrap = Vec::new();
        for n in NODES {
            let p = node(cluster, n);
            assert_eq!(p["node.id"], n.to_string(), "{cluster}/server-{n}");
            assert_eq!(
                p["process.roles"], "broker,controller",
                "{cluster}/server-{n}"
            );
            assert_eq!(
                p["controller.quorum.voters"], voters,
                "{cluster}/server-{n}"
            );
            let host = format!("kafka-{cluster}-{n}.vygoda.internal");
            assert!(
                voters.contains(&format!("{n}@{host}:9093")),
                "{cluster}: voters {voters}"
            );
            assert!(
                p["advertised.listeners"].contains(&format!("CLIENT://{host}:9092")),
                "{cluster}/server-{n} advertises another host"
            );
            bootstrap.push(format!("{host}:9092"));
        }
        assert_eq!(voters.split(',').count(), NODES.len());
        assert_eq!(shared["bootstrap.servers"], bootstrap.join(","));
    }
}

/// One entry of `ssl.principal.mapping.rules`, in Kafka's syntax: `DEFAULT` or
/// `RULE:pattern/replacement/[LU]`, separated by commas or newlines.
#[derive(Debug, PartialEq, Eq)]
enum MappingRule {
    Default,
    Rule {
        pattern: String,
        replacement: String,
        case: Option<char>,
    },
}

fn mapping_rules(text: &str) -> Vec<MappingRule> {
    // Up to the next unescaped `/`; the escapes are kept, as Kafka keeps them.
    fn part(rest: &str) -> (&str, &str) {
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '/' if !escaped => return (&rest[..i], &rest[i + 1..]),
                _ => escaped = false,
            }
        }
        panic!("mapping rule without closing `/`: {rest}")
    }
    let mut rules = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("DEFAULT") {
            rules.push(MappingRule::Default);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("RULE:") {
            let (pattern, after) = part(after);
            let (replacement, after) = part(after);
            let case = after.chars().next().filter(|c| matches!(c, 'L' | 'U'));
            rules.push(MappingRule::Rule {
                pattern: pattern.to_owned(),
                replacement: replacement.to_owned(),
                case,
            });
            rest = &after[case.map_or(0, char::len_utf8)..];
        } else {
            panic!("not a mapping rule: {rest}");
        }
        rest = rest.trim_start_matches([' ', '\t']);
        match rest.chars().next() {
            None => {}
            Some(',' | '\n') => rest = rest[1..].trim_start(),
            Some(_) => panic!("mapping rules: unexpected {rest}"),
        }
    }
    rules
}

#[test]
fn mapping_rules_parser_handles_the_kafka_syntax() {
    assert_eq!(
        mapping_rules("RULE:^CN=(a\\/b)$/$1/L, DEFAULT"),
        vec![
            MappingRule::Rule {
                pattern: "^CN=(a\\/b)$".into(),
                replacement: "$1".into(),
                case: Some('L'),
            },
            MappingRule::Default,
        ]
    );
}

#[test]
fn every_listener_is_mutual_tls() {
    for cluster in CLUSTERS {
        for n in NODES {
            let p = node(cluster, n);
            let map: BTreeMap<&str, &str> = p["listener.security.protocol.map"]
                .split(',')
                .map(|e| e.split_once(':').expect("NAME:PROTOCOL"))
                .collect();
            for key in ["listeners", "advertised.listeners"] {
                for listener in p[key].split(',') {
                    let name = listener.split_once("://").expect("NAME://host:port").0;
                    let protocol = map.get(name).unwrap_or_else(|| {
                        panic!("{cluster}/server-{n}: {name} not in the protocol map")
                    });
                    assert_eq!(*protocol, "SSL", "{cluster}/server-{n}: {name}");
                }
            }
            assert_eq!(map["CLIENT"], "SSL", "{cluster}/server-{n}");
            // Every listener demands a client certificate: its own setting, else the global one.
            for name in map.keys() {
                let own = format!("listener.name.{}.ssl.client.auth", name.to_lowercase());
                let auth = p
                    .get(&own)
                    .or_else(|| p.get("ssl.client.auth"))
                    .map(String::as_str);
                assert_eq!(
                    auth,
                    Some("required"),
                    "{cluster}/server-{n}: listener {name} does not require a client certificate"
                );
            }
            // No SASL left, under any prefix (listener.name.<x>.sasl..., <mechanism>.sasl...).
            let sasl: Vec<&String> = p
                .keys()
                .filter(|k| k.starts_with("sasl.") || k.contains(".sasl."))
                .collect();
            assert!(sasl.is_empty(), "{cluster}/server-{n}: {sasl:?}");
            // The certificate's CN is the principal; node certificates are the node principal,
            // which must be tried before the generic rule, and DEFAULT comes last.
            assert_eq!(
                mapping_rules(&p["ssl.principal.mapping.rules"]),
                vec![
                    MappingRule::Rule {
                        pattern: format!("^CN=kafka-{cluster}-[0-9]+[.]vygoda[.]internal(,.*)?$"),
                        replacement: format!("kafka-{cluster}"),
                        case: None,
                    },
                    MappingRule::Rule {
                        pattern: "^CN=([^,]+)(,.*)?$".into(),
                        replacement: "$1".into(),
                        case: None,
                    },
                    MappingRule::Default,
                ],
                "{cluster}/server-{n}"
            );
            for key in ["ssl.keystore.location", "ssl.truststore.location"] {
                assert!(
                    p.get(key).is_some_and(|v| !v.is_empty()),
                    "{cluster}/server-{n}: {key}"
                );
            }
            assert!(map.contains_key(p["inter.broker.listener.name"].as_str()));
            assert!(map.contains_key(p["controller.listener.names"].as_str()));
            assert!(!p["ssl.enabled.protocols"].contains("TLSv1.1"));
        }
    }
}

#[test]
fn no_plaintext_anywhere() {
    let mut files = Vec::new();
    for dir in [
        prod_dir(),
        prod_dir().join("prod"),
        prod_dir().join("analytics"),
    ] {
        for entry in std::fs::read_dir(&dir).expect("kafka/prod") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    assert!(
        files.len() >= 10,
        "expected the production files, found {files:?}"
    );
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            !text.contains("PLAINTEXT"),
            "{} mentions PLAINTEXT",
            path.display()
        );
        for (k, v) in parse_properties(&text) {
            if k.ends_with("security.protocol") {
                assert_eq!(v, "SSL", "{}: {k}", path.display());
            }
            if k.ends_with("password") {
                assert!(
                    v.starts_with("${file:"),
                    "{}: {k} holds a secret",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn authorization_denies_by_default() {
    for cluster in CLUSTERS {
        for n in NODES {
            let p = node(cluster, n);
            assert_eq!(
                p["authorizer.class.name"],
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
            );
            assert_eq!(p["allow.everyone.if.no.acl.found"], "false");
            let supers: BTreeSet<&str> = p["super.users"].split(';').collect();
            assert!(
                supers.contains("User:admin"),
                "{cluster}/server-{n}: {supers:?}"
            );
            // The node principal (mutual TLS between nodes) is the only other super user.
            assert_eq!(supers.len(), 2, "{cluster}/server-{n}: {supers:?}");
            let node_principal = format!("User:kafka-{cluster}");
            assert!(supers.contains(node_principal.as_str()));
            assert!(p["ssl.principal.mapping.rules"].contains(&format!("/kafka-{cluster}/")));
        }
    }
}

#[test]
fn durability_matches_the_topic_table() {
    let topics = TopicTable::load(&repo_root().join("kafka/topics.toml")).expect("topics.toml");
    for cluster in CLUSTERS {
        for n in NODES {
            let p = node(cluster, n);
            let int = |k: &str| -> i32 {
                p[k].parse()
                    .unwrap_or_else(|_| panic!("{cluster}/server-{n}: {k}={}", p[k]))
            };
            assert_eq!(p["unclean.leader.election.enable"], "false");
            assert_eq!(p["auto.create.topics.enable"], "false");
            let (rf, min_isr) = (
                int("default.replication.factor"),
                int("min.insync.replicas"),
            );
            assert_eq!((rf, min_isr), (3, 2), "{cluster}/server-{n}");
            assert!(int("offsets.topic.replication.factor") >= rf);
            for spec in topics.production(cluster).expect("production topics") {
                assert!(
                    spec.replication_factor <= NODES.len() as i32,
                    "{}: RF {} on {} nodes",
                    spec.name,
                    spec.replication_factor,
                    NODES.len()
                );
                // One node down must still accept acks=all writes.
                assert!(
                    spec.min_insync_replicas < spec.replication_factor,
                    "{}: min ISR {} with RF {}",
                    spec.name,
                    spec.min_insync_replicas,
                    spec.replication_factor
                );
            }
        }
    }
}

#[test]
fn generated_scripts_match_the_tables() {
    let root = repo_root();
    let acls = AclTable::load(&root.join("kafka/acls.toml")).expect("acls.toml");
    let topics = TopicTable::load(&root.join("kafka/topics.toml")).expect("topics.toml");
    for cluster in CLUSTERS {
        for (file, want) in [
            (
                format!("acls-{cluster}.sh"),
                acls.render_script(cluster).expect("render"),
            ),
            (
                format!("topics-{cluster}.sh"),
                topics.render_script(cluster).expect("render"),
            ),
        ] {
            let path = root.join("kafka/generated").join(&file);
            let have = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                have == want,
                "{} is stale or missing: run `make acls`",
                path.display()
            );
        }
    }
}

#[test]
fn mirror_maker_alternative_copies_the_shared_topics_one_way() {
    let p = load(&prod_dir().join("mm2.properties"));
    assert_eq!(
        p["replication.policy.class"],
        "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
    );
    assert_eq!(p["prod->analytics.enabled"], "true");
    assert_eq!(p["analytics->prod.enabled"], "false");
    assert_eq!(p["analytics.exactly.once.source.support"], "enabled");
    assert_eq!(p["prod->analytics.offset-syncs.topic.location"], "target");
    let topics = TopicTable::load(&repo_root().join("kafka/topics.toml")).expect("topics.toml");
    let on_both: BTreeSet<String> = topics
        .production("analytics")
        .expect("analytics topics")
        .into_iter()
        .map(|s| s.name)
        .collect();
    let mirrored: BTreeSet<String> = p["prod->analytics.topics"]
        .split(',')
        .map(|t| t.trim().to_owned())
        .collect();
    assert_eq!(mirrored, on_both);
    for cluster in CLUSTERS {
        // Mutual TLS as principal `mirror`: its own certificate, not another principal's.
        assert_eq!(p[&format!("{cluster}.security.protocol")], "SSL");
        assert_client_certificate(&p, &format!("{cluster}."), "mirror");
        let servers = load(&prod_dir().join(cluster).join("cluster.properties"));
        assert_eq!(
            p[&format!("{cluster}.bootstrap.servers")],
            servers["bootstrap.servers"]
        );
    }
    let admin = load(&prod_dir().join("admin-client.properties"));
    assert_eq!(admin["security.protocol"], "SSL");
    assert_client_certificate(&admin, "", "admin");
    for (file, props) in [("mm2.properties", &p), ("admin-client.properties", &admin)] {
        let sasl: Vec<&String> = props.keys().filter(|k| k.contains("sasl.")).collect();
        assert!(sasl.is_empty(), "{file}: {sasl:?}");
    }
}

/// `prefix`ssl.keystore.* hold `principal`'s certificate (key store `<principal>.p12`, password
/// from the file config provider) and `prefix`ssl.truststore.location the CA that verifies brokers.
fn assert_client_certificate(p: &BTreeMap<String, String>, prefix: &str, principal: &str) {
    let get = |k: &str| {
        p.get(&format!("{prefix}{k}"))
            .unwrap_or_else(|| panic!("{prefix}{k} missing"))
    };
    let keystore = Path::new(get("ssl.keystore.location"));
    assert_eq!(
        keystore.file_stem().and_then(|s| s.to_str()),
        Some(principal),
        "{prefix}ssl.keystore.location {}",
        keystore.display()
    );
    assert!(get("ssl.keystore.password").starts_with("${file:"));
    assert!(!get("ssl.truststore.location").is_empty());
}
