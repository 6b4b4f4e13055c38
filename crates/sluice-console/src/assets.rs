//! The page, its script and stylesheet, and the vendored uPlot charting
//! library (MIT, from the npm registry: `scripts/vendor-console.sh`),
//! compiled into the binary so the console needs no internet.

/// The page (`{{csrf}}` is filled in per console).
pub const INDEX: &str = include_str!("../assets/index.html");
/// The login page (`{{message}}` is filled in).
pub const LOGIN: &str = include_str!("../assets/login.html");

/// An asset by file name, with its media type.
pub fn get(name: &str) -> Option<(&'static [u8], &'static str)> {
    Some(match name {
        "app.js" => (
            include_bytes!("../assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "app.css" => (
            include_bytes!("../assets/app.css"),
            "text/css; charset=utf-8",
        ),
        "uPlot.iife.min.js" => (
            include_bytes!("../assets/vendor/uPlot.iife.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "uPlot.min.css" => (
            include_bytes!("../assets/vendor/uPlot.min.css"),
            "text/css; charset=utf-8",
        ),
        "favicon.svg" => (include_bytes!("../assets/favicon.svg"), "image/svg+xml"),
        _ => return None,
    })
}
