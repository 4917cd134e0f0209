//! Generated credentials of the services.

use std::collections::BTreeMap;

use tappaas_answer::Secret;

use crate::error::Error;
use crate::model::{Charset, SecretSpec};
use crate::resolve::Resolved;

/// Secrets by service, then by secret name. `Debug` shows no value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets(BTreeMap<String, BTreeMap<String, Secret>>);

impl Secrets {
    /// Fresh values for every secret of every resolved service.
    pub fn generate(resolved: &Resolved) -> Result<Secrets, Error> {
        let mut secrets = Secrets::default();
        secrets.fill_missing(resolved)?;
        Ok(secrets)
    }

    /// Generates only the secrets that have no value yet (a re-run keeps
    /// the values of the services already deployed). Returns the
    /// (service, secret) pairs it generated.
    pub fn fill_missing(&mut self, resolved: &Resolved) -> Result<Vec<(String, String)>, Error> {
        let mut made = Vec::new();
        for entry in &resolved.order {
            for spec in &entry.secrets {
                if self.get(&entry.name, &spec.name).is_none() {
                    self.insert(&entry.name, &spec.name, Secret::new(random(spec)?));
                    made.push((entry.name.clone(), spec.name.clone()));
                }
            }
        }
        Ok(made)
    }

    /// Generates `spec` for `owner` unless it has a value: for credentials
    /// outside the catalog (the firewall's root password). True when it
    /// made one.
    pub fn ensure(&mut self, owner: &str, spec: &SecretSpec) -> Result<bool, Error> {
        if self.get(owner, &spec.name).is_some() {
            return Ok(false);
        }
        self.insert(owner, &spec.name, Secret::new(random(spec)?));
        Ok(true)
    }

    pub fn get(&self, service: &str, name: &str) -> Option<&Secret> {
        self.0.get(service)?.get(name)
    }

    pub fn insert(&mut self, service: &str, name: &str, value: Secret) {
        self.0
            .entry(service.to_string())
            .or_default()
            .insert(name.to_string(), value);
    }

    /// The secrets of one service.
    pub fn of(&self, service: &str) -> impl Iterator<Item = (&str, &Secret)> {
        self.0
            .get(service)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Every secret: service, secret name, value.
    pub fn all(&self) -> impl Iterator<Item = (&str, &str, &Secret)> {
        self.0.iter().flat_map(|(service, values)| {
            values
                .iter()
                .map(move |(name, v)| (service.as_str(), name.as_str(), v))
        })
    }

    /// The clear-text file the node keeps, root-only: a TOML table per
    /// service. The caller writes it with mode 0600.
    pub fn to_file_text(&self) -> String {
        let mut doc = toml_edit::DocumentMut::new();
        for (service, values) in &self.0 {
            let mut table = toml_edit::Table::new();
            for (name, value) in values {
                table.insert(name, toml_edit::value(value.expose()));
            }
            doc.insert(service, toml_edit::Item::Table(table));
        }
        format!(
            "# TAPPaaS service credentials, generated at install. Keep this file root-only.\n{doc}"
        )
    }

    /// Reads what `to_file_text` wrote; `file` names it in errors.
    pub fn from_file_text(file: &str, text: &str) -> Result<Secrets, Error> {
        let tables: BTreeMap<String, BTreeMap<String, String>> = toml::from_str(text)
            .map_err(|e| Error::Secrets(format!("{file}: {}", e.message().trim())))?;
        let mut secrets = Secrets::default();
        for (service, values) in tables {
            for (name, value) in values {
                secrets.insert(&service, &name, Secret::new(value));
            }
        }
        Ok(secrets)
    }
}

/// A uniformly random string from the spec's alphabet, by rejection of the
/// bytes that would bias it.
fn random(spec: &SecretSpec) -> Result<String, Error> {
    let alphabet: &[u8] = match spec.charset {
        Charset::Alnum => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        Charset::Hex => b"0123456789abcdef",
    };
    // The largest multiple of the alphabet's size that fits a byte.
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(spec.length);
    let mut buf = [0u8; 64];
    while out.len() < spec.length {
        getrandom::fill(&mut buf)
            .map_err(|e| Error::Secrets(format!("the system's random source failed: {e}")))?;
        for b in buf {
            if (b as usize) < limit && out.len() < spec.length {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_strings_have_the_length_and_alphabet() {
        let spec = SecretSpec {
            name: "x".into(),
            length: 64,
            charset: Charset::Hex,
        };
        let a = random(&spec).expect("random");
        let b = random(&spec).expect("random");
        assert_eq!(a.len(), 64);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b, "two 256-bit values must differ");
        let spec = SecretSpec {
            charset: Charset::Alnum,
            length: 16,
            ..spec
        };
        assert!(random(&spec)
            .expect("random")
            .bytes()
            .all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn the_file_text_round_trips_and_debug_hides_values() {
        let mut s = Secrets::default();
        s.insert("authentik", "db-password", Secret::new("abc123"));
        s.insert("garage", "rpc-secret", Secret::new("00ff"));
        let text = s.to_file_text();
        assert!(text.contains("abc123"));
        assert_eq!(Secrets::from_file_text("f", &text).expect("parse"), s);
        assert!(!format!("{s:?}").contains("abc123"));
        let all: Vec<(&str, &str, &str)> = s.all().map(|(a, b, v)| (a, b, v.expose())).collect();
        assert_eq!(
            all,
            [
                ("authentik", "db-password", "abc123"),
                ("garage", "rpc-secret", "00ff")
            ]
        );
        let err = Secrets::from_file_text("creds.toml", "x = 1").expect_err("not tables");
        assert!(err.to_string().contains("creds.toml"), "{err}");
    }
}
