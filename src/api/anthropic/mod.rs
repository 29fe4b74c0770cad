//! The Anthropic Messages dialect: `/v1/messages` bodies parsed into the
//! canonical request, and canonical answers, stream chunks and errors
//! written back in Anthropic's shapes. Pure codec; the route does the I/O.

mod blocks;
mod error;
mod output;
mod read;
mod request;
mod response;
mod stream;

pub use error::{error_body, error_type, is_anthropic_error_body, write_error_body};
pub use request::{MessagesRoute, parse_messages_request, read_messages_route, read_route_fields};
pub use response::{message_response, stop_reason, write_message_response, write_usage};
pub use stream::{AnthropicStreamWriter, write_error_event};

#[cfg(test)]
mod tests;
