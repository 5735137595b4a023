//! The only code that touches the DOM: read inputs, clear the URL, render.
//!
//! Element ids are the contract with the HTML that `tollgate-site build` writes
//! (and with `www/assets/fallback.js`, which renders the same way without Wasm).

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement, Window};

use crate::error_code::ErrorMessage;
use crate::lang::{choose, Lang};
use crate::messages::{messages, Messages};
use crate::screen::{decide, PageConfig, Screen, META_APP_LINK, META_PAGE};

fn element(doc: &Document, id: &str) -> Result<Element, JsValue> {
    doc.get_element_by_id(id)
        .ok_or_else(|| JsValue::from_str("tollgate: page element missing"))
}

/// The `content` of `<meta id="{id}">` (the site builder gives each config meta an id;
/// a lookup by id keeps the Wasm free of selector formatting code).
fn meta(doc: &Document, id: &str) -> Option<String> {
    doc.get_element_by_id(id)
        .and_then(|m| m.get_attribute("content"))
}

fn show_text(doc: &Document, id: &str, text: &str) -> Result<(), JsValue> {
    let el = element(doc, id)?;
    el.set_text_content(Some(text));
    el.remove_attribute("hidden")
}

fn browser_languages(window: &Window) -> Vec<String> {
    window
        .navigator()
        .languages()
        .iter()
        .filter_map(|v| v.as_string())
        .collect()
}

/// Runs once the module is instantiated (`boot.js` imports and initialises it).
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("tollgate: no window"))?;
    let doc = window
        .document()
        .ok_or_else(|| JsValue::from_str("tollgate: no document"))?;
    let location = window.location();
    let query = location.search()?;
    let fragment = location.hash()?;
    let path = location.pathname()?;

    let screen = match PageConfig::from_meta(
        meta(&doc, META_PAGE).as_deref(),
        meta(&doc, META_APP_LINK).as_deref(),
    ) {
        Ok(config) => decide(&config, &query, &fragment),
        Err(e) => Screen::Misconfigured(e),
    };

    // The code must not stay in the address bar or in history (RFC 9700 §4.3).
    if !query.is_empty() || !fragment.is_empty() {
        window
            .history()?
            .replace_state_with_url(&JsValue::NULL, "", Some(&path))?;
    }

    let lang = choose(&browser_languages(&window));
    render(&doc, lang, messages(lang), &screen)
}

fn render(doc: &Document, lang: Lang, m: &Messages, screen: &Screen) -> Result<(), JsValue> {
    let root = doc
        .document_element()
        .ok_or_else(|| JsValue::from_str("tollgate: no root"))?;
    root.set_attribute("lang", lang.tag())?;
    root.set_attribute("data-engine", "wasm")?;
    root.set_attribute("data-screen", screen.name())?;

    let (title, body, link) = match screen {
        Screen::Continue { link } => {
            show_text(doc, "tg-hint", m.expiry_hint)?;
            (
                m.continue_title,
                m.continue_body,
                Some((link, m.continue_label)),
            )
        }
        Screen::Error { known, link } => {
            // Only the page's own words: a known code from its table and a fixed
            // explanation; never `error_description` or an unknown `error` value.
            if let Some(known) = known {
                show_text(doc, "tg-error-code-label", m.error_code_label)?;
                show_text(doc, "tg-error-code", known.code())?;
                element(doc, "tg-error")?.remove_attribute("hidden")?;
            }
            let body = m.error_text(screen.error_message().unwrap_or(ErrorMessage::Unknown));
            (m.error_title, body, Some((link, m.return_label)))
        }
        Screen::LoggedOut { link } => (
            m.logout_title,
            m.logout_body,
            Some((link, m.continue_label)),
        ),
        Screen::NoResponse => (m.no_response_title, m.no_response_body, None),
        Screen::Malformed(_) => (m.malformed_title, m.malformed_body, None),
        Screen::Misconfigured(_) => (m.config_title, m.config_body, None),
    };
    doc.set_title(title);
    show_text(doc, "tg-title", title)?;
    show_text(doc, "tg-body", body)?;
    if let Some((href, label)) = link {
        let a = element(doc, "tg-continue")?;
        a.set_attribute("href", href)?;
        show_text(doc, "tg-continue", label)?;
        if let Some(a) = a.dyn_ref::<HtmlElement>() {
            a.focus()?;
        }
    }
    Ok(())
}
