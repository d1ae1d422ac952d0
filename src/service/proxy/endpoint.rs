//! Where a proxied request may go: `resolve_endpoint` joins a caller's endpoint to an
//! integration's base URL and refuses anything that could leave it. This is the proxy's
//! one SSRF boundary, so it is pure, strict and tested with hostile inputs.
//!
//! The rule: the final URL has the base URL's scheme, host and port, no userinfo, and a
//! path at or under the base path. The endpoint is only ever used as a path (and query);
//! it never reaches the URL parser's authority handling. Before joining, the raw endpoint
//! is refused if it could be read as something else by us or by a server behind it:
//! absolute or scheme-relative URLs, backslashes, control characters or whitespace,
//! fragments, empty segments, and segments that are, or decode to, `.` or `..` (also with
//! `;` parameters, as some servers strip them) or that hide `/`, `\` or control bytes in
//! percent-encoding. After joining, the result is checked again against the base.

use percent_encoding::percent_decode_str;
use url::Url;

use crate::service::error::{Error, Result};

fn refuse(reason: &str) -> Error {
    Error::invalid(format!("endpoint: {reason}"))
}

/// Decodes percent-escapes repeatedly (a server may decode more than once), up to a bound.
fn decoded(segment: &str) -> Vec<u8> {
    let mut current = segment.as_bytes().to_vec();
    for _ in 0..4 {
        let next: Vec<u8> = percent_decode_str(&String::from_utf8_lossy(&current)).collect();
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn check_segment(segment: &str) -> Result<()> {
    let bytes = decoded(segment);
    if bytes
        .iter()
        .any(|b| *b == b'/' || *b == b'\\' || b.is_ascii_control())
    {
        return Err(refuse(
            "a path segment hides '/', '\\' or a control character in percent-encoding",
        ));
    }
    // `..;x` is `..` to servers that strip path parameters.
    let name = bytes.split(|b| *b == b';').next().unwrap_or_default();
    if name == b"." || name == b".." {
        return Err(refuse("'.' and '..' segments are not allowed"));
    }
    Ok(())
}

/// The base URL's path as segments, without a trailing empty one.
fn segments(path: &str) -> Vec<&str> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

/// The URL for `endpoint` (a path relative to `base_url`, with an optional query), or an
/// `invalid_input` error saying why it is refused.
pub fn resolve_endpoint(base_url: &str, endpoint: &str) -> Result<Url> {
    resolve_under(&parse_base(base_url)?, endpoint)
}

fn parse_base(base_url: &str) -> Result<Url> {
    Url::parse(base_url)
        .map_err(|_| Error::Conflict("the integration's base URL is not a valid URL".into()))
}

/// [`resolve_endpoint`] under a base URL already parsed.
fn resolve_under(base: &Url, endpoint: &str) -> Result<Url> {
    if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
        return Err(Error::Conflict(
            "the integration's base URL must be an http(s) URL with a host".into(),
        ));
    }
    if endpoint.is_empty() {
        return Err(refuse(
            "must not be empty; use \"/\" for the base URL itself",
        ));
    }
    if endpoint.len() > 8192 {
        return Err(refuse("is longer than 8192 bytes"));
    }
    if endpoint
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(refuse(
            "must not contain whitespace or control characters; percent-encode them",
        ));
    }
    if endpoint.contains('\\') {
        return Err(refuse("must not contain backslashes"));
    }
    if endpoint.contains('#') {
        return Err(refuse("must not contain a fragment ('#')"));
    }
    if endpoint.starts_with("//") || Url::parse(endpoint).is_ok() {
        return Err(refuse(
            "must be a path relative to the integration's base URL, not a URL",
        ));
    }
    let (path, query) = match endpoint.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (endpoint, None),
    };
    // A leading '/' is optional; an endpoint is always taken under the base path.
    let relative = path.strip_prefix('/').unwrap_or(path);
    let parts: Vec<&str> = if relative.is_empty() {
        Vec::new()
    } else {
        relative.split('/').collect()
    };
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() && i + 1 != parts.len() {
            return Err(refuse("must not contain empty path segments ('//')"));
        }
        if !part.is_empty() {
            check_segment(part)?;
        }
    }
    let base_segments = segments(base.path());
    let mut joined = String::new();
    for segment in base_segments.iter().chain(parts.iter()) {
        joined.push('/');
        joined.push_str(segment);
    }
    if joined.is_empty() {
        joined.push('/');
    }
    let mut url = base.clone();
    url.set_fragment(None);
    url.set_path(&joined);
    if let Some(query) = query {
        let combined = match base.query() {
            Some(base_query) if !base_query.is_empty() => format!("{base_query}&{query}"),
            _ => query.to_string(),
        };
        url.set_query(Some(&combined));
    }
    check_within(base, &url)?;
    Ok(url)
}

