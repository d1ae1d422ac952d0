//! The approvals page: a local page listing the requests held for the user, with a button
//! to approve or deny each. It is reached through a link that `keyport approvals --page`
//! asks the API for (its token, in the path, is the page's authority and its CSRF
//! defence: a foreign page cannot know it); the front door also refuses a foreign
//! `Origin` on its forms. Same headers as the other pages, but forms may post to itself
//! (and so the page's own referrer policy, in a meta element, is `same-origin`).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

use super::pages::{escape, html_page};
use crate::assets::Assets;
use crate::service::{PendingRequest, Service};

const CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages' headers, `no-referrer` as everywhere; the page itself says `same-origin` in
/// a `<meta name="referrer">`, which governs its own form posts: under `no-referrer` a
/// browser sends them with `Origin: null`, which the front door refuses. Nothing on the
/// page leads away from keyport.
fn html(status: StatusCode, body: String) -> HttpResponse {
    html_page(status, body, CSP, "no-referrer")
}

fn gone() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        "<!doctype html><title>keyport</title><p>This approvals link is not valid (or no longer). \
         Run <code>keyport approvals --page</code> for a new one.</p>"
            .into(),
    )
}

/// One held request, every value escaped.
fn section(token: &str, r: &PendingRequest) -> String {
    let row = |name: &str, value: &str| format!("<dt>{name}</dt><dd>{}</dd>", escape(value));
    let mut rows = vec![
        row("agent key", &r.key_name),
        row("entity", &r.entity),
        row("app", &r.app),
        row("connection", &r.connection),
    ];
    if let Some(action) = &r.action {
        rows.push(row("action", action));
    }
    rows.push(row(
        "request",
        &format!("{} {}{}", r.method, r.host, r.path),
    ));
    if let Some(body) = &r.body {
        rows.push(format!("<dt>body</dt><dd><pre>{}</pre></dd>", escape(body)));
    }
    rows.push(row("expires", &r.expires_at));
    let form = |verb: &str, class: &str, label: &str| {
        format!(
            r#"<form method="post" action="/approvals/{}/{}/{verb}"><button class="button {class}" type="submit">{label}</button></form>"#,
            escape(token),
            escape(&r.id)
        )
    };
    format!(
        r#"<section class="request" id="request-{}"><dl>{}</dl>{}{}</section>"#,
        escape(&r.id),
        rows.concat(),
        form("approve", "approve", "Approve"),
        form("deny", "deny", "Deny")
    )
}

/// `GET /approvals/{token}`
pub async fn show(svc: web::Data<Service>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let shown = token.clone();
    let listed = web::block(move || {
        let requests = svc.approvals_page(&shown)?;
        Ok::<_, crate::service::Error>((requests, svc.approvals_page_expiry(&shown)))
    })
    .await;
    let Ok(Ok((requests, expires))) = listed else {
        return gone();
    };
    let requests = if requests.is_empty() {
        r#"<p id="none">Nothing is waiting for your approval.</p>"#.to_owned()
    } else {
        requests.iter().map(|r| section(&token, r)).collect()
    };
    let template = Assets::get("pages/approvals.html")
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
        .unwrap_or_default();
    let page = template
        .replace("{{expires}}", &escape(&expires.unwrap_or_default()))
        .replace("{{requests}}", &requests);
    html(StatusCode::OK, page)
}

/// `POST /approvals/{token}/{id}/{approve|deny}`: answers, then back to the list.
pub async fn answer(
    svc: web::Data<Service>,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (token, id, verb) = path.into_inner();
    let approve = match verb.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return gone(),
    };
    let back = format!("/approvals/{token}");
    let answered = web::block(move || svc.answer_on_page(&token, &id, approve)).await;
    match answered {
        // An answer to a request that is no longer waiting changes nothing: the list says so.
        Ok(Ok(_))
        | Ok(Err(crate::service::Error::NotFound {
            what: "pending request",
            ..
        })) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, back))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .finish(),
        _ => gone(),
    }
}
