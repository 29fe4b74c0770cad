//! The body a same-dialect deployment gets: the client's bytes, with the
//! routed model and the provider's field edits spliced in, re-serialized
//! only in the rare case a splice cannot be done safely.

use std::borrow::Cow;

use super::attempt::{Failure, RequestCtx};
use super::dialect::Inbound;
use crate::api::ApiError;
use crate::api::body_edit::BodyEdits;
use crate::api::chat;
use crate::router::Deployment;

/// The body an OpenAI-compatible deployment gets: the client's, with the
/// model and the provider's edits spliced in when they change it.
pub(super) fn passthrough_body<'c>(
    ctx: &'c RequestCtx<'_>,
    d: &Deployment,
) -> Result<Cow<'c, [u8]>, Failure> {
    let provider = &d.provider;
    let envelope = ctx.envelope().map_err(Failure::Invalid)?;
    let body: &'c [u8] = &ctx.req.body;
    // Without a span, `model` is escaped or repeated: write it out once, so
    // the provider cannot read a different model than the one routed.
    let model_changes = d.upstream_model != envelope.model || envelope.model_span.is_none();
    // The delivery record needs a stream's usage: ask for it (the relay takes
    // the extra chunk out again for this client), unless the provider is
    // configured to take no `stream_options` at all.
    let ask_usage = ctx.inbound == Inbound::OpenAi
        && ctx.stream
        && !ctx.include_usage
        && !provider
            .body_edits
            .drop
            .iter()
            .any(|k| k == "stream_options");
    if !model_changes && provider.body_edits.is_empty() && !ask_usage {
        return Ok(Cow::Borrowed(body));
    }
    let edits: Cow<'_, BodyEdits> = if ask_usage {
        let mut edits = provider.body_edits.clone();
        edits.set.push((
            "stream_options".into(),
            b"{\"include_usage\":true}".to_vec(),
        ));
        Cow::Owned(edits)
    } else {
        Cow::Borrowed(&provider.body_edits)
    };
    let model = model_changes.then_some(d.upstream_model.as_str());
    let spliced = if edits.is_empty() {
        chat::rewrite_model(body, envelope, &d.upstream_model)
    } else {
        crate::api::body_edit::apply(body, model, &edits)
    };
    spliced
        .or_else(|| reserialize(body, model, &edits))
        .map(Cow::Owned)
        .ok_or_else(|| Failure::Invalid(ApiError::internal("Could not rewrite the request.")))
}

/// The rare body with escaped or repeated top-level keys: parse, edit, write
/// whole. simd-json keeps repeated keys in small objects, so every copy of an
/// edited key is removed; the first one (the one routing read) is what stays.
fn reserialize(body: &[u8], model: Option<&str>, edits: &BodyEdits) -> Option<Vec<u8>> {
    use crate::canonical::tape::prelude::*;
    let mut copy = body.to_vec();
    let mut value = simd_json::to_owned_value(&mut copy).ok()?;
    let obj = value.as_object_mut()?;
    let take_all = |obj: &mut simd_json::owned::Object, key: &str| {
        let first = obj.remove(key);
        while obj.remove(key).is_some() {}
        first
    };
    if let Some(m) = model {
        take_all(obj, "model");
        obj.insert("model".into(), m.into());
    } else if let Some(first) = take_all(obj, "model") {
        obj.insert("model".into(), first);
    }
    for key in &edits.drop {
        take_all(obj, key);
    }
    for (from, to) in &edits.rename {
        if let Some(v) = take_all(obj, from) {
            take_all(obj, to);
            obj.insert(to.clone(), v);
        }
    }
    for (key, json) in &edits.set {
        let mut bytes = json.clone();
        take_all(obj, key);
        obj.insert(key.clone(), simd_json::to_owned_value(&mut bytes).ok()?);
    }
    simd_json::to_vec(&value).ok()
}