/// [`resolve_endpoint`], where the endpoint may also be an absolute URL on the base URL's
/// own host or on one of the app's `extra_hosts` (Dropbox's content host): with the base
/// URL's scheme, under its path, every other rule the same. Returns the base the request
/// is held to (the base URL, its host swapped for the named one) and the URL.
pub fn resolve_on_hosts(
    base_url: &str,
    extra_hosts: &[String],
    endpoint: &str,
) -> Result<(Url, Url)> {
    let base = parse_base(base_url)?;
    let prefix = format!("{}://", base.scheme());
    let absolute = endpoint
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(&prefix));
    if !absolute {
        let url = resolve_under(&base, endpoint)?;
        return Ok((base, url));
    }
    let after = &endpoint[prefix.len()..];
    let cut = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(cut);
    let plain = |a: &str| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    };
    if !plain(authority) {
        return Err(refuse("names a host keyport cannot read"));
    }
    let origin = |authority: &str| {
        Url::parse(&format!("{prefix}{authority}/")).ok().map(|u| {
            (
                u.host_str().map(str::to_ascii_lowercase),
                u.port_or_known_default(),
            )
        })
    };
    let wanted = origin(authority).ok_or_else(|| refuse("names a host keyport cannot read"))?;
    let own = (
        base.host_str().map(str::to_ascii_lowercase),
        base.port_or_known_default(),
    );
    let known = wanted == own
        || extra_hosts
            .iter()
            .any(|h| origin(h) == Some(wanted.clone()));
    if !known {
        return Err(refuse(
            "is a URL on a host that is neither the integration's nor one of the app's",
        ));
    }
    let mut host_base = base.clone();
    let (host, port) = wanted;
    host_base
        .set_host(host.as_deref())
        .map_err(|_| refuse("names a host keyport cannot read"))?;
    host_base
        .set_port(port.filter(|p| Some(*p) != default_port(base.scheme())))
        .map_err(|_| refuse("names a host keyport cannot read"))?;
    let rest = if rest.is_empty() { "/" } else { rest };
    let base_path = host_base.path().trim_end_matches('/').to_string();
    // The endpoint names the whole path: it must sit under the base path, and only the part
    // below it is joined (and checked) as a relative endpoint.
    let below = rest
        .strip_prefix(base_path.as_str())
        .filter(|r| r.is_empty() || r.starts_with(['/', '?']))
        .ok_or_else(|| refuse("would leave the integration's base path"))?;
    let below = if below.is_empty() || below.starts_with('?') {
        format!("/{below}")
    } else {
        below.to_string()
    };
    let url = resolve_under(&host_base, &below)?;
    Ok((host_base, url))
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// The final check, independent of how `url` was built: same origin, no userinfo, and a
/// path whose segments start with the base path's segments and contain no dot segment.
pub fn check_within(base: &Url, url: &Url) -> Result<()> {
    let same_origin = url.scheme() == base.scheme()
        && url.host() == base.host()
        && url.port_or_known_default() == base.port_or_known_default();
    if !same_origin || !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("would leave the integration's host"));
    }
    let base_segments = segments(base.path());
    let url_segments = segments(url.path());
    if url_segments.len() < base_segments.len()
        || url_segments[..base_segments.len()] != base_segments[..]
    {
        return Err(refuse("would leave the integration's base path"));
    }
    for segment in &url_segments {
        check_segment(segment)?;
    }
    Ok(())
}

