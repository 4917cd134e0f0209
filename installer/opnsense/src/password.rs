//! root's password, as OPNsense stores it: a bcrypt hash in `$2y$` form
//! (PHP's `password_hash`), never the clear text. Hashing is
//! `settings::hash_password`, next to the error it returns.

/// The cost OPNsense itself uses (its default configuration's hash is
/// `$2y$10$...`).
pub const BCRYPT_COST: u32 = 10;

/// Whether `password` matches `hash` (any of the `$2a$`/`$2b$`/`$2y$` forms).
pub fn verify_password(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

/// `$2y$10$` + 22 characters of salt + 31 of hash, in bcrypt's alphabet.
pub fn is_bcrypt_hash(s: &str) -> bool {
    let Some(rest) = ["$2y$", "$2b$", "$2a$"]
        .iter()
        .find_map(|p| s.strip_prefix(p))
    else {
        return false;
    };
    let Some((cost, body)) = rest.split_once('$') else {
        return false;
    };
    let cost_ok = cost.len() == 2 && cost.parse::<u32>().is_ok_and(|c| (4..=31).contains(&c));
    cost_ok
        && body.len() == 53
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_opnsense_default_hash_and_rejects_others() {
        // OPNsense's own default (root / opnsense), from its config.xml.sample.
        let sample = "$2y$10$YRVoF4SgskIsrXOvOQjGieB9XqHPRra9R7d80B3BZdbY/j21TwBfS";
        assert!(is_bcrypt_hash(sample));
        assert!(verify_password("opnsense", sample));
        assert!(!is_bcrypt_hash("opnsense"));
        assert!(!is_bcrypt_hash("$1$abc$def"));
        assert!(!is_bcrypt_hash(&sample.replace("$10$", "$99$")));
        assert!(!is_bcrypt_hash(&sample[..sample.len() - 1]));
    }
}
