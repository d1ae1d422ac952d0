//! Requests held for the user's approval (admin keys): the list, and the answers.

use actix_web::web;
use secrecy::ExposeSecret;

use super::call::{Call, Reply};
use super::dto::{ApprovalsPageDto, ChangeErrors, IdPath, Page, PendingApprovalDto, Refusals};
use crate::service::Service;

/// The requests waiting for the user, oldest first.
#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals",
    operation_id = "listApprovals",
    responses((status = 200, description = "The pending requests", body = Page<PendingApprovalDto>), Refusals))]
pub async fn list(call: Call) -> Reply<Page<PendingApprovalDto>> {
    call.reply(Service::list_approvals).await
}

/// Lets a waiting request go upstream.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/approve", tag = "approvals",
    operation_id = "approveRequest", params(IdPath),
    responses((status = 200, description = "The request, approved", body = PendingApprovalDto), ChangeErrors))]
pub async fn approve(call: Call, path: web::Path<IdPath>) -> Reply<PendingApprovalDto> {
    answer(call, path, true).await
}

/// Refuses a waiting request: the agent gets a 403, the provider sees nothing.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/deny", tag = "approvals",
    operation_id = "denyRequest", params(IdPath),
    responses((status = 200, description = "The request, denied", body = PendingApprovalDto), ChangeErrors))]
pub async fn deny(call: Call, path: web::Path<IdPath>) -> Reply<PendingApprovalDto> {
    answer(call, path, false).await
}

async fn answer(call: Call, path: web::Path<IdPath>, approved: bool) -> Reply<PendingApprovalDto> {
    let id = path.into_inner().id;
    call.reply(move |svc, caller| svc.answer_approval(caller, &id, approved))
        .await
}

/// A link to the local approvals page (one hour), for the user of this admin key.
#[utoipa::path(post, path = "/api/v1/approvals/page", tag = "approvals",
    operation_id = "openApprovalsPage",
    responses((status = 200, description = "The link, shown once", body = ApprovalsPageDto), Refusals))]
pub async fn page(call: Call) -> Reply<ApprovalsPageDto> {
    let link = call
        .run(|svc, caller| {
            let link = svc.open_approvals_page(caller)?;
            Ok(ApprovalsPageDto {
                url: format!(
                    "{}/approvals/{}",
                    svc.public_url(),
                    link.token.expose_secret()
                ),
                expires_at: link.expires_at,
            })
        })
        .await?;
    Ok(web::Json(link))
}
