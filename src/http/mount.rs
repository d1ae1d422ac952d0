//! How the route table becomes actix services. Each distinct path is one resource whose
//! routes are its methods, and paths that share their first three segments (all literal:
//! `/api/v1/connectedAccounts`, `/api/v2/actions`) sit in one scope. actix matches a
//! pattern with a `{param}` by running a regex, and tries resources in order until one
//! matches, so a flat table costs every request a regex per pattern ahead of its own; with
//! scopes, a request passes the other groups on a literal prefix comparison and runs only
//! the few patterns of its own group. Shorter paths (`/healthz`, `/connect/{token}`) are
//! mounted as they are. Groups never overlap (a scope takes every path under its prefix),
//! and what no resource takes falls through to the app's default service, as before.

use actix_web::{Scope, web};

use super::RouteDef;

/// The scope a path belongs to: its first three segments, when there are more segments
/// after or it is exactly those three, and all three are literal.
fn group(path: &str) -> Option<&str> {
    let mut ends = path.match_indices('/').map(|(i, _)| i).skip(1);
    let prefix = match ends.nth(2) {
        Some(end) => &path[..end],
        None if path.matches('/').count() == 3 => path,
        None => return None,
    };
    (!prefix.contains('{')).then_some(prefix)
}

/// Mounts every route of `routes` on `cfg`.
pub fn mount(cfg: &mut web::ServiceConfig, routes: &[RouteDef]) {
    let mut paths: Vec<(&'static str, Vec<&RouteDef>)> = Vec::new();
    for route in routes {
        match paths.iter_mut().find(|(path, _)| *path == route.path) {
            Some((_, same)) => same.push(route),
            None => paths.push((route.path, vec![route])),
        }
    }
    let mut scopes: Vec<(&'static str, Scope)> = Vec::new();
    for (path, same) in paths {
        let prefix = group(path);
        let at = prefix.map_or(path, |p| &path[p.len()..]);
        let resource = same
            .iter()
            .fold(web::resource(at), |resource, route| (route.add)(resource));
        let Some(prefix) = prefix else {
            cfg.service(resource);
            continue;
        };
        let at = match scopes.iter().position(|(p, _)| *p == prefix) {
            Some(at) => at,
            None => {
                scopes.push((prefix, web::scope(prefix)));
                scopes.len() - 1
            }
        };
        let scope = std::mem::replace(&mut scopes[at].1, web::scope(prefix));
        scopes[at].1 = scope.service(resource);
    }
    for (_, scope) in scopes {
        cfg.service(scope);
    }
}

#[cfg(test)]
mod tests {
    use super::group;

    #[test]
    fn paths_group_by_their_first_three_literal_segments() {
        let cases = [
            (
                "/api/v1/connectedAccounts",
                Some("/api/v1/connectedAccounts"),
            ),
            (
                "/api/v1/connectedAccounts/{id}/test",
                Some("/api/v1/connectedAccounts"),
            ),
            ("/api/v3.1/tools/execute/proxy", Some("/api/v3.1/tools")),
            ("/api/v1/client/auth/client_info", Some("/api/v1/client")),
            ("/healthz", None),
            ("/connect/{token}", None),
            ("/api/openapi.json", None),
            ("/a/{b}/c", None),
        ];
        for (path, want) in cases {
            assert_eq!(group(path), want, "{path}");
        }
    }
}
