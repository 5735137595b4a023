//! The page's texts. Always inserted with `textContent`, never parsed as HTML.
//!
//! The site builder also writes these into the no-WebAssembly fallback's data
//! module, so both implementations show the same words.

use crate::lang::Lang;

/// Every text the page shows, for one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Messages {
    /// Login success: heading.
    pub continue_title: &'static str,
    /// Login success: what to do.
    pub continue_body: &'static str,
    /// Codes expire: finish soon.
    pub expiry_hint: &'static str,
    /// Label of the Continue button.
    pub continue_label: &'static str,
    /// Error response: heading.
    pub error_title: &'static str,
    /// Error response: what happened and what to do.
    pub error_body: &'static str,
    /// Label before the `error` code.
    pub error_code_label: &'static str,
    /// Label before the `error_description`.
    pub error_description_label: &'static str,
    /// Label of the button that hands the error to the app.
    pub return_label: &'static str,
    /// No response parameters: heading.
    pub no_response_title: &'static str,
    /// No response parameters: explanation.
    pub no_response_body: &'static str,
    /// Malformed response: heading.
    pub malformed_title: &'static str,
    /// Malformed response: explanation.
    pub malformed_body: &'static str,
    /// Logout: heading.
    pub logout_title: &'static str,
    /// Logout: what to do.
    pub logout_body: &'static str,
    /// The page itself is misconfigured: heading.
    pub config_title: &'static str,
    /// The page itself is misconfigured: explanation.
    pub config_body: &'static str,
    /// Shown when JavaScript is off (`<noscript>`): why nothing happens and what to do.
    pub noscript_body: &'static str,
    /// Label of the `<noscript>` link to the app link without any parameters.
    pub open_app_label: &'static str,
}

const EN: Messages = Messages {
    continue_title: "Return to the app",
    continue_body: "Your sign-in is complete. Tap Continue to go back to the app.",
    expiry_hint: "Please continue now: the sign-in result is only valid for a few minutes.",
    continue_label: "Continue",
    error_title: "Sign-in was not completed",
    error_body: "The sign-in server reported a problem. Go back to the app to try again.",
    error_code_label: "Error code",
    error_description_label: "Details",
    return_label: "Back to the app",
    no_response_title: "No sign-in response",
    no_response_body: "This page was opened without a sign-in response, so there is nothing to pass to the app. Start the sign-in again from the app.",
    malformed_title: "Invalid sign-in response",
    malformed_body: "The sign-in response on this page is malformed, so it was not passed to the app. Start the sign-in again from the app.",
    logout_title: "You are signed out",
    logout_body: "Tap Continue to go back to the app.",
    config_title: "Page not configured",
    config_body: "This page is not set up correctly, so nothing was passed to the app. Please contact the app's support.",
    noscript_body: "JavaScript is turned off, so this page cannot pass your sign-in to the app. Turn on JavaScript for this site and reload the page, or go back to the app and start again.",
    open_app_label: "Open the app",
};

const DE: Messages = Messages {
    continue_title: "Zurück zur App",
    continue_body: "Ihre Anmeldung ist abgeschlossen. Tippen Sie auf „Weiter“, um zur App zurückzukehren.",
    expiry_hint: "Bitte fahren Sie gleich fort: Das Anmeldeergebnis ist nur wenige Minuten gültig.",
    continue_label: "Weiter",
    error_title: "Anmeldung nicht abgeschlossen",
    error_body: "Der Anmeldeserver hat ein Problem gemeldet. Kehren Sie zur App zurück, um es erneut zu versuchen.",
    error_code_label: "Fehlercode",
    error_description_label: "Details",
    return_label: "Zurück zur App",
    no_response_title: "Keine Anmeldeantwort",
    no_response_body: "Diese Seite wurde ohne Anmeldeantwort geöffnet, daher gibt es nichts an die App weiterzugeben. Starten Sie die Anmeldung erneut in der App.",
    malformed_title: "Ungültige Anmeldeantwort",
    malformed_body: "Die Anmeldeantwort auf dieser Seite ist fehlerhaft und wurde nicht an die App weitergegeben. Starten Sie die Anmeldung erneut in der App.",
    logout_title: "Sie sind abgemeldet",
    logout_body: "Tippen Sie auf „Weiter“, um zur App zurückzukehren.",
    config_title: "Seite nicht eingerichtet",
    config_body: "Diese Seite ist nicht richtig eingerichtet, daher wurde nichts an die App weitergegeben. Bitte wenden Sie sich an den Support der App.",
    noscript_body: "JavaScript ist ausgeschaltet, daher kann diese Seite Ihre Anmeldung nicht an die App weitergeben. Schalten Sie JavaScript für diese Seite ein und laden Sie sie neu, oder kehren Sie zur App zurück und beginnen Sie erneut.",
    open_app_label: "App öffnen",
};

