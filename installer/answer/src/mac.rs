//! A network card's hardware address.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A MAC address, written as six colon-separated hex bytes
/// (`52:54:00:12:34:01`), lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl FromStr for MacAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}' is not a MAC address (six hex bytes, e.g. 52:54:00:12:34:01)");
        let mut bytes = [0u8; 6];
        let mut parts = s.split(':');
        for b in &mut bytes {
            let part = parts.next().filter(|p| p.len() == 2).ok_or_else(bad)?;
            *b = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddr(bytes))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addresses_parse_and_print_in_lower_case() {
        let mac: MacAddr = "52:54:00:AB:cd:01".parse().expect("mac");
        assert_eq!(mac, MacAddr([0x52, 0x54, 0, 0xab, 0xcd, 1]));
        assert_eq!(mac.to_string(), "52:54:00:ab:cd:01");
        for bad in [
            "",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:01:02",
            "52:54:00:ab:cd:0g",
            "5:54:00:ab:cd:01",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&mac).expect("json");
        assert_eq!(json, "\"52:54:00:ab:cd:01\"");
        assert_eq!(serde_json::from_str::<MacAddr>(&json).expect("back"), mac);
    }
}
