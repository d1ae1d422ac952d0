//! `public_url`: the address browsers and agents reach keyport at when it is not the one it
//! listens on — several instances behind one load balancer, or one behind a TLS proxy.
//! Connect links and OAuth callbacks are built on it, so a flow started on one instance
//! comes back to whichever the balancer picks (the flow's state is in the database).

use super::ConfigError;

const NAMES: &str = "public URL (--public-url, KEYPORT_PUBLIC_URL, `public_url` in config.toml)";

/// `raw` as a public URL: http or https, a host, no credentials, and nothing after the
/// authority but an optional `/` (keyport serves its routes from the root).
pub fn parse(raw: Option<&str>) -> Result<Option<url::Url>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    // A URL with credentials is not quoted back: they belong in no message.
    let shown = match raw.contains('@') {
        true => "the URL given".to_string(),
        false => format!("{raw:?}"),
    };
    let invalid = |reason: &str| ConfigError::Invalid {
        setting: NAMES.to_string(),
        reason: format!("{shown}: {reason}"),
    };
    let url = url::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("expected an http:// or https:// URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "keyport serves from the root: no path, query or fragment",
        ));
    }
    Ok(Some(url))
}

/// The URL as links are built on it: no trailing `/`.
pub fn base(url: &url::Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

/// What a Host header names when it is `url`'s authority.
pub fn authority(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bare_http_or_https_origin_is_taken() {
        let ok = |raw: &str| {
            parse(Some(raw))
                .ok()
                .flatten()
                .map(|u| (base(&u), authority(&u)))
        };
        assert_eq!(
            ok("https://keyport.example.com"),
            Some((
                "https://keyport.example.com".into(),
                "keyport.example.com".into()
            ))
        );
        assert_eq!(
            ok("http://127.0.0.1:8080/"),
            Some(("http://127.0.0.1:8080".into(), "127.0.0.1:8080".into()))
        );
        for bad in [
            "keyport.example.com",
            "ftp://keyport.example.com",
            "https://user:pw@keyport.example.com",
            "https://keyport.example.com/vault",
            "https://keyport.example.com/?a=1",
            "https://keyport.example.com/#x",
        ] {
            let refused = parse(Some(bad)).err().map(|e| e.to_string());
            assert!(
                refused
                    .as_deref()
                    .is_some_and(|e| e.contains("public URL") && !e.contains("pw@")),
                "{bad}: {refused:?}"
            );
        }
        assert!(matches!(parse(None), Ok(None)));
    }
}
