//! The browser side of keyport: the connect page that sends the user to the provider, the
//! loopback callback the provider sends them back to, and the stylesheet. Pages are
//! embedded from `assets/pages/`, load nothing external, never echo codes or tokens, and
//! carry a strict CSP, `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::assets::Assets;
use crate::service::{CallbackOutcome, CallbackQuery, Service};

const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// HTML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Fills `{{name}}` placeholders of an embedded page with escaped values.
fn render(page: &str, vars: &[(&str, &str)]) -> String {
    let template = Assets::get(page)
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
        .unwrap_or_default();
    vars.iter().fold(template, |html, (name, value)| {
        html.replace(&format!("{{{{{name}}}}}"), &escape(value))
    })
}

fn page(status: StatusCode, html: String) -> HttpResponse {
    html_page(status, html, PAGE_CSP, "no-referrer")
}

/// An HTML answer with the pages' headers: `csp`, `referrer` policy, never cached.
pub fn html_page(
    status: StatusCode,
    html: String,
    csp: &'static str,
    referrer: &'static str,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ))
        .insert_header((header::REFERRER_POLICY, HeaderValue::from_static(referrer)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(html)
}

fn outcome_page(outcome: &CallbackOutcome) -> HttpResponse {
    const CONNECTED: &str =
        "Your account is connected. keyport keeps the tokens in its vault on this machine.";
    // A success with something to know (no refresh token) says both.
    let noted;
    let (status, class, message) = match (outcome.success, outcome.message.as_str()) {
        (true, "") => (StatusCode::OK, "success", CONNECTED),
        (true, note) => {
            noted = format!("{CONNECTED} But: {note}.");
            (StatusCode::OK, "success", noted.as_str())
        }
        (false, message) => (StatusCode::BAD_REQUEST, "failure", message),
    };
    page(
        status,
        render(
            "pages/result.html",
            &[
                ("title", &outcome.title),
                ("class", class),
                ("message", message),
            ],
        ),
    )
}

pub async fn connect(svc: web::Data<Service>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let found = web::block(move || svc.connect_page(&token)).await;
    match found {
        Ok(Ok(p)) => {
            let scopes = if p.scopes.is_empty() {
                String::new()
            } else {
                format!(", with access to: {}", p.scopes.join(", "))
            };
            page(
                StatusCode::OK,
                render(
                    "pages/connect.html",
                    &[
                        ("app", &p.app_name),
                        ("entity", &p.entity),
                        ("scopes", &scopes),
                        ("authorize_url", &p.authorize_url),
                    ],
                ),
            )
        }
        Ok(Err(outcome)) => {
            let mut response = outcome_page(&outcome);
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
        Err(_) => outcome_page(&CallbackOutcome {
            success: false,
            title: "Connection failed".into(),
            message: "keyport is shutting down.".into(),
            redirect: None,
        }),
    }
}

#[derive(Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    oauth_token: Option<String>,
    oauth_verifier: Option<String>,
    denied: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    svc: web::Data<Service>,
    path: web::Path<String>,
    query: web::Query<CallbackParams>,
) -> HttpResponse {
    let app = path.into_inner();
    let q = query.into_inner();
    let query = CallbackQuery {
        code: q.code,
        state: q.state,
        oauth_token: q.oauth_token,
        oauth_verifier: q.oauth_verifier,
        denied: q.denied,
        iss: q.iss,
        error: q.error,
        error_description: q.error_description,
    };
    let outcome = match web::block(move || svc.oauth_callback(&app, query)).await {
        Ok(outcome) => outcome,
        Err(_) => CallbackOutcome {
            success: false,
            title: "Connection failed".into(),
            message: "keyport is shutting down.".into(),
            redirect: None,
        },
    };
    match &outcome.redirect {
        Some(url) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url.as_str()))
            .insert_header((
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .finish(),
        None => outcome_page(&outcome),
    }
}

pub async fn stylesheet() -> HttpResponse {
    match Assets::get("pages/keyport.css") {
        Some(file) => HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .insert_header((
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=3600"),
            ))
            .body(file.data.into_owned()),
        None => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn pages_are_embedded_and_reference_nothing_external() {
        for name in [
            "pages/connect.html",
            "pages/result.html",
            "pages/keyport.css",
        ] {
            let text = String::from_utf8(
                Assets::get(name)
                    .map(|f| f.data.into_owned())
                    .unwrap_or_default(),
            )
            .unwrap_or_default();
            assert!(!text.is_empty(), "{name} is missing");
            assert!(
                !text.contains("https://") && !text.contains("http://"),
                "{name} references an external URL"
            );
            assert!(!text.contains("<script"), "{name} has a script");
        }
        let html = render(
            "pages/result.html",
            &[
                ("title", "<b>x</b>"),
                ("class", "failure"),
                ("message", "m"),
            ],
        );
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;") && !html.contains("{{"));
    }
}