/// Whether `location` (a redirect target, possibly relative to `request`) stays on the
/// base URL's origin.
pub fn same_origin_location(base: &Url, request: &Url, location: &str) -> bool {
    match request.join(location) {
        Ok(target) => {
            target.scheme() == base.scheme()
                && target.host() == base.host()
                && target.port_or_known_default() == base.port_or_known_default()
                && target.username().is_empty()
                && target.password().is_none()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
#[expect(clippy::panic, reason = "tests")]
mod tests {
    use super::*;

    const BASE: &str = "https://api.example.com/v1";

    fn ok(base: &str, endpoint: &str) -> String {
        match resolve_endpoint(base, endpoint) {
            Ok(url) => url.to_string(),
            Err(e) => panic!("{endpoint:?} refused: {e}"),
        }
    }

    #[test]
    fn ordinary_endpoints_join_under_the_base_path() {
        let cases = [
            ("/users/me", "https://api.example.com/v1/users/me"),
            ("users/me", "https://api.example.com/v1/users/me"),
            ("/", "https://api.example.com/v1"),
            (
                "/repos/o/r/issues/",
                "https://api.example.com/v1/repos/o/r/issues/",
            ),
            (
                "/search?q=a%20b&per_page=2",
                "https://api.example.com/v1/search?q=a%20b&per_page=2",
            ),
            ("/users/@me", "https://api.example.com/v1/users/@me"),
            (
                "/v1/foo:batchGet",
                "https://api.example.com/v1/v1/foo:batchGet",
            ),
            ("/a%20b", "https://api.example.com/v1/a%20b"),
            // `@` in a path is a path character, never userinfo: we stay on the host.
            ("@evil.com/x", "https://api.example.com/v1/@evil.com/x"),
            (
                "/files/caf%C3%A9",
                "https://api.example.com/v1/files/caf%C3%A9",
            ),
            ("/...", "https://api.example.com/v1/..."),
        ];
        for (endpoint, want) in cases {
            assert_eq!(ok(BASE, endpoint), want, "{endpoint}");
        }
        assert_eq!(
            ok("https://api.github.com", "/user"),
            "https://api.github.com/user"
        );
        assert_eq!(
            ok("https://api.github.com/", "user"),
            "https://api.github.com/user"
        );
        assert_eq!(
            ok("http://127.0.0.1:8080/base/", "/x?y=1"),
            "http://127.0.0.1:8080/base/x?y=1"
        );
        assert_eq!(
            ok("https://h.example/p?key=1", "/x?y=2"),
            "https://h.example/p/x?key=1&y=2"
        );
    }

    #[test]
    fn hostile_endpoints_are_refused() {
        let hostile = [
            "http://evil.example/x",
            "https://evil.example/x",
            "HTTP://evil.example/x",
            "//evil.example/x",
            "//evil.example",
            "https:evil.example/x",
            "https:@evil.example",
            "http://api.example.com@evil.example/x",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "mailto:a@evil.example",
            "\\\\evil.example\\x",
            "/\\evil.example/x",
            "/..",
            "/../x",
            "../x",
            "/a/../../x",
            "/a/..",
            "./x",
            "/a/./b",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/.%2e/x",
            "/%2e./x",
            "/%252e%252e/x",
            "/%25252e%25252e/x",
            "/a%2F..%2F..%2Fx",
            "/a%2fb",
            "/a%5C..%5Cx",
            "/..;/x",
            "/%2e%2e;jsessionid=1/x",
            "/a\t/b",
            "/a\n/b",
            "/a\r\nHost: evil.example",
            "/a%0d%0aHost:%20evil",
            "/a%00b",
            "/a b",
            "/a#frag",
            "/a//b",
            "//",
            "",
            "\u{0085}x",
        ];
        assert!(hostile.len() >= 20);
        for endpoint in hostile {
            match resolve_endpoint(BASE, endpoint) {
                Err(e) => assert_eq!(e.code(), "invalid_input", "{endpoint:?}: {e}"),
                Ok(url) => panic!("{endpoint:?} was accepted as {url}"),
            }
        }
    }

    #[test]
    fn nothing_resolves_off_the_base_origin_or_path() {
        // A sweep of building blocks: whatever is accepted must stay on host and path.
        let pieces = [
            "..",
            ".",
            "%2e",
            "%2E",
            "%2f",
            "%5c",
            "@",
            ":",
            "evil.example",
            "x",
            "%40",
            ";",
            "%3b",
            "%252e",
            "?",
            "%3f",
            "%23",
        ];
        let base = Url::parse(BASE).unwrap_or_else(|e| panic!("{e}"));
        let mut accepted = 0;
        for a in pieces {
            for b in pieces {
                for sep in ["", "/"] {
                    let endpoint = format!("/{a}{sep}{b}");
                    if let Ok(url) = resolve_endpoint(BASE, &endpoint) {
                        accepted += 1;
                        assert_eq!(url.host_str(), Some("api.example.com"), "{endpoint}");
                        assert_eq!(url.scheme(), "https", "{endpoint}");
                        let path = url.path();
                        assert!(
                            path == "/v1" || path.starts_with("/v1/"),
                            "{endpoint} -> {url}"
                        );
                        assert!(check_within(&base, &url).is_ok(), "{endpoint}");
                    }
                }
            }
        }
        assert!(accepted > 50, "the sweep accepted too little: {accepted}");
    }

    #[test]
    fn a_sibling_path_is_not_under_the_base() {
        let base = Url::parse("https://h.example/gmail/v1").unwrap_or_else(|e| panic!("{e}"));
        for outside in [
            "https://h.example/gmail/v1evil",
            "https://h.example/gmail",
            "https://h.example/",
            "https://h.example:444/gmail/v1/x",
            "http://h.example/gmail/v1/x",
            "https://other.example/gmail/v1/x",
            "https://u:p@h.example/gmail/v1/x",
        ] {
            let url = Url::parse(outside).unwrap_or_else(|e| panic!("{e}"));
            assert!(check_within(&base, &url).is_err(), "{outside}");
        }
        let inside =
            Url::parse("https://h.example/gmail/v1/users/me").unwrap_or_else(|e| panic!("{e}"));
        assert!(check_within(&base, &inside).is_ok());
    }

    #[test]
    fn absolute_urls_may_name_the_apps_other_hosts_only() {
        let base = "https://api.dropboxapi.com/2";
        let extra = ["content.dropboxapi.com".to_string()];
        let (on, url) = resolve_on_hosts(
            base,
            &extra,
            "https://content.dropboxapi.com/2/files/download?x=1",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(on.as_str(), "https://content.dropboxapi.com/2");
        assert_eq!(
            url.as_str(),
            "https://content.dropboxapi.com/2/files/download?x=1"
        );
        let (_, own) = resolve_on_hosts(base, &extra, "https://api.dropboxapi.com/2/users/x")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(own.as_str(), "https://api.dropboxapi.com/2/users/x");
        let (_, relative) =
            resolve_on_hosts(base, &extra, "/users/x").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(relative.as_str(), "https://api.dropboxapi.com/2/users/x");
        for hostile in [
            "https://evil.example/2/x",
            "https://content.dropboxapi.com.evil.example/2/x",
            "https://content.dropboxapi.com@evil.example/2/x",
            "https://content.dropboxapi.com:8443/2/x",
            "http://content.dropboxapi.com/2/x",
            "https://content.dropboxapi.com/3/x",
            "https://content.dropboxapi.com/2/../x",
            "https://content.dropboxapi.com/2x",
            "https://content.dropboxapi.com\\@evil.example/2/x",
            "https://content.dropboxapi.com/2/%2e%2e/x",
        ] {
            assert!(
                resolve_on_hosts(base, &extra, hostile).is_err(),
                "{hostile} was accepted"
            );
        }
        assert!(resolve_on_hosts(base, &[], "https://content.dropboxapi.com/2/x").is_err());
    }

    #[test]
    fn bad_base_urls_are_a_configuration_conflict() {
        for base in ["not a url", "ftp://h.example/x", "unix:/tmp/sock"] {
            let err = resolve_endpoint(base, "/x").err().map(|e| e.code());
            assert_eq!(err, Some("conflict"), "{base}");
        }
    }

    #[test]
    fn redirect_locations_are_judged_by_origin() {
        let base = Url::parse("http://127.0.0.1:8080/api").unwrap_or_else(|e| panic!("{e}"));
        let request = Url::parse("http://127.0.0.1:8080/api/x").unwrap_or_else(|e| panic!("{e}"));
        for same in ["/api/y", "y", "http://127.0.0.1:8080/other", "?page=2"] {
            assert!(same_origin_location(&base, &request, same), "{same}");
        }
        for off in [
            "http://127.0.0.1:8081/api/y",
            "//evil.example/x",
            "https://127.0.0.1:8080/api/y",
            "http://user@127.0.0.1:8080/api",
            "http://evil.example/",
        ] {
            assert!(!same_origin_location(&base, &request, off), "{off}");
        }
    }
}
