//! Self-contained HTML views of a run and of a compare matrix: `sim replay --html` ([`timeline`]) and `sim compare
//! --html` ([`matrix`], simulation flavour).
//!
//! Each page is one file that opens from disk: the data as JSON in a `<script type="application/json">` block, the
//! script and the style sheet inline (kept apart as `*.js` and `*.css` beside this file and included at build
//! time), a Content-Security-Policy that forbids loading anything, and nothing taken from the clock or from an
//! unordered map: the same input gives the same bytes. The script marks the `<body>` when it has drawn
//! (`data-render="ok"` and counts such as `data-lanes`); a guard installed before it turns any uncaught error into
//! `data-render="error: <message>"` (tests/html/check_html.sh reads these in headless Chromium).
//!
//! Layer: the top one: it reads what runs produced (`outcome`, `verdict`, `sweep`) and nothing uses it but the
//! binary.

#[cfg(madsim)]
mod matrix;
mod timeline;

#[cfg(madsim)]
pub use matrix::matrix;
pub use timeline::timeline;

/// Installed first: an uncaught error or rejected promise marks the page as failed.
const GUARD_JS: &str = include_str!("guard.js");
/// The style sheet both pages share.
const PAGE_CSS: &str = include_str!("page.css");

/// No fetch, no frame, no image or font from anywhere: only the page's own inline script and style run.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

/// `text` safe inside an HTML element or a quoted attribute.
pub(crate) fn escape_html(text: &str) -> String {
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

/// JSON text safe inside `<script type="application/json">`: every `</` becomes `<\/` (no string can close the
/// element) and every `<!--` becomes `<\u0021--` (no string can open the script-data escape state). Both are
/// JSON escapes inside strings, and `<` occurs nowhere else in JSON, so `JSON.parse` reads the same value.
pub(crate) fn script_json(json: &str) -> String {
    json.replace("</", "<\\/").replace("<!--", "<\\u0021--")
}

/// One page: `title`, the server-rendered `header` (already escaped HTML), the `body` skeleton the script fills,
/// the data (`serde_json` text, escaped here) under the id `data`, and the page's script.
pub(crate) fn page(title: &str, header: &str, body: &str, data_json: &str, script: &str) -> String {
    debug_assert!(!script.contains("</script") && !GUARD_JS.contains("</script") && !PAGE_CSS.contains("</style"));
    let mut out = String::with_capacity(data_json.len() + script.len() + PAGE_CSS.len() + 4096);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"));
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{}</title>\n", escape_html(title)));
    out.push_str(&format!("<script>\n{GUARD_JS}</script>\n<style>\n{PAGE_CSS}</style>\n</head>\n"));
    out.push_str("<body data-render=\"pending\">\n");
    out.push_str(header);
    out.push_str(body);
    out.push_str("<script type=\"application/json\" id=\"data\">");
    out.push_str(&script_json(data_json));
    out.push_str("</script>\n<script>\n");
    out.push_str(script);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

/// A `<dl>` row of the header: `name` and its (escaped) value; `code` shows it as copy-able code.
pub(crate) fn header_row(name: &str, value: &str, code: bool) -> String {
    let value = escape_html(value);
    if code {
        format!("<dt>{name}</dt><dd><code class=\"copy\">{value}</code></dd>\n")
    } else {
        format!("<dt>{name}</dt><dd>{value}</dd>\n")
    }
}

/// The JSON of a page's data block, as the browser's `JSON.parse` would read it (tests).
#[cfg(test)]
pub(crate) fn data_block(html: &str) -> serde_json::Value {
    const OPEN: &str = "<script type=\"application/json\" id=\"data\">";
    let start = html.find(OPEN).expect("data block") + OPEN.len();
    let end = start + html[start..].find("</script>").expect("data block end");
    serde_json::from_str(&html[start..end]).expect("the block is the JSON")
}

/// The matrix page's script (empty in the real flavour, which has no compare).
#[cfg(test)]
fn matrix_script() -> &'static str {
    #[cfg(madsim)]
    return matrix::SCRIPT;
    #[cfg(not(madsim))]
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_holding_a_script_end_tag_cannot_close_the_data_block() {
        let json = serde_json::to_string(&["</script><script>alert(1)</script>", "<!--<script>"]).unwrap();
        let escaped = script_json(&json);
        assert!(!escaped.to_ascii_lowercase().contains("</script"), "{escaped}");
        assert!(!escaped.contains("<!--"), "{escaped}");
        let back: Vec<String> = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, ["</script><script>alert(1)</script>", "<!--<script>"]);
    }

    #[test]
    fn html_text_is_escaped_for_elements_and_attributes() {
        assert_eq!(escape_html(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn the_inline_script_and_style_cannot_end_their_own_elements() {
        for text in [GUARD_JS, PAGE_CSS, timeline::SCRIPT, super::matrix_script()] {
            let lower = text.to_ascii_lowercase();
            assert!(!lower.contains("</script") && !lower.contains("</style"));
        }
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        let html = page("t", "", "", "{}", "");
        for needle in [" src=", "href=", "url(", "@import", "http:", "https:"] {
            assert!(!html.contains(needle), "{needle} in {html}");
        }
        assert!(html.contains("Content-Security-Policy"));
    }
}