const FR: Messages = Messages {
    continue_title: "Retour à l’application",
    continue_body: "Votre connexion est terminée. Touchez « Continuer » pour revenir à l’application.",
    expiry_hint: "Continuez dès maintenant : le résultat de la connexion n’est valable que quelques minutes.",
    continue_label: "Continuer",
    error_title: "La connexion n’a pas abouti",
    error_body: "Le serveur de connexion a signalé un problème. Revenez à l’application pour réessayer.",
    error_code_label: "Code d’erreur",
    error_description_label: "Détails",
    return_label: "Revenir à l’application",
    no_response_title: "Aucune réponse de connexion",
    no_response_body: "Cette page a été ouverte sans réponse de connexion : il n’y a rien à transmettre à l’application. Recommencez la connexion depuis l’application.",
    malformed_title: "Réponse de connexion invalide",
    malformed_body: "La réponse de connexion de cette page est mal formée ; elle n’a pas été transmise à l’application. Recommencez la connexion depuis l’application.",
    logout_title: "Vous êtes déconnecté",
    logout_body: "Touchez « Continuer » pour revenir à l’application.",
    config_title: "Page non configurée",
    config_body: "Cette page n’est pas configurée correctement ; rien n’a été transmis à l’application. Contactez le support de l’application.",
    noscript_body: "JavaScript est désactivé : cette page ne peut pas transmettre votre connexion à l’application. Activez JavaScript pour ce site et rechargez la page, ou revenez à l’application et recommencez.",
    open_app_label: "Ouvrir l’application",
};

/// The texts for `lang`.
pub fn messages(lang: Lang) -> &'static Messages {
    match lang {
        Lang::En => &EN,
        Lang::De => &DE,
        Lang::Fr => &FR,
    }
}

impl Messages {
    /// Every text with a stable key, for the fallback's generated data module.
    pub fn entries(&self) -> [(&'static str, &'static str); 19] {
        [
            ("continue_title", self.continue_title),
            ("continue_body", self.continue_body),
            ("expiry_hint", self.expiry_hint),
            ("continue_label", self.continue_label),
            ("error_title", self.error_title),
            ("error_body", self.error_body),
            ("error_code_label", self.error_code_label),
            ("error_description_label", self.error_description_label),
            ("return_label", self.return_label),
            ("no_response_title", self.no_response_title),
            ("no_response_body", self.no_response_body),
            ("malformed_title", self.malformed_title),
            ("malformed_body", self.malformed_body),
            ("logout_title", self.logout_title),
            ("logout_body", self.logout_body),
            ("config_title", self.config_title),
            ("config_body", self.config_body),
            ("noscript_body", self.noscript_body),
            ("open_app_label", self.open_app_label),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_language_has_every_text_and_they_differ_from_english() {
        for lang in Lang::ALL {
            for (key, text) in messages(lang).entries() {
                assert!(!text.trim().is_empty(), "{lang:?} {key}");
                assert!(!text.contains('<'), "{lang:?} {key}");
            }
        }
        assert_ne!(
            messages(Lang::De).continue_label,
            messages(Lang::En).continue_label
        );
        assert_ne!(
            messages(Lang::Fr).error_title,
            messages(Lang::En).error_title
        );
    }
}
