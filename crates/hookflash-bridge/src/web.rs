//! The web page (agent desktop and wallboard) and the OpenAPI document, embedded in the binary.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The agent desktop.
pub const INDEX_HTML: &str = include_str!("../web/index.html");
/// The wallboard.
pub const WALLBOARD_HTML: &str = include_str!("../web/wallboard.html");
/// The page's script.
pub const APP_JS: &str = include_str!("../web/app.js");
/// The page's style.
pub const STYLE_CSS: &str = include_str!("../web/style.css");
/// The OpenAPI description of the API.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// A static answer with its content type; pages are not cached so an upgrade shows at once.
pub fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
                ),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body,
    )
        .into_response()
}
