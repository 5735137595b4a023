//! The RFC 9110 `token` grammar (§5.6.2), used for request methods and configured header
//! names: one definition, so both accept exactly the same characters.

/// RFC 9110 `tchar`: a letter, a digit, or one of ``!#$%&'*+-.^_`|~``.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::is_tchar;

    #[test]
    fn exactly_the_rfc_9110_characters() {
        let accepted: String = (0u8..=255)
            .filter(|b| is_tchar(*b))
            .map(char::from)
            .collect();
        assert_eq!(
            accepted,
            "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~"
        );
    }
}
