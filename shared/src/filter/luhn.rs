//! The Luhn (mod 10) check digit used by payment cards: a random 16-digit number passes one
//! time in ten, so the check (plus the prefix rule in `detect`) keeps order numbers, IDs and
//! timestamps from being masked as cards.

/// Whether `digits` (ASCII digits only) passes the Luhn check. Non-digits fail.
pub(crate) fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, &b) in digits.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::luhn_valid;

    #[test]
    fn known_numbers() {
        assert!(luhn_valid(b"4111111111111111"));
        assert!(luhn_valid(b"378282246310005"));
        assert!(!luhn_valid(b"4111111111111112"));
        assert!(!luhn_valid(b""));
        assert!(!luhn_valid(b"41x1"));
    }
}
