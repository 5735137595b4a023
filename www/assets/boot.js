// tollgate redirect page loader (same-origin module; the CSP forbids inline script).
// Runs the WebAssembly page, or the plain-JavaScript fallback where WebAssembly is
// missing (iOS Lockdown Mode) or fails to load. Both forward the same allow-listed
// parameters to the same configured app link.
const hasWasm =
  typeof WebAssembly === 'object' &&
  typeof WebAssembly.instantiate === 'function' &&
  typeof WebAssembly.Module === 'function';

async function boot() {
  if (hasWasm) {
    try {
      const page = await import('./tollgate_redirect_page.js');
      // Instantiates the module; its #[wasm_bindgen(start)] function renders the page.
      await page.default({ module_or_path: new URL('./tollgate_redirect_page_bg.wasm', import.meta.url) });
      return;
    } catch (e) {
      // Fall through: the fallback renders the same screens without WebAssembly.
    }
  }
  const fallback = await import('./fallback.js');
  fallback.run();
}

boot();
