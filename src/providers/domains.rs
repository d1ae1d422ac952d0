//! The rules built-in catalog entries keep beyond those of any catalog file: each names its
//! documentation and, when it has an OAuth scheme, the page where an OAuth app is
//! registered; and every URL it holds lives on the provider's own domain.
//!
//! "The provider's domain" is the registrable domain of the entry's `docs` URL
//! (`developers.google.com` → `google.com`), plus the domains the entry lists in `domains`
//! (`googleapis.com`). The registrable domain is found with a short list of two-label public
//! suffixes rather than the whole Public Suffix List: the built-in catalog is ours, and a
//! suffix it starts using is one line here. URLs are rendered with each variable's default
//! or example, or a placeholder label when it has neither, so a variable may name a
//! tenant's subdomain but not a whole host without a default or an example on the
//! provider's domain. User files are not held to these rules: they point at self-hosted
//! servers on purpose.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use url::Url;

use super::catalog::{App, SchemeDetails};
use super::parse::{EntryError, scheme_urls};

/// Public suffixes of two labels that built-in entries use (`example.co.uk`).
const TWO_LABEL_SUFFIXES: [&str; 12] = [
    "co.uk", "org.uk", "com.au", "net.au", "co.nz", "co.jp", "co.in", "com.br", "co.za", "com.sg",
    "com.cn", "com.mx",
];

/// The label a variable without a default is rendered as.
const PLACEHOLDER: &str = "tenant";

/// The registrable domain of `host`: its public suffix and one more label.
pub fn registrable_domain(host: &str) -> &str {
    let host = host.trim_end_matches('.');
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    let keep = if n >= 3 && TWO_LABEL_SUFFIXES.contains(&labels[n - 2..].join(".").as_str()) {
        3
    } else {
        2
    };
    if n <= keep {
        return host;
    }
    let cut: usize = labels[..n - keep].iter().map(|l| l.len() + 1).sum();
    &host[cut..]
}

/// Every URL of an entry with its field name: docs, registration, base, who-am-I, schemes.
pub fn app_urls(app: &App) -> Vec<(String, String)> {
    let mut urls: Vec<(String, String)> = app
        .base_url
        .iter()
        .map(|b| ("base_url".to_string(), b.clone()))
        .collect();
    urls.extend(app.docs.iter().map(|d| ("docs".to_string(), d.clone())));
    urls.extend(
        app.register_url
            .iter()
            .map(|r| ("register_url".to_string(), r.clone())),
    );
    if let (Some(whoami), Some(base)) = (&app.whoami, &app.base_url) {
        urls.push(("whoami.path".to_string(), whoami.url(base)));
    }
    for (i, host) in app.extra_hosts.iter().enumerate() {
        urls.push((format!("extra_hosts[{i}]"), format!("https://{host}/")));
    }
    for (i, scheme) in app.schemes.iter().enumerate() {
        let at = format!("auth_schemes[{i}] ({})", scheme.mode);
        for (field, url) in scheme_urls(&scheme.details) {
            urls.push((format!("{at}.{field}"), url.to_string()));
        }
        if let Some(base) = scheme.base_url() {
            urls.push((format!("{at}.base_url"), base.to_string()));
        }
        for (j, lookup) in scheme.lookups.iter().enumerate() {
            urls.push((
                format!("{at}.lookups[{j}].url"),
                lookup.url.as_str().to_string(),
            ));
        }
    }
    urls
}

/// The host of `template` rendered with the app's variable defaults.
fn rendered_host(app: &App, template: &str) -> Result<String, String> {
    let vars: Map<String, Value> = app
        .variables
        .iter()
        .map(|v| {
            let value = v
                .default
                .clone()
                .or_else(|| v.example.clone())
                .unwrap_or_else(|| PLACEHOLDER.to_string());
            (v.name.clone(), Value::from(value))
        })
        .collect();
    let rendered = super::fields::render_template(template, &vars).map_err(|e| e.to_string())?;
    let url = Url::parse(&rendered).map_err(|e| format!("is not a valid URL: {e}"))?;
    match url.host() {
        Some(url::Host::Domain(d)) => Ok(d.to_ascii_lowercase()),
        _ => Err("must name its host by a domain name".to_string()),
    }
}

/// The built-in rules: docs present, registration page for OAuth apps, listed domains
/// registrable and used, every URL on the docs' domain or a listed one.
pub(super) fn check_builtin(app: &App) -> Result<(), EntryError> {
    let err = |field: &str, reason: String| Err((field.to_string(), reason));
    let Some(docs) = &app.docs else {
        return err(
            "docs",
            "a built-in entry must link its documentation".into(),
        );
    };
    // An OAuth 2.0 scheme whose endpoints each integration discovers (remote MCP servers)
    // has no page to register at: keyport registers itself there.
    let oauth = app.schemes.iter().any(|s| match &s.details {
        SchemeDetails::OAuth2(o) => o.authorization_url.is_some(),
        SchemeDetails::OAuth1(_) => true,
        _ => false,
    });
    if oauth && app.register_url.is_none() {
        return err(
            "register_url",
            "an entry with an OAuth scheme must say where to register an OAuth app".into(),
        );
    }
    let docs_host = rendered_host(app, docs).map_err(|reason| ("docs".to_string(), reason))?;
    let docs_domain = registrable_domain(&docs_host).to_string();
    let mut allowed = BTreeSet::from([docs_domain]);
    for (i, domain) in app.domains.iter().enumerate() {
        if registrable_domain(domain) != domain || !domain.contains('.') {
            return err(
                &format!("domains[{i}]"),
                format!("{domain:?} is not a registrable domain"),
            );
        }
        allowed.insert(domain.clone());
    }
    let mut used = BTreeSet::new();
    for (field, url) in app_urls(app) {
        let host = rendered_host(app, &url).map_err(|reason| (field.clone(), reason))?;
        let domain = registrable_domain(&host).to_string();
        if !allowed.contains(&domain) {
            return err(
                &field,
                format!(
                    "{host} is not on the provider's domain ({allowed:?}); list it in domains if the docs say so"
                ),
            );
        }
        used.insert(domain);
    }
    match app.domains.iter().position(|d| !used.contains(d)) {
        Some(i) => err(
            &format!("domains[{i}]"),
            "no URL of the entry uses it".into(),
        ),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::registrable_domain;

    #[test]
    fn registrable_domains() {
        assert_eq!(registrable_domain("developers.google.com"), "google.com");
        assert_eq!(registrable_domain("google.com"), "google.com");
        assert_eq!(registrable_domain("api.example.co.uk"), "example.co.uk");
        assert_eq!(registrable_domain("example.co.uk"), "example.co.uk");
        assert_eq!(registrable_domain("a.b.c.slack.com"), "slack.com");
        assert_eq!(registrable_domain("localhost"), "localhost");
    }
}
