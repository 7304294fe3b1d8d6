//! Reading a service's `/metrics` from a test: the assertions of a test are on outputs, and a
//! counter is one.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// A local address with a port free right now, for a service's `--metrics-addr` (a service
/// given port 0 would not tell the test which port it bound).
pub fn free_local_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
}

/// `GET /metrics` as text; `None` while nothing answers there.
pub fn scrape(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.starts_with("HTTP/1.").then_some(body)
}

/// Sum of the samples of `name` whose labels include `label` (as printed, e.g.
/// `topic="t"`); `None` when there is no such sample.
pub fn sum(text: &str, name: &str, label: &str) -> Option<f64> {
    let prefix = format!("{name}{{");
    let values: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| rest.split_once("} "))
        .filter(|(labels, _)| labels.split(',').any(|l| l == label))
        .filter_map(|(_, v)| v.split_whitespace().next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// The value of the unlabelled sample `name` (a gauge or a counter without labels).
pub fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .find_map(|v| v.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_samples_of_one_label() {
        let text = "# TYPE x counter\nx_total{topic=\"a\",reason=\"r1\"} 2\n\
                    x_total{topic=\"a\",reason=\"r2\"} 3\nx_total{topic=\"ab\",reason=\"r1\"} 7\n";
        assert_eq!(sum(text, "x_total", "topic=\"a\""), Some(5.0));
        assert_eq!(sum(text, "x_total", "topic=\"b\""), None);
    }

    #[test]
    fn reads_an_unlabelled_sample() {
        let text = "# TYPE owned gauge\nowned_total 9\nowned 2\n";
        assert_eq!(value(text, "owned"), Some(2.0));
        assert_eq!(value(text, "owned_total"), Some(9.0));
        assert_eq!(value(text, "own"), None);
    }
}
