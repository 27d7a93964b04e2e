//! Acknowledges messages: replies with the first 80 characters of each,
//! closes the thread on "bye" or "close", ignores empty messages.

use agora_sdk::{Action, Handler, Message};

const QUOTE_CHARS: usize = 80;

struct AutoReply;

impl Handler for AutoReply {
    fn on_message(message: Message) -> Action {
        respond(&message.content)
    }
}

agora_sdk::export_handler!(AutoReply);

pub fn respond(content: &str) -> Action {
    let text = content.trim();
    if text.is_empty() {
        return Action::Ignore;
    }
    if text.eq_ignore_ascii_case("bye") || text.eq_ignore_ascii_case("close") {
        return Action::CloseThread;
    }
    let quote: String = text.chars().take(QUOTE_CHARS).collect();
    Action::Reply(format!("Thanks, received: {quote}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_with_the_start_of_the_message() {
        assert_eq!(
            respond("hello"),
            Action::Reply("Thanks, received: hello".into())
        );
        let long = "é".repeat(100);
        assert_eq!(
            respond(&long),
            Action::Reply(format!("Thanks, received: {}", "é".repeat(80)))
        );
    }

    #[test]
    fn ignores_empty_messages() {
        assert_eq!(respond(""), Action::Ignore);
        assert_eq!(respond("  \n"), Action::Ignore);
    }

    #[test]
    fn closes_on_bye() {
        assert_eq!(respond("bye"), Action::CloseThread);
        assert_eq!(respond(" Close "), Action::CloseThread);
        assert_eq!(
            respond("bye for now"),
            Action::Reply("Thanks, received: bye for now".into())
        );
    }
}
