//! Extractive summary: the highest-scoring sentences of the input, in their
//! original order. Params: `{"sentences": n}` (default 3).

use agora_sdk::{Agent, Task, TaskError, TaskOutput};
use serde::Deserialize;
use std::collections::HashMap;

const DEFAULT_SENTENCES: usize = 3;

#[derive(Deserialize, Default)]
struct Params {
    sentences: Option<usize>,
}

struct Summarize;

impl Agent for Summarize {
    fn handle(task: Task) -> Result<TaskOutput, TaskError> {
        let params: Params = task.params_as()?;
        let n = params.sentences.unwrap_or(DEFAULT_SENTENCES);
        if n == 0 {
            return Err(TaskError::InvalidInput(
                "\"sentences\" must be at least 1".into(),
            ));
        }
        if task.input.trim().is_empty() {
            return Err(TaskError::InvalidInput("nothing to summarize".into()));
        }
        Ok(TaskOutput::text(summarize(&task.input, n)))
    }
}

agora_sdk::export_agent!(Summarize);

const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Splits text into sentences: a sentence ends at `.`, `!` or `?` (with any
/// closing quotes or brackets) followed by whitespace, or at a blank line.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '.' | '!' | '?' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if matches!(d, '.' | '!' | '?' | '"' | '\'' | ')' | ']' | '”' | '’') {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                match chars.peek() {
                    None => Some(end),
                    Some(&(_, d)) if d.is_whitespace() => Some(end),
                    _ => None,
                }
            }
            '\n' if text[i + 1..]
                .trim_start_matches([' ', '\t', '\r'])
                .starts_with('\n') =>
            {
                Some(i)
            }
            _ => None,
        };
        if let Some(end) = end {
            push_trimmed(&mut out, &text[start..end]);
            start = end;
        }
    }
    push_trimmed(&mut out, &text[start..]);
    out
}

fn push_trimmed<'a>(out: &mut Vec<&'a str>, s: &'a str) {
    let s = s.trim();
    if !s.is_empty() {
        out.push(s);
    }
}

/// Lowercased words of `s` that are not stopwords.
fn content_words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(&w.as_str()))
}

/// Each sentence's score: the sum of its content words' frequencies in the
/// whole text, each divided by the highest word frequency.
pub fn scores(sentences: &[&str]) -> Vec<f64> {
    let mut freq: HashMap<String, usize> = HashMap::new();
    for s in sentences {
        for w in content_words(s) {
            *freq.entry(w).or_default() += 1;
        }
    }
    let max = freq.values().copied().max().unwrap_or(1) as f64;
    sentences
        .iter()
        .map(|s| content_words(s).map(|w| freq[&w] as f64 / max).sum())
        .collect()
}

/// The `n` best sentences of `text`, in their original order, joined by spaces.
pub fn summarize(text: &str, n: usize) -> String {
    let sentences = sentences(text);
    let scores = scores(&sentences);
    let mut ranked: Vec<usize> = (0..sentences.len()).collect();
    // Best score first; earlier sentences win ties.
    ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    ranked.truncate(n);
    ranked.sort_unstable();
    ranked
        .iter()
        .map(|&i| sentences[i])
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sentences() {
        let text = "First one. Second one!  Third? \"Quoted.\" Version 1.5 stays whole.\n\nNo period here\nbut this continues";
        assert_eq!(
            sentences(text),
            vec![
                "First one.",
                "Second one!",
                "Third?",
                "\"Quoted.\"",
                "Version 1.5 stays whole.",
                "No period here\nbut this continues",
            ]
        );
    }

    #[test]
    fn blank_line_ends_a_sentence() {
        assert_eq!(
            sentences("Heading\n\nBody text."),
            vec!["Heading", "Body text."]
        );
    }

    #[test]
    fn stopwords_do_not_score() {
        let s = scores(&["The and of it is.", "Rust rust."]);
        assert_eq!(s[0], 0.0);
        assert_eq!(s[1], 2.0);
    }

    #[test]
    fn scores_are_normalized_by_the_top_frequency() {
        // "cat": 4, "dog": 2, "bird": 1
        let s = scores(&["Cat cat.", "Cat dog.", "Cat dog bird."]);
        assert_eq!(s, vec![2.0, 1.5, 1.75]);
    }

    #[test]
    fn keeps_best_sentences_in_original_order() {
        let text = "Bees make honey. The weather was fine. Honey bees live in hives. \
                    I had lunch. Hives of bees make honey in summer.";
        assert_eq!(
            summarize(text, 2),
            "Honey bees live in hives. Hives of bees make honey in summer."
        );
    }

    #[test]
    fn fewer_sentences_than_asked_returns_all() {
        assert_eq!(
            summarize("One thing. Another thing.", 5),
            "One thing. Another thing."
        );
    }

    #[test]
    fn ties_prefer_earlier_sentences() {
        assert_eq!(
            summarize("Alpha beta. Gamma delta. Epsilon zeta.", 1),
            "Alpha beta."
        );
    }
}
