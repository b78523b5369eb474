//! `POST /v1/responses`: OpenAI's Responses API as a codec over the pipeline.

pub mod convert;
pub mod stream;

#[cfg(test)]
mod tests;
