//! Language choice from the browser's preferred languages (`navigator.languages`).

/// A language the page has messages for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English, the default.
    En,
    /// German.
    De,
    /// French.
    Fr,
}

impl Lang {
    /// Every supported language.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::De, Lang::Fr];

    /// The BCP 47 primary tag, also written to `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
        }
    }
}

/// The first supported language in the browser's preference list, matched on the
/// primary subtag (`de-AT` → German), case-insensitively; English if none matches.
pub fn choose<S: AsRef<str>>(preferences: &[S]) -> Lang {
    preferences
        .iter()
        .find_map(|pref| {
            let primary = pref.as_ref().split(['-', '_']).next().unwrap_or_default();
            Lang::ALL
                .into_iter()
                .find(|l| l.tag().eq_ignore_ascii_case(primary))
        })
        .unwrap_or(Lang::En)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn picks_first_supported_preference() {
        assert_eq!(choose(&["de-DE", "en-US"]), Lang::De);
        assert_eq!(choose(&["it-IT", "fr-CA", "de"]), Lang::Fr);
        assert_eq!(choose(&["EN-gb", "de"]), Lang::En);
        assert_eq!(choose(&["de_CH"]), Lang::De);
    }

    #[test]
    fn falls_back_to_english() {
        assert_eq!(choose::<&str>(&[]), Lang::En);
        assert_eq!(choose(&["ja-JP", "", "*", "-"]), Lang::En);
        assert_eq!(choose(&["deu"]), Lang::En);
    }
}
