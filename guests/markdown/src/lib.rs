//! Markdown (CommonMark with tables, strikethrough and task lists) to HTML.
//! Input `{"markdown": "..."}`, output `{"html": "..."}`. Raw HTML in the
//! input is escaped and script URLs in links and images are dropped, so the
//! output is safe to embed.

use agora_sdk::json::{self, json};
use agora_sdk::{Skill, SkillError, SkillInfo};
use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    markdown: String,
}

struct Markdown;

impl Skill for Markdown {
    fn describe() -> SkillInfo {
        SkillInfo {
            name: "markdown".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Converts Markdown to HTML, escaping any raw HTML.".into(),
            input_schema: json!({
                "type": "object",
                "required": ["markdown"],
                "properties": {"markdown": {"type": "string"}}
            })
            .to_string(),
            output_schema: json!({
                "type": "object",
                "required": ["html"],
                "properties": {"html": {"type": "string"}}
            })
            .to_string(),
        }
    }

    fn invoke(input: String) -> Result<String, SkillError> {
        let input: Input = json::parse(&input)?;
        Ok(json!({ "html": to_html(&input.markdown) }).to_string())
    }
}

agora_sdk::export_skill!(Markdown);

pub fn to_html(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    // Browsers skip whitespace and control characters inside a scheme.
    let scheme: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .take(11)
        .collect::<String>()
        .to_ascii_lowercase();
    if ["javascript:", "vbscript:", "data:"]
        .iter()
        .any(|s| scheme.starts_with(s))
    {
        CowStr::Borrowed("#")
    } else {
        url
    }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn headings_and_paragraphs() {
        assert_eq!(
            to_html("# Title\n\nSome text.\n\n## Sub"),
            "<h1>Title</h1>\n<p>Some text.</p>\n<h2>Sub</h2>\n"
        );
    }

    #[test]
    fn emphasis_code_and_links() {
        assert_eq!(
            to_html("*a* **b** `c<d>` [link](https://example.com \"t\")"),
            "<p><em>a</em> <strong>b</strong> <code>c&lt;d&gt;</code> <a href=\"https://example.com\" title=\"t\">link</a></p>\n"
        );
    }

    #[test]
    fn lists_and_code_blocks() {
        assert_eq!(
            to_html("- one\n- two\n\n1. first"),
            "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n<ol>\n<li>first</li>\n</ol>\n"
        );
        assert_eq!(
            to_html("```rust\nfn main() {}\n```"),
            "<pre><code class=\"language-rust\">fn main() {}\n</code></pre>\n"
        );
    }

    #[test]
    fn tables_and_strikethrough() {
        assert_eq!(
            to_html("| a | b |\n|---|---|\n| 1 | 2 |\n\n~~gone~~"),
            "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody>\n<tr><td>1</td><td>2</td></tr>\n</tbody></table>\n<p><del>gone</del></p>\n"
        );
    }

    #[test]
    fn script_urls_are_dropped() {
        assert_eq!(
            to_html("[x](javascript:alert(1)) ![i](JavaScript:x) [ok](/a)"),
            "<p><a href=\"#\">x</a> <img src=\"#\" alt=\"i\" /> <a href=\"/a\">ok</a></p>\n"
        );
    }

    #[test]
    fn raw_html_is_escaped() {
        assert_eq!(
            to_html("<script>alert(1)</script>\n\nhi <b>x</b>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;\n<p>hi &lt;b&gt;x&lt;/b&gt;</p>\n"
        );
    }
}
