/* global document, window, localStorage */
/**
 * Opt-in analytics. Nothing is loaded, no cookie is set and no request leaves the page until the
 * visitor presses Accept on the banner. The choice is remembered in localStorage
 * ('sapphire.analyticsConsent' = 'accepted' | 'declined'); without a configured provider the
 * banner never shows.
 *
 * GA4: gtag.js with anonymize_ip and no ad signals. Plausible: its script, which stores no IP.
 */
const KEY = 'sapphire.analyticsConsent';
let loaded = false;

function addScript(src, attrs) {
  const s = document.createElement('script');
  s.async = true;
  s.src = src;
  for (const [k, v] of Object.entries(attrs || {})) s.setAttribute(k, v);
  document.head.appendChild(s);
}

function load(analytics) {
  if (loaded) return;
  loaded = true;
  if (analytics.provider === 'ga4' && /^G-[A-Z0-9]+$/i.test(analytics.id)) {
    window.dataLayer = window.dataLayer || [];
    // gtag pushes the arguments object itself, as Google's snippet does
    window.gtag = function gtag() {
      window.dataLayer.push(arguments);
    };
    window.gtag('js', new Date());
    window.gtag('config', analytics.id, {
      anonymize_ip: true,
      allow_google_signals: false,
      allow_ad_personalization_signals: false,
    });
    addScript(`https://www.googletagmanager.com/gtag/js?id=${encodeURIComponent(analytics.id)}`);
  } else if (analytics.provider === 'plausible' && analytics.domain) {
    addScript('https://plausible.io/js/script.js', { 'data-domain': analytics.domain, defer: '' });
  }
}

function stored() {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

function remember(choice) {
  try {
    localStorage.setItem(KEY, choice);
  } catch {
    // private mode: the choice lasts for this page only
  }
}

/** Shows the banner if needed, loads analytics if (and only if) the visitor accepted. */
export function setupConsent(analytics) {
  const banner = document.getElementById('consent');
  if (!analytics || !analytics.provider) {
    banner.hidden = true;
    return;
  }
  const choice = stored();
  if (choice === 'accepted') return load(analytics);
  if (choice === 'declined') return;
  document.getElementById('consent-provider').textContent =
    analytics.provider === 'ga4' ? 'Google Analytics 4' : 'Plausible';
  banner.hidden = false;
  document.getElementById('consent-accept').onclick = () => {
    remember('accepted');
    banner.hidden = true;
    load(analytics);
  };
  document.getElementById('consent-decline').onclick = () => {
    remember('declined');
    banner.hidden = true;
  };
}
