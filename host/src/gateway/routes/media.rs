//! The media routes, passed through to an upstream that has them and billed per unit:
//! images, speech (raw audio), transcriptions (multipart, 25 MB) and videos (submitted, then
//! polled).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openai::{json_body, usd_header};
use super::payer;
use crate::error::ApiError;
use crate::gateway::media::{self, FormField, MediaAnswer, MAX_AUDIO_BYTES};
use crate::gateway::{videos, GatewayError, OpenAiError};
use crate::http::auth::AccountAuth;
use crate::http::json::ApiPath;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(transcriptions))
        .layer(DefaultBodyLimit::max(MAX_AUDIO_BYTES + 256 * 1024))
        .routes(routes!(images))
        .routes(routes!(speech))
        .routes(routes!(submit_video))
        .routes(routes!(get_video))
}

fn too_large() -> OpenAiError {
    OpenAiError(ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the audio file is larger than 25 MB",
    ))
}

fn answer(a: MediaAnswer) -> Response {
    let content_type =
        HeaderValue::from_str(&a.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut resp = a.bytes.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, content_type);
    resp.headers_mut().insert("x-tokaroo-cost", usd_header(a.charged_micros));
    resp
}

/// Images from a prompt (OpenAI's request: `prompt`, `model`, `n`, `size`, `quality`,
/// `response_format`, `style`), billed per image returned.
#[utoipa::path(post, path = "/v1/images/generations", tag = "gateway", security(("bearer" = [])),
    request_body(content = Object, description = "OpenAI's image request"),
    responses((status = 200, body = Object), (status = 402, description = "Billing required"),
        (status = 502, description = "Every upstream failed"), (status = 503, description = "No images provider configured"),
        (status = 504, description = "The upstream timed out")))]
async fn images(State(app): State<Arc<App>>, who: AccountAuth, body: Bytes) -> Result<Response, OpenAiError> {
    Ok(answer(media::images(&app, &payer(&who), json_body(&body)?).await?))
}

/// Speech from text: raw audio bytes (`response_format` picks the codec), billed per 1,000
/// characters.
#[utoipa::path(post, path = "/v1/audio/speech", tag = "gateway", security(("bearer" = [])),
    request_body(content = Object, description = "{input, model?, voice?, response_format?, speed?}"),
    responses((status = 200, description = "The audio", content_type = "application/octet-stream"),
        (status = 402, description = "Billing required"), (status = 502, description = "Every upstream failed"),
        (status = 503, description = "No speech provider configured"), (status = 504, description = "The upstream timed out")))]
async fn speech(State(app): State<Arc<App>>, who: AccountAuth, body: Bytes) -> Result<Response, OpenAiError> {
    Ok(answer(media::speech(&app, &payer(&who), json_body(&body)?).await?))
}

/// Text from audio: multipart form data with `file` (up to 25 MB), `model`, `language`,
/// `response_format`, `temperature`; billed per megabyte started.
#[utoipa::path(post, path = "/v1/audio/transcriptions", tag = "gateway", security(("bearer" = [])),
    request_body(content = Object, content_type = "multipart/form-data"),
    responses((status = 200, body = Object), (status = 402, description = "Billing required"),
        (status = 413, description = "Larger than 25 MB"), (status = 502, description = "Every upstream failed"),
        (status = 503, description = "No transcription provider configured"),
        (status = 504, description = "The upstream timed out")))]
async fn transcriptions(
    State(app): State<Arc<App>>,
    who: AccountAuth,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, OpenAiError> {
    let mut form = form.map_err(|e| GatewayError::Invalid(format!("the body must be multipart form data: {e}")))?;
    let mut fields = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large());
            }
            Err(e) => return Err(GatewayError::Invalid(format!("the form does not parse: {e}")).into()),
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let data = match field.bytes().await {
            Ok(data) => data,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large());
            }
            Err(e) => return Err(GatewayError::Invalid(format!("the form does not parse: {e}")).into()),
        };
        if data.len() > MAX_AUDIO_BYTES {
            return Err(too_large());
        }
        if fields.len() >= 32 {
            return Err(GatewayError::Invalid("the form has too many fields".into()).into());
        }
        fields.push(FormField { name, file_name, content_type, data });
    }
    Ok(answer(media::transcription(&app, &payer(&who), fields).await?))
}

/// Submits a video job (`prompt`, `model`, `duration` seconds (default 5), `size`,
/// `aspect_ratio`, `fps`), billed per second: `{id, object, status}`; poll `GET .../{id}`.
#[utoipa::path(post, path = "/v1/videos/generations", tag = "gateway", security(("bearer" = [])),
    request_body(content = Object, description = "OpenAI-style video request"),
    responses((status = 200, body = Object), (status = 402, description = "Billing required"),
        (status = 502, description = "Every upstream failed"), (status = 503, description = "No video provider configured"),
        (status = 504, description = "The upstream timed out")))]
async fn submit_video(State(app): State<Arc<App>>, who: AccountAuth, body: Bytes) -> Result<Response, OpenAiError> {
    let (video, charged) = media::submit_video(&app, &payer(&who), json_body(&body)?).await?;
    let mut resp = Json(video).into_response();
    resp.headers_mut().insert("x-tokaroo-cost", usd_header(charged));
    Ok(resp)
}

/// A video job of the account: `{id, object, status: processing|completed|failed, url?}`.
#[utoipa::path(get, path = "/v1/videos/generations/{id}", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, description = "No such video"),
        (status = 502, description = "The upstream failed"), (status = 504, description = "The upstream timed out")))]
async fn get_video(
    State(app): State<Arc<App>>,
    who: AccountAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, OpenAiError> {
    Ok(Json(videos::get(&app, &who.agent_id, &id).await?))
}
