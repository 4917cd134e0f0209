//! Byte-level mutations shared by every target: the edits that find
//! parser bugs (cut, repeat, flip, splice a token from the target's own
//! vocabulary, swap a number for an extreme one).

use crate::rng::Rng;

/// Numbers at the edges of the integer and float types parsers convert to.
pub const ODD_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "007",
    "255",
    "256",
    "65535",
    "65536",
    "2147483648",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "99999999999999999999999999999999",
    "1.5",
    "-1.5",
    "1e308",
    "1e309",
    "-1e309",
    "5e-324",
    "nan",
    "inf",
    "-inf",
    "0x10",
    "1_000",
    "",
];

/// Bytes that are not UTF-8 on their own, or that text handling trips on.
const ODD_BYTES: &[&[u8]] = &[
    b"\xff",
    b"\xfe\xff",
    b"\xc3",
    b"\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x00",
    b"\r",
    b"\r\n",
    b"\t",
    b"\x1b[2J",
    "\u{feff}".as_bytes(),
    "ü".as_bytes(),
    "\u{202e}".as_bytes(),
    "𝄞".as_bytes(),
];

fn position(rng: &mut Rng, data: &[u8]) -> usize {
    rng.below(data.len() + 1)
}

fn range(rng: &mut Rng, data: &[u8]) -> (usize, usize) {
    let start = rng.below(data.len() + 1);
    let max = (data.len() - start).min(if rng.chance(1, 4) { 256 } else { 16 });
    (start, start + rng.below(max + 1))
}

/// Replace the run of digits (with its sign) around a random digit by an
/// odd number; false when there is no digit.
fn replace_number(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    let digits: Vec<usize> = (0..data.len())
        .filter(|&i| data[i].is_ascii_digit())
        .collect();
    if digits.is_empty() {
        return false;
    }
    let at = *rng.pick(&digits);
    let mut start = at;
    while start > 0 && (data[start - 1].is_ascii_digit() || data[start - 1] == b'-') {
        start -= 1;
    }
    let mut end = at;
    while end < data.len() && data[end].is_ascii_digit() {
        end += 1;
    }
    let number = rng.pick(ODD_NUMBERS).as_bytes();
    data.splice(start..end, number.iter().copied());
    true
}

/// Apply one random edit to `data`; `tokens` are the target's vocabulary.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, tokens: &[&[u8]]) {
    match rng.below(12) {
        0 => {
            if !data.is_empty() {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            let (a, b) = range(rng, data);
            data.drain(a..b);
        }
        2 | 3 if !tokens.is_empty() => {
            let at = position(rng, data);
            let token = *rng.pick(tokens);
            data.splice(at..at, token.iter().copied());
        }
        4 => {
            let (a, b) = range(rng, data);
            let copy = data[a..b].to_vec();
            let at = position(rng, data);
            data.splice(at..at, copy);
        }
        5 | 6 if replace_number(rng, data) => {}
        7 => {
            let at = position(rng, data);
            let odd = *rng.pick(ODD_BYTES);
            data.splice(at..at, odd.iter().copied());
        }
        8 => {
            let at = position(rng, data);
            let n = rng.between(1, 8);
            let noise = rng.bytes(n);
            data.splice(at..at, noise);
        }
        9 => {
            let at = position(rng, data);
            data.truncate(at);
        }
        10 => duplicate_line(rng, data),
        _ => {
            // Overwrite a range with a token: a value swapped for another.
            let (a, b) = range(rng, data);
            let token: &[u8] = if tokens.is_empty() {
                rng.pick(ODD_NUMBERS).as_bytes()
            } else {
                rng.pick::<&[u8]>(tokens)
            };
            data.splice(a..b, token.iter().copied());
        }
    }
}

/// Apply 1 to `max` random edits.
pub fn mutate_some(rng: &mut Rng, data: &mut Vec<u8>, tokens: &[&[u8]], max: usize) {
    for _ in 0..rng.between(1, max) {
        mutate(rng, data, tokens);
    }
}

fn duplicate_line(rng: &mut Rng, data: &mut Vec<u8>) {
    let starts: Vec<usize> = std::iter::once(0)
        .chain((0..data.len()).filter(|&i| data[i] == b'\n').map(|i| i + 1))
        .filter(|&i| i < data.len())
        .collect();
    if starts.is_empty() {
        return;
    }
    let start = *rng.pick(&starts);
    let end = data[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(data.len(), |p| start + p + 1);
    let line = data[start..end].to_vec();
    let at = *rng.pick(&starts);
    data.splice(at..at, line);
}

/// Text from pieces of `tokens` and odd bytes only: input with no
/// structure but the target's words.
pub fn token_soup(rng: &mut Rng, tokens: &[&[u8]], max_pieces: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(max_pieces + 1) {
        match rng.below(4) {
            0 => out.extend_from_slice(rng.pick(ODD_NUMBERS).as_bytes()),
            1 => out.extend_from_slice(rng.pick::<&[u8]>(ODD_BYTES)),
            _ if !tokens.is_empty() => out.extend_from_slice(rng.pick::<&[u8]>(tokens)),
            _ => out.push(rng.next_u64() as u8),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_replaced_whole() {
        let mut rng = Rng::new(3);
        for _ in 0..50 {
            let mut data = b"size=-12345\n".to_vec();
            assert!(replace_number(&mut rng, &mut data));
            let text = String::from_utf8(data).expect("ascii");
            let value = text.trim_start_matches("size=").trim_end();
            assert!(ODD_NUMBERS.contains(&value), "{text:?}");
        }
        assert!(!replace_number(&mut rng, &mut b"none".to_vec()));
    }

    #[test]
    fn mutations_change_input_and_stay_in_bounds() {
        let mut rng = Rng::new(9);
        let mut changed = 0;
        for _ in 0..500 {
            let mut data = b"a=1\nb=[2, 3]\n".to_vec();
            mutate_some(&mut rng, &mut data, &[b"[", b"\"x\""], 4);
            changed += usize::from(data != b"a=1\nb=[2, 3]\n");
        }
        assert!(changed > 400, "only {changed} of 500 changed");
        let mut empty = Vec::new();
        for _ in 0..100 {
            mutate(&mut rng, &mut empty, &[]);
        }
    }
}
