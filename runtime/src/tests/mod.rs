//! Tests of the runtime against the real guests in `guests/dist` (built on demand).

mod cache;
mod examples;
mod hostile;
mod http;
mod inspect;
mod kv;
mod limits;
mod nested;
mod support;
mod worlds;
