//! The intermediate redirect page (wasm-bindgen).
//!
//! Registered as the claimed-HTTPS redirect URI, it forwards an OAuth
//! authorization response to the app's Universal Link / App Link when the user
//! taps Continue (mobile browsers only open app links after a user gesture).
//!
//! Pure modules, no DOM and no dependencies, unit-tested natively and in
//! headless Chromium with `wasm-bindgen-test`:
//! - [`params`]: parsing, the parameter allow-list, validation policy;
//! - [`link`]: the configured app link and the forwarded URL;
//! - [`screen`]: which screen to show for a configuration and URL;
//! - [`error_code`]: the known `error` codes and the fixed text each one gets
//!   (an error screen never shows request text);
//! - [`lang`] and [`messages`]: language choice and texts.
//!
//! Only `dom` (wasm32 only) touches the browser: it reads the same-origin
//! `<meta>` configuration and the URL, clears the URL with
//! `history.replaceState`, and renders with `textContent`.

pub mod error_code;
pub mod lang;
pub mod link;
pub mod messages;
pub mod params;
pub mod screen;

#[cfg(target_arch = "wasm32")]
mod dom;

#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
