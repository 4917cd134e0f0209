//! Checks of single values (names, addresses, keys, hashes), public so
//! that the wizard can check a field as it is typed. Each returns
//! `Err(message)` with what is wrong and what to write instead; the message
//! reads after the key's name (`global.fqdn: <message>`).

use std::net::IpAddr;

/// One DNS label as a host name needs it. The error is a phrase that
/// follows "it", e.g. "has an empty label".
fn check_label(label: &str, lowercase_only: bool) -> Result<(), String> {
    if label.is_empty() {
        return Err("has an empty label (two dots in a row, or a dot at either end)".to_string());
    }
    if label.len() > 63 {
        return Err(format!("has a label longer than 63 characters ('{label}')"));
    }
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if let Some(bad) = label
        .chars()
        .find(|c| !(ok(*c) || (!lowercase_only && c.is_ascii_uppercase())))
    {
        let allowed = if lowercase_only {
            "a-z, 0-9 and '-'"
        } else {
            "letters, digits and '-'"
        };
        return Err(format!(
            "has '{bad}' in label '{label}' (only {allowed} are allowed)"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!(
            "has a label that starts or ends with '-' ('{label}')"
        ));
    }
    Ok(())
}

fn check_labels(name: &str, lowercase_only: bool) -> Result<(), String> {
    if name.len() > 253 {
        return Err("is longer than 253 characters".to_string());
    }
    name.split('.')
        .try_for_each(|l| check_label(l, lowercase_only))
}

/// The node's name with its domain (`tappaas1.example.com`).
pub fn fqdn(name: &str) -> Result<(), String> {
    let fail = |why: String| {
        Err(format!(
            "'{name}' is not a host name with a domain: it {why}; write e.g. \"tappaas1.example.com\""
        ))
    };
    if let Err(why) = check_labels(name, true) {
        return fail(why);
    }
    let Some((host, _domain)) = name.split_once('.') else {
        return fail("has no domain part".to_string());
    };
    if host.chars().all(|c| c.is_ascii_digit()) {
        return fail(format!("has an all-digit host part '{host}'"));
    }
    Ok(())
}

/// A DNS domain (`example.com`, or a single label such as `lan`).
pub fn domain(name: &str) -> Result<(), String> {
    check_labels(name, true).map_err(|why| {
        format!("'{name}' is not a domain name: it {why}; write e.g. \"example.com\"")
    })
}

/// An IP address or a host name (any case, with or without a domain).
pub fn ip_or_host(name: &str) -> Result<(), String> {
    if name.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let fail = |why: String| {
        Err(format!(
            "'{name}' is neither an IP address nor a host name: it {why}; write e.g. \"10.0.0.10\" or \"tappaas1.example.com\""
        ))
    };
    if let Err(why) = check_labels(name, false) {
        return fail(why);
    }
    // A last label of digits only would make "10.0.0" a host name.
    if name
        .rsplit('.')
        .next()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return fail("ends in an all-digit label".to_string());
    }
    Ok(())
}

/// A simple e-mail address check: `local@domain`.
pub fn email(addr: &str) -> Result<(), String> {
    let fail = |why: &str| {
        Err(format!(
            "'{addr}' is not an e-mail address: {why}; write e.g. \"admin@example.com\""
        ))
    };
    let Some((local, dom)) = addr.rsplit_once('@') else {
        return fail("it has no '@'");
    };
    if local.is_empty() || local.len() > 64 {
        return fail("the part before '@' is empty or longer than 64 characters");
    }
    if local.contains('@') || local.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail("the part before '@' has a space, a control character or another '@'");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return fail("the part before '@' starts or ends with '.' or has '..'");
    }
    if check_labels(dom, false).is_err() {
        return fail("the part after '@' is not a domain name");
    }
    Ok(())
}

/// Known OpenSSH public key types. DSA keys are left out on purpose:
/// OpenSSH no longer accepts them.
const SSH_KEY_TYPES: &[&str] = &[
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "ssh-ed25519",
    "ssh-rsa",
];

