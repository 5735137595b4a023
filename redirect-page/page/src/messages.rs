//! The page's texts. Always inserted with `textContent`, never parsed as HTML.
//!
//! The site builder also writes these into the no-WebAssembly fallback's data
//! module, so both implementations show the same words.

use crate::error_code::ErrorMessage;
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
    /// Error response with an unknown `error` value: the generic explanation.
    pub error_body: &'static str,
    /// `access_denied`.
    pub error_cancelled_body: &'static str,
    /// `login_required`, `interaction_required`, `account_selection_required`.
    pub error_sign_in_body: &'static str,
    /// `consent_required`.
    pub error_consent_body: &'static str,
    /// `server_error`, `temporarily_unavailable`.
    pub error_unavailable_body: &'static str,
    /// The other known codes: the server did not accept the app's request.
    pub error_rejected_body: &'static str,
    /// Label before a known `error` code.
    pub error_code_label: &'static str,
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
    error_cancelled_body: "The sign-in was cancelled, or access was not granted. Go back to the app to try again.",
    error_sign_in_body: "You need to sign in again. Go back to the app and start the sign-in again.",
    error_consent_body: "The app did not get your permission. Go back to the app and start again to grant it.",
    error_unavailable_body: "The sign-in service has a problem right now. Go back to the app and try again in a few minutes.",
    error_rejected_body: "The sign-in service did not accept the app's request. Updating the app may help; otherwise contact the app's support.",
    error_code_label: "Error code",
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
    error_cancelled_body: "Die Anmeldung wurde abgebrochen oder der Zugriff nicht erlaubt. Kehren Sie zur App zurück, um es erneut zu versuchen.",
    error_sign_in_body: "Sie müssen sich erneut anmelden. Kehren Sie zur App zurück und starten Sie die Anmeldung neu.",
    error_consent_body: "Die App hat Ihre Zustimmung nicht erhalten. Kehren Sie zur App zurück und beginnen Sie erneut, um sie zu erteilen.",
    error_unavailable_body: "Der Anmeldedienst hat gerade ein Problem. Kehren Sie zur App zurück und versuchen Sie es in einigen Minuten erneut.",
    error_rejected_body: "Der Anmeldedienst hat die Anfrage der App nicht angenommen. Eine aktuelle Version der App kann helfen; sonst wenden Sie sich an den Support der App.",
    error_code_label: "Fehlercode",
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
    error_cancelled_body: "La connexion a été annulée ou l’accès n’a pas été accordé. Revenez à l’application pour réessayer.",
    error_sign_in_body: "Vous devez vous reconnecter. Revenez à l’application et recommencez la connexion.",
    error_consent_body: "L’application n’a pas reçu votre autorisation. Revenez à l’application et recommencez pour l’accorder.",
    error_unavailable_body: "Le service de connexion rencontre un problème. Revenez à l’application et réessayez dans quelques minutes.",
    error_rejected_body: "Le service de connexion n’a pas accepté la demande de l’application. Mettre l’application à jour peut aider ; sinon, contactez le support de l’application.",
    error_code_label: "Code d’erreur",
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

/// The texts of the app-not-installed page, which `tollgate-site build` writes into
/// static HTML on the app-link domain (not part of the Wasm page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotInstalled {
    /// Heading.
    pub title: &'static str,
    /// Why the user sees this page and what to do.
    pub body: &'static str,
    /// For users who do have the app (iOS may open the browser instead, e.g. after
    /// "Open in Safari" was chosen once for the domain).
    pub installed_hint: &'static str,
    /// Label of the App Store link.
    pub app_store_label: &'static str,
    /// Label of the Google Play link.
    pub play_store_label: &'static str,
    /// Shown when the config has no store link.
    pub no_store_body: &'static str,
}

const NOT_INSTALLED_EN: NotInstalled = NotInstalled {
    title: "Get the app to continue",
    body: "This sign-in belongs to an app that is not installed on this device. Install the app, then start the sign-in again from the app.",
    installed_hint: "Already have the app? Open it and start the sign-in again.",
    app_store_label: "Download on the App Store",
    play_store_label: "Get it on Google Play",
    no_store_body: "Ask the app's provider where to get it.",
};

