//! How the route table becomes actix services. Each distinct path is one resource whose
//! routes are its methods, and paths that share their first three segments (all literal:
//! `/api/v1/connectedAccounts`, `/api/v2/actions`) sit in one scope. actix matches a
//! pattern with a `{param}` by running a regex, and tries resources in order until one
//! matches, so a flat table costs every request a regex per pattern ahead of its own; with
//! scopes, a request passes the other groups on a literal prefix comparison and runs only
//! the patterns of its own group. Inside a group, the paths that go on with a parameter
//! (`/{id}`, `/{id}/credentials`, `/{id}/info`…) share one nested scope for it, after the
//! group's other paths: the regex reads the id once, and the rest is compared as literals
//! (before, each of those patterns ran its regex over the id until one matched). Literal
//! paths therefore come before the parameter they would match, as the table lists them.
//! Shorter paths (`/healthz`, `/connect/{token}`) are mounted as they are, after the
//! groups. Groups never overlap (a scope takes every path under its prefix), and what no
//! resource takes falls through to the app's default service, as before.

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

/// A path inside its group that goes on with a parameter: the parameter's segment, and the
/// rest (`""` when the parameter ends the path).
fn by_parameter(at: &str) -> Option<(&str, &str)> {
    let rest = at.strip_prefix('/')?;
    let (first, rest) = match rest.find('/') {
        Some(end) => (&at[..=end], &rest[end..]),
        None => (at, ""),
    };
    (first.starts_with("/{") && first.ends_with('}')).then_some((first, rest))
}

/// One group's resources: those of its own, then those under each parameter, which become
/// one nested scope per parameter.
struct Group {
    prefix: &'static str,
    resources: Vec<actix_web::Resource>,
    nested: Vec<(&'static str, Vec<actix_web::Resource>)>,
}

impl Group {
    fn add(
        &mut self,
        at: &'static str,
        resource: impl FnOnce(&'static str) -> actix_web::Resource,
    ) {
        let Some((parameter, rest)) = by_parameter(at) else {
            self.resources.push(resource(at));
            return;
        };
        match self.nested.iter_mut().find(|(p, _)| *p == parameter) {
            Some((_, under)) => under.push(resource(rest)),
            None => self.nested.push((parameter, vec![resource(rest)])),
        }
    }

    fn into_scope(self) -> Scope {
        let scope = self
            .resources
            .into_iter()
            .fold(web::scope(self.prefix), Scope::service);
        self.nested
            .into_iter()
            .fold(scope, |scope, (parameter, under)| {
                scope.service(
                    under
                        .into_iter()
                        .fold(web::scope(parameter), Scope::service),
                )
            })
    }
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
    let mut groups: Vec<Group> = Vec::new();
    let mut shorter = Vec::new();
    for (path, same) in paths {
        // A method the path is not served under goes to the app's answer for requests no
        // route takes, a JSON 405 naming the methods it is served under (a resource's own
        // default is an empty 405).
        let resource = |at: &'static str| {
            let resource = web::resource(at).default_service(web::to(super::not_found));
            same.iter()
                .fold(resource, |resource, route| (route.add)(resource))
        };
        let Some(prefix) = group(path) else {
            shorter.push(resource(path));
            continue;
        };
        let at = match groups.iter().position(|g| g.prefix == prefix) {
            Some(at) => at,
            None => {
                groups.push(Group {
                    prefix,
                    resources: Vec::new(),
                    nested: Vec::new(),
                });
                groups.len() - 1
            }
        };
        groups[at].add(&path[prefix.len()..], resource);
    }
    for group in groups {
        cfg.service(group.into_scope());
    }
    // After the groups: an API request then passes them on literal prefixes alone, where
    // the pages' patterns (`/connect/{token}`…) would each run a regex first. No shorter
    // path lies under a group's prefix, so the order changes no match.
    for resource in shorter {
        cfg.service(resource);
    }
}

#[cfg(test)]
mod tests {
    use actix_web::dev::ResourceDef;

    use super::{by_parameter, group};

    /// Mounting the shorter paths after the groups changes no match: no shorter path, its
    /// parameters filled in, lies under a group's prefix, and no group's path matches one.
    #[test]
    fn no_shorter_path_lies_under_a_group() {
        let routes = crate::http::routes();
        let prefixes: Vec<&str> = routes.iter().filter_map(|r| group(r.path)).collect();
        let filled = |pattern: &str| {
            let segments: Vec<&str> = pattern
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect();
            segments.join("/")
        };
        for shorter in routes.iter().filter(|r| group(r.path).is_none()) {
            let path = filled(shorter.path);
            let own = ResourceDef::new(shorter.path);
            for prefix in &prefixes {
                let under = ResourceDef::prefix(*prefix);
                assert!(!under.is_match(&path), "{} under {prefix}", shorter.path);
                assert!(!own.is_match(prefix), "{} takes {prefix}", shorter.path);
                assert!(
                    !own.is_match(&format!("{prefix}/x")),
                    "{} takes {prefix}/x",
                    shorter.path
                );
            }
        }
    }

    #[test]
    fn paths_that_go_on_with_a_parameter_nest_under_it() {
        let cases = [
            ("/{id}", Some(("/{id}", ""))),
            ("/{id}/credentials", Some(("/{id}", "/credentials"))),
            ("/{nanoid}/{status}", Some(("/{nanoid}", "/{status}"))),
            ("/execute/{tool_slug}", None),
            ("/link", None),
            ("", None),
        ];
        for (at, want) in cases {
            assert_eq!(by_parameter(at), want, "{at}");
        }
    }

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