/// An `authorized_keys` line: `type base64 [comment]`.
pub fn ssh_key(line: &str) -> Result<(), String> {
    let hint = "write the line of a .pub file: \"ssh-ed25519 AAAA... user@host\"";
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(data)) = (parts.next(), parts.next()) else {
        return Err(format!("is not a public key line: {hint}"));
    };
    if kind == "ssh-dss" {
        return Err(format!(
            "DSA keys (ssh-dss) are no longer accepted by OpenSSH: use an ed25519 key; {hint}"
        ));
    }
    if !SSH_KEY_TYPES.contains(&kind) {
        let shown: String = kind.chars().take(40).collect();
        return Err(format!(
            "unknown key type '{shown}' (one of {}); {hint}",
            SSH_KEY_TYPES.join(", ")
        ));
    }
    let Some(blob) = base64_decode(data) else {
        return Err(format!(
            "the key data after '{kind}' is not valid base64; {hint}"
        ));
    };
    // The blob starts with its own type as a length-prefixed string; a
    // mismatch means the line was pasted together from two keys.
    let inner = blob
        .get(..4)
        .and_then(|n| n.try_into().ok())
        .map(|n: [u8; 4]| u32::from_be_bytes(n) as usize)
        .and_then(|len| blob.get(4..4usize.checked_add(len)?));
    match inner {
        Some(t) if t == kind.as_bytes() => Ok(()),
        Some(t) => Err(format!(
            "the key data is of type {} but the line says {kind}: copy the whole line of one .pub file",
            String::from_utf8_lossy(t)
        )),
        None => Err(format!(
            "the key data is too short to be a '{kind}' key; {hint}"
        )),
    }
}

/// Standard base64 with padding; None when it is not.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    // Whole groups of four characters only.
    if b.is_empty() || !b.chunks_exact(4).remainder().is_empty() {
        return None;
    }
    let pad = b.iter().rev().take_while(|c| **c == b'=').count();
    if pad > 2 {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let last = b.len() / 4 - 1;
    for (n, chunk) in b.chunks(4).enumerate() {
        let here_pad = if n == last { pad } else { 0 };
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = if i >= 4 - here_pad { 0 } else { val(*c)? };
            acc = (acc << 6) | v;
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - here_pad]);
    }
    Some(out)
}

/// The characters of crypt(3)'s own base64.
fn crypt_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '/')
}

/// A crypt(3) hash as Debian's libxcrypt writes it, of a scheme that is
/// still considered safe: yescrypt `$y$`, gost-yescrypt `$gy$`, scrypt
/// `$7$`, bcrypt `$2b$`/`$2a$`/`$2y$`, SHA-512 `$6$`, SHA-256 `$5$`.
pub fn crypt_hash(hash: &str) -> Result<(), String> {
    let hint = "make one with `mkpasswd -m yescrypt` or `openssl passwd -6`";
    let fail = |why: &str| Err(format!("is not a crypt(3) password hash: {why}; {hint}"));
    let Some(rest) = hash.strip_prefix('$') else {
        return fail("it does not start with '$'");
    };
    let parts: Vec<&str> = rest.split('$').collect();
    let good = match parts.as_slice() {
        ["y" | "gy" | "7", params, salt, h] => {
            !params.is_empty()
                && crypt_chars(params)
                && !salt.is_empty()
                && crypt_chars(salt)
                && h.len() == 43
                && crypt_chars(h)
        }
        [id @ ("6" | "5"), more @ ..] => {
            let want = if *id == "6" { 86 } else { 43 };
            let (salt, h) = match more {
                [rounds, salt, h]
                    if rounds
                        .strip_prefix("rounds=")
                        .is_some_and(|n| n.parse::<u32>().is_ok()) =>
                {
                    (salt, h)
                }
                [salt, h] => (salt, h),
                _ => return fail("it does not have the form $6$salt$hash"),
            };
            (1..=16).contains(&salt.len()) && crypt_chars(salt) && h.len() == want && crypt_chars(h)
        }
        ["2a" | "2b" | "2y", cost, h] => {
            cost.len() == 2
                && cost.parse::<u8>().is_ok_and(|c| (4..=31).contains(&c))
                && h.len() == 53
                && crypt_chars(h)
        }
        ["1" | "md5" | "3" | "sha1" | "nt", ..] => {
            return fail("its scheme is too weak to be accepted");
        }
        [id, ..] => {
            let shown: String = id.chars().take(10).collect();
            return fail(&format!(
                "'${shown}$' is not a known scheme (one of $y$, $gy$, $7$, $2b$, $6$, $5$)"
            ));
        }
        [] => false,
    };
    if good {
        Ok(())
    } else {
        fail("its salt or hash part has the wrong length or characters")
    }
}

/// A SHA-256 certificate fingerprint: 32 bytes as colon-separated hex pairs.
pub fn fingerprint(fp: &str) -> Result<(), String> {
    let pairs: Vec<&str> = fp.split(':').collect();
    let ok = pairs.len() == 32
        && pairs
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "is not a SHA-256 fingerprint: it needs 32 hex pairs separated by ':' (AB:CD:...), it has {} part(s); copy it from the peer's Certificates page or `pvenode cert info`",
            pairs.len()
        ))
    }
}

