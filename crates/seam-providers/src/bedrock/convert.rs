//! Bedrock wire format ⇄ OpenAI chat (not built yet).

use crate::ProviderError;

pub fn unsupported() -> ProviderError {
    ProviderError::Unsupported("the bedrock adapter is not built yet".into())
}
