//! The batch channel: Dimona XML files in, ACRF and NOTIFICATION out.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use futures_util::StreamExt;
use kruispunt_dimona::batch::{BatchError, NotificationState, Received, check_file_name};
use kruispunt_domain::principal::{Principal, Scope};
use tokio_util::io::{StreamReader, SyncIoBridge};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/batch/v1/files/{file_name}", put(upload))
        .route(
            "/batch/v1/files/{file_name}/notification",
            get(file_notification),
        )
}

fn xml(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    res
}

/// Sends a Dimona batch file (`Dimona_20231.xsd`, several forms). The
/// body is read as a stream.
#[utoipa::path(put, path = "/batch/v1/files/{file_name}", tag = "batch", security(("bearer" = [])),
    params(("file_name" = String, Path, description = "The file's name, e.g. FI.DIMONA.123456.20261129.00001.R.1.1 (letters, digits, '.', '_', '-'; at most 64)")),
    request_body(content = String, content_type = "application/xml", description = "A Dimona XML file: forms with DimonaIn, DimonaOut, DimonaUpdate or DimonaCancel"),
    responses(
        (status = 202, description = "Received and durable: the positive ACRF (ACRF_20231.xsd, ResultCode 1)", content_type = "application/xml", body = String),
        (status = 400, description = "Refused at reception: the negative ACRF (ResultCode 0) with the error ids, and each error's line and column in comments; or an invalid file name (JSON error)", content_type = "application/xml", body = String),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an employer or provider token with scope:batch:upload", body = crate::error::ErrorEnvelope),
        (status = 409, description = "A file with this name was already received", body = crate::error::ErrorEnvelope),
        (status = 413, description = "The file is larger than the configured limit", body = crate::error::ErrorEnvelope)))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(file_name): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let sender = match caller.principal {
        Principal::Employer(id) => {
            caller.require(Scope::BatchUpload)?;
            id
        }
        _ => {
            return Err(ApiError::forbidden(
                "batch files are sent with an employer (or provider) token",
            ));
        }
    };
    check_file_name(&file_name)?;
    let stream = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other));
    let input =
        std::io::BufReader::with_capacity(64 * 1024, SyncIoBridge::new(StreamReader::new(stream)));
    match state.dimona().receive_file(sender, &file_name, input).await {
        Ok(Received::Accepted { acrf, .. }) => Ok(xml(StatusCode::ACCEPTED, acrf)),
        Ok(Received::Refused { acrf, .. }) => Ok(xml(StatusCode::BAD_REQUEST, acrf)),
        Err(BatchError::Invalid(i)) => Err(i.into()),
        Err(BatchError::Duplicate) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "file_already_received",
            "a file with this name was already received; send it under a new name",
        )
        .with_field("fileName")),
        Err(BatchError::Io(e)) => {
            // The body limit shows up here as an IO error from the stream.
            let message = e.to_string();
            if message.contains("length limit") {
                Err(ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE))
            } else {
                Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "upload_interrupted",
                    "the file could not be read to its end",
                ))
            }
        }
        Err(BatchError::Hub(h)) => Err(h.into()),
    }
}

/// The NOTIFICATION of a file: 404 while its forms are being processed.
#[utoipa::path(get, path = "/batch/v1/files/{file_name}/notification", tag = "batch", security(("bearer" = [])),
    params(("file_name" = String, Path, description = "The name the file was sent under")),
    responses(
        (status = 200, description = "The NOTIFICATION (NOTIFICATION_20223.xsd): per form, in file order, the result (ResultCode 1 accepted, 0 refused, 2 waiting for identification), anomalies with ids, tags, values and lines, and the Dimona period", content_type = "application/xml", body = String),
        (status = 401, description = "No valid token", body = crate::error::ErrorEnvelope),
        (status = 403, description = "Not an employer, provider or operator token", body = crate::error::ErrorEnvelope),
        (status = 404, description = "Unknown file, another sender's file, or not processed yet (code not_processed_yet)", body = crate::error::ErrorEnvelope)))]
pub async fn file_notification(
    State(state): State<AppState>,
    caller: Caller,
    Path(file_name): Path<String>,
) -> Result<Response, ApiError> {
    let sender = match caller.principal {
        Principal::Employer(id)
            if caller.scopes.contains(&Scope::BatchUpload)
                || caller.scopes.contains(&Scope::DimonaConsult)
                || caller.scopes.contains(&Scope::DimonaDeclarant) =>
        {
            Some(id)
        }
        Principal::Operator => {
            caller.require(Scope::Operator)?;
            None
        }
        _ => {
            return Err(ApiError::forbidden(
                "notifications are read with the sender's token",
            ));
        }
    };
    match state.dimona().file_notification(sender, &file_name).await? {
        NotificationState::Unknown => Err(ApiError::not_found(
            "no file with this name was received from you",
        )),
        NotificationState::Processing { pending, forms } => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_processed_yet",
            format!("{pending} of {forms} forms are still being processed; retry shortly"),
        )),
        NotificationState::Ready(xml_text) => Ok(xml(StatusCode::OK, xml_text)),
    }
}
