//! Extractors whose rejections become contract-shaped errors naming the
//! field at fault.

use crate::error::ApiError;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// `Json<T>` with errors that say which field is wrong and why.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::JsonDataError(e) => {
            // serde's message names the field: "missing field `ssin`" or
            // "ssin: the SSIN has wrong check digits at line 1 column 20".
            let text = e.body_text();
            let detail = text
                .split_once(": ")
                .map(|(_, d)| d)
                .unwrap_or(&text)
                .to_owned();
            let field = field_in(&detail);
            let mut err = ApiError::bad_request("invalid_body", detail);
            if let Some(f) = field {
                err = err.with_field(f);
            }
            err
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("invalid_json", "the body is not valid JSON")
        }
        other => ApiError::for_status(other.status()),
    }
}

/// Finds a field name in a serde error message (`` `name` `` or `name:`).
fn field_in(message: &str) -> Option<String> {
    if let Some(start) = message.find('`') {
        let rest = &message[start + 1..];
        if let Some(end) = rest.find('`') {
            return Some(rest[..end].to_owned());
        }
    }
    let head = message.split(':').next()?;
    (!head.contains(' ') && !head.is_empty() && head.len() < message.len()).then(|| head.to_owned())
}

/// `Form<T>` with contract-shaped errors.
pub struct ApiForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(Self(v)),
            Err(FormRejection::InvalidFormContentType(_)) => Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the form as application/x-www-form-urlencoded",
            )),
            Err(
                r @ (FormRejection::FailedToDeserializeForm(_)
                | FormRejection::FailedToDeserializeFormBody(_)),
            ) => {
                let text = r.body_text();
                let mut err = ApiError::bad_request("invalid_request", text.clone());
                if let Some(f) = field_in(&text) {
                    err = err.with_field(f);
                }
                Err(err)
            }
            Err(other) => Err(ApiError::for_status(other.status())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::field_in;

    #[test]
    fn finds_fields() {
        assert_eq!(
            field_in("missing field `ssin` at line 1").as_deref(),
            Some("ssin")
        );
        assert_eq!(
            field_in("ssin: the SSIN has wrong check digits").as_deref(),
            Some("ssin")
        );
        assert_eq!(field_in("expected value at line 1"), None);
    }
}