/// A Proxmox cluster name.
pub fn cluster_name(name: &str) -> Result<(), String> {
    let ok = (1..=15).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a Proxmox cluster name: use 1-15 letters, digits or '-'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdns() {
        assert!(fqdn("tappaas1.example.com").is_ok());
        assert!(fqdn("pve.lan").is_ok());
        assert!(fqdn("pve").is_err());
        assert!(fqdn("123.example.com").is_err());
        assert!(fqdn("-a.example.com").is_err());
        assert!(fqdn("a..example.com").is_err());
        assert!(fqdn("Pve.example.com").is_err());
        assert!(fqdn(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn hosts_and_mail() {
        assert!(ip_or_host("10.0.0.10").is_ok());
        assert!(ip_or_host("fd00::10").is_ok());
        assert!(ip_or_host("tappaas1").is_ok());
        assert!(ip_or_host("10.0.0").is_err());
        assert!(ip_or_host("a b").is_err());
        assert!(email("admin@example.com").is_ok());
        assert!(email("root@localhost").is_ok());
        assert!(email("admin").is_err());
        assert!(email("a b@example.com").is_err());
        assert!(email("@example.com").is_err());
        assert!(email("a@").is_err());
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode("aGVsbG8h").as_deref(), Some(&b"hello!"[..]));
        assert_eq!(base64_decode("aGVsbA==").as_deref(), Some(&b"hell"[..]));
        assert_eq!(base64_decode("aGVsbG8"), None);
        assert_eq!(base64_decode("aGV=bG8h"), None);
        assert_eq!(base64_decode("===="), None);
        assert_eq!(base64_decode(""), None);
    }

    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM2N80UeP9rXP4FHideVaFz+/gDg/A/nSLkRFiVq4g1j admin@example";

    #[test]
    fn ssh_keys() {
        assert_eq!(ssh_key(ED25519), Ok(()));
        assert!(ssh_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM2N80UeP9rXP4FHideVaFz+/gDg/A/nSLkRFiVq4g1j"
        )
        .is_ok());
        assert!(ssh_key("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBI9G74Zrjn8eSEUi0m6XftooqIRjF3RbDbDzzJqFyfiy3mlwEsMTLFeCbmFRVfUs9teiDfCj2100N8NKY8Qq7oY= ops@example").is_ok());
        assert!(ssh_key(
            "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIM2N80UeP9rXP4FHideVaFz+/gDg/A/nSLkRFiVq4g1j"
        )
        .is_err());
        assert!(ssh_key("ssh-ed25519 notbase64!").is_err());
        assert!(ssh_key("ssh-dss AAAA").is_err());
        assert!(ssh_key("ssh-ed25519").is_err());
        assert!(ssh_key("").is_err());
    }

    #[test]
    fn hashes() {
        let sha512 = "$6$IW6RaGh1mFrUXrLY$nMZz.CggUow3Rk/Vr5Lo0zjPXP1qLMx8G6DXhG/krN5eFqkFQqG5pRPo0SotvaD4cXZGS7hyAOlOY.Imuii5w0";
        assert_eq!(crypt_hash(sha512), Ok(()));
        assert!(
            crypt_hash("$5$rounds=10000$abc$SqzbQKhwnNVzngBc5w1//EP3FonYPg8GiRZl3gUiUK0").is_ok()
        );
        assert!(crypt_hash(
            "$y$j9T$F6UDztwkOAy1lr.tWRBc10$1/kPq1QszRgRQuZ0pALZDeqMaYzm2xTnpKij9sBImjy"
        )
        .is_ok());
        assert!(crypt_hash("$2b$12$1w3bmJJR/NRnghuW.lEOq5xiNoyhpg.eu1RKL9U2780t/XTWCLgZ6").is_ok());
        assert!(crypt_hash("$1$abc$def").is_err());
        assert!(crypt_hash("password").is_err());
        assert!(crypt_hash("$6$salt$short").is_err());
        assert!(crypt_hash("$").is_err());
        assert!(crypt_hash("$$$").is_err());
    }

    #[test]
    fn fingerprints_and_cluster_names() {
        let fp = ["AB"; 32].join(":");
        assert!(fingerprint(&fp).is_ok());
        assert!(fingerprint(&fp.to_lowercase()).is_ok());
        assert!(fingerprint(&["AB"; 31].join(":")).is_err());
        assert!(fingerprint(&["GG"; 32].join(":")).is_err());
        assert!(cluster_name("tappaas").is_ok());
        assert!(cluster_name("home-lab-2").is_ok());
        assert!(cluster_name("").is_err());
        assert!(cluster_name("a_b").is_err());
        assert!(cluster_name("sixteen-chars-xx").is_err());
    }
}