const NOT_INSTALLED_DE: NotInstalled = NotInstalled {
    title: "Installieren Sie die App, um fortzufahren",
    body: "Diese Anmeldung gehört zu einer App, die auf diesem Gerät nicht installiert ist. Installieren Sie die App und starten Sie die Anmeldung dann erneut in der App.",
    installed_hint: "Sie haben die App bereits? Öffnen Sie sie und starten Sie die Anmeldung erneut.",
    app_store_label: "Im App Store laden",
    play_store_label: "Bei Google Play herunterladen",
    no_store_body: "Fragen Sie den Anbieter der App, wo Sie sie erhalten.",
};

const NOT_INSTALLED_FR: NotInstalled = NotInstalled {
    title: "Installez l’application pour continuer",
    body: "Cette connexion appartient à une application qui n’est pas installée sur cet appareil. Installez l’application, puis recommencez la connexion depuis l’application.",
    installed_hint: "Vous avez déjà l’application ? Ouvrez-la et recommencez la connexion.",
    app_store_label: "Télécharger dans l’App Store",
    play_store_label: "Disponible sur Google Play",
    no_store_body: "Demandez au fournisseur de l’application où l’obtenir.",
};

/// The app-not-installed texts for `lang`.
pub fn not_installed(lang: Lang) -> &'static NotInstalled {
    match lang {
        Lang::En => &NOT_INSTALLED_EN,
        Lang::De => &NOT_INSTALLED_DE,
        Lang::Fr => &NOT_INSTALLED_FR,
    }
}

/// The texts for `lang`.
pub fn messages(lang: Lang) -> &'static Messages {
    match lang {
        Lang::En => &EN,
        Lang::De => &DE,
        Lang::Fr => &FR,
    }
}

impl Messages {
    /// The explanation of an error screen.
    pub fn error_text(&self, message: ErrorMessage) -> &'static str {
        match message {
            ErrorMessage::Cancelled => self.error_cancelled_body,
            ErrorMessage::SignInRequired => self.error_sign_in_body,
            ErrorMessage::ConsentRequired => self.error_consent_body,
            ErrorMessage::Unavailable => self.error_unavailable_body,
            ErrorMessage::RequestRejected => self.error_rejected_body,
            ErrorMessage::Unknown => self.error_body,
        }
    }

    /// Every text with a stable key, for the fallback's generated data module.
    pub fn entries(&self) -> [(&'static str, &'static str); 23] {
        [
            ("continue_title", self.continue_title),
            ("continue_body", self.continue_body),
            ("expiry_hint", self.expiry_hint),
            ("continue_label", self.continue_label),
            ("error_title", self.error_title),
            ("error_body", self.error_body),
            ("error_cancelled_body", self.error_cancelled_body),
            ("error_sign_in_body", self.error_sign_in_body),
            ("error_consent_body", self.error_consent_body),
            ("error_unavailable_body", self.error_unavailable_body),
            ("error_rejected_body", self.error_rejected_body),
            ("error_code_label", self.error_code_label),
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

    #[test]
    fn every_error_message_has_its_entry_under_its_key() {
        for lang in Lang::ALL {
            let m = messages(lang);
            for e in ErrorMessage::ALL {
                let entry = m.entries().into_iter().find(|(k, _)| *k == e.key());
                assert_eq!(entry, Some((e.key(), m.error_text(e))), "{lang:?} {e:?}");
            }
        }
    }

    #[test]
    fn not_installed_texts_exist_in_every_language() {
        for lang in Lang::ALL {
            let n = not_installed(lang);
            for text in [
                n.title,
                n.body,
                n.installed_hint,
                n.app_store_label,
                n.play_store_label,
                n.no_store_body,
            ] {
                assert!(!text.trim().is_empty() && !text.contains('<'), "{lang:?}");
            }
        }
        assert_ne!(not_installed(Lang::De).title, not_installed(Lang::En).title);
    }
}
