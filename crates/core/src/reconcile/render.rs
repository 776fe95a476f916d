//! Error messages for people: an error's chain joined into one line, with every AWS failure
//! shown as its error code, AWS's message and a one-line meaning, never a Rust `Debug` dump
//! (`unhandled error: Error { aws_request_id: ... }`).

use std::error::Error;

use aws_smithy_types::error::metadata::ErrorMetadata;

use super::error::{AwsError, Fault};

/// The whole chain of `err` as one line, `outer: inner: ...`, stopping at the first
/// [`AwsError`] (its message says everything) or at AWS's error metadata, which is rendered
/// as `Code: message (meaning)`. The SDK's own wrappers (`service error`, `unhandled error
/// (Code)`) are left out, and a link whose message already ends with the next one's is shown
/// once.
#[must_use]
pub fn render(err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(aws) = e.downcast_ref::<AwsError>() {
            parts.push(aws.to_string());
            break;
        }
        if let Some(meta) = e.downcast_ref::<ErrorMetadata>() {
            parts.push(metadata(meta));
            break;
        }
        let text = e.to_string();
        let wrapper = text == "service error" || text.starts_with("unhandled error");
        let repeated = parts.last().is_some_and(|p| p.ends_with(&text));
        if !wrapper && !repeated && !text.is_empty() {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

fn metadata(meta: &ErrorMetadata) -> String {
    let fault = Fault::classify(meta.code(), None);
    let mut s = meta.code().unwrap_or("an error without a code").to_owned();
    if let Some(m) = meta.message().filter(|m| !m.is_empty()) {
        s.push_str(": ");
        s.push_str(m);
    }
    format!("{s} ({})", fault.meaning())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to list availability zones of us-east-1")]
    struct Outer(#[source] Sdk);

    #[derive(Debug, thiserror::Error)]
    #[error("service error")]
    struct Sdk(#[source] Unhandled);

    #[derive(Debug, thiserror::Error)]
    #[error("unhandled error (RequestLimitExceeded)")]
    struct Unhandled(#[source] ErrorMetadata);

    #[test]
    fn sdk_wrappers_become_code_message_and_meaning() {
        let meta = ErrorMetadata::builder()
            .code("RequestLimitExceeded")
            .message("Request limit exceeded.")
            .build();
        let e = Outer(Sdk(Unhandled(meta)));
        assert_eq!(
            render(&e),
            "failed to list availability zones of us-east-1: RequestLimitExceeded: Request limit exceeded. (AWS throttled the request through every retry: run again later, or lower the concurrency)"
        );
    }

    #[test]
    fn an_answer_without_a_code_is_no_debug_dump() {
        let e = Outer(Sdk(Unhandled(ErrorMetadata::builder().build())));
        let text = render(&e);
        assert!(!text.contains("Error {"), "{text}");
        assert!(
            text.ends_with("an error without a code (AWS refused the call)"),
            "{text}"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("layer x failed: {0}")]
    struct Repeats(#[source] Leaf);

    #[derive(Debug, thiserror::Error)]
    #[error("boom")]
    struct Leaf;

    #[test]
    fn a_source_written_into_its_parent_is_shown_once() {
        assert_eq!(render(&Repeats(Leaf)), "layer x failed: boom");
    }
}
