//! What the error screen says about an `error` response — and what it never says.
//!
//! The page lives on the trusted sign-in domain, and anyone can craft a link to it:
//! `…/callback?error=access_denied&error_description=Your+account+is+locked.+Call++1-555-0100`
//! would otherwise put an attacker's sentence under our heading, a ready-made
//! phishing screen (text only, but in our voice). So the page shows only words it
//! owns:
//!
//! - a **known** `error` code (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6, and
//!   the resource-indicator and rich-authorization-request codes) gets a fixed,
//!   localised explanation chosen by [`ErrorMessage`], and the code itself, which
//!   is one of the fixed strings below;
//! - **any other** `error` value gets one generic explanation, and the value is not
//!   shown;
//! - `error_description` is **never** shown.
//!
//! Both are still forwarded to the app untouched: the app knows its own context
//! and decides what to show (RFC 6749 calls `error_description` "human-readable
//! ASCII text providing additional information, used to assist the client
//! developer", not the user).

/// Which fixed explanation the error screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorMessage {
    /// `access_denied`: the user cancelled or the server refused.
    Cancelled,
    /// `login_required`, `interaction_required`, `account_selection_required`.
    SignInRequired,
    /// `consent_required`.
    ConsentRequired,
    /// `server_error`, `temporarily_unavailable`.
    Unavailable,
    /// Every other known code: the server did not accept the app's request.
    RequestRejected,
    /// An `error` value that is not a known code.
    Unknown,
}

impl ErrorMessage {
    /// Every message, for the generated fallback data and the tests.
    pub const ALL: [ErrorMessage; 6] = [
        ErrorMessage::Cancelled,
        ErrorMessage::SignInRequired,
        ErrorMessage::ConsentRequired,
        ErrorMessage::Unavailable,
        ErrorMessage::RequestRejected,
        ErrorMessage::Unknown,
    ];

    /// The key of the text in [`crate::messages::Messages::entries`].
    pub fn key(self) -> &'static str {
        match self {
            ErrorMessage::Cancelled => "error_cancelled_body",
            ErrorMessage::SignInRequired => "error_sign_in_body",
            ErrorMessage::ConsentRequired => "error_consent_body",
            ErrorMessage::Unavailable => "error_unavailable_body",
            ErrorMessage::RequestRejected => "error_rejected_body",
            ErrorMessage::Unknown => "error_body",
        }
    }
}

/// The `error` codes the page knows, each with its explanation.
pub const KNOWN_ERRORS: [(&str, ErrorMessage); 18] = [
    // RFC 6749 §4.1.2.1
    ("invalid_request", ErrorMessage::RequestRejected),
    ("unauthorized_client", ErrorMessage::RequestRejected),
    ("access_denied", ErrorMessage::Cancelled),
    ("unsupported_response_type", ErrorMessage::RequestRejected),
    ("invalid_scope", ErrorMessage::RequestRejected),
    ("server_error", ErrorMessage::Unavailable),
    ("temporarily_unavailable", ErrorMessage::Unavailable),
    // OpenID Connect Core 1.0 §3.1.2.6
    ("interaction_required", ErrorMessage::SignInRequired),
    ("login_required", ErrorMessage::SignInRequired),
    ("account_selection_required", ErrorMessage::SignInRequired),
    ("consent_required", ErrorMessage::ConsentRequired),
    ("invalid_request_uri", ErrorMessage::RequestRejected),
    ("invalid_request_object", ErrorMessage::RequestRejected),
    ("request_not_supported", ErrorMessage::RequestRejected),
    ("request_uri_not_supported", ErrorMessage::RequestRejected),
    ("registration_not_supported", ErrorMessage::RequestRejected),
    // RFC 8707 §2 (resource indicators), RFC 9396 §5 (rich authorization requests)
    ("invalid_target", ErrorMessage::RequestRejected),
    (
        "invalid_authorization_details",
        ErrorMessage::RequestRejected,
    ),
];

/// A known `error` code: the page's own copy of the string, never the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownError {
    code: &'static str,
    message: ErrorMessage,
}

impl KnownError {
    /// The known code equal to `error` (exact, case-sensitive: RFC 6749 codes are lower case).
    pub fn find(error: &str) -> Option<KnownError> {
        KNOWN_ERRORS
            .into_iter()
            .find(|(code, _)| *code == error)
            .map(|(code, message)| KnownError { code, message })
    }

    /// The code, from [`KNOWN_ERRORS`].
    pub fn code(self) -> &'static str {
        self.code
    }

    /// Its explanation.
    pub fn message(self) -> ErrorMessage {
        self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn known_codes_map_to_their_message() {
        assert_eq!(
            KnownError::find("access_denied").map(KnownError::message),
            Some(ErrorMessage::Cancelled)
        );
        assert_eq!(
            KnownError::find("login_required").map(KnownError::message),
            Some(ErrorMessage::SignInRequired)
        );
        assert_eq!(
            KnownError::find("consent_required").map(KnownError::message),
            Some(ErrorMessage::ConsentRequired)
        );
        assert_eq!(
            KnownError::find("temporarily_unavailable").map(KnownError::message),
            Some(ErrorMessage::Unavailable)
        );
        assert_eq!(
            KnownError::find("invalid_scope").map(KnownError::message),
            Some(ErrorMessage::RequestRejected)
        );
    }

    #[test]
    fn the_shown_code_is_the_pages_own_string() {
        let input = String::from("access_denied");
        let known = KnownError::find(&input).unwrap();
        assert_eq!(known.code(), "access_denied");
        assert!(!std::ptr::eq(known.code().as_ptr(), input.as_ptr()));
    }

    #[test]
    fn anything_else_is_unknown() {
        for other in [
            "",
            "Access_Denied",
            "access_denied ",
            " access_denied",
            "access_denied\u{0}",
            "account_locked_call_support",
            "Your account is locked. Call +1-555-0100",
        ] {
            assert_eq!(KnownError::find(other), None, "{other:?}");
        }
    }

    #[test]
    fn codes_are_unique_and_every_message_but_unknown_is_used() {
        for (i, (a, _)) in KNOWN_ERRORS.iter().enumerate() {
            assert!(KNOWN_ERRORS.iter().skip(i + 1).all(|(b, _)| a != b), "{a}");
        }
        for m in ErrorMessage::ALL {
            let used = KNOWN_ERRORS.iter().any(|(_, k)| *k == m);
            assert_eq!(used, m != ErrorMessage::Unknown, "{m:?}");
        }
    }
}
