//! IBAN validation: the country's fixed length and the ISO 7064 mod-97 check digits. Together
//! they make a random alphanumeric string pass about once in several thousand tries.

/// IBAN length per country (ISO 13616 registry, the countries in common use).
#[rustfmt::skip]
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24), (b"AE", 23), (b"AL", 28), (b"AT", 20), (b"AZ", 28), (b"BA", 20), (b"BE", 16),
    (b"BG", 22), (b"BH", 22), (b"BR", 29), (b"BY", 28), (b"CH", 21), (b"CR", 22), (b"CY", 28),
    (b"CZ", 24), (b"DE", 22), (b"DK", 18), (b"DO", 28), (b"EE", 20), (b"EG", 29), (b"ES", 24),
    (b"FI", 18), (b"FO", 18), (b"FR", 27), (b"GB", 22), (b"GE", 22), (b"GI", 23), (b"GL", 18),
    (b"GR", 27), (b"GT", 28), (b"HR", 21), (b"HU", 28), (b"IE", 22), (b"IL", 23), (b"IQ", 23),
    (b"IS", 26), (b"IT", 27), (b"JO", 30), (b"KW", 30), (b"KZ", 20), (b"LB", 28), (b"LC", 32),
    (b"LI", 21), (b"LT", 20), (b"LU", 20), (b"LV", 21), (b"MC", 27), (b"MD", 24), (b"ME", 22),
    (b"MK", 19), (b"MR", 27), (b"MT", 31), (b"MU", 30), (b"NL", 18), (b"NO", 15), (b"PK", 24),
    (b"PL", 28), (b"PS", 29), (b"PT", 25), (b"QA", 29), (b"RO", 24), (b"RS", 22), (b"SA", 24),
    (b"SC", 31), (b"SE", 24), (b"SI", 19), (b"SK", 24), (b"SM", 27), (b"ST", 25), (b"SV", 28),
    (b"TL", 23), (b"TN", 24), (b"TR", 26), (b"UA", 29), (b"VA", 22), (b"VG", 24), (b"XK", 20),
];

/// Longest IBAN in the table (characters, without spaces).
pub(crate) const MAX_LEN: usize = 34;

/// Whether `compact` (no spaces, upper case) is a valid IBAN of a known country.
pub(crate) fn iban_valid(compact: &[u8]) -> bool {
    if compact.len() < 5
        || !compact
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return false;
    }
    let country = [compact[0], compact[1]];
    let Some(&(_, len)) = LENGTHS.iter().find(|(c, _)| **c == country) else {
        return false;
    };
    if compact.len() != len || !compact[2].is_ascii_digit() || !compact[3].is_ascii_digit() {
        return false;
    }
    // Move the first four characters to the end, read letters as 10..35, and take mod 97.
    let mut rem = 0u32;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        rem = if b.is_ascii_digit() {
            (rem * 10 + u32::from(b - b'0')) % 97
        } else {
            (rem * 100 + u32::from(b - b'A') + 10) % 97
        };
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::iban_valid;

    #[test]
    fn known_ibans() {
        assert!(iban_valid(b"DE89370400440532013000"));
        assert!(iban_valid(b"GB82WEST12345698765432"));
        assert!(iban_valid(b"FR1420041010050500013M02606"));
        assert!(iban_valid(b"NL91ABNA0417164300"));
        assert!(!iban_valid(b"DE88370400440532013000"));
        assert!(!iban_valid(b"DE8937040044053201300"));
        assert!(!iban_valid(b"ZZ89370400440532013000"));
    }
}
