//! Reading request bodies the way Webex judges them: a JSON object whose known fields must
//! have the right types (unknown fields are ignored, as Webex ignores them).

use serde_json::{Map, Value};

use crate::webex::error::WebexError;

/// The fields of a request body.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// The body as an object; 400 when it is missing or not an object.
    pub fn of(body: Option<&'a Value>) -> Result<Self, WebexError> {
        body.and_then(Value::as_object)
            .map(Self)
            .ok_or_else(|| WebexError::bad_request("The request body must be a JSON object."))
    }

    /// Whether `name` is present and not null.
    pub fn has(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|v| !v.is_null())
    }

    /// A string field; `None` when absent or null.
    pub fn text(&self, name: &str) -> Result<Option<&'a str>, WebexError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(WebexError::bad_request(format!("{name} must be a string."))),
        }
    }

    /// A string field that must be present and not blank.
    pub fn required(&self, name: &str) -> Result<&'a str, WebexError> {
        self.text(name)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| WebexError::bad_request(format!("Missing required field: {name}.")))
    }

    /// A boolean field; `None` when absent or null.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, WebexError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(WebexError::bad_request(format!("{name} must be true or false."))),
        }
    }

    /// A non-negative whole-number field; `None` when absent or null.
    pub fn number(&self, name: &str) -> Result<Option<u64>, WebexError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| WebexError::bad_request(format!("{name} must be a non-negative whole number."))),
        }
    }

    /// An array field; `None` when absent or null.
    pub fn array(&self, name: &str) -> Result<Option<&'a Vec<Value>>, WebexError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(WebexError::bad_request(format!("{name} must be an array."))),
        }
    }

    /// An array of strings; `None` when absent or null.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<&'a str>>, WebexError> {
        let Some(items) = self.array(name)? else { return Ok(None) };
        items
            .iter()
            .map(|v| v.as_str().ok_or_else(|| WebexError::bad_request(format!("{name} must be an array of strings."))))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// Whether `s` looks like an e-mail address (one `@` with something on both sides), the
/// check Webex makes before looking an address up.
pub fn is_email(s: &str) -> bool {
    let mut parts = s.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && !domain.is_empty() && !s.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_need_one_at_sign_and_no_spaces() {
        assert!(is_email("alex@contoso.example"));
        assert!(!is_email("alex"));
        assert!(!is_email("@contoso.example"));
        assert!(!is_email("a@b@c"));
        assert!(!is_email("a b@c"));
    }
}
