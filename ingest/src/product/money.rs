//! Money: a non-negative decimal with scale 2, stored as Avro `decimal(12, 2)` bytes.
//!
//! Kept as an integer number of minor units (kopecks, cents) so nothing is ever rounded: a price
//! with a third decimal digit is rejected, not silently changed.

use apache_avro::types::Value;
use apache_avro::Decimal;

use crate::avro::AvroShapeError;

/// Amounts must stay below 10^10 so they fit `decimal(12, 2)`.
pub const MAX_UNSCALED: i64 = 1_000_000_000_000 - 1;

/// An amount in minor units (hundredths).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub i64);

impl Amount {
    /// Parse a decimal string such as `1299.99`, `-5`, `0.5`. Errors are `(kind, reason)` for
    /// the caller to attach to its field.
    pub fn parse(text: &str) -> Result<Amount, (super::ErrorKind, String)> {
        use super::ErrorKind::{InvalidFormat, OutOfRange};
        let bad = || {
            (
                InvalidFormat,
                format!("`{text}` is not a decimal number like 1299.99"),
            )
        };
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
        if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if digits.contains('.') && frac_part.is_empty()
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let frac = frac_part.trim_end_matches('0');
        if frac.len() > 2 {
            return Err((
                InvalidFormat,
                format!(
                    "`{text}` has {} decimal places; at most 2 are allowed",
                    frac.len()
                ),
            ));
        }
        let int_trimmed = int_part.trim_start_matches('0');
        if int_trimmed.len() > 10 {
            return Err((
                OutOfRange,
                format!("`{text}` is too large; the maximum is 9999999999.99"),
            ));
        }
        let whole: i64 = if int_trimmed.is_empty() {
            0
        } else {
            int_trimmed.parse().map_err(|_| bad())?
        };
        let mut cents: i64 = 0;
        for (i, b) in frac.bytes().enumerate() {
            let d = i64::from(b - b'0');
            cents += if i == 0 { d * 10 } else { d };
        }
        let unscaled = whole * 100 + cents;
        if unscaled > MAX_UNSCALED {
            return Err((
                OutOfRange,
                format!("`{text}` is too large; the maximum is 9999999999.99"),
            ));
        }
        if negative && unscaled != 0 {
            return Err((OutOfRange, format!("`{text}` is negative; prices are >= 0")));
        }
        Ok(Amount(unscaled))
    }

    /// Avro decimal: minimal big-endian two's complement of the unscaled value.
    pub fn to_avro(self) -> Value {
        let bytes = self.0.to_be_bytes();
        // Drop leading bytes that only repeat the sign.
        let mut start = 0;
        while start < 7 {
            let (b, next) = (bytes[start], bytes[start + 1]);
            let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
            if !redundant {
                break;
            }
            start += 1;
        }
        Value::Decimal(Decimal::from(&bytes[start..]))
    }

    pub fn from_avro(value: Value) -> Result<Amount, AvroShapeError> {
        let bytes = match value {
            Value::Decimal(d) => Vec::<u8>::try_from(&d).map_err(|e| AvroShapeError {
                field: "price.amount".into(),
                problem: e.to_string(),
            })?,
            Value::Bytes(b) => b,
            other => return Err(AvroShapeError::unexpected("price.amount", &other)),
        };
        if bytes.is_empty() || bytes.len() > 8 {
            return Err(AvroShapeError {
                field: "price.amount".into(),
                problem: format!(
                    "decimal of {} bytes does not fit decimal(12, 2)",
                    bytes.len()
                ),
            });
        }
        let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
        let mut buf = [fill; 8];
        buf[8 - bytes.len()..].copy_from_slice(&bytes);
        Ok(Amount(i64::from_be_bytes(buf)))
    }

    /// As a JSON number (exact: every value below 10^10 with 2 decimals has a shortest
    /// round-tripping double representation equal to its decimal text).
    pub fn to_json(self) -> serde_json::Value {
        if self.0 % 100 == 0 {
            serde_json::Value::from(self.0 / 100)
        } else {
            serde_json::Number::from_f64(self.0 as f64 / 100.0)
                .map_or(serde_json::Value::Null, serde_json::Value::Number)
        }
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(
            f,
            "{sign}{}.{:02}",
            (self.0 / 100).abs(),
            (self.0 % 100).abs()
        )
    }
}

/// Active ISO 4217 alphabetic codes (funds, precious metals and test codes excluded).
pub const CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// Exact, case-sensitive: `rub` is as wrong as `RUR` (the pre-1998 rouble).
pub fn is_currency(code: &str) -> bool {
    CURRENCIES.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_sorted_for_binary_search() {
        assert!(CURRENCIES.windows(2).all(|w| w[0] < w[1]));
        assert!(is_currency("RUB") && is_currency("KZT"));
        assert!(!is_currency("RUR") && !is_currency("rub") && !is_currency("XXX"));
    }

    #[test]
    fn parses_decimal_text() {
        assert_eq!(Amount::parse("1299.99").unwrap(), Amount(129_999));
        assert_eq!(Amount::parse("0.5").unwrap(), Amount(50));
        assert_eq!(Amount::parse("10.100").unwrap(), Amount(1010));
        assert_eq!(Amount::parse("007").unwrap(), Amount(700));
        assert_eq!(Amount::parse("-0").unwrap(), Amount(0));
        assert_eq!(
            Amount::parse("9999999999.99").unwrap(),
            Amount(MAX_UNSCALED)
        );
        for bad in ["", ".5", "5.", "1e3", "abc", "1,5", "--1", " 1"] {
            assert!(Amount::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Amount::parse("10.999").unwrap_err().0,
            super::super::ErrorKind::InvalidFormat
        );
        assert_eq!(
            Amount::parse("-1").unwrap_err().0,
            super::super::ErrorKind::OutOfRange
        );
        assert_eq!(
            Amount::parse("10000000000").unwrap_err().0,
            super::super::ErrorKind::OutOfRange
        );
    }

    #[test]
    fn avro_bytes_are_minimal_twos_complement() {
        let bytes = |a: i64| match Amount(a).to_avro() {
            Value::Decimal(d) => Vec::<u8>::try_from(&d).unwrap(),
            _ => unreachable!(),
        };
        assert_eq!(bytes(0), vec![0x00]);
        assert_eq!(bytes(127), vec![0x7f]);
        assert_eq!(bytes(128), vec![0x00, 0x80]);
        assert_eq!(bytes(-1), vec![0xff]);
        assert_eq!(bytes(-129), vec![0xff, 0x7f]);
        for a in [0, 1, 99, 128, 255, 256, 129_999, MAX_UNSCALED, -5, -129] {
            assert_eq!(Amount::from_avro(Amount(a).to_avro()).unwrap(), Amount(a));
        }
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Amount(129_999).to_string(), "1299.99");
        assert_eq!(Amount(5).to_string(), "0.05");
    }
}
